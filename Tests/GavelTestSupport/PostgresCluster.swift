import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL cluster for one test run: Debian's `postgresql` server binaries,
/// `initdb` into a temporary folder, `pg_ctl start` on a free port of 127.0.0.1 (and a socket in
/// that folder), trust authentication for the user `postgres`. Started lazily by the first test
/// that asks (`PostgresCluster.shared`), shared by every test of the process, one database per
/// test (`createDatabase()`), and stopped when the process exits (SIGQUIT, PostgreSQL's immediate
/// shutdown, from an `atexit` handler, and a watchdog shell that stops it should the process be killed).
///
/// As root it runs the server binaries as `postgres` (`runuser -u postgres --`): the server
/// refuses to run as root. `GAVEL_PG_BIN` names another folder of server binaries.
public final class PostgresCluster: Sendable {
    /// The folder with `initdb`, `pg_ctl`, `psql`.
    public let binDir: String
    /// The cluster's folder (data, log, socket).
    public let directory: String
    /// The TCP port on 127.0.0.1.
    public let port: Int

    /// The cluster of this test run, started on first use; the failure says why it could not start.
    public static let shared: Result<PostgresCluster, ClusterError> = {
        do throws(ClusterError) {
            return .success(try PostgresCluster())
        } catch {
            return .failure(error)
        }
    }()

    /// Why PostgreSQL tests cannot run here (no server binaries), or nil when they can.
    /// Cheap: it only looks for the binaries (the cluster starts when a test needs it).
    public static let unavailableReason: String? = {
        if findBinDir() != nil { return nil }
        let why =
            "PostgreSQL tests skipped: no server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or $GAVEL_PG_BIN; "
            + "install Debian's postgresql package (scripts/ensure-deps.sh test does)"
        FileHandle.standardError.write(Data((why + "\n").utf8))
        return why
    }()

    /// An error starting the cluster, with the command's output.
    public struct ClusterError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    private init() throws(ClusterError) {
        guard let bin = Self.findBinDir() else { throw ClusterError(description: Self.unavailableReason ?? "no PostgreSQL binaries") }
        binDir = bin
        directory = NSTemporaryDirectory() + "gavel-pg-" + UUID().uuidString.prefix(8).lowercased()
        port = Self.freePort()
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
        } catch {
            throw ClusterError(description: "cannot make \(directory): \(error)")
        }
        var prefix: [String] = []
        if getuid() == 0, let pw = getpwnam("postgres") {
            chown(directory, pw.pointee.pw_uid, pw.pointee.pw_gid)
            prefix = ["/usr/sbin/runuser", "-u", "postgres", "--"]
        }
        let data = directory + "/data"
        try run(prefix + [bin + "/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        let options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c max_connections=300"
        try run(prefix + [bin + "/pg_ctl", "-D", data, "-l", directory + "/log", "-w", "-t", "60", "-o", options, "start"])
        let stop = (prefix + [bin + "/pg_ctl", "-D", data, "-m", "immediate", "stop"]).map(Self.quote).joined(separator: " ")
        let cleanup = "\(stop) >/dev/null 2>&1; rm -rf \(Self.quote(directory))"
        let pidLine = (try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8))?.split(separator: "\n").first
        Self.postmaster.withLock { $0 = pidLine.flatMap { pid_t($0) } }
        atexit { PostgresCluster.stopAtExit() }
        // Should this process be killed (no atexit), a watchdog stops the cluster once it is gone.
        _ = Self.spawn(["/bin/sh", "-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 2; done; \(cleanup)"], output: "/dev/null", cwd: "/")
    }

    /// The server's pid (`postmaster.pid`), for the exit handler.
    private static let postmaster = Mutex<pid_t?>(nil)

    /// SIGQUIT is PostgreSQL's immediate shutdown; no child process is started while the process
    /// exits (the watchdog then removes the folder).
    private static func stopAtExit() {
        guard let pid = postmaster.withLock({ $0 }) else { return }
        kill(pid, SIGQUIT)
    }

    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    public func url(database: String) -> String { "postgres://postgres@127.0.0.1:\(port)/\(database)" }

    /// Creates an empty database for one test and returns its URI.
    public func createDatabase() throws(ClusterError) -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// Runs one SQL command as `postgres` on the `postgres` database (`psql -c`); returns its output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws(ClusterError) -> String {
        try run([binDir + "/psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database, "-c", sql])
    }

    /// Runs `argv` to completion (posix_spawn and waitpid: Foundation's `Process` can miss the exit
    /// of a command whose child daemonizes, as `pg_ctl start` does); returns its output.
    @discardableResult
    private func run(_ argv: [String]) throws(ClusterError) -> String {
        let output = directory + "/cmd-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        guard let pid = Self.spawn(argv, output: output, cwd: directory) else { throw ClusterError(description: "cannot run \(argv[0])") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let log = (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? ""
            throw ClusterError(description: "\(argv.joined(separator: " ")) exited \(status): \(text)\n\(log.suffix(2000))")
        }
        return text
    }

    /// Starts `argv` with stdin from /dev/null and stdout and stderr to `output`; returns its pid.
    private static func spawn(_ argv: [String], output: String, cwd: String) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // In `cwd` (a folder the server's user may enter: initdb refuses a current folder it cannot read).
        let command = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", cwd] + argv
        let cArgs = command.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", &actions, nil, cArgs, environ) == 0 else { return nil }
        return pid
    }

    private static func findBinDir() -> String? {
        if let dir = ProcessInfo.processInfo.environment["GAVEL_PG_BIN"], FileManager.default.isExecutableFile(atPath: dir + "/pg_ctl") {
            return dir
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for v in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(v)/bin/initdb") {
            return "\(root)/\(v)/bin"
        }
        return nil
    }

    private static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: bound.sin_port))
    }

    private static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
