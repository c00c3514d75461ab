import Foundation
import GavelCore
import GavelStore
import Synchronization

/// The dispatcher: claims approved remediations from the database and sends them.
///
/// One thread with its own connection. Each turn it claims the oldest due remediation
/// (`Database.claimNext`, atomic across processes), re-checks it against the allowlist and
/// the target pattern, renders its action, executes it, and records the outcome:
/// success → `dispatched`; a retryable failure → `approved` again after capped exponential
/// backoff with full jitter, until the action's retries are spent → `failed`; a permanent
/// failure → `failed`. On start it recovers remediations a crashed dispatcher left
/// `dispatching` (re-queued when the action is idempotent, else `failed`).
///
/// Thread-safety: `Sendable`; the `Database` stays on the dispatcher thread.
public final class Dispatcher: Sendable {
    private let databasePath: String
    private let config: GavelConfig
    private let executor: any DispatchExecuting
    private let retryPolicy: RetryPolicy
    /// Who claims, as `host:pid:instance` (crash recovery checks that pid on this host,
    /// and for this process, that the instance is still running).
    public let worker: String
    private let wakeSignal = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let lastError = Mutex<String?>(nil)
    /// How long the loop sleeps when nothing is due, in ms (a decision made by another
    /// process is picked up within this time; `wake()` cuts it short).
    private let idleMs: Int
    private let log: @Sendable (String) -> Void

    /// - Parameter log: receives one line per dispatch outcome (`serve` writes it to stderr,
    ///   the console to its log file); called on the dispatcher thread.
    public init(
        databasePath: String, config: GavelConfig, executor: any DispatchExecuting = Executor(),
        retryPolicy: RetryPolicy = RetryPolicy(), idleMs: Int = 250, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.log = log
        self.databasePath = databasePath
        self.config = config
        self.executor = executor
        self.retryPolicy = retryPolicy
        self.idleMs = idleMs
        self.worker = Dispatcher.workerName()
        Dispatcher.liveInstances.withLock { _ = $0.insert(worker) }
    }

    deinit {
        let worker = self.worker
        Dispatcher.liveInstances.withLock { _ = $0.remove(worker) }
    }

    /// Workers of this process that may hold claims (their claims are not crash leftovers).
    private static let liveInstances = Mutex<Set<String>>([])

    /// The last store error the loop met (shown as a banner), nil when healthy.
    public var problem: String? { lastError.withLock { $0 } }

