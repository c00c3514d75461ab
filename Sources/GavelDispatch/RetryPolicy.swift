/// When to try a failed dispatch again: capped exponential backoff with full jitter, by count
/// and by a time budget.
///
/// The delay before retry `n` is drawn uniformly from `0 ... min(cap, base × 2^(n−1))`
/// seconds ("Full Jitter" in Marc Brooker, *Exponential Backoff and Jitter*, AWS
/// Architecture Blog, 2015): spreading retries over the whole window keeps many
/// remediations that failed together from hitting a recovering target together.
/// Hardening checklist D5.
///
/// A retryable failure is retried while the action's `retries` are not spent **or** the next
/// attempt would start within its `retry_for` of the first attempt (issue 16: `retries: 3`
/// gave up after about 5 s, so an API outage of a minute lost every ban). With the defaults
/// (`retry_for` 15 min for `http`, windows 1, 2, 4 … 60 s) an endpoint that recovers within
/// the budget is reached at most about a minute after it does.
public struct RetryPolicy: Sendable, Equatable {
    /// The window of the first retry, in seconds (default 1).
    public var base = 1.0
    /// The largest window, in seconds (default 60).
    public var cap = 60.0

    /// Creates a policy with the default base (1 s) and cap (60 s).
    public init() {}

    /// Creates a policy; negative or non-finite values are treated as 0 when computing delays.
    /// - Parameters:
    ///   - base: the window of the first retry, in seconds.
    ///   - cap: the largest window, in seconds.
    public init(base: Double, cap: Double) {
        self.base = base
        self.cap = cap
    }

    /// The upper bound of the delay window after attempt `n`: `min(cap, base × 2^(n−1))` seconds.
    /// `n` below 1 counts as 1; the exponent is clamped, so huge `n` gives `cap` without overflow.
    public func window(afterAttempt n: Int) -> Double {
        let base = Self.sanitized(base)
        let cap = Self.sanitized(cap)
        let exponent = Double(min(max(n, 1) - 1, 1023))
        let grown = base * Double.pow2(exponent)
        return grown.isFinite ? min(cap, grown) : cap
    }

    /// A random delay before the retry that follows failed attempt `n` (1-based), in seconds,
    /// uniform in `0 ... window(afterAttempt: n)`.
    /// - Parameters:
    ///   - n: how many attempts have failed so far (1 after the first failure).
    ///   - random: the source of randomness; pass a seeded generator for reproducible tests.
    /// - Returns: seconds to wait, finite and in `0 ... min(cap, base × 2^(n−1))`.
    public func delay(afterAttempt n: Int, random: inout some RandomNumberGenerator) -> Double {
        let upper = window(afterAttempt: n)
        guard upper > 0 else { return 0 }
        return Double.random(in: 0...upper, using: &random)
    }

    /// Whether to try again after `outcome`, the result of attempt `n` (1-based), when the
    /// action allows `maxRetries` retries (so at most `maxRetries + 1` attempts in all).
    public func shouldRetry(after outcome: DispatchOutcome, attempt n: Int, maxRetries: Int) -> Bool {
        outcome.kind == .retryable && n <= maxRetries
    }

    /// Whether to try again after `outcome`, the result of attempt `n` (1-based, counted since
    /// the decision), when the next one would start `delay` seconds from now and `elapsed`
    /// seconds have passed since the first attempt: while `maxRetries` are not spent, or while
    /// `elapsed + delay` stays within `retryFor` (0: by count only). Never for a non-retryable outcome.
    public func shouldRetry(
        after outcome: DispatchOutcome, attempt n: Int, maxRetries: Int, elapsed: Double, delay: Double, retryFor: Double
    ) -> Bool {
        guard outcome.kind == .retryable else { return false }
        if n <= maxRetries { return true }
        return retryFor > 0 && elapsed + delay <= retryFor
    }

    private static func sanitized(_ value: Double) -> Double {
        value.isFinite && value > 0 ? value : 0
    }
}

extension Double {
    /// 2 raised to `exponent` (a whole number ≥ 0); `infinity` past the range of `Double`.
    fileprivate static func pow2(_ exponent: Double) -> Double {
        exponent >= 1024 ? .infinity : Double(sign: .plus, exponent: Int(exponent), significand: 1)
    }
}
