import Foundation
import GavelCore
import GavelTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16 findings checked against the real binary: what `gavel signals --json` prints for a
/// hostile rule name, what the CLI does with another program's database, and what `gavel serve`
/// does when it runs out of file descriptors.
@Suite(.serialized) struct ReceiverHardeningEndToEndTests {
    /// A rule name holding U+009B (a one-byte CSI) and U+202E (right-to-left override) reaches
    /// `gavel signals --json` escaped as `\u009b` and `\u202e`: the same JSON value, but bytes a
    /// terminal shows as text.
    @Test func signalsJSONEscapesC1AndBidiControls() throws {
        let serve = try ServeProcess()
        defer { serve.cleanup() }
        let name = "Login \u{9B}31mred\u{202E}txt.exe\u{2066}"
        let body = JSONValue.object([
            JSONMember("SECURITY_SIGNAL_ID", "c1-bidi"), JSONMember("SECURITY_RULE_NAME", .string(name)),
        ])
        // Built without compactText's escaping, so the controls travel raw in the request.
        let raw = #"{"SECURITY_SIGNAL_ID":"c1-bidi","SECURITY_RULE_NAME":""# + name + #""}"#
        #expect(try JSONValue.parse(raw) == body)
        _ = try curl(serve.baseURL + "/webhook", body: raw)
        let out = try GavelBinary.run(["signals", "--json", "--db", serve.dbPath])
        #expect(out.status == 0)
        let bytes = Array(out.out.utf8)
        for (scalar, encoded) in [("U+009B", [0xC2, 0x9B]), ("U+202E", [0xE2, 0x80, 0xAE]), ("U+2066", [0xE2, 0x81, 0xA6])] as [(String, [UInt8])] {
            let printedRaw = bytes.containsRun(encoded)
            #expect(!printedRaw, "\(scalar) printed raw")
        }
        #expect(out.out.contains(#"Login \u009b31mred\u202etxt.exe\u2066"#))
        let rows = try JSONValue.parse(out.out)
        guard case .array(let signals) = rows else { throw POSIXError(.EINVAL) }
        #expect(signals.first?["rule"] == .string(name))
    }

    /// With `ulimit -n 64`, 80 idle connections exhaust the descriptors and `accept` fails with
    /// EMFILE: the receiver backs off instead of retrying in a loop (it used to spin a core), and
    /// serves again once the idle connections are closed.
    /// Issue 16 item 10: `gavel list --db someone-else.db` on another program's SQLite file
    /// switched it to WAL and added gavel's tables. Every verb that opens the store refuses it
    /// (exit 2, naming `--db` and the tables it holds) and leaves the file byte for byte as it was,
    /// with no `-wal` or `-shm` beside it.
    @Test func anotherProgramsDatabaseIsRefusedAndLeftUntouched() throws {
        let dir = try TemporaryDirectory()
        let db = dir.file("someone-else.db")
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        make.arguments = [db, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices (total) VALUES (12.5);"]
        try make.run()
        make.waitUntilExit()
        #expect(make.terminationStatus == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        for args in [["list"], ["list", "--json"], ["signals"], ["rules"], ["approve", "1", "--by", "alice"], ["auto", "--all", "off"]] {
            let r = try GavelBinary.run(args + ["--db", db], cwd: dir.path)
            #expect(r.status == 2, "\(args): \(r.status) \(r.err)")
            #expect(r.err.contains("--db") && r.err.contains("not a gavel database") && r.err.contains("invoices"), "\(args): \(r.err)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["someone-else.db"])
    }

    @Test func outOfDescriptorsBacksOffInsteadOfSpinning() throws {
        let folder = NSTemporaryDirectory() + "gavel-emfile-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", #"ulimit -n 64 && exec "$0" serve --listen 127.0.0.1:0 --db "$1""#, GavelBinary.path, folder + "/gavel.db",
        ]
        var env = ProcessInfo.processInfo.environment
        env["GAVEL_TOKEN"] = nil
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            // SIGTERM, and SIGKILL after 10 s: a `gavel serve` that ran out of descriptors before
            // it installed its signal handling ignores SIGTERM (see the pause below).
            kill(process.processIdentifier, SIGTERM)
            let until = Date().addingTimeInterval(10)
            while process.isRunning && Date() < until { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        var seen = ""
        var port: Int?
        let deadline = Date().addingTimeInterval(20)
        while port == nil && Date() < deadline {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: "listening on http://127.0.0.1:"), seen[range.upperBound...].contains("\n") {
                port = Int(seen[range.upperBound...].prefix { $0.isNumber })
            }
        }
        let bound = try #require(port, "serve did not start: \(seen)")
        // `gavel serve` prints its address before it sets up SIGTERM handling (a dispatch signal
        // source, which needs a descriptor): let it finish before taking every descriptor.
        usleep(500_000)

        var sockets: [Int32] = []
        defer { sockets.forEach { _ = close($0) } }
        for _ in 0..<80 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(bound).bigEndian)
            inet_pton(AF_INET, "127.0.0.1", &a.sin_addr)
            let rc = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(rc == 0)
            sockets.append(fd)
        }
        usleep(500_000)
        let before = try Self.cpuSeconds(process.processIdentifier)
        usleep(2_500_000)
        let used = try Self.cpuSeconds(process.processIdentifier) - before
        #expect(used < 0.5, "gavel serve used \(used) s of CPU in 2.5 s while out of descriptors")
        sockets.forEach { _ = close($0) }
        sockets = []
        // The idle connections are cut at 5 s; then it serves again.
        var status = ""
        let until = Date().addingTimeInterval(15)
        while !status.contains(#""status":"ok""#) && Date() < until {
            status = (try? Self.get("http://127.0.0.1:\(bound)/healthz")) ?? ""
            if !status.contains("ok") { usleep(200_000) }
        }
        #expect(status.contains(#""status":"ok""#))
        #expect(process.isRunning)
        // It did run out: accept failed and was counted.
        let metrics = try Self.get("http://127.0.0.1:\(bound)/metrics")
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("gavel_accept_errors_total ") }
        #expect(line != nil && line != "gavel_accept_errors_total 0", "\(line ?? "no gavel_accept_errors_total")")
    }

    /// GETs `url` with curl, giving up after 5 s; returns the body.
    static func get(_ url: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-sS", "--max-time", "5", url]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// User plus system CPU time of `pid` so far, in seconds (/proc/PID/stat fields 14 and 15).
    static func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        guard let close = stat.lastIndex(of: ")") else { throw POSIXError(.EINVAL) }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After "pid (comm)": state is field 3, so utime (14) and stime (15) are at 11 and 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { throw POSIXError(.EINVAL) }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

extension Array where Element == UInt8 {
    /// True when `run` occurs in these bytes.
    func containsRun(_ run: [UInt8]) -> Bool {
        guard !run.isEmpty, count >= run.count else { return false }
        return (0...(count - run.count)).contains { self[$0..<($0 + run.count)].elementsEqual(run) }
    }
}
