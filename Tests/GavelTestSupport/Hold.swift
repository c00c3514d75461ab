import Foundation

/// Runs `occupy` on a new thread and returns once it is blocked in the closure it is given; that
/// closure blocks until the returned semaphore is signalled. Tests use it to keep a worker busy
/// (e.g. the ingest writer, in a `withConnection` job) so that work submitted meanwhile queues up
/// and runs together.
public func hold(_ occupy: @escaping @Sendable (_ block: @escaping @Sendable () -> Void) -> Void) -> DispatchSemaphore {
    let held = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    Thread {
        occupy {
            held.signal()
            release.wait()
        }
    }.start()
    held.wait()
    return release
}
