import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16 findings checked against the real binary: what `gavel serve` does when it runs out
/// of file descriptors.
@Suite(.serialized) struct ReceiverHardeningEndToEndTests {
    /// With `ulimit -n 64`, 80 idle connections exhaust the descriptors and `accept` fails with
    /// EMFILE: the receiver backs off instead of retrying in a loop (it used to spin a core), and
    /// serves again once the idle connections are closed.
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
            kill(process.processIdentifier, SIGTERM)
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
