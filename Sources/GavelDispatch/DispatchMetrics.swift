import Dispatch
import Synchronization

/// What one process's dispatcher did, for `/metrics` (Prometheus text exposition format 0.0.4)
/// and `/healthz`: attempts by action, kind and outcome, a histogram of attempt durations by
/// action, and the loop's heartbeat (to tell a stalled dispatcher from an idle one).
///
/// Thread-safe: one `Mutex`; the dispatcher records, the receiver's connection threads read.
public final class DispatchMetrics: Sendable {
    /// Upper bounds of the duration histogram's buckets, in seconds (then `+Inf`): from a
    /// loopback answer to the longest action deadline (300 s for HTTP).
    public static let bucketBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

    /// How an attempt ended, as counted.
    public enum Outcome: String, Sendable, CaseIterable {
        /// Accepted by the endpoint.
        case success
        /// Failed, another attempt scheduled.
        case retry
        /// Failed for good (or refused before sending).
        case failed
        /// Not sent: the target was allowlisted meanwhile.
        case suppressed
        /// Not sent: an automatic approval taken back by the brakes.
        case withdrawn
    }

    struct Key: Hashable, Comparable {
        var action: String
        var kind: String
        var outcome: String
        static func < (a: Key, b: Key) -> Bool { (a.action, a.kind, a.outcome) < (b.action, b.kind, b.outcome) }
    }

    struct Histogram {
        var buckets = [Int](repeating: 0, count: DispatchMetrics.bucketBounds.count)
        var sum = 0.0
        var count = 0
    }

    struct State {
        var attempts: [Key: Int] = [:]
        var durations: [String: Histogram] = [:]
        /// When the loop last went round (monotonic ns), nil before it started.
        var lastTurn: UInt64?
        /// While an attempt runs: until when it may legitimately run (monotonic ns).
        var busyUntil: UInt64?
        var busyWith: String?
        /// Requests in flight on sender threads, by token: until when each may run, and what it is.
        var sending: [Int: (until: UInt64, what: String)] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Counts one attempt of `action` (`kind`: `dispatch` or `revert`) that ended with
    /// `outcome`; `seconds` (nil for one that sent nothing) goes into the histogram.
    public func record(action: String, kind: String, outcome: Outcome, seconds: Double?) {
        state.withLock { s in
            s.attempts[Key(action: action, kind: kind, outcome: outcome.rawValue), default: 0] += 1
            guard let seconds, seconds.isFinite, seconds >= 0 else { return }
            var h = s.durations[action] ?? Histogram()
            for (i, bound) in Self.bucketBounds.enumerated() where seconds <= bound { h.buckets[i] += 1 }
            h.sum += seconds
            h.count += 1
            s.durations[action] = h
        }
    }

    /// The loop went round (it is alive and not inside an attempt).
    func turned(at now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        state.withLock {
            $0.lastTurn = now
            $0.busyUntil = nil
            $0.busyWith = nil
        }
    }

    /// An attempt starts that may take up to `seconds` (its deadline).
    func busy(with what: String, forSeconds seconds: Double, at now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        state.withLock {
            $0.busyUntil = now &+ UInt64(max(0, min(seconds, 86_400)) * 1e9)
            $0.busyWith = what
        }
    }

    /// A request starts on a sender thread that may take up to `seconds` (its deadline); returns
    /// the token `sent(_:)` takes when it ends. The loop going round does not clear it.
    func sending(_ what: String, forSeconds seconds: Double, at now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int {
        state.withLock {
            $0.nextToken += 1
            $0.sending[$0.nextToken] = (now &+ UInt64(max(0, min(seconds, 86_400)) * 1e9), what)
            return $0.nextToken
        }
    }

    /// The request of `token` ended.
    func sent(_ token: Int) {
        _ = state.withLock { $0.sending.removeValue(forKey: token) }
    }

    /// Why the dispatcher looks stalled at `now`, or nil: a request on a sender thread still running
    /// `grace` seconds past its deadline, or it has not gone round for `grace`
    /// seconds beyond the deadline of the attempt it is in (or beyond its last turn when idle).
    /// - Parameter grace: seconds allowed past a deadline or a turn (default 30).
    public func stall(at now: UInt64 = DispatchTime.now().uptimeNanoseconds, grace: Double = 30) -> String? {
        state.withLock { s in
            guard let last = s.lastTurn else { return nil }
            let graceNs = UInt64(grace * 1e9)
            if let oldest = s.sending.values.min(by: { $0.until < $1.until }), now > oldest.until &+ graceNs {
                return "stalled: \(oldest.what) has run \(Int((now - oldest.until) / 1_000_000_000)) s past its deadline"
            }
            if let until = s.busyUntil {
                guard now > until &+ graceNs else { return nil }
                return "stalled: \(s.busyWith ?? "an attempt") has run \(Int((now - until) / 1_000_000_000)) s past its deadline"
            }
            guard now > last &+ graceNs else { return nil }
            return "stalled: the dispatcher loop has not run for \(Int((now - last) / 1_000_000_000)) s"
        }
    }

    /// The exposition lines: `gavel_dispatch_attempts_total{action,kind,outcome}` (counter) and
    /// `gavel_dispatch_duration_seconds{action}` (histogram: `_bucket{le=…}`, `_sum`, `_count`).
    public func exposition() -> [String] {
        let s = state.withLock { $0 }
        var lines = [
            "# HELP gavel_dispatch_attempts_total Dispatch attempts by this process, by action, kind (dispatch or revert) and outcome.",
            "# TYPE gavel_dispatch_attempts_total counter",
        ]
        for (key, value) in s.attempts.sorted(by: { $0.key < $1.key }) {
            lines.append(
                "gavel_dispatch_attempts_total{action=\"\(Self.escaped(key.action))\",kind=\"\(key.kind)\",outcome=\"\(key.outcome)\"} \(value)")
        }
        lines += [
            "# HELP gavel_dispatch_duration_seconds How long dispatch attempts took, by action (sending through the answer).",
            "# TYPE gavel_dispatch_duration_seconds histogram",
        ]
        for (action, h) in s.durations.sorted(by: { $0.key < $1.key }) {
            let label = "action=\"\(Self.escaped(action))\""
            for (i, bound) in Self.bucketBounds.enumerated() {
                lines.append("gavel_dispatch_duration_seconds_bucket{\(label),le=\"\(Self.number(bound))\"} \(h.buckets[i])")
            }
            lines.append("gavel_dispatch_duration_seconds_bucket{\(label),le=\"+Inf\"} \(h.count)")
            lines.append("gavel_dispatch_duration_seconds_sum{\(label)} \(Self.number(h.sum))")
            lines.append("gavel_dispatch_duration_seconds_count{\(label)} \(h.count)")
        }
        return lines
    }

    /// A label value escaped as the exposition format requires (`\\`, `\"`, `\n`).
    static func escaped(_ value: String) -> String {
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `0.005`, `1`, `300`, `12.5`: Go's `strconv.FormatFloat(v, 'g', -1, 64)` as Prometheus prints le values.
    static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
