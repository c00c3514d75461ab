import GavelCore

/// How one action is being sent by this dispatcher process: for the console (open circuits in the
/// header and the Rules view) and `/metrics`. Circuit state is kept per process: several
/// dispatchers on one store (two `serve`s, or on PostgreSQL several hosts) each keep their own.
public struct ActionDispatchStatus: Sendable, Equatable {
    /// The state of the action's circuit breaker.
    public enum Circuit: Sendable, Equatable {
        case closed
        /// Open: nothing of the action is sent until this time.
        case open(until: Timestamp)
        /// The cool-down is over: one request tries the endpoint.
        case halfOpen
    }

    /// The action's name.
    public var action: String
    /// Requests in flight now.
    public var inFlight: Int
    /// Claims waiting to be sent (batches count once).
    public var queued: Int
    public var circuit: Circuit
    /// Failures in a row so far (network errors, timeouts, 408, 5xx).
    public var consecutiveFailures: Int
    /// The endpoint asked (`429`, `Retry-After`) not to be called before this time; nil when not paused.
    public var pausedUntil: Timestamp?
    /// Requests that waited for the rate limit's token, and how long in all, in seconds.
    public var rateLimitWaits: Int
    public var rateLimitWaitSeconds: Double
    /// Pauses the endpoint asked for, and how often the circuit opened, since the process started.
    public var pauses: Int
    public var circuitOpenings: Int

    public init(
        action: String, inFlight: Int = 0, queued: Int = 0, circuit: Circuit = .closed, consecutiveFailures: Int = 0, pausedUntil: Timestamp? = nil,
        rateLimitWaits: Int = 0, rateLimitWaitSeconds: Double = 0, pauses: Int = 0, circuitOpenings: Int = 0
    ) {
        self.action = action
        self.inFlight = inFlight
        self.queued = queued
        self.circuit = circuit
        self.consecutiveFailures = consecutiveFailures
        self.pausedUntil = pausedUntil
        self.rateLimitWaits = rateLimitWaits
        self.rateLimitWaitSeconds = rateLimitWaitSeconds
        self.pauses = pauses
        self.circuitOpenings = circuitOpenings
    }

    /// True while the circuit is open or probing: the action's remediations wait.
    public var circuitIsOpen: Bool { circuit != .closed }

    /// Prometheus text exposition (format 0.0.4) of every action's status: requests in flight and
    /// queued, circuit state (`0` closed, `1` open, `2` half-open), failures in a row, paused (`1`/`0`),
    /// rate-limit waits (count and seconds), pauses and circuit openings (counters). Action names are
    /// `[A-Za-z0-9._-]`, safe as label values.
    public static func metrics(_ statuses: [ActionDispatchStatus], now: Timestamp) -> [String] {
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String, _ value: (ActionDispatchStatus) -> String) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for s in statuses { lines.append("\(name){action=\"\(s.action)\"} \(value(s))") }
        }
        family("gavel_dispatch_in_flight", "gauge", "Requests of the action in flight in this process.") { String($0.inFlight) }
        family("gavel_dispatch_queued", "gauge", "Claimed remediations of the action waiting to be sent (a batch counts once).") { String($0.queued) }
        family("gavel_dispatch_circuit_state", "gauge", "The action's circuit in this process: 0 closed, 1 open, 2 half-open.") { s in
            switch s.circuit {
            case .closed: "0"
            case .open: "1"
            case .halfOpen: "2"
            }
        }
        family("gavel_dispatch_consecutive_failures", "gauge", "Failed requests of the action in a row.") { String($0.consecutiveFailures) }
        family("gavel_dispatch_circuit_openings_total", "counter", "Times the action's circuit opened.") { String($0.circuitOpenings) }
        family("gavel_dispatch_paused", "gauge", "1 while the endpoint's 429 or Retry-After pauses the action.") { s in
            (s.pausedUntil.map { $0 > now } ?? false) ? "1" : "0"
        }
        family("gavel_dispatch_pauses_total", "counter", "Pauses the action's endpoint asked for (429, Retry-After).") { String($0.pauses) }
        family("gavel_dispatch_rate_limit_waits_total", "counter", "Requests of the action that waited for its rate limit.") {
            String($0.rateLimitWaits)
        }
        family("gavel_dispatch_rate_limit_wait_seconds_total", "counter", "Seconds requests of the action waited for its rate limit.") { s in
            String(format3(s.rateLimitWaitSeconds))
        }
        return lines
    }

    private static func format3(_ value: Double) -> String {
        let scaled = (value * 1000).rounded()
        guard scaled.isFinite else { return "0" }
        let ms = Int64(scaled)
        return "\(ms / 1000).\(String(ms % 1000).leftPadded(to: 3))"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
