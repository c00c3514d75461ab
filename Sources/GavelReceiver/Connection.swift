import Foundation
import GavelCore
import GavelStore

/// One accepted connection: reads requests, answers them in order, and closes.
///
/// Deadlines (issue 16: a slot must not be held long without credentials):
/// - a connection that sends nothing for `idleSeconds` (5 s) after being accepted or after
///   its previous answer is closed silently (RFC 9112 §9.5);
/// - the request head must be complete within `headSeconds` (5 s) of that same moment, and
///   within `readDeadlineSeconds` (10 s) of its first byte, however slowly the bytes trickle;
///   its body within `readDeadlineSeconds` of the head (408 and close);
/// - each answer must be taken by the client within `readDeadlineSeconds`; a failed or
///   timed-out send closes the connection, so a client that pipelines requests and never
///   reads the answers cannot keep it.
///
/// A request that is refused before its body was read (401, 404, 405, 411, 413, 415) closes
/// the connection, so an unread body is never taken for the next request. With a shared secret
/// set, an answer to a request without valid credentials (`GET /healthz`) closes it too:
/// keep-alive is for authenticated senders.
struct Connection {
    let socket: Socket
    let peer: String
    let receiver: Receiver

    private var options: ReceiverOptions { receiver.options }

    func run() {
        var buffer: [UInt8] = []
        // The wait for a request's first byte is the receive itself, bounded by SO_RCVTIMEO
        // (one system call per request instead of a poll and a receive); later reads of the
        // same request poll against their own deadlines first, so they never block past them.
        let idle = Self.milliseconds(min(options.idleSeconds, options.headSeconds))
        let receiveWaits = socket.setReceiveTimeout(ms: idle)
        while !receiver.isStopping {
            let waitStart = Date()
            if buffer.isEmpty {
                if !receiveWaits { guard socket.waitReadable(timeoutMs: idle) else { return } }
                guard (try? socket.receive(into: &buffer)) ?? 0 > 0 else { return }  // EAGAIN: idle for `idle`
            }
            let slotDeadline = waitStart.addingTimeInterval(options.headSeconds)
            let readDeadline = Date().addingTimeInterval(options.readDeadlineSeconds)
            let (headDeadline, headLimit) =
                slotDeadline <= readDeadline ? (slotDeadline, options.headSeconds) : (readDeadline, options.readDeadlineSeconds)
            let head: HTTPRequestHead
            do {
                guard let parsed = try readHead(&buffer, deadline: headDeadline, limit: headLimit) else { return }
                head = parsed
            } catch let error as HTTPError {
                send(.error(error))
                return
            } catch {
                return
            }
            receiver.metrics.requests.add(1, ordering: .relaxed)
            let route = Route(head: head)
            if let early = preflight(route, head) {
                send(early)
                return
            }
            var body: [UInt8] = []
            if head.framing != .none && buffer.isEmpty && head.versionMinor >= 1 && head.field("Expect")?.lowercased() == "100-continue" {
                // The client waits for this before sending the body (RFC 9110 §10.1.1).
                guard (try? socket.sendAll(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), timeoutMs: sendTimeoutMs)) != nil else { return }
            }
            if head.framing != .none {
                do {
                    let deadline = Date().addingTimeInterval(options.readDeadlineSeconds)
                    guard let read = try readBody(head, &buffer, deadline: deadline) else { return }
                    body = read
                } catch let error as HTTPError {
                    send(.error(error))
                    return
                } catch {
                    return
                }
            }
            var response = respond(route, head, body)
            if !head.keepAlive || receiver.isStopping { response.close = true }
            guard send(response), !response.close else { return }
        }
    }

    /// Reads until a whole head is parsed; consumes it from `buffer`. nil when the peer left.
    private func readHead(_ buffer: inout [UInt8], deadline: Date, limit: Double) throws -> HTTPRequestHead? {
        while true {
            if let (head, consumed) = try HTTPHeadParser.parse(buffer, limits: options.limits) {
                buffer.removeFirst(consumed)
                return head
            }
            guard try waitForMore(&buffer, deadline: deadline, what: "request head", limit: limit) else { return nil }
        }
    }

    /// Reads the whole body by its framing; consumes it from `buffer`. nil when the peer left.
    private func readBody(_ head: HTTPRequestHead, _ buffer: inout [UInt8], deadline: Date) throws -> [UInt8]? {
        var reader = try HTTPBodyReader(framing: head.framing, limits: options.limits)
        while true {
            let consumed = try reader.consume(buffer)
            buffer.removeFirst(consumed)
            if reader.isComplete { return reader.body }
            guard try waitForMore(&buffer, deadline: deadline, what: "request body", limit: options.readDeadlineSeconds) else { return nil }
        }
    }

    /// Waits for and appends more bytes. Throws 408 at the deadline; false at end of stream.
    private func waitForMore(_ buffer: inout [UInt8], deadline: Date, what: String, limit: Double) throws -> Bool {
        let remaining = deadline.timeIntervalSinceNow
        guard remaining > 0, socket.waitReadable(timeoutMs: Self.milliseconds(remaining)) else {
            throw HTTPError(status: 408, message: "\(what) not received within \(Self.secondsText(limit)) s")
        }
        let n = try socket.receive(into: &buffer)
        return n > 0
    }

    /// How long the client has to take an answer: `readDeadlineSeconds`.
    private var sendTimeoutMs: Int32 { Self.milliseconds(options.readDeadlineSeconds) }

    /// Sends `response`; false when the client did not take it within the deadline or the
    /// connection failed, and the connection must be closed.
    @discardableResult
    private func send(_ response: HTTPResponse) -> Bool {
        receiver.metrics.count(status: response.status)
        return (try? socket.sendAll(response.serialized(), timeoutMs: sendTimeoutMs)) != nil
    }

    /// `seconds` as a poll timeout: at least 1 ms, at most `Int32.max` ms.
    static func milliseconds(_ seconds: Double) -> Int32 {
        let ms = (seconds * 1000).rounded(.up)
        return ms < Double(Int32.max) ? Int32(max(1, ms)) : Int32.max
    }

    /// `5`, or `0.5` for a fractional limit.
    static func secondsText(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e9 ? String(Int(seconds)) : String(seconds)
    }

    /// Answers what can be decided from the head alone (before reading any body byte).
    private func preflight(_ route: Route, _ head: HTTPRequestHead) -> HTTPResponse? {
        switch route {
        case .notFound:
            return .error(HTTPError(status: 404, message: "no such path: use POST /webhook, GET /healthz, GET /readyz or GET /metrics"))
        case .unknownWebhook:
            return .error(HTTPError(status: 404, message: "no such webhook route: \(Route.webhookRoutes)"))
        case .webhook(let webhook):
            guard head.method == "POST" else { return methodNotAllowed(head, allow: "POST") }
            guard receiver.authenticator.allows(head) else { return unauthorized() }
            // After authentication, so an unauthenticated client cannot list the configured senders.
            if case .generic(let name)? = webhook.sender, options.senders().generic[name] == nil {
                return .error(HTTPError(status: 404, message: PayloadError.unknownSender(name).description))
            }
            if head.framing == .none && head.field("Content-Length") == nil {
                return .error(HTTPError(status: 411, message: "POST /webhook needs Content-Length or Transfer-Encoding: chunked"))
            }
            if PayloadFormat(mediaType: head.mediaType) == nil {
                return .error(
                    HTTPError(
                        status: 415,
                        message: "Content-Type \(head.mediaType ?? "") is not supported: send application/json or application/x-www-form-urlencoded"))
            }
            // RFC 9110 §8.4 / §15.5.16: a content coding or charset gavel would not decode is refused, not misread.
            if let coding = head.field("Content-Encoding"), coding.lowercased() != "identity" {
                return .error(HTTPError(status: 415, message: "Content-Encoding \(coding) is not supported: send the body uncompressed"))
            }
            if let charset = head.charset, !["utf-8", "utf8", "us-ascii"].contains(charset) {
                return .error(HTTPError(status: 415, message: "charset \(charset) is not supported: send UTF-8"))
            }
            // RFC 9110 §10.1.1: only 100-continue is a known expectation.
            if let expect = head.field("Expect"), expect.lowercased() != "100-continue" {
                return .error(HTTPError(status: 417, message: "Expect: only 100-continue is supported"))
            }
            return nil
        case .healthz, .readyz:
            guard head.method == "GET" || head.method == "HEAD" else { return methodNotAllowed(head, allow: "GET, HEAD") }
            return Self.hasNoContent(head) ? nil : .error(HTTPError(status: 400, message: "GET \(head.path) takes no body"))
        case .metrics:
            guard head.method == "GET" || head.method == "HEAD" else { return methodNotAllowed(head, allow: "GET, HEAD") }
            guard receiver.authenticator.allows(head) else { return unauthorized() }
            return Self.hasNoContent(head) ? nil : .error(HTTPError(status: 400, message: "GET /metrics takes no body"))
        }
    }

    /// True for a request without content: no framing, or `Content-Length: 0`. Content on a
    /// GET or HEAD has no defined semantics (RFC 9110 §9.3.1, §9.3.2), so an empty one is
    /// accepted and a non-empty one refused (400) rather than read.
    static func hasNoContent(_ head: HTTPRequestHead) -> Bool {
        head.framing == .none || head.framing == .contentLength(0)
    }

    private func methodNotAllowed(_ head: HTTPRequestHead, allow: String) -> HTTPResponse {
        var r = HTTPResponse.error(HTTPError(status: 405, message: "method \(head.method) not allowed here; allowed: \(allow)"))
        r.headers.append(HTTPField(name: "Allow", value: allow))
        return r
    }

    private func unauthorized() -> HTTPResponse {
        receiver.metrics.unauthorized.add(1, ordering: .relaxed)
        var r = HTTPResponse.error(
            HTTPError(
                status: 401,
                message:
                    "missing or wrong credentials: send the shared secret as Authorization: Bearer, HTTP Basic password, or \(options.secretHeader)"))
        r.headers.append(HTTPField(name: "WWW-Authenticate", value: "Bearer realm=\"gavel\""))
        return r
    }

    private func respond(_ route: Route, _ head: HTTPRequestHead, _ body: [UInt8]) -> HTTPResponse {
        switch route {
        case .healthz, .readyz:
            var isHealthz = false
            if case .healthz = route { isHealthz = true }
            var r =
                isHealthz
                ? HealthCheck.response(options.health(), ok: "ok", notOK: "unavailable")
                : HealthCheck.response(
                    (receiver.isStopping ? [HealthCheck("receiver", problem: "shutting down")] : []) + options.readiness(), ok: "ready",
                    notOK: "not ready")
            if head.method == "HEAD" { r.body = [] }
            // Without credentials (when a secret is set) a health check does not keep its slot.
            if receiver.authenticator.secret != nil && !receiver.authenticator.allows(head) { r.close = true }
            return r
        case .metrics:
            var r = HTTPResponse(
                status: 200, headers: [HTTPField(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")],
                body: Array(receiver.metrics.exposition(extra: options.extraMetrics()).utf8), close: false)
            if head.method == "HEAD" { r.body = [] }
            return r
        case .webhook(let webhook):
            return self.webhook(webhook, head, body)
        case .notFound, .unknownWebhook:
            return .error(HTTPError(status: 404, message: "not found"))
        }
    }

    /// Reads the body as its route's sender's (`SenderIntake.signals`), stores every signal it
    /// holds in one transaction, and answers 202 with what was stored (`WebhookAnswer`). A body
    /// that cannot be read is kept as an intake error and answered 400 (413 when it holds more
    /// alerts than one post may, 404 for a generic sender no longer configured).
    private func webhook(_ route: WebhookRoute, _ head: HTTPRequestHead, _ body: [UInt8]) -> HTTPResponse {
        let mediaType = head.mediaType  // parsed once: it is a scan, a split and a lowercasing
        let format = PayloadFormat(mediaType: mediaType) ?? .json
        let signals: [Signal]
        do {
            signals = try SenderIntake.signals(body: body, format: format, sender: route.sender, settings: options.senders())
        } catch {
            receiver.metrics.intakeErrors.add(1, ordering: .relaxed)
            let status: Int
            let message: String
            switch error {
            case .tooManyAlerts:
                status = 413
                message = error.description
            case .unknownSender:
                status = 404
                message = error.description
            default:
                status = 400
                message = "malformed body: \(error.description)"
            }
            do {
                try receiver.intake.recordIntakeError(
                    IntakeErrorEntry(peer: peer, status: status, reason: error.description, contentType: mediaType, body: body))
            } catch {
                receiver.metrics.storeErrors.add(1, ordering: .relaxed)
            }
            return .error(HTTPError(status: status, message: message))
        }
        let post = IncomingPost(signals: signals, rawBody: body, contentType: mediaType, peer: peer)
        do {
            let outcomes = try receiver.intake.intake(post: post)
            for (signal, outcome) in zip(signals, outcomes) {
                receiver.metrics.countDelivery(source: signal.source, duplicate: outcome.record.duplicate)
                if !outcome.record.duplicate && signal.flags.contains(.unrecognised) {
                    receiver.metrics.countUnrecognised(source: signal.source)
                }
            }
            return .json(202, WebhookAnswer.json(signals: signals, outcomes: outcomes).compactText)
        } catch {
            receiver.metrics.storeErrors.add(1, ordering: .relaxed)
            guard error.isTransient else {
                // A deterministic failure: retrying cannot help, so the sender must not retry it
                // forever. The body is kept as an intake error for the analyst.
                let reason = "store failed: \(error)"
                try? receiver.intake.recordIntakeError(
                    IntakeErrorEntry(peer: peer, status: 500, reason: reason, contentType: mediaType, body: body))
                return .error(HTTPError(status: 500, message: reason))
            }
            var r = HTTPResponse.error(HTTPError(status: 503, message: "store unavailable, retry later: \(error)"))
            r.headers.append(HTTPField(name: "Retry-After", value: "5"))
            return r
        }
    }
}

/// The receiver's routes (DESIGN.md "HTTP").
enum Route {
    /// `POST /webhook` and each sender's `/webhook/…` route (`WebhookRoute`).
    case webhook(WebhookRoute)
    case healthz, readyz, metrics
    /// Under `/webhook/` but no sender's route.
    case unknownWebhook
    case notFound

    /// The webhook routes, for a 404's message.
    static let webhookRoutes =
        "POST /webhook, /webhook/datadog, /webhook/alertmanager, /webhook/grafana, /webhook/guardduty, /webhook/crowdsec or /webhook/generic/NAME"

    init(head: HTTPRequestHead) {
        switch head.path {
        case "/healthz": self = .healthz
        case "/readyz": self = .readyz
        case "/metrics": self = .metrics
        default:
            if let route = WebhookRoute(path: head.path) {
                self = .webhook(route)
            } else if head.path.hasPrefix("/webhook/") {
                self = .unknownWebhook
            } else {
                self = .notFound
            }
        }
    }
}

extension PayloadFormat {
    /// The payload format for a request's media type: JSON for `application/json`,
    /// `application/*+json` or no Content-Type; form for `application/x-www-form-urlencoded`;
    /// nil (415) for anything else.
    init?(mediaType: String?) {
        guard let t = mediaType?.lowercased() else {
            self = .json
            return
        }
        if t == "application/json" || (t.hasPrefix("application/") && t.hasSuffix("+json")) || t == "text/json" {
            self = .json
        } else if t == "application/x-www-form-urlencoded" {
            self = .form
        } else {
            return nil
        }
    }
}