    /// Starts the dispatcher thread.
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            loop()
            finished.signal()
        }
        thread.name = "gavel-dispatcher"
        thread.start()
    }

    /// Makes the loop look for work now (after a commit that approved something).
    public func wake() { wakeSignal.signal() }

    /// Stops after the dispatch in progress, and waits for the thread (if it was started).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        guard started.load(ordering: .acquiring) else { return }
        wakeSignal.signal()
        finished.wait()
    }

    /// Sends every remediation that is approved and due now, then returns how many were
    /// attempted and how many of those ended `failed` (`gavel dispatch --once`). Runs on the
    /// calling thread.
    /// - Throws: `SQLiteError` when the database cannot be opened.
    @discardableResult
    public func runOnce() throws -> (attempted: Int, failed: Int) {
        let db = try Database(path: databasePath)
        try recover(db)
        var count = 0
        var failed = 0
        while let claim = try db.claimNext(worker: worker) {
            process(claim, db)
            count += 1
            if try db.remediation(id: claim.id)?.state == .failed { failed += 1 }
        }
        return (count, failed)
    }

    private func loop() {
        var db: Database?
        while !stopped.load(ordering: .acquiring) {
            do {
                if db == nil {
                    let opened = try Database(path: databasePath)
                    try recover(opened)
                    db = opened
                }
                if let claim = try db!.claimNext(worker: worker) {
                    lastError.withLock { $0 = nil }
                    process(claim, db!)
                    continue
                }
                lastError.withLock { $0 = nil }
            } catch {
                lastError.withLock { $0 = "dispatcher: \(error)" }
            }
            _ = wakeSignal.wait(timeout: .now() + .milliseconds(idleMs))
        }
    }

    private func recover(_ db: Database) throws {
        let host = Dispatcher.hostName()
        try db.recoverInterrupted(
            isIdempotent: { [config] in config.actions[$0]?.idempotent ?? false },
            isAlive: { claimer in
                // A claim by a live process on this host (including ourselves) is not ours to recover.
                let parts = claimer.split(separator: ":")
                guard parts.count == 3, String(parts[0]) == host, let pid = Int32(parts[1]) else { return false }
                if pid == getpid() { return Dispatcher.liveInstances.withLock { $0.contains(claimer) } }
                return kill(pid, 0) == 0 || errno == EPERM  // EPERM: alive, another user's process
            })
    }

    /// Sends one claimed remediation and records the outcome. Store errors while recording
    /// leave it `dispatching`; crash recovery then handles it like an interrupted dispatch.
    func process(_ claim: ClaimedRemediation, _ db: Database) {
        let started = Date()
        func finish(_ result: AttemptResult, status: Int? = nil, error: String?, response: String = "") {
            let ms = Int(Date().timeIntervalSince(started) * 1000)
            let what = "remediation \(claim.id) \(claim.action) \(claim.target) attempt \(claim.attempt): "
            switch result {
            case .dispatched: log(what + "dispatched" + (status.map { " (status \($0))" } ?? ""))
            case .retry: log(what + "will retry: " + (error ?? "failed"))
            case .failed: log(what + "failed: " + (error ?? "failed"))
            }
            do {
                try db.finishAttempt(claim, result: result, status: status, error: error, response: response, durationMs: ms)
            } catch {
                lastError.withLock { $0 = "dispatcher: recording remediation \(claim.id): \(error)" }
            }
        }
        guard let action = config.actions[claim.action] else {
            finish(.failed, error: "action '\(claim.action)' is not in the configuration")
            return
        }
        // The kill switch also holds back automatic approvals not yet sent (e.g. waiting to retry).
        if claim.decidedBy?.hasPrefix("auto:") == true, (try? db.automaticDispatchDisabled()) == true {
            do {
                try db.returnToPending(claim, reason: "automatic dispatch switched off (gavel auto --all off) before it was sent")
                log("remediation \(claim.id): returned to pending by the kill switch")
            } catch {
                finish(.failed, error: "\(error)")
            }
            return
        }
        if let reason = config.allowlist.match(kind: action.target, target: claim.target) {
            do { try db.suppressClaimed(claim, reason: reason) } catch { finish(.failed, error: "\(error)") }
            return
        }
        let context = TemplateContext(
            action: action, target: claim.target, signalID: claim.signalID, ruleName: claim.ruleName,
            ruleID: claim.ruleID, severity: claim.severity, remediationID: String(claim.id),
            idempotencyKey: claim.idempotencyKey, decidedBy: claim.decidedBy)
        let request: RenderedRequest
        do {
            request = try action.render(context)
        } catch {
            finish(.failed, error: error.description)
            return
        }
        let outcome = executor.execute(request, idempotencyKey: claim.idempotencyKey)
        switch outcome.kind {
        case .success:
            finish(.dispatched, status: outcome.status, error: nil, response: outcome.responseExcerpt)
        case .retryable where retryPolicy.shouldRetry(after: outcome, attempt: claim.attempt, maxRetries: request.maxRetries):
            var rng = SystemRandomNumberGenerator()
            let delay = retryPolicy.delay(afterAttempt: claim.attempt, random: &rng)
            let next = Timestamp.nowMs() + Int64(delay * 1000)
            finish(.retry(nextAttemptMs: next), status: outcome.status, error: outcome.error, response: outcome.responseExcerpt)
        case .retryable, .permanent:
            finish(.failed, status: outcome.status, error: outcome.error ?? "failed", response: outcome.responseExcerpt)
        }
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func workerName() -> String {
        "\(hostName()):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
    }
}
