import GavelCore

/// One POST as the receiver hands it to the store: the body exactly as received and the
/// signals read from it (`SenderIntake.signals`), stored together in one transaction
/// (`SignalIntake.intake(post:)`).
///
/// A post that carries one signal is that signal's delivery, as `IncomingSignal` always was: its
/// `rawBody` is the post's body, and a redelivery is recognised by the body's SHA-256. A post
/// that carries several (an Alertmanager group, a CrowdSec batch) is kept once, byte for byte,
/// and each of its signals is a delivery whose own bytes are its alert as compact JSON
/// (`Signal.attributes`): a group re-sent with one more alert is a retry of the others.
public struct IncomingPost: Sendable {
    /// The request body exactly as received.
    public let rawBody: [UInt8]
    /// Lowercase hex SHA-256 of `rawBody` (what `sha256sum` prints for it) for a post of several
    /// signals, kept with it in `posts`; nil for a post of one (its delivery carries the body).
    public let bodySHA256: String?
    /// The request's media type.
    public let contentType: String?
    /// The peer address (`127.0.0.1:53211`).
    public let peer: String?
    /// When the request was received.
    public let receivedAt: Timestamp
    /// One delivery per signal, in the body's order (see the type's summary for their bytes).
    public private(set) var signals: [IncomingSignal]

    /// - Parameter signals: what `SenderIntake.signals` read from `rawBody` (at least one).
    public init(signals: [Signal], rawBody: [UInt8], contentType: String?, peer: String?, receivedAt: Timestamp = .now) {
        self.rawBody = rawBody
        // Hashed only when it is kept apart: a single delivery's hash is its signal's (no second pass).
        self.bodySHA256 = signals.count > 1 ? SHA256.hex(rawBody) : nil
        self.contentType = contentType
        self.peer = peer
        self.receivedAt = receivedAt
        if signals.count == 1 {
            self.signals = [IncomingSignal(signal: signals[0], rawBody: rawBody, contentType: contentType, peer: peer, receivedAt: receivedAt)]
        } else {
            self.signals = signals.map { signal in
                let own = Array((signal.attributes?.compactText ?? signal.signalID).utf8)
                return IncomingSignal(signal: signal, rawBody: own, contentType: contentType, peer: peer, receivedAt: receivedAt)
            }
        }
    }

    /// The same post with each signal's `configuredProposals` made for `config`: the engines call
    /// it on the caller's thread (a receiver connection, many in parallel) with the configuration
    /// they then hand to the one writer, so the writer does not validate and allowlist targets.
    public func planned(for config: GavelConfig) -> IncomingPost {
        var post = self
        post.signals = signals.map { $0.planned(for: config) }
        return post
    }

    /// True when the post carried more than one signal (it is then kept once, apart from them).
    public var isBatch: Bool { signals.count > 1 }
}
