import Glibc

/// A child process started by `CommandExecutor`, leader of its own process group, with its
/// stdout and its stderr on the read ends of two pipes. Not `Sendable`: one thread spawns,
/// waits and reaps it.
struct SpawnedChild: ~Copyable {
    /// Why `posix_spawn` failed: the errno and whether retrying is pointless.
    struct Failure: Error, CustomStringConvertible {
        var call: String
        var program: String
        var code: Int32
        /// `ENOENT`, `EACCES`, `ENOEXEC`… mean the configured program cannot run, ever.
        var isPermanent: Bool { [ENOENT, EACCES, ENOEXEC, ENOTDIR, ELOOP, ENAMETOOLONG, EISDIR, EPERM].contains(code) }
        var description: String { "\(call) \(program): \(String(cString: strerror(code)))" }
    }

    /// How the child ended.
    enum Termination: Equatable {
        case exited(Int32)
        case signaled(Int32)
        case timedOut
        /// The child was reaped by someone else (another `waitpid(-1)` in the process), so its
        /// status is lost.
        case unknown
    }

    let pid: pid_t
    /// Read end of the stdout pipe, non-blocking, close-on-exec.
    private let output: Int32
    /// Read end of the stderr pipe, non-blocking, close-on-exec.
    private let errors: Int32

    /// A close-on-exec pipe whose write end is 3 or above (so `dup2` onto 1 or 2 is never a
    /// no-op that keeps `FD_CLOEXEC`) and whose read end is non-blocking; nil with errno set.
    private static func outputPipe() -> (read: Int32, write: Int32)? {
        var pipeFDs: [Int32] = [-1, -1]
        guard makeCloseOnExecPipe(&pipeFDs) == 0 else { return nil }
        var writeEnd = pipeFDs[1]
        if writeEnd < 3 {
            let moved = fcntl(writeEnd, F_DUPFD_CLOEXEC, 3)
            close(writeEnd)
            writeEnd = moved
        }
        _ = fcntl(pipeFDs[0], F_SETFL, fcntl(pipeFDs[0], F_GETFL) | O_NONBLOCK)
        return (pipeFDs[0], writeEnd)
    }

    /// Spawns `argv[0]` (an absolute path) with `argv` and exactly `environment`.
    static func spawn(argv: [String], environment: [String]) -> Result<SpawnedChild, Failure> {
        let program = argv[0]
        guard let out = outputPipe() else { return .failure(Failure(call: "pipe", program: program, code: errno)) }
        guard let err = outputPipe() else {
            let code = errno
            close(out.read)
            close(out.write)
            return .failure(Failure(call: "pipe", program: program, code: code))
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out.write, 1)
        posix_spawn_file_actions_adddup2(&actions, err.write, 2)
        if let closeFrom = addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)

        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attributes, cArgv, cEnv)
        close(out.write)
        close(err.write)
        guard rc == 0 else {
            close(out.read)
            close(err.read)
            return .failure(Failure(call: "posix_spawn", program: program, code: rc))
        }
        return .success(SpawnedChild(pid: pid, output: out.read, errors: err.read))
    }

    /// What the child wrote: the start of its stdout and the end of its stderr.
    struct Output {
        var stdout = CappedBytes()
        var stderr = TailBytes()
    }

    /// Reads stdout and stderr until the child exits or `timeoutSeconds` pass, then kills the
    /// process group, reaps the child and closes the pipes.
    consuming func wait(timeoutSeconds: Double) -> (termination: Termination, output: Output) {
        var captured = Output()
        let deadline = monotonicNanoseconds() &+ UInt64(min(timeoutSeconds, 1e9) * 1e9)
        let exitFD = openPidFD(pid)
        var outEOF = false
        var errEOF = false
        var timedOut = false
        while !leaderHasExited() {
            let now = monotonicNanoseconds()
            guard now < deadline else {
                timedOut = true
                break
            }
            // Without a pidfd, wake up every 20 ms to notice the exit.
            let sliceMs = exitFD >= 0 ? Int32.max : 20
            let waitMs = Int32(min(UInt64(sliceMs), (deadline - now + 999_999) / 1_000_000))
            var fds = [
                pollfd(fd: outEOF ? -1 : output, events: Int16(POLLIN), revents: 0),
                pollfd(fd: errEOF ? -1 : errors, events: Int16(POLLIN), revents: 0),
                pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, nfds_t(fds.count), waitMs)
            if !outEOF, fds[0].revents != 0 { outEOF = drain(output) { captured.stdout.append($0) } }
            if !errEOF, fds[1].revents != 0 { errEOF = drain(errors) { captured.stderr.append($0) } }
        }
        // The leader is running or a zombie, so its pid still names the group: no reuse race.
        _ = kill(-pid, SIGKILL)
        var status: Int32 = 0
        let reaped = retryingEINTR { waitpid(pid, &status, 0) }
        if !outEOF { _ = drain(output) { captured.stdout.append($0) } }
        if !errEOF { _ = drain(errors) { captured.stderr.append($0) } }
        if exitFD >= 0 { close(exitFD) }
        close(output)
        close(errors)
        if timedOut { return (.timedOut, captured) }
        if reaped < 0 { return (.unknown, captured) }
        let signal = status & 0x7f
        return (signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal), captured)
    }

    /// Whether the leader has exited, without reaping it (`WNOWAIT`).
    private func leaderHasExited() -> Bool {
        var info = siginfo_t()
        let rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        if rc < 0 && errno == ECHILD { return true }  // already reaped elsewhere: it has exited
        return rc == 0 && info._sifields._sigchld.si_pid == pid
    }

    /// Reads what the pipe `fd` holds now, handing each chunk to `keep`; stops at `EAGAIN` or
    /// after 1 MiB (so one flooding stream cannot starve the other).
    /// - Returns: whether end of file was reached (every writer closed the pipe).
    private func drain(_ fd: Int32, keep: (ArraySlice<UInt8>) -> Void) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var readThisCall = 0
        while readThisCall < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { raw in retryingEINTR { read(fd, raw.baseAddress, raw.count) } }
            if n == 0 { return true }
            if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
            keep(buffer[0..<n])
            readThisCall += n
        }
        return false
    }
}

/// Nanoseconds on the monotonic clock.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

// glibc declares these only under _GNU_SOURCE, which Swift's Glibc module does not define,
// so they are looked up at run time (present since glibc 2.34 / 2.36 / 2.9).
private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
private typealias PidFDOpen = @convention(c) (pid_t, UInt32) -> Int32
private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32

private func lookUp<F>(_ name: String, as type: F.Type) -> F? {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), name) else { return nil }
    return unsafeBitCast(symbol, to: type)
}

private let addCloseFrom = lookUp("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)
private let pidFDOpen = lookUp("pidfd_open", as: PidFDOpen.self)
private let pipe2 = lookUp("pipe2", as: Pipe2.self)

/// A pidfd that polls readable when `pid` exits, or -1 (no `pidfd_open`, or the kernel refuses).
private func openPidFD(_ pid: pid_t) -> Int32 {
    guard let pidFDOpen else { return -1 }
    let fd = pidFDOpen(pid, 0)
    if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return fd
}

/// `pipe2(O_CLOEXEC)`, or `pipe` then `FD_CLOEXEC` where `pipe2` is missing (spawns close
/// descriptors above 2 anyway when `addclosefrom_np` exists).
private func makeCloseOnExecPipe(_ fds: inout [Int32]) -> Int32 {
    if let pipe2 { return pipe2(&fds, O_CLOEXEC) }
    guard pipe(&fds) == 0 else { return -1 }
    fds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
    return 0
}
