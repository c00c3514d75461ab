/// One remediation in a batch: its id, target and idempotency key, and the request bound for it
/// (at its approval, or when its revert was decided).
public struct BatchMember: Sendable, Equatable {
    public var remediationID: Int64
    public var target: String
    public var idempotencyKey: String
    public var request: RenderedRequest

    public init(remediationID: Int64, target: String, idempotencyKey: String, request: RenderedRequest) {
        self.remediationID = remediationID
        self.target = target
        self.idempotencyKey = idempotencyKey
        self.request = request
    }
}

extension RenderedRequest {
    /// The idempotency key of a batch: `gavel-batch-` and 32 hex digits of the SHA-256 of what it
    /// sends (`dispatch` or `revert`, then the members' own idempotency keys in id order), so the same
    /// members always make the same key — a batch retried, or re-sent after a crash, carries the key it
    /// was first sent with — and different members never share one.
    /// - Parameter members: the members' idempotency keys, in the order of their remediation ids.
    public static func batchKey(revert: Bool, members: [String]) -> String {
        let text = ([revert ? "revert" : "dispatch"] + members).joined(separator: "\n")
        return "gavel-batch-" + SHA256.hex(SHA256.hash(Array(text.utf8))).prefix(32)
    }

    /// What requests must share to go in one batch: everything but the body and the
    /// `Idempotency-Key` (http: method, URL, other headers, timeout, retries; outbox: the file and
    /// the recorded headers). Nil for a command (never batched) or an outbox line that is not JSON.
    public var batchShape: String? {
        switch self {
        case .http(let r):
            let headers = r.headers.filter { $0.name.lowercased() != "idempotency-key" }.map { "\($0.name):\($0.value)" }
            return (["http", r.method, r.url, String(r.timeoutSeconds), String(r.maxRetries)] + headers).joined(separator: "\u{0}")
        case .outbox(let o):
            guard let line = try? JSONValue.parse(o.line) else { return nil }
            var headers = line["headers"] ?? .null
            if case .object(let members) = headers { headers = .object(members.filter { $0.key.lowercased() != "idempotency-key" }) }
            return ["outbox", o.path, line["url"]?.scalarText ?? "", headers.compactText].joined(separator: "\u{0}")
        case .command:
            return nil
        }
    }

    /// Assembles one request for `members`, which share one `batchShape`: the first member's method,
    /// URL and headers (its `Idempotency-Key` replaced by `key`), and `body` with `"{{targets}}"`
    /// replaced by the array of the members' bodies as bound (a member with no body counts as
    /// `null`), in the order given. An outbox batch appends one line
    /// `{"action","batch","idempotency_key","remediation_ids","targets","method","url","headers","body"}`.
    /// - Parameters:
    ///   - action: the action's name (`{{action}}` in the body).
    ///   - body: the batch body (`BatchSettings.body`, or `revertBody` for reverts).
    ///   - key: the batch's idempotency key (`batchKey`).
    /// - Throws: `DispatchRefusal` when there are no members, one is a command, the members do not
    ///   share a shape, or a member's body is not JSON.
    public static func batch(of members: [BatchMember], action: String, body: JSONTemplate, key: String) throws(DispatchRefusal)
        -> RenderedRequest
    {
        guard let first = members.first else { throw DispatchRefusal("a batch needs at least one remediation") }
        let shape = first.request.batchShape
        guard shape != nil else { throw DispatchRefusal("\(action): a command request cannot be batched") }
        var items: [JSONValue] = []
        items.reserveCapacity(members.count)
        for member in members {
            guard member.request.batchShape == shape else {
                throw DispatchRefusal("remediation \(member.remediationID) was bound with another URL or headers than its batch")
            }
            items.append(try member.request.batchItem(of: member.remediationID))
        }
        var context = TemplateContext()
        context.action = action
        context.idempotencyKey = key
        let envelope = body.renderedBatch(context, items: items)
        switch first.request {
        case .http(var r):
            r.headers = r.headers.map { $0.name.lowercased() == "idempotency-key" ? HTTPHeaderField($0.name, key) : $0 }
            r.body = Array(envelope.compactText.utf8)
            return .http(r)
        case .outbox(let o):
            let line = (try? JSONValue.parse(o.line)) ?? .null
            var headers: [JSONMember] = []
            if case .object(let members)? = line["headers"] {
                headers = members.map { $0.key.lowercased() == "idempotency-key" ? JSONMember($0.key, .string(key)) : $0 }
            }
            let out = JSONValue.object([
                JSONMember("action", .string(action)), JSONMember("batch", .string(key)), JSONMember("idempotency_key", .string(key)),
                JSONMember("remediation_ids", .array(members.map { .string(String($0.remediationID)) })),
                JSONMember("targets", .array(members.map { .string($0.target) })), JSONMember("method", .string("POST")),
                JSONMember("url", line["url"] ?? .string("outbox:\(action)")), JSONMember("headers", .object(headers)),
                JSONMember("body", envelope),
            ])
            return .outbox(OutboxDispatchRequest(path: o.path, line: out.compactText))
        case .command:
            throw DispatchRefusal("\(action): a command request cannot be batched")
        }
    }

    /// This member's item: its bound body as JSON (`null` for none).
    private func batchItem(of id: Int64) throws(DispatchRefusal) -> JSONValue {
        switch self {
        case .http(let r):
            if r.body.isEmpty { return .null }
            guard let value = try? JSONValue.parse(String(decoding: r.body, as: UTF8.self)) else {
                throw DispatchRefusal("remediation \(id): its bound body is not JSON, so it cannot be an item of a batch")
            }
            return value
        case .outbox(let o):
            return (try? JSONValue.parse(o.line))?["body"] ?? .null
        case .command:
            throw DispatchRefusal("remediation \(id): a command request cannot be batched")
        }
    }
}
