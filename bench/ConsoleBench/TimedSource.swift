import Foundation
import GavelConsole
import GavelCore
import GavelStore

/// Wraps the console's data source and adds up the thread CPU time of each of its calls, so the
/// report can say where a key's time goes (store reads per method versus the model and renderer).
final class TimedSource: ConsoleDataSource {
    let inner: any ConsoleDataSource
    private(set) var order: [String] = []
    private var calls: [String: (count: Int, cpuNs: UInt64, wallNs: UInt64)] = [:]

    init(_ inner: any ConsoleDataSource) { self.inner = inner }

    func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let c = threadCPUNs()
        let w = nowNs()
        defer {
            if calls[name] == nil { order.append(name) }
            let old = calls[name] ?? (0, 0, 0)
            calls[name] = (old.count + 1, old.cpuNs + threadCPUNs() - c, old.wallNs + nowNs() - w)
        }
        return try body()
    }

    /// Adds an outside measurement (the renderer) under `name`.
    func record(_ name: String, cpuNs: UInt64, wallNs: UInt64) {
        if calls[name] == nil { order.append(name) }
        let old = calls[name] ?? (0, 0, 0)
        calls[name] = (old.count + 1, old.cpuNs + cpuNs, old.wallNs + wallNs)
    }

    func page(_ query: ConsolePageQuery) throws -> [Remediation] {
        try timed(query.filter == nil ? "page" : "page (filtered)") { try inner.page(query) }
    }
    func detail(remediationID: Int64) throws -> RemediationDetail? { try timed("detail") { try inner.detail(remediationID: remediationID) } }
    func rules() throws -> [RuleRow] { try timed("rules") { try inner.rules() } }
    func audit(limit: Int, before: Int64?) throws -> [AuditEntry] { try timed("audit") { try inner.audit(limit: limit, before: before) } }
    func intakeErrors(limit: Int, before: Int64?) throws -> [IntakeErrorEntry] {
        try timed("intakeErrors") { try inner.intakeErrors(limit: limit, before: before) }
    }
    func summary() throws -> ConsoleSummary { try timed("summary") { try inner.summary() } }

    func report() -> String {
        let total = calls.values.reduce(UInt64(0)) { $0 + $1.cpuNs }
        var lines = ["where the CPU went      calls  cpu total  cpu/call   share"]
        for name in order.sorted(by: { calls[$0]!.cpuNs > calls[$1]!.cpuNs }) {
            let c = calls[name]!
            lines.append(
                name.padding(toLength: 22, withPad: " ", startingAt: 0)
                    + String(
                        format: " %6d %8.1f ms %7.2f ms %6.1f %%", c.count, Double(c.cpuNs) / 1e6,
                        Double(c.cpuNs) / 1e6 / Double(max(1, c.count)), 100 * Double(c.cpuNs) / Double(max(1, total))))
        }
        return lines.joined(separator: "\n")
    }
}
