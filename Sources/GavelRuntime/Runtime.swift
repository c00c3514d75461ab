import Foundation
import GavelCore
import GavelDispatch
import GavelReceiver
import GavelStore
import Synchronization

/// The long-running parts that `serve`, `console` and `dispatch` share: the store's ingest path
/// (for the receiver), the dispatcher (woken after every commit, so auto-remediation goes out at
/// once), the word back to Datadog (`TriageReporter`, on its own thread), and a watch on the
/// configuration in force (re-read every 2 s).
///
/// Thread-safety: `Sendable`; each part owns its thread and its own store session.
public final class Runtime: Sendable {
    public let engine: any StoreEngine
    public let configuration: LiveConfiguration
    public let dispatcher: Dispatcher
    /// The word back to Datadog (idle unless the configuration has a `datadog` section).
    public let triageReporter: TriageReporter
    private let log: @Sendable (String) -> Void
    private let stopping = Atomic<Bool>(false)
    private let watchDone = DispatchSemaphore(value: 0)
    private let watchWake = DispatchSemaphore(value: 0)
    private let intakeBox = Mutex<(any SignalIntake)?>(nil)

    /// Starts the configuration watch; the dispatcher starts with `start()`.
    /// - Parameter log: where dispatch outcomes and configuration changes go (stderr for `serve`,
    ///   the log file for the console).
    public init(engine: any StoreEngine, configuration: LiveConfiguration, log: @escaping @Sendable (String) -> Void) {
        self.engine = engine
        self.configuration = configuration
        self.log = log
        self.dispatcher = Dispatcher(engine: engine, settings: { configuration.dispatchSettings }, log: log)
        self.triageReporter = TriageReporter(engine: engine, settings: { configuration.dispatchSettings }, log: log)
        let thread = Thread { [self] in
            ThreadName.set("gavel-config")
            watch()
            watchDone.signal()
        }
        thread.name = "gavel-config-watch"
        thread.start()
    }

    /// The ingest path for a receiver (opened once; the dispatcher is woken after each commit).
    public func intake() throws(StoreError) -> any SignalIntake {
        if let existing = intakeBox.withLock({ $0 }) { return existing }
        let dispatcher = self.dispatcher
        let configuration = self.configuration
        let opened = try engine.intake(config: { configuration.config }, onCommit: { dispatcher.wake() })
        intakeBox.withLock { $0 = opened }
        return opened
    }

    /// The receiver's options from `--listen`, the configuration and `--insecure`.
    /// - Throws: `UsageFailure` for a bad `--listen`, or a non-loopback address without a
    ///   shared secret (unless `insecure`).
    public func receiverOptions(listen: String?, insecure: Bool) throws(UsageFailure) -> ReceiverOptions {
        let config = configuration.config
        let listenText = listen ?? config.listen ?? "127.0.0.1:8787"
        guard let address = ListenAddress(parsing: listenText) else {
            throw UsageFailure("--listen must be HOST:PORT (e.g. 127.0.0.1:8787 or [::1]:8787), got '\(listenText)'")
        }
        if config.secret == nil && !address.isLoopback && !insecure {
            throw UsageFailure(
                "refusing to listen on \(address) without a shared secret; set GAVEL_TOKEN (or \"secret\" in the config) or pass --insecure")
        }
        var limits = HTTPLimits()
        limits.maxBodyBytes = config.maxBodyBytes
        var options = ReceiverOptions(listen: address, secret: config.secret, secretHeader: config.secretHeader, limits: limits)
        let engine = self.engine
        let dispatcher = self.dispatcher
        let health: @Sendable () -> [HealthCheck] = { [self] in
            [HealthCheck("store", problem: storeProblem()), HealthCheck("dispatcher", problem: dispatcher.health)]
        }
        options.health = health
        options.readiness = { [self] in [HealthCheck("store", problem: storeProblem())] }
        options.extraMetrics = {
            QueueMetrics.lines(engine: engine) + dispatcher.metrics.exposition() + ActionDispatchStatus.metrics(dispatcher.status(), now: .now)
                + QueueMetrics.healthLines(health())
        }
        let configuration = self.configuration
        options.senders = { configuration.senders }
        return options
    }

    /// Why the store cannot acknowledge deliveries now (`SignalIntake.checkHealth` on the ingest
    /// path), nil when it can.
    func storeProblem() -> String? {
        do {
            try intake().checkHealth()
            return nil
        } catch {
            return error.description
        }
    }

    /// Starts the dispatcher thread and the word back to Datadog.
    public func start() {
        dispatcher.start()
        triageReporter.start()
    }

    /// Stops the dispatcher, the word back and the watch, and closes the ingest path.
    public func close() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        dispatcher.stop()
        triageReporter.stop()
        watchWake.signal()
        watchDone.wait()
        intakeBox.withLock { $0 }?.close()
    }

    private func watch() {
        var store: (any Store)?
        while !stopping.load(ordering: .acquiring) {
            do {
                if store == nil { store = try engine.open(.existing) }
                if let store, let changed = try configuration.refresh(from: store) {
                    log("now using " + changed)
                    dispatcher.wake()
                }
            } catch {
                store = nil
            }
            _ = watchWake.wait(timeout: .now() + .seconds(2))
        }
    }
}

/// A usage error: exit 2 with a message naming the bad flag or value.
public struct UsageFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Queue gauges for `/metrics`: remediations per state and rules in auto, read from the store on
/// a short-lived session at each scrape.
public enum QueueMetrics {
    /// The exposition lines (Prometheus text format 0.0.4).
    public static func lines(engine: any StoreEngine) -> [String] {
        guard let store = try? engine.open(.readOnly), let counts = try? store.stateCounts(), let rules = try? store.rules() else {
            return ["# gavel: store unavailable for queue metrics"]
        }
        var lines = ["# HELP gavel_remediations Remediations by state.", "# TYPE gavel_remediations gauge"]
        for state in RemediationState.allCases {
            lines.append("gavel_remediations{state=\"\(state.rawValue)\"} \(counts[state] ?? 0)")
        }
        let auto = rules.filter { $0.mode == .auto }.count
        let off = (try? store.automaticDispatchDisabled()) ?? false
        let oldest = try? store.page(ConsolePageQuery(states: [.pending], order: .newestFirst, direction: .backward, limit: 1)).first
        let age = oldest.map { max(0, Double(Timestamp.now.milliseconds(since: $0.createdAt)) / 1000) } ?? 0
        lines += [
            "# HELP gavel_oldest_pending_seconds Age of the oldest pending remediation (waiting for a decision), 0 when none.",
            "# TYPE gavel_oldest_pending_seconds gauge", "gavel_oldest_pending_seconds \(String(format: "%.3f", age))",
        ]
        lines += [
            "# HELP gavel_rules_auto Detection rules in auto mode.", "# TYPE gavel_rules_auto gauge", "gavel_rules_auto \(auto)",
            "# HELP gavel_auto_dispatch_enabled 0 when the kill switch stops automatic dispatch.",
            "# TYPE gavel_auto_dispatch_enabled gauge", "gavel_auto_dispatch_enabled \(off ? 0 : 1)",
        ]
        return lines
    }

    /// `gavel_health{part}`: 1 when the part (`store`, `dispatcher`) is sound, 0 when `/healthz`
    /// reports it not sound.
    public static func healthLines(_ checks: [HealthCheck]) -> [String] {
        ["# HELP gavel_health 1 when the part is sound, 0 when /healthz reports it not sound.", "# TYPE gavel_health gauge"]
            + checks.map { "gavel_health{part=\"\($0.name)\"} \($0.problem == nil ? 1 : 0)" }
    }
}
