import Foundation
import GavelCore
import GavelStore
import Synchronization

/// The word back to Datadog: sends the triage updates the store queued (`TriageQueue`) —
/// Datadog's "Update security signal triage state or assignee" request for each Datadog signal
/// of a remediation that was dispatched, rejected or reverted (`DatadogTriageConfig`).
///
/// It runs on its own thread with its own store session, apart from the dispatcher, so an
/// update never delays a remediation nor changes its state, however Datadog answers. Each try
/// is an attempt of kind `triage` of the remediation. A retryable failure (network error,
/// timeout, 408, 429, 5xx) is tried again after capped exponential backoff with full jitter
/// (`RetryPolicy`, base 1 s, cap 5 min) up to the configured `max_retries`; anything else (a
/// 4xx such as 403, a key missing from the environment) fails the update for good, visibly.
///
/// With no `datadog` section in the configuration in force, while dispatch is held, or in a
/// process whose environment lacks either key (an analyst's console next to `gavel serve`),
/// nothing is claimed: queued updates wait for a process that can send them.
///
/// Thread-safety: `Sendable`; the store session stays on the reporter's thread.
public final class TriageReporter: Sendable {
    private let engine: any StoreEngine
    private let settings: @Sendable () -> DispatchSettings
    private let executor: any DispatchExecuting
    private let retryPolicy: RetryPolicy
    private let environment: @Sendable () -> [String: String]
    private let idleMs: Int
    private let log: @Sendable (String) -> Void
    /// Who claims, as `host:pid:triage-instance`.
    public let worker: String
    private let wakeSignal = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - settings: the configuration in force and whether dispatch is held, read every turn.
    ///   - environment: where the API and application keys are read, at each send (default: the
    ///     process environment).
    ///   - idleMs: how long the loop sleeps when nothing is due (default 500).
    ///   - log: one line per update sent or given up (and per retry), on the reporter's thread.
    public init(
        engine: any StoreEngine, settings: @escaping @Sendable () -> DispatchSettings, executor: any DispatchExecuting = Executor(),
        retryPolicy: RetryPolicy = RetryPolicy(), environment: @escaping @Sendable () -> [String: String] = { ProcessInfo.processInfo.environment },
        idleMs: Int = 500, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.engine = engine
        self.settings = settings
        self.executor = executor
        self.retryPolicy = retryPolicy
        self.environment = environment
        self.idleMs = idleMs
        self.log = log
        self.worker = Dispatcher.workerName() + "-triage"
    }

    /// Starts the reporter's thread.
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            ThreadName.set("gavel-triage")
            loop()
            finished.signal()
        }
        thread.name = "gavel-triage"
        thread.start()
    }

    /// Makes the loop look for due updates now.
    public func wake() { wakeSignal.signal() }

    /// Stops after the update in progress, and waits for the thread (if it was started).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        guard started.load(ordering: .acquiring) else { return }
        wakeSignal.signal()
        finished.wait()
    }

    /// Sends every update due now once (`gavel dispatch --once`), on the calling thread.
    /// - Returns: how many were attempted.
    /// - Throws: `StoreError` when the store cannot be opened.
    @discardableResult
    public func runOnce() throws(StoreError) -> Int {
        let store = try engine.open(.existing)
        let current = settings()
        guard current.heldBecause == nil, let triage = current.config.datadogTriage, hasKeys(triage) else { return 0 }
        var count = 0
        while let claim = try store.claimTriageUpdates(worker: worker, limit: 1, leaseMs: leaseMs(triage), at: .now).first {
            send(claim, triage: triage, store: store)
            count += 1
        }
        return count
    }

    private func loop() {
        var store: (any Store)?
        while !stopped.load(ordering: .acquiring) {
            do {
                if store == nil { store = try engine.open(.existing) }
                let current = settings()
                if let store, current.heldBecause == nil, let triage = current.config.datadogTriage, hasKeys(triage),
                    let claim = try store.claimTriageUpdates(worker: worker, limit: 1, leaseMs: leaseMs(triage), at: .now).first
                {
                    send(claim, triage: triage, store: store)
                    continue
                }
            } catch {
                log("datadog triage: \(error)")
                if case .location = error { store = nil }
            }
            _ = wakeSignal.wait(timeout: .now() + .milliseconds(idleMs))
        }
    }

    /// True when this process's environment holds both keys (non-empty): only then does it claim.
    func hasKeys(_ triage: DatadogTriageConfig) -> Bool {
        let env = environment()
        return [triage.apiKeyEnv, triage.applicationKeyEnv].allSatisfy { !(env[$0] ?? "").isEmpty }
    }

    /// A claim's lease: the request's deadline plus a minute.
    private func leaseMs(_ triage: DatadogTriageConfig) -> Int64 { Int64((triage.timeoutSeconds + 60) * 1000) }

    /// Sends one claimed update and records the attempt.
    func send(_ claim: TriageClaim, triage: DatadogTriageConfig, store: any Store) {
        let update = claim.update
        let what = "datadog triage: remediation \(update.remediationID), signal \(update.signalID) → \(update.change), attempt \(claim.attempt): "
        let started = DispatchTime.now().uptimeNanoseconds
        func finish(_ result: AttemptReport.Result, status: Int?, error: String?, response: String) {
            let ms = Int((DispatchTime.now().uptimeNanoseconds &- started) / 1_000_000)
            switch result {
            case .dispatched: log(what + "sent" + (status.map { " (status \($0))" } ?? ""))
            case .retry: log(what + "will retry: " + (error ?? "failed"))
            case .failed: log(what + "failed: " + (error ?? "failed"))
            }
            do {
                let report = AttemptReport(result: result, status: status, error: error, response: response, durationMs: ms)
                try store.finishTriageUpdate(claim, report, at: .now)
            } catch {
                log(what + "recording the outcome: \(error)")
            }
        }
        let request: RenderedRequest
        do throws(DispatchRefusal) {
            request = try triage.request(signalID: update.signalID, body: update.body).resolvingEnvironment(environment())
        } catch {
            finish(.failed, status: nil, error: error.description, response: "")
            return
        }
        let outcome = executor.execute(request, idempotencyKey: "gavel-triage-\(update.id)")
        switch outcome.kind {
        case .success:
            finish(.dispatched, status: outcome.status, error: nil, response: outcome.responseExcerpt)
        case .retryable where retryPolicy.shouldRetry(after: outcome, attempt: claim.attempt, maxRetries: triage.maxRetries):
            var rng = SystemRandomNumberGenerator()
            let delay = retryPolicy.delay(afterAttempt: claim.attempt, random: &rng)
            finish(
                .retry(at: Timestamp.now.adding(milliseconds: Int64(delay * 1000))), status: outcome.status, error: outcome.error ?? "failed",
                response: outcome.responseExcerpt)
        case .retryable, .permanent:
            let error = outcome.error ?? outcome.status.map { "HTTP \($0)" } ?? "failed"
            finish(.failed, status: outcome.status, error: error, response: outcome.responseExcerpt)
        }
    }
}
