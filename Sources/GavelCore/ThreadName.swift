#if canImport(Glibc)
    import Glibc
#endif

/// Names the calling thread for `top -H`, `ps -L`, `perf` and `/proc/PID/task/TID/comm`.
///
/// Foundation's `Thread.name` does not reach the kernel on Linux, and Swift does not import
/// `pthread_setname_np` (a `_GNU_SOURCE` declaration), so the name is written to
/// `/proc/thread-self/comm` (Linux 3.17, proc(5)), which keeps its first 15 bytes. Printable
/// ASCII only. Does nothing where that file cannot be written. `bench/lib.sh` finds the
/// ingest writer as `gavel-writer`.
public enum ThreadName {
    /// Sets the calling thread's name (`gavel-writer`); at most 15 bytes are kept.
    public static func set(_ name: String) {
        #if canImport(Glibc)
            let bytes = Array(name.utf8.filter { $0 >= 0x20 && $0 < 0x7f }.prefix(15))
            let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        #endif
    }
}
