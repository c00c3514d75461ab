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

/// The dispatcher: claims approved remediations from the store and sends them, many at once.
///
/// One loop thread with its own store session, and sender threads. Each turn the loop records the
/// outcomes the senders finished (many in one transaction), recovers claims whose holder died or
/// whose lease ran out (re-queued with the same idempotency key when the action is idempotent,
/// else `failed` "interrupted; outcome unknown"), and claims what each action can send soon
/// (`RemediationQueue.claimDue` with a quota per action, atomic across processes and hosts): up
/// to its `concurrency` in flight and as many again waiting, fewer under a rate limit, one while
/// its circuit probes, none while its circuit is open or its endpoint asked for a pause. Each claim
/// passes the brakes (the kill switch and the rule's mode for an automatic approval) and the
/// allowlist again; then exactly the request bound at approval is queued for a sender — alone, or
/// for a batch action gathered with others (`BatchSettings`: up to `max`, for at most `window`)
/// into one request whose `Idempotency-Key` names the batch (recorded on its members before it is
/// sent).
///
/// A sender takes the next request whose action has a free place, a token of its rate limit and a
/// closed circuit, sends it, and hands the outcome back: success → `dispatched`; a retryable
/// failure → `approved` again after capped exponential backoff with full jitter (and no earlier
/// than the endpoint's `Retry-After`; a batch's members all at the same time, to go again together),
/// until the action's retries are spent → `failed`; a permanent failure → `failed`. Claims that an
/// opened circuit, a pause or `stop()` leave unsent go back to the queue unchanged (`releaseClaims`).
///
/// Thread-safety: `Sendable`; the store session stays on the loop thread (or the caller's, for
/// `runOnce`), senders share only the queues and gates behind a `Mutex`.
public final class Dispatcher: Sendable {
    let engine: any StoreEngine
    private let settings: @Sendable () -> DispatchSettings
    let executor: any DispatchExecuting
    let retryPolicy: RetryPolicy
    /// Who claims, as `host:pid:instance` (recovery checks that pid on this host, and for this
    /// process, that the instance is still running).
    public let worker: String
    let wakeSignal = DispatchSemaphore(value: 0)
    let workAvailable = DispatchSemaphore(value: 0)
    /// Wakes the recorder (outcomes to write).
    let recordSignal = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let lastError = Mutex<String?>(nil)
    /// Sending state shared by the loop and the senders.
    let shared = Mutex(SendingState())
    /// How long the loop sleeps when nothing is due, in ms (a decision made by another
    /// process is picked up within this time; `wake()` cuts it short).
    let idleMs: Int
    /// How often claims of dead dispatchers are looked for, in ms.
    private let recoveryIntervalMs: Int64
    /// What a claim's lease adds to the longest action deadline, in seconds.
    private let leaseMarginSeconds: Double
    /// The engine's change feed while the loop runs (PostgreSQL: `LISTEN`); nil for SQLite.
    private let changes = Mutex<(any ChangeWatch)?>(nil)
    let log: @Sendable (String) -> Void
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
    ///     to its log file); called on the loop thread.
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

    func setProblem(_ text: String?) { lastError.withLock { $0 = text } }

    /// The settings now.
    func currentSettings() -> DispatchSettings { settings() }

    /// How each action is being sent now (actions this process has sent or claimed), by name.
    public func status() -> [ActionDispatchStatus] {
        let now = Dispatcher.clock()
        let wall = Timestamp.now
        func wallTime(_ t: Double) -> Timestamp { wall.adding(milliseconds: Int64(((t - now) * 1000).rounded())) }
        return shared.withLock { s in
            s.gates.keys.sorted().map { name in
                let g = s.gates[name]!
                let circuit: ActionDispatchStatus.Circuit
                switch g.circuit {
                case .closed: circuit = .closed
                case .open(let until): circuit = until > now ? .open(until: wallTime(until)) : .halfOpen
                case .halfOpen: circuit = .halfOpen
                }
                return ActionDispatchStatus(
                    action: name, inFlight: g.inFlight, queued: s.queues[name]?.count ?? 0, circuit: circuit,
                    consecutiveFailures: g.consecutiveFailures, pausedUntil: g.pausedUntil.flatMap { $0 > now ? wallTime($0) : nil },
                    rateLimitWaits: g.rateLimitWaits, rateLimitWaitSeconds: g.rateLimitWaitSeconds, pauses: g.pauses,
                    circuitOpenings: g.circuitOpenings)
            }
        }
    }

