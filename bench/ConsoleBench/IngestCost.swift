import Foundation
import GavelCore
import GavelStore

/// `--ingest-cost N`: what schema v3's triggers add to the ingest writer. Runs `Database.intake`
/// for N signals shaped like `bench/signal.lua`'s (IP cycling through 200 addresses, and a user
/// on every fourth), inside one transaction on the real database that is rolled back, once with
/// the triggers and once with them dropped (in the same rolled-back transaction), alternating,
/// and prints the thread CPU time per signal of each. Statement CPU only: the commit's WAL
/// writes and fsync are not in it.
enum IngestCost {
    static let triggers = ["remediation_entities_link", "remediation_entities_entity", "remediation_entities_unlink",
                           "remediation_counts_insert", "remediation_counts_update", "remediation_counts_delete"]

    static func run(db: Database, config: GavelConfig, signals n: Int, rounds: Int = 3) throws {
        let token = String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36)
        func body(_ i: Int) -> [UInt8] {
            let user = i % 4 == 0 ? #","usr":{"id":"user\#(i % 50)@example.com"}"# : ""
            return Array("""
                {"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ID":"cost-\(token)-\(i)",\
                "SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_TITLE":"Console login from an IP never seen for this account",\
                "SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["198.51.100.\(16 + (i * 7) % 200)"]}},\
                "evt":{"name":"ConsoleLogin","outcome":"success"}\(user)}}
                """.utf8)
        }
        let inputs = try (0..<n).map { i in
            let b = body(i)
            return IncomingSignal(signal: try SignalPayload.decode(body: b, format: .json), rawBody: b, contentType: "application/json", peer: "127.0.0.1:1")
        }
        var with: [Double] = [], without: [Double] = []
        for round in 0..<(2 * rounds) {
            let dropped = round % 2 == 1
            try db.execute("BEGIN IMMEDIATE")
            if dropped { for t in triggers { try db.execute("DROP TRIGGER IF EXISTS \(t)") } }
            let c = threadCPUNs()
            for input in inputs { _ = try db.intake(input, config: config) }
            let usPerSignal = Double(threadCPUNs() - c) / 1e3 / Double(n)
            try db.execute("ROLLBACK")
            if dropped { without.append(usPerSignal) } else { with.append(usPerSignal) }
        }
        func f(_ a: [Double]) -> String { a.map { String(format: "%.1f", $0) }.joined(separator: ", ") }
        print("ingest CPU per signal (\(n) signals per run, rolled back): with v3 triggers \(f(with)) µs; without \(f(without)) µs")
        let w = with.sorted()[with.count / 2], wo = without.sorted()[without.count / 2]
        print(String(format: "median: with %.1f µs, without %.1f µs: %+.1f %%", w, wo, 100 * (w - wo) / wo))
    }
}
