import Foundation
import GavelCore
import GavelStore
import Synchronization

/// What the dispatcher runs under, read at every turn: the configuration in force and whether
/// dispatch is held (the process's configuration file differs from the one in force).
public struct DispatchSettings: Sendable {
    /// The configuration to dispatch under (actions, allowlist).
    public var config: GavelConfig
    /// Why this process must not dispatch now (shown as a banner), nil when it may.
    public var heldBecause: String?

    public init(config: GavelConfig, heldBecause: String? = nil) {
        self.config = config
        self.heldBecause = heldBecause
    }
}

/// The dispatcher: claims approved remediations from the store and sends them.
///
/// One thread with its own store session. Each turn it recovers claims whose holder died or
/// whose lease ran out (re-queued with the same idempotency key when the action is idempotent,
/// else `failed` "interrupted; outcome unknown"), claims the oldest due remediation under a
/// lease (`RemediationQueue.claimDue`, atomic across processes and hosts), checks the brakes
/// (the kill switch and the rule's mode for an automatic approval) and the allowlist again,
/// sends exactly the request bound at approval, and records the outcome: success →
/// `dispatched`; a retryable failure → `approved` again after capped exponential backoff with
/// full jitter, until the action's retries are spent → `failed`; a permanent failure → `failed`.
///
/// Thread-safety: `Sendable`; the store session stays on the dispatcher thread.
public final class Dispatcher: Sendable {
    private let engine: any StoreEngine
    private let settings: @Sendable () -> DispatchSettings
    private let executor: any DispatchExecuting
    private let retryPolicy: RetryPolicy
    /// Who claims, as `host:pid:instance` (recovery checks that pid on this host, and for this
    /// process, that the instance is still running).
    public let worker: String
    private let wakeSignal = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let lastError = Mutex<String?>(nil)
    /// How long the loop sleeps when nothing is due, in ms (a decision made by another
    /// process is picked up within this time; `wake()` cuts it short).
    private let idleMs: Int
    /// How often claims of dead dispatchers are looked for, in ms.
    private let recoveryIntervalMs: Int64
    /// What a claim's lease adds to the longest action deadline, in seconds.
    private let leaseMarginSeconds: Double
    /// The engine's change feed while the loop runs (PostgreSQL: `LISTEN`); nil for SQLite.
    private let changes = Mutex<(any ChangeWatch)?>(nil)
    private let log: @Sendable (String) -> Void
    /// Attempts by action and outcome, their durations, and the loop's heartbeat (`/metrics`, `/healthz`).
    public let metrics = DispatchMetrics()

    /// - Parameters:
    ///   - engine: the store to dispatch from.
    ///   - settings: the configuration in force and whether dispatch is held, read every turn.
    ///   - idleMs: sleep between looks when nothing is due (default 250).
    ///   - recoveryIntervalMs: how often lapsed claims are recovered while running (default 2000).
    ///   - leaseMarginSeconds: what a claim's lease adds to the longest action deadline (default
    ///     `$GAVEL_LEASE_MARGIN_SECONDS`, else 60; see `leaseMs`).
    ///   - log: receives one line per dispatch outcome (`serve` writes it to stderr, the console
    ///     to its log file); called on the dispatcher thread.
    public init(
        engine: any StoreEngine, settings: @escaping @Sendable () -> DispatchSettings, executor: any DispatchExecuting = Executor(),
        retryPolicy: RetryPolicy = RetryPolicy(), idleMs: Int = 250, recoveryIntervalMs: Int64 = 2000,
        leaseMarginSeconds: Double = Dispatcher.defaultLeaseMarginSeconds, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.log = log
        self.leaseMarginSeconds = leaseMarginSeconds
        self.engine = engine
        self.settings = settings
        self.executor = executor
        self.retryPolicy = retryPolicy
        self.idleMs = idleMs
        self.recoveryIntervalMs = recoveryIntervalMs
        self.worker = Dispatcher.workerName()
        Dispatcher.liveInstances.withLock { _ = $0.insert(worker) }
    }

