/// The audit log as a hash chain (issue 14): each entry carries a SHA-256 over its content and
/// the previous entry's hash, so an entry edited, deleted or inserted out of order after the fact
/// breaks the chain at that entry.
///
/// `hash = hex(SHA-256(previousHash + "\n" + content))` where `content` is the entry's
/// `chainContent` (compact JSON of its fields in a fixed order) and the first entry's
/// `previousHash` is `genesis` (64 zeros). An auditor recomputes it from an export with
/// `printf '%s\n%s' "$previous" "$content" | sha256sum` (docs/operations.md).
public enum AuditChain {
    /// The previous hash of the first entry: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)

    /// The hash of an entry with this content after `previous`.
    public static func hash(previous: String, content: String) -> String {
        SHA256.hex(Array((previous + "\n" + content).utf8))
    }

    /// What verifying a chain found.
    public enum Verdict: Sendable, Equatable {
        /// Every entry matches: `count` entries, the last hash `head` (nil for an empty log).
        case intact(count: Int, head: String?)
        /// The first entry that does not match, and why.
        case broken(id: Int64, reason: String)
    }

    /// Walks `entries` (oldest first) and names the first that does not match.
    public static func verify(_ entries: [AuditEntry]) -> Verdict {
        var previous = genesis
        var previousID: Int64?
        for e in entries {
            guard let hash = e.hash, let prev = e.previousHash else {
                return .broken(id: e.id, reason: "entry \(e.id) has no hash")
            }
            if prev != previous {
                let after = previousID.map { "entry \($0)" } ?? "the start of the log"
                return .broken(
                    id: e.id,
                    reason: "entry \(e.id) does not follow \(after): an entry was deleted or inserted out of order before it")
            }
            if Self.hash(previous: prev, content: e.chainContent) != hash {
                return .broken(id: e.id, reason: "entry \(e.id) was edited: its content does not match its hash")
            }
            previous = hash
            previousID = e.id
        }
        return .intact(count: entries.count, head: entries.last?.hash)
    }
}

extension AuditEntry {
    /// The text the chain hashes: compact JSON of `id`, `at` (RFC 3339), `actor`, `action`,
    /// `subject`, `before`, `after`, `detail` in that order (null for absent values).
    public var chainContent: String {
        func opt(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        return JSONValue.object([
            JSONMember("id", .number(String(id))), JSONMember("at", .string(at.rfc3339)), JSONMember("actor", .string(actor)),
            JSONMember("action", .string(action)), JSONMember("subject", .string(subject)), JSONMember("before", opt(before)),
            JSONMember("after", opt(after)), JSONMember("detail", opt(detail)),
        ]).compactText
    }
}
