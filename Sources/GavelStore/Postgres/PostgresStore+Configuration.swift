import GavelCore
import GavelStore

extension PostgresStore {
    public func configurationInForce() throws(StoreError) -> StoredConfiguration? {
        try pgCall { try currentConfiguration() }
    }

    func currentConfiguration() throws -> StoredConfiguration? {
        try db.query("SELECT version, text, sha256, source, applied_by, applied_ms FROM configurations ORDER BY version DESC LIMIT 1").first.map {
            StoredConfiguration(
                version: $0.int(0), text: $0.string(1) ?? "", sha256: $0.string(2) ?? "", source: $0.string(3), appliedBy: $0.string(4) ?? "",
                appliedAt: Timestamp(milliseconds: $0.int64(5) ?? 0))
        }
    }

    /// Applies a configuration compare-and-set: the table is locked against other appliers for
    /// the transaction, so of two processes applying against one version, the second is refused.
    public func applyConfiguration(text: String, source: String?, by actor: String, expectedVersion: Int?, at now: Timestamp) throws(StoreError)
        -> StoredConfiguration
    {
        try pgCall {
            try transaction {
                try db.execute("LOCK TABLE configurations IN SHARE ROW EXCLUSIVE MODE")
                let current = try currentConfiguration()
                guard current?.version == expectedVersion else {
                    let who = current.map { "version \($0.version), applied by \($0.appliedBy) at \($0.appliedAt.rfc3339)" } ?? "none"
                    throw StoreError.refused("the configuration in force changed meanwhile (now \(who)); look at it again before applying")
                }
                let version = (current?.version ?? 0) + 1
                let sha = SHA256.hex(SHA256.hash(Array(text.utf8)))
                try db.run(
                    "INSERT INTO configurations (version, text, sha256, source, applied_by, applied_ms) VALUES ($1,$2,$3,$4,$5,$6)",
                    [.int(version), .text(text), .text(sha), .text(source), .text(actor), .integer(now.milliseconds)])
                try audit(
                    actor: actor, action: current == nil ? "config-adopt" : "config-apply", subject: "configuration",
                    before: current.map { "version \($0.version)" }, after: "version \(version)",
                    detail: (source.map { "from \($0), " } ?? "") + "sha256 \(sha.prefix(16))", at: now)
                try announce("config")
                return StoredConfiguration(version: version, text: text, sha256: sha, source: source, appliedBy: actor, appliedAt: now)
            }
        }
    }
}
