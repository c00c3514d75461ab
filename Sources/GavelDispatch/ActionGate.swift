import GavelCore

/// The sending state of one action in one dispatcher process: requests in flight against its
/// `concurrency`, its rate limit's token bucket, its circuit breaker, and a pause an endpoint asked
/// for (`429`, `Retry-After`). A value: every change is a `mutating` call given the time, so the
/// rules can be checked without waiting (`ActionGateTests`).
///
/// Times are seconds on a monotonic clock (`Dispatcher.clock`).
struct ActionGate {
    /// Where the circuit is.
    enum Circuit: Equatable {
        /// Requests go.
        case closed
        /// No request goes until the time (monotonic seconds).
        case open(until: Double)
        /// The cool-down is over: one request (the probe) may go; `probing` while it is in flight.
        case halfOpen(probing: Bool)
    }

    /// What a sender may do with the next request of this action now.
    enum Start: Equatable {
        /// Send it (the token is taken, the place in flight counted).
        case go
        /// Every place in flight is taken.
        case full
        /// Wait for the rate limit's next token, at this time.
        case waitForToken(until: Double)
        /// The circuit is open, or the endpoint asked for a pause, until this time.
        case blocked(until: Double)
    }

    private(set) var concurrency: Int
    private(set) var rate: RateLimit?
    private(set) var circuitSettings: CircuitSettings
    private(set) var inFlight = 0
    private(set) var circuit = Circuit.closed
    private(set) var consecutiveFailures = 0
    /// Consecutive `429` answers without `Retry-After` (each doubles the pause, 1 s to 60 s).
    private var consecutiveThrottles = 0
    /// The endpoint asked not to be called before this time.
    private(set) var pausedUntil: Double?
    private var tokens: Double
    private var refilledAt: Double

    /// Counters for `/metrics`.
    private(set) var rateLimitWaits = 0
    private(set) var rateLimitWaitSeconds = 0.0
    private(set) var pauses = 0
    private(set) var circuitOpenings = 0

    init(_ action: ActionConfig, now: Double) {
        concurrency = max(1, action.concurrency)
        rate = action.rate
        circuitSettings = action.circuit
        tokens = action.rate?.burst ?? 0
        refilledAt = now
    }

    /// Takes a changed configuration of the action, keeping what happened so far.
    mutating func configure(_ action: ActionConfig, now: Double) {
        concurrency = max(1, action.concurrency)
        if action.rate != rate {
            rate = action.rate
            tokens = min(tokens, action.rate?.burst ?? 0)
            refilledAt = now
        }
        circuitSettings = action.circuit
    }

    /// The circuit or a pause holds the action back now (its claims should go back to the queue).
    func isBlocked(now: Double) -> Bool { blockedUntil(now: now) != nil }

    /// Until when the circuit or a pause holds the action back; nil when neither does.
    func blockedUntil(now: Double) -> Double? {
        var until: Double?
        if let paused = pausedUntil, paused > now { until = paused }
        if case .open(let end) = circuit, end > now { until = max(until ?? end, end) }
        if case .halfOpen(probing: true) = circuit { until = until ?? .infinity }
        return until
    }

    /// How many requests may start soon: free places in flight (1 for a probe), 0 while blocked.
    func room(now: Double) -> Int {
        if isBlocked(now: now) { return 0 }
        if case .halfOpen = circuit { return inFlight == 0 ? 1 : 0 }
        if case .open = circuit { return inFlight == 0 ? 1 : 0 }  // cool-down over: the probe
        return max(0, concurrency - inFlight)
    }

    /// The rate's tokens available now (`.infinity` without a rate limit).
    mutating func availableTokens(now: Double) -> Double {
        guard let rate else { return .infinity }
        refill(rate, now: now)
        return tokens
    }

    private mutating func refill(_ rate: RateLimit, now: Double) {
        if now > refilledAt {
            tokens = min(rate.burst, tokens + (now - refilledAt) * rate.perSecond)
            refilledAt = now
        }
    }

    /// Decides whether the next request may start now and, if so, counts it.
    /// - Parameter waitingSince: when this request first had to wait for a token (for the
    ///   rate-limit counters), nil when it has not waited.
    mutating func start(now: Double, waitingSince: Double?) -> Start {
        if let until = blockedUntil(now: now) { return .blocked(until: until) }
        if case .open = circuit { circuit = .halfOpen(probing: false) }
        if case .halfOpen = circuit, inFlight > 0 { return .full }
        guard inFlight < concurrency else { return .full }
        if let rate {
            refill(rate, now: now)
            guard tokens >= 1 else { return .waitForToken(until: now + (1 - tokens) / rate.perSecond) }
            tokens -= 1
        }
        if let since = waitingSince {
            rateLimitWaits += 1
            rateLimitWaitSeconds += max(0, now - since)
        }
        if case .halfOpen = circuit { circuit = .halfOpen(probing: true) }
        inFlight += 1
        return .go
    }

    /// Counts a request that ended: a success (or an answer that shows the endpoint works, such as a
    /// 4xx) closes the circuit and resets the failures; a failure that may pass (network error,
    /// timeout, 408, 5xx) counts toward opening it; a `429` or a `Retry-After` pauses the action.
    mutating func finish(_ outcome: DispatchOutcome, now: Double) {
        inFlight = max(0, inFlight - 1)
        let throttled = outcome.status == 429
        if throttled || outcome.retryAfterSeconds != nil {
            consecutiveThrottles = throttled && outcome.retryAfterSeconds == nil ? consecutiveThrottles + 1 : 0
            let seconds = outcome.retryAfterSeconds ?? min(60, Double(1 << min(consecutiveThrottles - 1, 6)))
            let until = now + seconds
            if until > (pausedUntil ?? 0) {
                pausedUntil = until
                pauses += 1
            }
        } else {
            consecutiveThrottles = 0
        }
        if throttled {
            // The endpoint is up and asks to wait: no circuit change.
            if case .halfOpen = circuit { circuit = .halfOpen(probing: false) }
            return
        }
        if outcome.kind == .retryable {
            switch circuit {
            case .open:
                return  // a request that was in flight when it opened: it stays open as it is
            case .halfOpen:
                open(now: now)
            case .closed:
                consecutiveFailures += 1
                if circuitSettings.failures > 0 && consecutiveFailures >= circuitSettings.failures { open(now: now) }
            }
        } else {
            consecutiveFailures = 0
            circuit = .closed
        }
    }

    private mutating func open(now: Double) {
        circuit = .open(until: now + Double(circuitSettings.coolDownMs) / 1000)
        circuitOpenings += 1
    }

    /// The next time something held back may go (a token, the end of a pause or of a cool-down).
    mutating func nextChange(now: Double) -> Double? {
        if let until = blockedUntil(now: now), until.isFinite { return until }
        if let rate {
            refill(rate, now: now)
            if tokens < 1 { return now + (1 - tokens) / rate.perSecond }
        }
        return nil
    }
}
