import Foundation
import GavelTestSupport
import Synchronization
import Testing

@testable import GavelCore

#if canImport(Glibc)
    import Glibc
#endif

/// Crash safety of the real `gavel serve` (hardening checklist R2, D3): signals are posted
/// under load by three client threads while remediations are approved with the CLI, and the
/// server is killed with SIGKILL at a random moment, then restarted on the same database —
/// `GAVEL_SOAK_CYCLES` times (default 40, about two minutes; `make soak` runs 500).
///
/// Afterwards: every signal that was acknowledged with 202 is in the database, none twice;
/// `PRAGMA integrity_check` is ok; every outbox line of one remediation carries that
/// remediation's one idempotency key (a dispatch interrupted by the kill is re-sent with the
/// same key, never a new one); and every remediation recorded `dispatched` has its line.
@Suite(.serialized) struct CrashSafetyTests {
    @Test func killNineUnderLoadLosesNothingAndNeverChangesAnIdempotencyKey() throws {
        let environment = ProcessInfo.processInfo.environment
        let cycles = environment["GAVEL_SOAK_CYCLES"].flatMap { Int($0) } ?? 40
        let seed = environment["GAVEL_SOAK_SEED"].flatMap { UInt64($0) } ?? UInt64(Date().timeIntervalSince1970 * 1000)
        var rng = SeededGenerator(seed: seed)
        let folder = NSTemporaryDirectory() + "gavel-crash-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let db = folder + "/gavel.db"
        let ledger = Ledger()

        for cycle in 0..<cycles {
            let serve = try KillableServe(folder: folder, cycle: cycle)
            let stop = StopFlag()
            let port = serve.port
            for _ in 0..<3 { Thread { ledger.postUntil(stop, port: port) }.start() }
            // Approve what is pending while the load runs, then kill at a random moment.
            usleep(UInt32.random(in: 100_000...500_000, using: &rng))
            try approvePending(db: db)
            usleep(UInt32.random(in: 0...700_000, using: &rng))
            serve.kill9()
            stop.raise()
            ledger.waitForClients(3)
        }

        // A last clean run lets recovery and the dispatcher finish what was approved.
        let final = try KillableServe(folder: folder, cycle: cycles)
        try approvePending(db: db)
        for _ in 0..<200 {
            let states = try sql(db, "SELECT count(*) FROM remediations WHERE state IN ('approved','dispatching')")
            if states == ["0"] { break }
            usleep(100_000)
        }
        final.terminate()

        let acked = ledger.acknowledged
        #expect(acked.count > cycles, "seed \(seed): only \(acked.count) signals acknowledged")
        // Every acknowledged signal is stored, exactly once.
        let stored = try sql(db, "SELECT signal_id FROM signals")
        #expect(Set(stored).count == stored.count, "seed \(seed): a signal id is stored twice")
        let missing = acked.subtracting(stored)
        #expect(missing.isEmpty, "seed \(seed): acknowledged but lost: \(missing.sorted().prefix(10))")
        #expect(try sql(db, "PRAGMA integrity_check") == ["ok"], "seed \(seed)")

        // One idempotency key per remediation, the one the database holds.
        let keys = Dictionary(
            uniqueKeysWithValues: try sql(db, "SELECT id || '|' || idempotency_key FROM remediations").map {
                let parts = $0.split(separator: "|", maxSplits: 1).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "")
            })
        var sentKeys: [String: Set<String>] = [:]
        var torn = 0
        let outbox = (try? String(contentsOfFile: folder + "/gavel-outbox.jsonl", encoding: .utf8)) ?? ""
        for line in outbox.split(separator: "\n") {
            guard let value = try? JSONValue.parse(String(line)), let id = value["remediation_id"]?.scalarText,
                let key = value["idempotency_key"]?.scalarText
            else {
                torn += 1  // a line cut by SIGKILL mid-append
                continue
            }
            sentKeys[id, default: []].insert(key)
        }
        #expect(torn <= cycles, "seed \(seed): \(torn) unreadable outbox lines")
        for (id, set) in sentKeys {
            #expect(set.count == 1, "seed \(seed): remediation \(id) sent with \(set.count) idempotency keys")
            #expect(set.first == keys[id], "seed \(seed): remediation \(id) sent with a key the database does not hold")
        }
        let dispatched = try sql(db, "SELECT id FROM remediations WHERE state = 'dispatched'")
        #expect(!dispatched.isEmpty, "seed \(seed): nothing was dispatched")
        for id in dispatched { #expect(sentKeys[id] != nil, "seed \(seed): remediation \(id) is dispatched but has no outbox line") }
        let lines = outbox.split(separator: "\n").count
        print(
            "crash safety (seed \(seed)): \(cycles) kills, \(acked.count) signals acknowledged, \(stored.count) stored, "
                + "\(dispatched.count) remediations dispatched, \(lines) outbox lines (\(lines - torn - sentKeys.count) re-sent, \(torn) torn)")
    }