    /// A dispatcher with a fixed configuration (tests, `gavel dispatch` without a store configuration).
    public convenience init(
        engine: any StoreEngine, config: GavelConfig, executor: any DispatchExecuting = Executor(), retryPolicy: RetryPolicy = RetryPolicy(),
        idleMs: Int = 250, recoveryIntervalMs: Int64 = 2000, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.init(
            engine: engine, settings: { DispatchSettings(config: config) }, executor: executor, retryPolicy: retryPolicy, idleMs: idleMs,
            recoveryIntervalMs: recoveryIntervalMs, log: log)
    }

    deinit {
        let worker = self.worker
        Dispatcher.liveInstances.withLock { _ = $0.remove(worker) }
    }

    /// Workers of this process that may hold claims (their claims are not crash leftovers).
    private static let liveInstances = Mutex<Set<String>>([])

    /// The last store error the loop met, or why dispatch is held (shown as a banner); nil when healthy.
    public var problem: String? { lastError.withLock { $0 } }

    /// Why this dispatcher is not dispatching as it should (`/healthz`), nil when it is: not
    /// running, stalled (`DispatchMetrics.stall`: no turn of its loop for 30 s past the deadline of
    /// the attempt it is in, or past its last turn when idle), or its `problem` (held, store fault).
    public var health: String? {
        guard started.load(ordering: .acquiring), !stopped.load(ordering: .acquiring) else { return "not running" }
        return metrics.stall() ?? problem
    }

    /// The lease margin unless told otherwise: `$GAVEL_LEASE_MARGIN_SECONDS` (a number ≥ 1, for
    /// tests and for setups whose dispatchers must take over faster), else 60 s.
    public static var defaultLeaseMarginSeconds: Double {
        ProcessInfo.processInfo.environment["GAVEL_LEASE_MARGIN_SECONDS"].flatMap(Double.init).map { max(1, $0) } ?? 60
    }

