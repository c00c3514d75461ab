extension RenderedRequest {
    /// The request as a person reads it, exactly as it will be sent (mask it first with
    /// `masked()` before showing it). Shapes:
    /// - http: `POST https://…` then one `Name: value` line per header, a blank line, the body;
    /// - command: the argv as a JSON array (each element exactly one argument);
    /// - outbox: `append to PATH:` then the JSON line.
    /// Not sanitized for a terminal: the console and CLI sanitize what they draw.
    public var displayText: String {
        switch self {
        case .http(let r):
            var lines = ["\(r.method) \(r.url)"]
            lines += r.headers.map { "\($0.name): \(RenderedRequest.showingEnvironmentReferences($0.value))" }
            if !r.body.isEmpty {
                lines.append("")
                lines.append(String(decoding: r.body, as: UTF8.self))
            }
            return lines.joined(separator: "\n")
        case .command(let c):
            return "exec " + JSONValue.array(c.argv.map { .string($0) }).compactText
        case .outbox(let o):
            return "append to \(o.path):\n\(o.line)"
        }
    }

    /// How many times a retryable failure of this request is retried at least.
    public var maxRetries: Int {
        switch self {
        case .http(let r): r.maxRetries
        case .command(let c): c.maxRetries
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
