import GavelCore
import GavelStore

/// Properties of the word back to Datadog (`DatadogTriageConfig`, `TriageChange`) and of the
/// webhook routes and posts that carry several alerts (`WebhookRoute`, `IncomingPost`).
///
/// The input is four lines and a rest: a signal id, an archive comment template, an analyst, a
/// reason, then a `datadog` configuration section (any bytes).
enum TriageProperties {
    static let unreserved = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))

    static func run(_ input: [UInt8]) {
        let parts = input.pieces(separator: 0x0A, limit: 5).map { String(decoding: $0, as: UTF8.self) }
        let field = { (i: Int) in i < parts.count ? parts[i] : "" }
        path(field(0))
        body(comment: field(1), analyst: field(2), reason: field(3))
        configuration(field(4))
        route(field(0))
        post(input)
    }

    /// A signal id is one path segment: only unreserved bytes and `%HH`, never a dot-segment,
    /// and decoding it gives back the id's bytes exactly; the URL keeps Datadog's path around it.
    static func path(_ id: String) {
        let segment = DatadogTriageConfig.pathSegment(id)
        var decoded: [UInt8] = []
        var bytes = Array(segment.utf8)[...]
        while let b = bytes.first {
            if b == UInt8(ascii: "%") {
                let hex = Array(bytes.dropFirst().prefix(2))
                check(hex.count == 2, "a truncated %-escape in \(segment)")
                guard let value = UInt8(String(decoding: hex, as: UTF8.self), radix: 16) else {
                    check(false, "a bad %-escape in \(segment)")
                    return
                }
                decoded.append(value)
                bytes = bytes.dropFirst(3)
            } else {
                check(unreserved.contains(b), "a reserved byte \(b) left in \(segment)")
                decoded.append(b)
                bytes = bytes.dropFirst()
            }
        }
        check(decoded == Array(id.utf8), "\(segment) does not decode to the id")
        check(segment != "." && segment != "..", "a dot-segment")
        guard case .http(let request) = DatadogTriageConfig().request(signalID: id, body: "{}") else {
            check(false, "not an HTTP request")
            return
        }
        check(request.method == "PATCH", "method \(request.method)")
        check(
            request.url == "https://api.datadoghq.com/api/v2/security_monitoring/signals/" + segment + "/update",
            "URL \(request.url)")
    }

    /// The body is Datadog's shape and round-trips; its comment is the template rendered, at most
    /// `TriageChange.maxCommentLength` characters, with no raw control character on the wire.
    static func body(comment: String, analyst: String, reason: String) {
        let change = TriageChange(state: .archived, archiveReason: .falsePositive, comment: comment)
        let values = ["remediation_id": "12", "action": "ban-ip", "target": "203.0.113.9", "rule": reason, "analyst": analyst, "reason": reason]
        let json = change.body(values: values)
        let text = json.compactText
        check(!text.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "a raw control byte in the body")
        check((try? JSONValue.parse(text)) == json, "the body does not round-trip")
        let attributes = json["data"]?["attributes"]
        check(json["data"]?["type"] == .string("signal_metadata"), "data.type")
        check(attributes?["state"] == .string("archived") && attributes?["archive_reason"] == .string("false_positive"), "state and reason")
        let rendered = change.renderedComment(values) ?? ""
        check(attributes?["archive_comment"] == .string(rendered), "the comment is not the rendered template")
        check(rendered.count <= TriageChange.maxCommentLength, "a comment of \(rendered.count) characters")
    }

    /// A `datadog` section loads, or fails naming a field under `datadog` (or the file); a loaded
    /// one points its keys at https://, or http:// on loopback only.
    static func configuration(_ section: String) {
        // One JSON value, so the section cannot close the object and set another field.
        guard (try? JSONValue.parse(section)) != nil else { return }
        do {
            let config = try GavelConfig.load(
                text: #"{"datadog": \#(section)}"#, origin: "fuzz", environment: [:], databasePath: "/dev/null/gavel.db")
            guard let triage = config.datadogTriage else { return }
            let base = triage.baseURL.lowercased()
            let loopback = ["http://127.", "http://[::1]", "http://localhost"].contains { base.hasPrefix($0) }
            check(base.hasPrefix("https://") || loopback, "the API at \(base)")
            for (_, change) in triage.changes {
                if change.state != .archived { check(change.archiveReason == nil && change.comment == nil, "an archive reason on \(change.state)") }
            }
        } catch {
            check(error.field.isEmpty || error.field.hasPrefix("datadog"), "an error outside datadog: \(error)")
        }
    }

    /// A webhook route is one of the fixed paths or `/webhook/generic/` + a valid sender name.
    static func route(_ path: String) {
        guard let route = WebhookRoute(path: path) else { return }
        switch route.sender {
        case nil: check(path == "/webhook", "by shape on \(path)")
        case .generic(let name):
            check(path == "/webhook/generic/" + name && GenericSender.isValidName(name), "generic route \(path)")
        case let sender?:
            check(path == "/webhook/" + sender.source, "route \(path) for \(sender)")
        }
    }

    /// A post's deliveries: one signal keeps the post's bytes; several keep each alert's own.
    static func post(_ input: [UInt8]) {
        guard let signals = try? SenderIntake.signals(body: input, format: .json, sender: .crowdsec) else { return }
        let post = IncomingPost(signals: signals, rawBody: input, contentType: "application/json", peer: nil)
        check(post.signals.count == signals.count && post.isBatch == (signals.count > 1), "post of \(signals.count)")
        if signals.count == 1 {
            check(post.signals[0].rawBody == input, "a single signal's bytes are not the post's")
        } else {
            for (delivery, signal) in zip(post.signals, signals) {
                check(delivery.rawBody == Array((signal.attributes?.compactText ?? signal.signalID).utf8), "an alert's own bytes")
            }
        }
    }
}
