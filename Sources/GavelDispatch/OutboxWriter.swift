import GavelCore
import Glibc

/// Appends one JSON line per dispatch to the outbox file (JSON Lines: one compact JSON object
/// per line, each ended by `\n`). With no action configured, every action is an outbox
/// action: the line is the request an HTTP action would have sent (see DESIGN.md).
///
/// Each append opens the file with `O_RDWR | O_APPEND | O_CREAT` (mode 0600 when created), takes an
/// exclusive `flock(2)`, writes the line and its newline with one `write(2)`, `fsync(2)`s and
/// closes. The lock makes lines from concurrent threads and processes (every gavel process
/// uses this writer) never interleave: POSIX promises atomic writes only for pipes below
/// `PIPE_BUF`, not for regular files. If the file does not end with a newline (a writer died
/// mid-line), a newline is written first so the new line stays parseable; a failed write is
/// truncated away so it leaves no torn line.
public struct OutboxWriter: Sendable {
    /// Creates an outbox writer.
    public init() {}

    /// Appends `request.line` and a newline to `request.path`.
    /// - Returns: `.success`; `.permanent` when the line contains CR, LF or NUL (it would not
    ///   be one JSON line, and retrying cannot change that); `.retryable` with the failing
    ///   call and its `strerror` text (`"open /x/outbox.jsonl: No such file or directory"`)
    ///   on any I/O failure.
    public func execute(_ request: OutboxDispatchRequest) -> DispatchOutcome {
        let watch = Stopwatch()
        func outcome(_ kind: DispatchOutcome.Kind, _ error: String?) -> DispatchOutcome {
            DispatchOutcome(kind: kind, error: error, durationMs: watch.elapsedMs)
        }
        if request.line.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0 }) {
            return outcome(.permanent, "outbox line contains CR, LF or NUL")
        }
        if request.path.isEmpty || request.path.utf8.contains(0) {
            return outcome(.permanent, "outbox path is empty or contains NUL")
        }
        do throws(OutboxError) {
            try append(Array(request.line.utf8) + [0x0A], to: request.path)
            return outcome(.success, nil)
        } catch {
            return outcome(.retryable, error.description)
        }
    }

    private func append(_ line: [UInt8], to path: String) throws(OutboxError) {
        let fd = retryingEINTR { open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw OutboxError(call: "open", path: path) }
        defer { close(fd) }
        guard retryingEINTR({ flock(fd, LOCK_EX) }) == 0 else { throw OutboxError(call: "flock", path: path) }
        defer { _ = flock(fd, LOCK_UN) }

        var info = stat()
        guard fstat(fd, &info) == 0 else { throw OutboxError(call: "fstat", path: path) }
        let sizeBefore = info.st_size
        var bytes = line
        if sizeBefore > 0 {
            var last: UInt8 = 0
            let got = retryingEINTR { pread(fd, &last, 1, sizeBefore - 1) }
            if got == 1, last != 0x0A { bytes.insert(0x0A, at: 0) }
        }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                retryingEINTR { write(fd, buffer.baseAddress! + written, buffer.count - written) }
            }
            if n <= 0 {
                let failure = OutboxError(call: "write", path: path, code: n < 0 ? errno : ENOSPC)
                _ = ftruncate(fd, sizeBefore)
                throw failure
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw OutboxError(call: "fsync", path: path) }
    }
}

/// A failed system call on the outbox file, with its `errno`.
struct OutboxError: Error, CustomStringConvertible {
    var call: String
    var path: String
    var code: Int32 = errno
    var description: String { "\(call) \(path): \(String(cString: strerror(code)))" }
}

/// Calls `body` again while it fails with `EINTR`.
func retryingEINTR<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result < 0 && errno == EINTR { continue }
        return result
    }
}
