extension RenderedRequest {
    /// The request as one compact JSON object, for a store to keep exactly what was bound at
    /// approval (unmasked: the dispatcher sends it):
    /// - `{"kind":"http","method","url","headers":[[NAME,VALUE],…],"body":TEXT,"timeout_s","retries","retry_for_s"}`
    ///   (`body` is the UTF-8 text of the rendered JSON body, `""` for none);
    /// - `{"kind":"command","argv":[…],"timeout_s","retries","retry_for_s","path","pass_env":[…]}`;
    /// (`retry_for_s` is left out when 0, and read as 0 when absent: requests bound before it existed.)
    /// - `{"kind":"outbox","path","line"}`.
    /// `init(storageText:)` reads it back to an equal value.
    public var storageText: String {
        switch self {
        case .http(let r):
            return JSONValue.object(
                [
                    JSONMember("kind", .string("http")), JSONMember("method", .string(r.method)), JSONMember("url", .string(r.url)),
                    JSONMember("headers", .array(r.headers.map { .array([.string($0.name), .string($0.value)]) })),
                    JSONMember("body", .string(String(decoding: r.body, as: UTF8.self))),
                    JSONMember("timeout_s", .number(Self.number(r.timeoutSeconds))), JSONMember("retries", .number(String(r.maxRetries))),
                ] + Self.retryFor(r.retryForSeconds)
            ).compactText
        case .command(let c):
            return JSONValue.object(
                [
                    JSONMember("kind", .string("command")), JSONMember("argv", .array(c.argv.map { .string($0) })),
                    JSONMember("timeout_s", .number(Self.number(c.timeoutSeconds))), JSONMember("retries", .number(String(c.maxRetries))),
                ] + Self.retryFor(c.retryForSeconds) + Self.environment(c)
            ).compactText
        case .outbox(let o):
            return JSONValue.object([
                JSONMember("kind", .string("outbox")), JSONMember("path", .string(o.path)), JSONMember("line", .string(o.line)),
            ]).compactText
        }
    }

    /// Reads `storageText` back; nil when the text is not such an object.
    public init?(storageText: String) {
        guard let value = try? JSONValue.parse(storageText), case .string(let kind)? = value["kind"] else { return nil }
        func double(_ key: String) -> Double? { value[key]?.scalarText.flatMap(Double.init) }
        func int(_ key: String) -> Int? { value[key]?.scalarText.flatMap { Int($0) } }
        switch kind {
        case "http":
            guard case .string(let method)? = value["method"], case .string(let url)? = value["url"],
                case .array(let headerPairs)? = value["headers"], case .string(let body)? = value["body"]
            else { return nil }
            var headers: [HTTPHeaderField] = []
            for pair in headerPairs {
                guard case .array(let nv) = pair, nv.count == 2, case .string(let n) = nv[0], case .string(let v) = nv[1] else { return nil }
                headers.append(HTTPHeaderField(n, v))
            }
            self = .http(
                HTTPDispatchRequest(
                    method: method, url: url, headers: headers, body: Array(body.utf8), timeoutSeconds: double("timeout_s") ?? 10,
                    maxRetries: int("retries") ?? 5, retryForSeconds: double("retry_for_s") ?? 0))
        case "command":
            guard case .array(let elements)? = value["argv"] else { return nil }
            var argv: [String] = []
            for e in elements {
                guard case .string(let s) = e else { return nil }
                argv.append(s)
            }
            var passed: [String] = []
            if case .array(let names)? = value["pass_env"] {
                for n in names {
                    guard case .string(let name) = n else { return nil }
                    passed.append(name)
                }
            }
            var path = CommandDispatchRequest.defaultPath
            if case .string(let p)? = value["path"] { path = p }
            self = .command(
                CommandDispatchRequest(
                    argv: argv, timeoutSeconds: double("timeout_s") ?? 30, maxRetries: int("retries") ?? 0,
                    retryForSeconds: double("retry_for_s") ?? 0, path: path, passEnvironment: passed))
        case "outbox":
            guard case .string(let path)? = value["path"], case .string(let line)? = value["line"] else { return nil }
            self = .outbox(OutboxDispatchRequest(path: path, line: line))
        default:
            return nil
        }
    }

    /// `path` and `pass_env`, left out at their defaults (and read as the defaults when absent:
    /// requests bound before they existed).
    private static func environment(_ c: CommandDispatchRequest) -> [JSONMember] {
        (c.path == CommandDispatchRequest.defaultPath ? [] : [JSONMember("path", .string(c.path))])
            + (c.passEnvironment.isEmpty ? [] : [JSONMember("pass_env", .array(c.passEnvironment.map { .string($0) }))])
    }

    private static func retryFor(_ seconds: Double) -> [JSONMember] {
        seconds > 0 ? [JSONMember("retry_for_s", .number(number(seconds)))] : []
    }

    private static func number(_ value: Double) -> String {
        value.isFinite && value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
