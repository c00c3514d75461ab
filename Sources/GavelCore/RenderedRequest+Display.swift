extension RenderedRequest {
    /// The request as a person reads it, exactly as it will be sent (mask it first with
    /// `masked()` before showing it). Shapes:
    /// - http: `to http://HOST:PORT (exactly these bytes)` (for https: what the platform's client
    ///   adds), then the request as `HTTPDispatchRequest.wire()` sends it — the request line,
    ///   `Host`, the header fields in order, `Content-Length` — a blank line and the body (an
    ///   `http://` request's lines joined by CR LF are its bytes on the wire); a URL that cannot be
    ///   sent shows as `POST URL` and its header lines;
    /// - command: `exec` and the argv as a JSON array (each element exactly one argument), then
    ///   `env:` and the child's environment (`PATH`, the idempotency key, the names passed from
    ///   gavel's environment — their values are not shown);
    /// - outbox: `append to PATH:` then the JSON line.
    /// Not sanitized for a terminal: the console and CLI sanitize what they draw.
    public var displayText: String {
        switch self {
        case .http(let r):
            if let wire = try? r.wire() {
                var lines = ["to \(wire.origin)" + (wire.scheme == "https" ? RenderedRequest.httpsNote : " (exactly these bytes)")]
                let configured = Set(r.headers.map { "\($0.name): \($0.value)" })
                for line in wire.headLines {
                    // Credentials from the URL's userinfo are never shown.
                    if line.hasPrefix("Authorization: Basic "), !configured.contains(line) {
                        lines.append("Authorization: Basic " + Masking.mask)
                    } else {
                        lines.append(RenderedRequest.showingEnvironmentReferences(line))
                    }
                }
                if !r.body.isEmpty {
                    lines.append("")
                    lines.append(String(decoding: r.body, as: UTF8.self))
                }
                return lines.joined(separator: "\n")
            }
            var lines = ["\(r.method) \(r.url)"]
            lines += r.headers.map { "\($0.name): \(RenderedRequest.showingEnvironmentReferences($0.value))" }
            if !r.body.isEmpty {
                lines.append("")
                lines.append(String(decoding: r.body, as: UTF8.self))
            }
            return lines.joined(separator: "\n")
        case .command(let c):
            let passed = c.passEnvironment.isEmpty ? "" : ", and from gavel's environment " + c.passEnvironment.joined(separator: " ")
            return "exec " + JSONValue.array(c.argv.map { .string($0) }).compactText + "\n"
                + "env: PATH=\(c.path) GAVEL_IDEMPOTENCY_KEY=(the idempotency key)\(passed)"
        case .outbox(let o):
            return "append to \(o.path):\n\(o.line)"
        }
    }

    /// What the first line of an `https` request's preview adds: what the platform's client changes.
    static let httpsNote =
        " (TLS; the platform's HTTP client, libcurl, also sends Accept, Accept-Encoding, Accept-Language and Connection,"
        + " and orders the fields itself)"

    /// How many times a retryable failure of this request is retried at least.
    public var maxRetries: Int {
        switch self {
        case .http(let r): r.maxRetries
        case .command(let c): c.maxRetries
        case .outbox: 5
        }
    }

    /// The longest one attempt may take, in seconds: the action's timeout (5 for an outbox line).
    public var deadlineSeconds: Double {
        switch self {
        case .http(let r): r.timeoutSeconds
        case .command(let c): c.timeoutSeconds
        case .outbox: 5
        }
    }

    /// How long after the first attempt a retryable failure is still retried, in seconds (0: by
    /// count only; the outbox retries by count).
    public var retryForSeconds: Double {
        switch self {
        case .http(let r): r.retryForSeconds
        case .command(let c): c.retryForSeconds
        case .outbox: 0
        }
    }
}
