import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The real `gavel console` running in a detached tmux session of a given size, driven with
/// `send-keys` and read with `capture-pane`, as an analyst would use it.
final class TmuxConsole {
    let session = "gavel-e2e-" + UUID().uuidString.prefix(8).lowercased()
    let folder: String
    let dbPath: String

    /// Starts `gavel console ARGS` (with `--db` in `folder`, or `database`) at `cols`×`rows`.
    init(folder: String, args: [String], cols: Int = 100, rows: Int = 30, environment: [String: String] = [:], database: String? = nil) throws {
        self.folder = folder
        self.dbPath = database ?? folder + "/gavel.db"
        var env = "env -u GAVEL_TOKEN LANG=C.UTF-8 TERM=xterm-256color"
        for (k, v) in environment { env += " \(k)=\(shellQuote(v))" }
        let command =
            env + " " + ([GavelBinary.path, "console", "--db", dbPath] + args).map(shellQuote).joined(separator: " ")
            + " 2>" + shellQuote(folder + "/console.err") + "; echo gavel-exited-$? > " + shellQuote(folder + "/exit") + "; echo after-exit; sleep 60"
        // new-session may start the tmux server, which would inherit a stdout pipe and keep it open.
        try Self.tmux(["new-session", "-d", "-s", session, "-c", folder, "-x", String(cols), "-y", String(rows), command], capture: false)
    }

    /// The screen as text, one line per row.
    func capture() -> String { (try? Self.tmux(["capture-pane", "-p", "-t", session])) ?? "" }

    /// Sends tmux key names (`Enter`, `Escape`, `j`, `C-c`) or, with `literal`, text.
    func send(_ keys: String..., literal: Bool = false) {
        _ = try? Self.tmux(["send-keys", "-t", session] + (literal ? ["-l"] : []) + keys)
    }

    /// Polls the screen until `predicate` holds (every 30 ms, up to `timeout` s); returns the last screen.
    @discardableResult
    func waitFor(timeout: Double = 10, _ predicate: (String) -> Bool) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var screen = capture()
        while !predicate(screen) && Date() < deadline {
            usleep(30_000)
            screen = capture()
        }
        return screen
    }

    /// Waits for `text` on screen; returns the screen.
    @discardableResult
    func waitFor(_ text: String, timeout: Double = 10) -> String { waitFor(timeout: timeout) { $0.contains(text) } }

    /// The port from the header's `http://127.0.0.1:PORT`.
    func listenPort() -> Int? {
        let screen = waitFor { $0.contains("http://127.0.0.1:") }
        guard let r = screen.range(of: "http://127.0.0.1:") else { return nil }
        return Int(screen[r.upperBound...].prefix { $0.isNumber })
    }

    /// The console's exit line once it ended (`gavel-exited-0`), or nil.
    var exitLine: String? { try? String(contentsOfFile: folder + "/exit", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }

    /// The pid of the gavel process running in the pane (the pane's shell's child).
    func gavelPID() -> Int32? {
        guard let pids = try? Self.tmux(["list-panes", "-t", session, "-F", "#{pane_pid}"]),
            let shell = Int32(pids.trimmingCharacters(in: .whitespacesAndNewlines)),
            let children = try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)
        else { return nil }
        return children.split(separator: " ").compactMap { Int32($0) }.first
    }

    func resize(cols: Int, rows: Int) { _ = try? Self.tmux(["resize-window", "-t", session, "-x", String(cols), "-y", String(rows)]) }

    func kill() { _ = try? Self.tmux(["kill-session", "-t", session]) }

    /// Runs tmux with posix_spawn and waitpid (Foundation's Process can miss the exit of a
    /// client whose server daemonized); returns its stdout.
    @discardableResult
    static func tmux(_ args: [String], capture: Bool = true) throws -> String {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if capture {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let argv = (["/usr/bin/tmux"] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/tmux", &actions, nil, argv, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw POSIXError(.ENOENT)
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n > 0 {
                output += buffer[0..<n]
                continue
            }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return String(decoding: output, as: UTF8.self)
    }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") }
}

func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
