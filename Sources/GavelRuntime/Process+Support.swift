import Foundation
import GavelCore
import Synchronization

/// An append-only log file; every line is sanitized (no terminal escapes reach it) and stamped.
///
/// Thread-safety: `Sendable`; writes are serialized by a lock, each line one `write(2)`.
public final class LogFile: Sendable {
    public let path: String
    private let lock = Mutex(())

    public init(path: String) { self.path = path }

    /// Appends `text` as one line: `RFC3339 sanitized-text`. Created owner-only (0600).
    public func write(_ text: String) {
        let line = Timestamp.now.rfc3339 + " " + DisplayText.sanitize(text) + "\n"
        lock.withLock { _ in
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            _ = line.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
            close(fd)
        }
    }
}

/// SIGINT / SIGTERM (and SIGHUP for the console) set a flag or wake a waiter, so every process
/// shuts down through its own code (curses torn down, the store closed). SIGPIPE is ignored.
public final class SignalWatch {
    private var sources: [DispatchSourceSignal] = []

    /// Installs handlers for `signals`; `handler` runs on a private queue.
    public init(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP], handler: @escaping @Sendable () -> Void) {
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "gavel-signals")
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }

    /// Removes the handlers.
    public func cancel() { sources.forEach { $0.cancel() } }
}

/// SIGINT and SIGTERM handled from the moment this is created, waited for later: create it
/// before announcing readiness ("listening on …"), so a supervisor's SIGTERM sent right after
/// the announcement is never lost to the default action or to an ignored signal.
public final class TerminationWait {
    private let done = DispatchSemaphore(value: 0)
    private var watch: SignalWatch?

    /// Installs the handlers now.
    public init() {
        let done = self.done
        watch = SignalWatch([SIGINT, SIGTERM]) { done.signal() }
    }

    /// Blocks until SIGINT or SIGTERM arrived (at once if one already did), then removes the handlers.
    public func wait() {
        done.wait()
        watch?.cancel()
        watch = nil
    }
}

/// Writes one line to stderr.
public func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
