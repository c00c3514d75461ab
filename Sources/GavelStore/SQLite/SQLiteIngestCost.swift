import Foundation
import GavelCore
import GavelStore

/// ConsoleBench's `--ingest-cost N`: what schema v3's triggers add to the ingest writer. Runs the intake
/// for N signals shaped like `bench/signal.lua`'s (IP cycling through 200 addresses, and a user
/// on every fourth) inside one transaction on the real database that is then rolled back, once
/// per configuration (all triggers; none, i.e. schema v2's cost; each group dropped in the
/// rolled-back transaction), round-robin, and prints the thread CPU time per signal. Statement
/// CPU only: the commit's WAL writes and fsync are not in it.
public enum SQLiteIngestCost {
    static let triggers = [
        "remediation_entities_link", "remediation_entities_entity", "remediation_entities_unlink",
        "remediation_counts_insert", "remediation_counts_update", "remediation_counts_delete",
    ]

    /// Measures and prints the per-signal statement CPU on the database at `path` (rolled back: nothing changes).
    public static func run(path: String, config: GavelConfig, signals n: Int, rounds: Int = 3) throws {
        let db = try Database(path: path)
        let store = SQLiteStore(db: db)
        let token = String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36)
        func body(_ i: Int) -> [UInt8] {
            let user = i % 4 == 0 ? #","usr":{"id":"user\#(i % 50)@example.com"}"# : ""
            return Array(
                """
                {"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ID":"cost-\(token)-\(i)",\
                "SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_TITLE":"Console login from an IP never seen for this account",\
                "SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["198.51.100.\(16 + (i * 7) % 200)"]}},\
                "evt":{"name":"ConsoleLogin","outcome":"success"}\(user)}}
                """.utf8)
        }
        let inputs = try (0..<n).map { i in
            let b = body(i)
            return IncomingSignal(
                signal: try SignalPayload.decode(body: b, format: .json), rawBody: b, contentType: "application/json", peer: "127.0.0.1:1")
        }
        // Trigger sets dropped (inside the rolled-back transaction) per configuration.
        let configurations: [(name: String, dropped: [String])] = [
            ("with the v3 triggers", []),
            ("without them (v2 cost)", triggers),
            ("without the entities-insert trigger", ["remediation_entities_entity"]),
            ("without the link trigger", ["remediation_entities_link"]),
            ("without the count triggers", triggers.filter { $0.hasPrefix("remediation_counts") }),
        ]
        var results = Array(repeating: [Double](), count: configurations.count)
        for _ in 0..<rounds {
            for (i, configuration) in configurations.enumerated() {
                try db.execute("BEGIN IMMEDIATE")
                for t in configuration.dropped { try db.execute("DROP TRIGGER IF EXISTS \(t)") }
                let c = threadCPUNs()
                for input in inputs { _ = try store.intake(input, config: config) }
                results[i].append(Double(threadCPUNs() - c) / 1e3 / Double(n))
                try db.execute("ROLLBACK")
            }
        }
        print("ingest statement CPU per signal (SQLiteStore.intake, \(n) signals per run, \(rounds) runs each, rolled back; no commit/fsync):")
        let base = results[1].sorted()[rounds / 2]
        for (i, configuration) in configurations.enumerated() {
            let median = results[i].sorted()[rounds / 2]
            print(
                String(
                    format: "  %@ median %.1f µs (%+.1f %% vs v2)  runs: ", configuration.name.padding(toLength: 38, withPad: " ", startingAt: 0),
                    median,
                    100 * (median - base) / base) + results[i].map { String(format: "%.1f", $0) }.joined(separator: ", "))
        }
    }
}

/// CPU time of the calling thread, in ns.
private func threadCPUNs() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}
