import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The built `gavel` binary, run as a child process by the end-to-end tests.
enum GavelBinary {
    /// `.build/…/debug/gavel`, next to the test bundle.
    static var path: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [here, here.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("gavel").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/gavel").path
    }

    /// Runs `gavel ARGS` to completion; returns exit status, stdout and stderr.
    @discardableResult
    static func run(_ args: [String], environment: [String: String] = [:], cwd: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["GAVEL_TOKEN"] = nil
        env["GAVEL_DB"] = nil
        env["GAVEL_CONFIG"] = nil
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// A running `gavel serve` on 127.0.0.1 with a free port and its own folder.
final class ServeProcess {
    let folder: String
    let process = Process()
    let port: Int
    private let errPipe = Pipe()
    private let _dbPath: String
    var dbPath: String { _dbPath }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// What serve printed on stderr while starting (the listen line and the configuration it uses).
    private(set) var startupText = ""
    /// Whether `folder` is this process's own (removed by `cleanup`).
    private let ownsFolder: Bool

    /// Starts `gavel serve` on a free port.
    /// - Parameters:
    ///   - config: a configuration file's text, written as `gavel.json` in the folder and passed with `--config`.
    ///   - database: another serve's database to share (default: a new one in a new folder).
    ///   - cwd: the working folder (default: the new folder).
    ///   - launcher: a command that runs the binary (`unshare --uts …` to give it another host name).
    init(
        extraArgs: [String] = [], environment: [String: String] = [:], config: String? = nil, database: String? = nil, cwd: String? = nil,
        launcher: [String] = []
    ) throws {
        folder = NSTemporaryDirectory() + "gavel-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        ownsFolder = true
        let db = database ?? folder + "/gavel.db"
        _dbPath = db
        var args = ["serve", "--listen", "127.0.0.1:0", "--db", db]
        if let config {
            try Data(config.utf8).write(to: URL(fileURLWithPath: folder + "/gavel.json"))
            args += ["--config", folder + "/gavel.json"]
        }
        if let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [GavelBinary.path] + args + extraArgs
        } else {
            process.executableURL = URL(fileURLWithPath: GavelBinary.path)
            process.arguments = args + extraArgs
        }
        var env = ProcessInfo.processInfo.environment
        env["GAVEL_TOKEN"] = nil
        env["GAVEL_CONFIG"] = nil
        env["GAVEL_DB"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: cwd ?? folder)
        process.standardError = errPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait for "listening on http://127.0.0.1:PORT" and the configuration line (bounded).
        var seen = ""
        let handle = errPipe.fileHandleForReading
        let deadline = Date().addingTimeInterval(20)
        var found: Int?
        while (found == nil || !(seen.contains("configuration") || seen.contains("built-in defaults"))) && Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if found == nil, let range = seen.range(of: "listening on http://127.0.0.1:") {
                let digits = seen[range.upperBound...].prefix { $0.isNumber }
                if seen[range.upperBound...].contains("\n") { found = Int(digits) }
            }
        }
        startupText = seen
        guard let found else {
            process.terminate()
            throw NSError(domain: "gavel-e2e", code: 1, userInfo: [NSLocalizedDescriptionKey: "serve did not start: \(seen)"])
        }
        port = found
    }

    /// SIGKILL (a crash): no shutdown of any kind.
    func crash() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// SIGTERM, then wait for the exit; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    func cleanup() {
        stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}