    /// The actions whose circuit is open (or probing) in this process, with when it closes at the
    /// earliest (nil while probing).
    public func openCircuits() -> [String: Timestamp?] {
        var out: [String: Timestamp?] = [:]
        for s in status() {
            switch s.circuit {
            case .closed: continue
            case .open(let until): out[s.action] = until
            case .halfOpen: out[s.action] = .some(nil)
            }
        }
        return out
    }

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
            ThreadName.set("gavel-dispatch")
            loop()
            finished.signal()
        }
        thread.name = "gavel-dispatcher"
        thread.start()
    }

    /// Makes the loop look for work now (after a commit that approved something).
    public func wake() { wakeSignal.signal() }

    /// Stops: claims not yet sent go back to the queue, requests in flight finish (each within its
    /// timeout) and are recorded; waits for the thread (if it was started).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        changes.withLock { $0 }?.cancel()
        guard started.load(ordering: .acquiring) else { return }
        wakeSignal.signal()
        finished.wait()
    }

    /// Sends every remediation that is approved and due now (concurrently, by the same rules as the
    /// running loop), waits for every answer, then returns how many were attempted and how many of
    /// those ended `failed` (`gavel dispatch --once`). Runs on the calling thread, with sender
    /// threads that end before it returns; not for a dispatcher that was `start()`ed.
    /// - Throws: `StoreError` when the store cannot be opened, or dispatch is held.
    @discardableResult
    public func runOnce() throws(StoreError) -> (attempted: Int, failed: Int) {
        let store = try engine.open(.existing)
        let current = settings()
        if let held = current.heldBecause { throw StoreError.refused(held) }
        try recover(store, config: current.config)
        try store.expirePending(config: current.config, at: .now)
        var run = Run(flushBatches: true)
        startRecorder()
        let counted = shared.withLock { ($0.attempted, $0.failed) }
        defer {
            stopWorkers()
            stopRecorder()
        }
        do {
            while true {
                let config = settings().config
                try turn(store, config: config, run: &run)
                // Nothing claimed, nothing in flight: done — unless the quota was 0 because the queue
                // was full when the turn began (the senders may have drained it since).
                if !run.claimedAny && !run.heldBack && !hasWork() { break }
                if !run.claimedAny { _ = wakeSignal.wait(timeout: .now() + .milliseconds(20)) }
            }
        } catch let error as StoreError {
            releaseEverything(store, run: &run)
            throw error
        } catch {
            releaseEverything(store, run: &run)
            throw StoreError.failed("\(error)")
        }
        stopRecorder()
        let done = shared.withLock { ($0.attempted, $0.failed) }
        return (done.0 - counted.0, done.1 - counted.1)
    }

    private func loop() {
        startRecorder()
        var store: (any Store)?
        var lastRecovery = Timestamp(milliseconds: 0)
        var run = Run(flushBatches: false)
        while !stopped.load(ordering: .acquiring) {
            var pause = idleMs
            metrics.turned()
            do {
                if store == nil { store = try engine.open(.existing) }
                guard let store else { continue }
                let current = settings()
                if let held = current.heldBecause {
                    lastError.withLock { $0 = held }
                    releaseEverything(store, run: &run)
                } else {
                    let now = Timestamp.now
                    if now.milliseconds(since: lastRecovery) >= recoveryIntervalMs {
                        try recover(store, config: current.config)
                        try store.expirePending(config: current.config, at: now)
                        lastRecovery = now
                        run.othersDue = true
                    }
                    try turn(store, config: current.config, run: &run)
                    lastError.withLock { $0 = nil }
                    if run.claimedAny { continue }
                    pause = min(pause, run.nextBatchDeadlineMs ?? pause)
                    if hasWork() { pause = min(pause, 20) }  // record what finished at least this often
                }
            } catch {
                lastError.withLock { $0 = "dispatcher: \(error)" }
                if case .location = error as? StoreError { store = nil }
            }
            _ = wakeSignal.wait(timeout: .now() + .milliseconds(max(1, pause)))
            while wakeSignal.wait(timeout: .now()) == .success {}  // one turn for many wake-ups
        }
        if let store {
            releaseEverything(store, run: &run)
            while hasWork() { _ = wakeSignal.wait(timeout: .now() + .milliseconds(50)) }
        }
        stopWorkers()
        stopRecorder()
    }

    /// True while a request is queued or in flight, or an outcome waits to be recorded.
    func hasWork() -> Bool {
        shared.withLock { s in
            s.inFlight > 0 || !s.finished.isEmpty || !s.decided.isEmpty || s.recording || s.queues.values.contains { !$0.isEmpty }
        }
    }

    /// A claim's lease: the longest a claim may take in this process, plus the margin (a minute
    /// unless `leaseMarginSeconds` says otherwise), so a live dispatcher always finishes (or gives
    /// up) before another one — on this host or another — may take the remediation over. The longest
    /// it may take: the longest deadline of any action twice (a claimed request waits behind at most
    /// one request of its place in flight: claims are taken only for free places and `concurrency`
    /// more), the longest batch window, and the two seconds of tokens a rate-limited action claims
    /// ahead. Claims held back by an open circuit or a pause are given back, not kept.
    func leaseMs(_ config: GavelConfig) -> Int64 {
        let longest =
            config.actions.values.map { action -> Double in
                switch action.kind {
                case .http(let h): h.timeoutSeconds
                case .command(let c): c.timeoutSeconds
                case .outbox: 5
                }
            }.max() ?? 30
        let window = Double(config.actions.values.compactMap { $0.batch?.windowMs }.max() ?? 0) / 1000
        let rated = config.actions.values.contains { $0.rate != nil } ? 2.0 : 0
        return Int64((2 * longest + window + rated + leaseMarginSeconds) * 1000)
    }

    func recover(_ store: any Store, config: GavelConfig) throws(StoreError) {
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

    /// Seconds on a monotonic clock (rate limits, pauses, circuits, batch windows).
    static func clock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func workerName() -> String {
        "\(hostName()):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
    }
}
