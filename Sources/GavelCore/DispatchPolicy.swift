/// How fast an action may be sent: a request rate (`"rate": "1200/5m"`), enforced per dispatcher
/// process as a token bucket.
///
/// The bucket refills at `count / period` and holds at most `burst` tokens (default one second's
/// worth, at least 1 and at most `count`), so requests go out evenly spread rather than `count` at
/// once; each request (a batch counts once) takes a token. An endpoint's own `429 Too Many Requests`
/// or `Retry-After` comes on top: the dispatcher then pauses the action until the time it names.
public struct RateLimit: Sendable, Equatable, CustomStringConvertible {
    /// Requests per period.
    public var count: Int
    /// The period, in milliseconds.
    public var periodMs: Int64
    /// The most tokens the bucket holds (requests that may go at once after a quiet time).
    public var burst: Double

    /// - Parameters:
    ///   - count: requests per period, at least 1.
    ///   - periodMs: the period in milliseconds, at least 1.
    ///   - burst: the bucket's size; nil: one second's worth of the rate, at least 1, at most `count`.
    public init(count: Int, periodMs: Int64, burst: Double? = nil) {
        self.count = max(1, count)
        self.periodMs = max(1, periodMs)
        let perSecond = Double(self.count) * 1000 / Double(self.periodMs)
        self.burst = burst ?? min(Double(self.count), max(1, perSecond.rounded(.down)))
    }

    /// Tokens added per second.
    public var perSecond: Double { Double(count) * 1000 / Double(periodMs) }

    /// Reads `COUNT/DURATION` (`"1200/5m"`, `"10/1s"`; the duration as `DurationText`, at most a day).
    /// - Throws: `DurationError` with a message saying what is wrong.
    public init(parsing text: String) throws(DurationError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Int(parts[0]), (1...1_000_000).contains(count) else {
            throw DurationError("\(text.quotedForMessage) is not a rate: expected COUNT/DURATION with COUNT 1…1000000, e.g. \"1200/5m\" or \"10/1s\"")
        }
        guard let period = try DurationText.milliseconds(String(parts[1])) else {
            throw DurationError("\(text.quotedForMessage): the period must be a duration such as \"1s\" or \"5m\", not permanent")
        }
        guard period <= 24 * DurationText.hour else { throw DurationError("\(text.quotedForMessage): the period is at most 1d") }
        self.init(count: count, periodMs: period)
    }

    /// `1200/5m`.
    public var description: String { "\(count)/\(DurationText.text(periodMs))" }
}

/// When an action's circuit opens (`"circuit": {"failures": 5, "cool_down": "30s"}`): after
/// `failures` consecutive failed requests (network errors, timeouts, 408, 5xx) the dispatcher stops
/// sending the action for `coolDownMs`, then lets one request through; its success closes the
/// circuit, its failure opens it again. While open, the action's remediations wait `approved` with
/// their retries untouched. Kept per dispatcher process.
public struct CircuitSettings: Sendable, Equatable {
    /// Consecutive failures that open the circuit; 0: never opens. Default 5.
    public var failures: Int
    /// How long it stays open, in milliseconds. Default 30 s.
    public var coolDownMs: Int64

    public init(failures: Int = 5, coolDownMs: Int64 = 30_000) {
        self.failures = failures
        self.coolDownMs = coolDownMs
    }
}

/// Many remediations of one action in one request (`"batch": {"max": 500, "window": "200ms"}`).
///
/// The dispatcher collects due remediations of the action for up to `windowMs` (or until it has
/// `max`) and sends them in one request whose body is `body` with `"{{targets}}"` replaced by the
/// JSON array of every member's own body as bound at its approval (each member's item, in the
/// order of their ids). The request's method, URL and headers are the members' (the same for all:
/// a batch action's URL and headers may not use per-target placeholders); its `Idempotency-Key`
/// names the batch. Reverts batch the same way with `revertBody`.
public struct BatchSettings: Sendable, Equatable {
    /// Most remediations per request (1…10000).
    public var max: Int
    /// How long the first due member waits for others, in milliseconds (0: send what is due at once).
    public var windowMs: Int64
    /// The request's body: a JSON template holding `"{{targets}}"` exactly once as a whole string
    /// value; its other strings may use `{{action}}` and `{{idempotency_key}}` (the batch's key).
    /// Default: the array of items itself.
    public var body: JSONTemplate
    /// The same for a batch of reverts. Default: `body`.
    public var revertBody: JSONTemplate

    public init(max: Int, windowMs: Int64, body: JSONTemplate = BatchSettings.defaultBody, revertBody: JSONTemplate? = nil) {
        self.max = max
        self.windowMs = windowMs
        self.body = body
        self.revertBody = revertBody ?? body
    }

    /// The default envelope: `"{{targets}}"` (the body is the array of items).
    public static let defaultBody = JSONTemplate(checkedValue: .string(JSONTemplate.targetsMarker))
}

/// The dispatch settings of an action that are about sending, not about what is sent.
extension ActionConfig {
    /// The default number of requests in flight per action: 8.
    public static let defaultConcurrency = 8
}