    /// Approves every pending remediation with the CLI, as an analyst would.
    func approvePending(db: String) throws {
        let pending = try sql(db, "SELECT id FROM remediations WHERE state = 'pending' ORDER BY id LIMIT 200")
        guard !pending.isEmpty else { return }
        let r = try GavelBinary.run(["approve"] + pending + ["--by", "soak", "--db", db])
        #expect(r.status == 0 || r.err.contains("already"), "approve: \(r.err)")
    }
}

/// One query through the `sqlite3` command-line shell (the suite's dependency, see
/// scripts/ensure-deps.sh), one output line per row.
func sql(_ db: String, _ query: String) throws -> [String] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["sqlite3", "-batch", "-cmd", ".timeout 5000", db, query]
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let problem = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw NSError(domain: "sqlite3", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: "\(query): \(problem)"])
    }
    return text.split(separator: "\n").map(String.init)
}

/// `gavel serve` on a fixed folder, logging to a file (no pipe to fill), killable with SIGKILL.
final class KillableServe {
    let process = Process()
    let port: Int

    init(folder: String, cycle: Int) throws {
        let log = folder + "/serve-\(cycle).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: GavelBinary.path)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--db", folder + "/gavel.db"]
        var env = ProcessInfo.processInfo.environment
        env["GAVEL_TOKEN"] = nil
        env["GAVEL_CONFIG"] = nil
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var found: Int?
        let deadline = Date().addingTimeInterval(30)
        while found == nil && Date() < deadline && process.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: "listening on http://127.0.0.1:"), text[range.upperBound...].contains("\n") {
                found = Int(text[range.upperBound...].prefix { $0.isNumber })
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw NSError(domain: "gavel-crash", code: 1, userInfo: [NSLocalizedDescriptionKey: "serve did not start: \(text)"])
        }
        port = found
    }

    func kill9() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() {
        Glibc.kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

/// What the clients sent and what was acknowledged; unacknowledged signals are re-sent in a
/// later cycle, as Datadog retries a delivery that got no 2xx.
final class Ledger: Sendable {
    private struct State {
        var next = 0
        var acknowledged: Set<String> = []
        var retry: [String] = []
        var finished = 0
    }
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    var acknowledged: Set<String> { state.withLock { $0.acknowledged } }

    func waitForClients(_ n: Int) {
        for _ in 0..<n { done.wait() }
    }

    /// Posts signals (a retried one first when there is one) until `stop` or the server dies.
    func postUntil(_ stop: StopFlag, port: Int) {
        defer { done.signal() }
        while !stop.isRaised {
            let id = state.withLock { s -> String in
                if let again = s.retry.popLast() { return again }
                s.next += 1
                return "soak-\(s.next)"
            }
            let n = Int(id.dropFirst(5)) ?? 0
            var attributes = #"{"network":{"client":{"ip":["45.\#(n / 65536 % 256).\#(n / 256 % 256).\#(n % 256)"]}}"#
            if n % 5 == 0 { attributes += #","usr":{"id":"soak-user-\#(n)"}"# }
            let body = #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_NAME":"Soak rule","SECURITY_SIGNAL_ATTRIBUTES":\#(attributes)}}"#
            let ok = RawHTTP.post(port: port, body: body)
            state.withLock { s in
                if ok { s.acknowledged.insert(id) } else { s.retry.append(id) }
            }
            if !ok { usleep(20_000) }
        }
    }
}

/// A flag the test thread raises to stop the client threads.
final class StopFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    var isRaised: Bool { raised.load(ordering: .acquiring) }
    func raise() { raised.store(true, ordering: .releasing) }
}

/// A blocking one-request HTTP client over a raw socket: true only for a complete 202 answer.
enum RawHTTP {
    static func post(port: Int, body: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr)
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return false }
        let request = Array(
            "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                .utf8)
        var offset = 0
        while offset < request.count {
            let n = request[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            offset += n
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        let text = String(decoding: answer, as: UTF8.self)
        // The whole JSON answer must have arrived: a 202 cut by the kill is not an acknowledgement.
        return text.hasPrefix("HTTP/1.1 202 ") && text.hasSuffix("}")
    }
}