    /// Starts the dispatcher thread, woken early by the engine's change feed when it has one (a
    /// decision on another host is then sent within a second, not at the next poll).
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let watch = engine.watchChanges { [weak self] in self?.wake() }
        changes.withLock { $0 = watch }
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
        changes.withLock { $0 }?.cancel()
        guard started.load(ordering: .acquiring) else { return }
        wakeSignal.signal()
        finished.wait()
    }

    /// Sends every remediation that is approved and due now, then returns how many were
    /// attempted and how many of those ended `failed` (`gavel dispatch --once`). Runs on the
    /// calling thread.
    /// - Throws: `StoreError` when the store cannot be opened, or dispatch is held.
    @discardableResult
    public func runOnce() throws(StoreError) -> (attempted: Int, failed: Int) {
        let store = try engine.open(.existing)
        let current = settings()
        if let held = current.heldBecause { throw StoreError.refused(held) }
        try recover(store, config: current.config)
        try store.expirePending(config: current.config, at: .now)
        var count = 0
        var failed = 0
        while let claim = try store.claimDue(
            worker: worker, limit: 1, leaseMs: leaseMs(current.config), config: current.config, at: .now
        ).first {
            process(claim, store, config: current.config)
            count += 1
            if try store.remediation(id: claim.id)?.state == .failed { failed += 1 }
        }
        return (count, failed)
    }

    private func loop() {
        var store: (any Store)?
        var lastRecovery = Timestamp(milliseconds: 0)
        while !stopped.load(ordering: .acquiring) {
            metrics.turned()
            do {
                if store == nil { store = try engine.open(.existing) }
                guard let store else { continue }
                let current = settings()
                if let held = current.heldBecause {
                    lastError.withLock { $0 = held }
                } else {
                    let now = Timestamp.now
                    if now.milliseconds(since: lastRecovery) >= recoveryIntervalMs {
                        try recover(store, config: current.config)
                        try store.expirePending(config: current.config, at: now)
                        lastRecovery = now
                    }
                    if let claim = try store.claimDue(worker: worker, limit: 1, leaseMs: leaseMs(current.config), config: current.config, at: now)
                        .first
                    {
                        lastError.withLock { $0 = nil }
                        process(claim, store, config: current.config)
                        continue
                    }
                    lastError.withLock { $0 = nil }
                }
            } catch {
                lastError.withLock { $0 = "dispatcher: \(error)" }
                if case .location = error { store = nil }
            }
            _ = wakeSignal.wait(timeout: .now() + .milliseconds(idleMs))
        }
    }

    /// A claim's lease: the longest deadline of any action plus the margin (a minute unless
    /// `leaseMarginSeconds` says otherwise), so a live dispatcher always finishes (or gives up)
    /// before another one — on this host or another — may take the remediation over.
    func leaseMs(_ config: GavelConfig) -> Int64 {
        let longest =
            config.actions.values.map { action -> Double in
                switch action.kind {
                case .http(let h): h.timeoutSeconds
                case .command(let c): c.timeoutSeconds
                case .outbox: 5
                }
            }.max() ?? 30
        return Int64((longest + leaseMarginSeconds) * 1000)
    }

    private func recover(_ store: any Store, config: GavelConfig) throws(StoreError) {
        let host = Dispatcher.hostName()
        try store.recoverClaims(
            at: .now,
            isDead: { holder in
                // A claim by a live process on this host (including ourselves) is not ours to recover;
                // one on another host waits for its lease.
                let parts = holder.split(separator: ":")
                guard parts.count == 3, String(parts[0]) == host, let pid = Int32(parts[1]) else { return false }
                if pid == getpid() { return !Dispatcher.liveInstances.withLock { $0.contains(holder) } }
                return !(kill(pid, 0) == 0 || errno == EPERM)  // EPERM: alive, another user's process
            },
            isIdempotent: { config.actions[$0]?.idempotent ?? false })
    }

    /// Sends one claimed remediation and records the outcome. Store errors while recording
    /// leave it `dispatching`; recovery then handles it like an interrupted dispatch.
    func process(_ claim: DispatchClaim, _ store: any Store, config: GavelConfig) {
        let r = claim.remediation
        let started = DispatchTime.now().uptimeNanoseconds
        func finish(
            _ result: AttemptReport.Result, status: Int? = nil, error: String?, response: String = "", stderr: String? = nil, sent: Bool = false
        ) {
            let ms = Int((DispatchTime.now().uptimeNanoseconds &- started) / 1_000_000)
            let counted: DispatchMetrics.Outcome =
                switch result {
                case .dispatched: .success
                case .retry: .retry
                case .failed: .failed
                }
            metrics.record(action: r.action, kind: claim.kind.rawValue, outcome: counted, seconds: sent ? Double(ms) / 1000 : nil)
            let what = "remediation \(r.id) \(r.action) \(r.target) \(claim.kind == .revert ? "revert attempt" : "attempt") \(claim.attempt): "
            switch result {
            case .dispatched: log(what + "dispatched" + (status.map { " (" + Attempt.resultText(status: $0, error: nil) + ")" } ?? ""))
            case .retry: log(what + "will retry: " + (error ?? "failed"))
            case .failed: log(what + "failed: " + (error ?? "failed"))
            }
            do {
                let report = AttemptReport(result: result, status: status, error: error, response: response, durationMs: ms, stderr: stderr)
                if try !store.finish(claim, report, config: config, at: .now) {
                    log(what + "the claim lapsed meanwhile; another dispatcher recovered it")
                }
            } catch {
                lastError.withLock { $0 = "dispatcher: recording remediation \(r.id): \(error)" }
            }
        }
        let budget = RetrySeries.Lookup(claim: claim, store: store)
        if claim.kind == .revert {
            send(claim, config: config, budget: budget, finish: finish)
            return
        }
        // The brakes also hold back automatic approvals not yet sent (e.g. waiting to retry).
        if let decidedBy = r.decidedBy, decidedBy.hasPrefix("auto:") {
            do {
                if let reason = try brakes(on: r, store: store) {
                    try store.withdrawClaim(claim, reason: reason, at: .now)
                    metrics.record(action: r.action, kind: claim.kind.rawValue, outcome: .withdrawn, seconds: nil)
                    log("remediation \(r.id): returned to pending: \(reason)")
                    return
                }
            } catch {
                finish(.failed, error: "\(error)")
                return
            }
        }
        guard let action = config.actions[r.action] else {
            finish(.failed, error: "action '\(r.action)' is not in the configuration")
            return
        }
        // The row's target is checked again, whatever was bound: a target that is not valid for
        // its kind never leaves gavel, even in a row written by an older version or by hand.
        if case .failure(let refusal) = TargetValidator.validate(r.target, kind: action.target, pattern: action.targetPattern) {
            finish(.failed, error: refusal.description)
            return
        }
        if let reason = config.allowlist.match(kind: action.target, target: r.target) {
            do {
                try store.suppressClaim(claim, reason: reason, at: .now)
                metrics.record(action: r.action, kind: claim.kind.rawValue, outcome: .suppressed, seconds: nil)
            } catch {
                finish(.failed, error: "\(error)")
            }
            return
        }
        send(claim, config: config, budget: budget, finish: finish)
    }

    /// Sends exactly the claimed request (bound at approval, or the revert's bound when it was
    /// decided), with secrets from this process's environment, and records the outcome.
    private func send(
        _ claim: DispatchClaim, config: GavelConfig, budget: RetrySeries.Lookup,
        finish: (AttemptReport.Result, Int?, String?, String, String?, Bool) -> Void
    ) {
        let request: RenderedRequest
        do throws(DispatchRefusal) {
            switch claim.request {
            case .success(let bound): request = try bound.resolvingEnvironment(ProcessInfo.processInfo.environment)
            case .failure(let refusal): throw refusal
            }
        } catch {
            finish(.failed, nil, error.description, "", nil, false)
            return
        }
        metrics.busy(with: "remediation \(claim.id) \(claim.remediation.action)", forSeconds: request.deadlineSeconds)
        let outcome = executor.execute(request, idempotencyKey: claim.idempotencyKey)
        switch outcome.kind {
        case .success:
            finish(.dispatched, outcome.status, nil, outcome.responseExcerpt, outcome.stderrTail, true)
        case .retryable, .permanent:
            let series = budget.series
            var rng = SystemRandomNumberGenerator()
            let delay = retryPolicy.delay(afterAttempt: series.attempt, random: &rng)
            let now = Timestamp.now
            let elapsed = Double(now.milliseconds(since: series.firstStarted)) / 1000
            if retryPolicy.shouldRetry(
                after: outcome, attempt: series.attempt, maxRetries: request.maxRetries, elapsed: elapsed, delay: delay,
                retryFor: request.retryForSeconds)
            {
                finish(
                    .retry(at: now.adding(milliseconds: Int64(delay * 1000))), outcome.status, outcome.error, outcome.responseExcerpt,
                    outcome.stderrTail, true)
            } else {
                var error = outcome.error ?? "failed"
                if outcome.kind == .retryable { error += "; " + RetrySeries.gaveUp(series, elapsed: elapsed, request: request) }
                finish(.failed, outcome.status, error, outcome.responseExcerpt, outcome.stderrTail, true)
            }
        }
    }

    /// Why an automatic approval must not go now: the kill switch, or its rule no longer in auto.
    private func brakes(on r: Remediation, store: any Store) throws(StoreError) -> String? {
        if try store.automaticDispatchDisabled() {
            return "automatic dispatch switched off (gavel auto --all off) before it was sent"
        }
        if let rule = try store.rule(named: r.ruleKey), rule.mode != .auto {
            return "rule \(rule.displayName) switched to \(rule.mode.rawValue) before it was sent"
        }
        return nil
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
