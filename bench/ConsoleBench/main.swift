// ConsoleBench: drives the real console (ConsoleModel + ConsoleRenderer through ConsoleSession)
// headlessly against a real gavel database, the way `gavel console` wires it, and reports time to
// first frame, key-to-redraw times per key class and peak RSS (issue 6 item 4, issue 4 item 9).
//
//   ConsoleBench DB [--rows 30] [--cols 100] [--j 200] [--rounds 3] [--filter TEXT]... [--cold] [--dump]
//
// A key's time is `session.press(key)` (the model, the data-source reads it asks for) plus
// `session.frame()` (the renderer): what the UI thread does between a key and the next draw,
// without curses' own output. `tick` is the once-a-second refresh (`session.tick()` + frame).
import Foundation
import GavelConsole
import GavelCore
import GavelStore
import GavelStoreSQLite
import Glibc

struct Options {
    var db = ""
    var rows = 30
    var cols = 100
    var moves = 200
    var rounds = 3
    var filters: [String] = []
    var cold = false
    var dump = false
    var ingestCost = 0
    var openOnly = false

    init(_ args: [String]) {
        var i = 0
        func next() -> String {
            i += 1
            guard i < args.count else { fail("missing value for \(args[i - 1])") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--rows": rows = Int(next()) ?? rows
            case "--cols": cols = Int(next()) ?? cols
            case "--j": moves = Int(next()) ?? moves
            case "--rounds": rounds = Int(next()) ?? rounds
            case "--filter": filters.append(next())
            case "--cold": cold = true
            case "--dump": dump = true
            case "--ingest-cost": ingestCost = Int(next()) ?? 0
            case "--open-only": openOnly = true
            case let a where a.hasPrefix("-"): fail("unknown option \(a)")
            default: db = args[i]
            }
            i += 1
        }
        if db.isEmpty {
            fail("usage: ConsoleBench DB [--rows R] [--cols C] [--j N] [--rounds N] [--filter TEXT]... [--cold] [--dump] [--ingest-cost N]")
        }
        if filters.isEmpty { filters = ["scanner", "203.0.113", "no-such-thing"] }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ConsoleBench: \(message)\n".utf8))
    exit(2)
}

func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Peak resident set size of this process in KiB (`getrusage` `ru_maxrss`).
func peakRSSKiB() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss)
}

/// Drops the database's pages from the OS page cache (this file only: `posix_fadvise DONTNEED`).
func evict(_ path: String) {
    for p in [path, path + "-wal", path + "-shm"] {
        let fd = open(p, O_RDONLY)
        guard fd >= 0 else { continue }
        posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(fd)
    }
}

/// CPU time of the calling thread in nanoseconds: unlike wall time, not inflated when other
/// processes hold the cores.
func threadCPUNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Bytes this process read from storage so far (`/proc/self/io` `read_bytes`; 0 when unavailable).
func storageReadBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("read_bytes:") {
        return Int(line.dropFirst("read_bytes:".count).trimmingCharacters(in: .whitespaces)) ?? 0
    }
    return 0
}

/// Wall-clock and CPU samples per key class, in milliseconds, in first-seen order.
final class Samples {
    private(set) var order: [String] = []
    private var wall: [String: [Double]] = [:]
    private var cpu: [String: [Double]] = [:]

    func add(_ name: String, wallNs: UInt64, cpuNs: UInt64) {
        if wall[name] == nil { order.append(name) }
        wall[name, default: []].append(Double(wallNs) / 1e6)
        cpu[name, default: []].append(Double(cpuNs) / 1e6)
    }

    /// All wall-clock samples of classes whose name passes `include`.
    func all(where include: (String) -> Bool) -> [Double] {
        order.filter(include).flatMap { wall[$0]! }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[max(0, min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
    }

    func report() -> String {
        func f(_ v: Double) -> String { String(format: "%8.2f", v) }
        var lines = ["key class [view]           n   median      p95      max │ cpu med  cpu p95   (ms, key → frame)"]
        for name in order {
            let w = wall[name]!.sorted()
            let c = cpu[name]!.sorted()
            let label = name.padding(toLength: 22, withPad: " ", startingAt: 0)
            lines.append(
                "\(label) \(String(format: "%5d", w.count)) \(f(Self.percentile(w, 0.5))) \(f(Self.percentile(w, 0.95))) \(f(w.last!)) │"
                    + "\(f(Self.percentile(c, 0.5))) \(f(Self.percentile(c, 0.95)))")
        }
        return lines.joined(separator: "\n")
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
guard FileManager.default.fileExists(atPath: options.db) else { fail("\(options.db): no such database") }
// Pending schema migrations are applied first, untimed, in a child process (`--open-only`), so
// that neither their time nor their memory is in the figures: the first frame measures what every
// later start costs. The time is reported on its own (a one-time cost of upgrading gavel).
if options.openOnly {
    do {
        _ = try SQLiteEngine(path: options.db).open(.create)
    } catch {
        fail("\(error)")
    }
    exit(0)
}
let migrationStart = nowNs()
do {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    child.arguments = [options.db, "--open-only"]
    try child.run()
    child.waitUntilExit()
    if child.terminationStatus != 0 { fail("opening \(options.db) failed") }
} catch {
    fail("\(error)")
}
let openMs = Double(nowNs() - migrationStart) / 1e6
if options.cold { evict(options.db) }

// First frame: open the database → first complete frame (what `gavel console` does after its
// receiver and dispatcher are up: open, build the data source and session, tick, draw).
let rssBefore = peakRSSKiB()
let readBefore = storageReadBytes()
let t0 = nowNs()
let c0 = threadCPUNs()
let store: any Store
do {
    store = try SQLiteEngine(path: options.db).open(.create)
} catch {
    fail("\(error)")
}
let config: GavelConfig
do {
    config = try GavelConfig.load(path: nil, environment: [:], databasePath: options.db)
} catch {
    fail("\(error)")
}
if options.ingestCost > 0 {
    do {
        try SQLiteIngestCost.run(path: options.db, config: config, signals: options.ingestCost)
    } catch {
        fail("\(error)")
    }
    exit(0)
}
let source = TimedSource(StoreDataSource(store: store, config: { config }, listenAddress: "no receiver"))
let session = ConsoleSession(
    model: ConsoleModel(analyst: "bench", size: (options.rows, options.cols)),
    dataSource: source, perform: { _ in nil })
session.tick()
var frame = session.frame()
let firstFrameMs = Double(nowNs() - t0) / 1e6
let firstFrameCPUMs = Double(threadCPUNs() - c0) / 1e6
if options.dump { print(frame.text) }
if let banner = session.model.errorBanner { fail("console error banner: \(banner)") }

let samples = Samples()
let viewNames: [ConsoleView: String] = [.pending: "Pending", .history: "History", .rules: "Rules", .audit: "Audit", .intakeErrors: "Intake"]
/// Renders the current frame, timing the renderer separately.
@MainActor func render() {
    let t = nowNs()
    let c = threadCPUNs()
    frame = session.frame()
    source.record("render (frame)", cpuNs: threadCPUNs() - c, wallNs: nowNs() - t)
}
@MainActor func key(_ name: String, _ k: Key) {
    let label = "\(name) [\(viewNames[session.model.view] ?? "?")]"
    let t = nowNs()
    let c = threadCPUNs()
    session.press(k)
    render()
    samples.add(label, wallNs: nowNs() - t, cpuNs: threadCPUNs() - c)
    if let banner = session.model.errorBanner { fail("console error banner after \(k): \(banner)") }
}
@MainActor func tick() {
    let label = "tick [\(viewNames[session.model.view] ?? "?")]"
    let t = nowNs()
    let c = threadCPUNs()
    session.tick()
    render()
    samples.add(label, wallNs: nowNs() - t, cpuNs: threadCPUNs() - c)
}
@MainActor func filter(_ text: String) {
    key("/ (prompt)", .c("/"))
    for ch in text.unicodeScalars { key("type", .char(ch)) }
    key("filter Enter", .enter)
    tick()
    key("n", .c("n"))
    key("Esc (clear)", .escape)
}
/// One remediation list view: moves, pages, ends, filters, detail focus.
@MainActor func exerciseList() {
    tick()
    for _ in 0..<options.moves { key("j", .c("j")) }
    for _ in 0..<options.moves / 4 { key("k", .c("k")) }
    tick()
    for _ in 0..<10 { key("PgDn", .pageDown) }
    for _ in 0..<5 { key("PgUp", .pageUp) }
    key("G", .c("G"))
    tick()
    for _ in 0..<20 { key("k", .c("k")) }
    key("g", .c("g"))
    for f in options.filters { filter(f) }
    key("Enter (detail)", .enter)
    for _ in 0..<5 { key("j (detail)", .c("j")) }
    key("Esc (list)", .escape)
    tick()
}

for round in 0..<options.rounds {
    if round > 0 { key("Tab", .tab) }  // Intake errors → Pending
    exerciseList()  // Pending
    key("Tab", .tab)
    exerciseList()  // History
    // `f` cycles all → each state → all again, so the next round starts from the same list.
    for _ in 0...RemediationState.allCases.count {
        key("f (state)", .c("f"))
        tick()
    }
    key("Tab", .tab)  // Rules
    for _ in 0..<10 { key("j", .c("j")) }
    tick()
    key("Tab", .tab)  // Audit
    for _ in 0..<options.moves { key("j", .c("j")) }
    key("G", .c("G"))
    tick()
    key("Tab", .tab)  // Intake errors
    tick()
}
if options.dump { print(frame.text) }

let counts = (session.model.summary?.counts ?? [:]).sorted { $0.key.rawValue < $1.key.rawValue }
    .map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: " ")
print(
    "ConsoleBench: \(options.db) at \(options.rows)x\(options.cols), \(options.rounds) round(s), j×\(options.moves), filters \(options.filters)\(options.cold ? ", cold page cache" : "")"
)
print("remediations: \(counts)")
print(String(format: "untimed open in a child process before the run (applies pending migrations): %.0f ms", openMs))
print(String(format: "first frame: %.1f ms (cpu %.1f ms; open → first complete frame)", firstFrameMs, firstFrameCPUMs))
print(samples.report())
let keys = samples.all { !$0.hasPrefix("tick") }.sorted()
print(
    String(
        format: "all keys: n %d, median %.2f ms, p95 %.2f ms, max %.2f ms", keys.count,
        Samples.percentile(keys, 0.5), Samples.percentile(keys, 0.95), keys.last ?? 0))
print(source.report())
print(String(format: "read from storage: %.1f MiB", Double(storageReadBytes() - readBefore) / 1_048_576))
print(String(format: "peak RSS: %.1f MiB (before opening the database: %.1f MiB)", Double(peakRSSKiB()) / 1024, Double(rssBefore) / 1024))
