import Foundation
import GavelCore
import GavelStore
import GavelStoreSQLite
import GavelTestSupport
import Testing

@testable import GavelDispatch

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test("defaults are 1 s base and 60 s cap")
    func defaults() {
        let policy = RetryPolicy()
        #expect(policy.base == 1)
        #expect(policy.cap == 60)
    }

    @Test("the window doubles from the base and stops at the cap")
    func windowGrowsToCap() {
        let policy = RetryPolicy(base: 1, cap: 300)
        #expect((1...10).map { policy.window(afterAttempt: $0) } == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300])
        #expect((1...8).map { RetryPolicy().window(afterAttempt: $0) } == [1, 2, 4, 8, 16, 32, 60, 60])
        #expect(policy.window(afterAttempt: 64) == 300)
        #expect(policy.window(afterAttempt: Int.max) == 300)
        #expect(policy.window(afterAttempt: 0) == 1)
        #expect(policy.window(afterAttempt: -7) == 1)
        let custom = RetryPolicy(base: 0.5, cap: 10)
        #expect((1...6).map { custom.window(afterAttempt: $0) } == [0.5, 1, 2, 4, 8, 10])
    }

    @Test("every delay lies in 0 ... min(cap, base × 2^(n−1))")
    func delaysWithinBounds() {
        let policy = RetryPolicy(base: 1, cap: 300)
        var random = SeededGenerator(seed: 0x6761_7665_6C)
        for attempt in [-1, 0, 1, 2, 3, 5, 8, 9, 10, 20, 1000, Int.max] {
            let upper = min(300, Double(sign: .plus, exponent: min(max(attempt, 1) - 1, 1023), significand: 1))
            for _ in 0..<200 {
                let delay = policy.delay(afterAttempt: attempt, random: &random)
                #expect(delay.isFinite && delay >= 0 && delay <= upper)
            }
        }
    }

    @Test("full jitter spreads delays over the whole window")
    func fullJitterCoversWindow() {
        let policy = RetryPolicy(base: 1, cap: 300)
        var random = SeededGenerator(seed: 7)
        let delays = (0..<1000).map { _ in policy.delay(afterAttempt: 12, random: &random) }  // window 300
        #expect(delays.min()! < 15)
        #expect(delays.max()! > 285)
    }

    @Test("the same seed gives the same delays; another seed does not")
    func deterministicWithSeed() {
        let policy = RetryPolicy()
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        var c = SeededGenerator(seed: 43)
        let first = (1...10).map { policy.delay(afterAttempt: $0, random: &a) }
        let second = (1...10).map { policy.delay(afterAttempt: $0, random: &b) }
        let other = (1...10).map { policy.delay(afterAttempt: $0, random: &c) }
        #expect(first == second)
        #expect(first != other)
    }

    @Test(
        "degenerate settings give zero delays, never a trap",
        arguments: [
            RetryPolicy(base: 0, cap: 300), RetryPolicy(base: -1, cap: 300), RetryPolicy(base: 1, cap: 0),
            RetryPolicy(base: .nan, cap: .nan), RetryPolicy(base: .infinity, cap: -5),
        ])
    func degenerateSettings(policy: RetryPolicy) {
        var random = SeededGenerator(seed: 1)
        #expect(policy.delay(afterAttempt: 3, random: &random) == 0)
    }

    @Test("an infinite base is held to the cap")
    func infiniteBaseCapped() {
        var random = SeededGenerator(seed: 1)
        let delay = RetryPolicy(base: .infinity, cap: 60).delay(afterAttempt: 1, random: &random)
        #expect(delay >= 0 && delay <= 60)
    }

    @Test("only retryable outcomes are retried, and only maxRetries times")
    func shouldRetry() {
        let policy = RetryPolicy()
        let retryable = DispatchOutcome(kind: .retryable, status: 503, error: "HTTP 503")
        #expect(policy.shouldRetry(after: retryable, attempt: 1, maxRetries: 5))
        #expect(policy.shouldRetry(after: retryable, attempt: 5, maxRetries: 5))
        #expect(!policy.shouldRetry(after: retryable, attempt: 6, maxRetries: 5))
        #expect(!policy.shouldRetry(after: retryable, attempt: 1, maxRetries: 0))
        #expect(!policy.shouldRetry(after: DispatchOutcome(kind: .permanent, status: 400), attempt: 1, maxRetries: 5))
        #expect(!policy.shouldRetry(after: DispatchOutcome(kind: .success, status: 200), attempt: 1, maxRetries: 5))
    }

    @Test("past the count, a retry follows while the next attempt starts within retry_for of the first")
    func shouldRetryWithinTheTimeBudget() {
        let policy = RetryPolicy()
        let retryable = DispatchOutcome(kind: .retryable, status: 503, error: "HTTP 503")
        #expect(policy.shouldRetry(after: retryable, attempt: 2, maxRetries: 5, elapsed: 1000, delay: 60, retryFor: 0))
        #expect(policy.shouldRetry(after: retryable, attempt: 9, maxRetries: 3, elapsed: 800, delay: 60, retryFor: 900))
        #expect(policy.shouldRetry(after: retryable, attempt: 9, maxRetries: 3, elapsed: 840, delay: 60, retryFor: 900))
        #expect(!policy.shouldRetry(after: retryable, attempt: 9, maxRetries: 3, elapsed: 841, delay: 60, retryFor: 900))
        #expect(!policy.shouldRetry(after: retryable, attempt: 4, maxRetries: 3, elapsed: 1, delay: 1, retryFor: 0))
        #expect(
            !policy.shouldRetry(after: DispatchOutcome(kind: .permanent, status: 400), attempt: 1, maxRetries: 5, elapsed: 0, delay: 0, retryFor: 900)
        )
    }
}

/// Issue 16 item 12: `retries: 3` against an endpoint answering 503 failed the remediation after
/// about 5 s, so an API outage of a minute lost every ban. Retries now also run by a time budget
/// (`retry_for`); these run it with a budget of a second or two and backoff windows of 50–100 ms.
@Suite(.serialized) struct RetryBudgetTests {
    /// The action's circuit never opens here (`"failures": 0`): these tests count retries, and the
    /// default circuit (5 failures in a row) would hold the sixth attempt for its cool-down.
    static func config(_ sink: LoopbackSink, retries: Int, retryFor: String?) -> String {
        httpConfig(sink, retries: retries).replacingOccurrences(
            of: "\"retries\": \(retries)", with: "\"retries\": \(retries)" + (retryFor.map { ", \"retry_for\": \"\($0)\"" } ?? "")
        ).replacingOccurrences(of: "\"target\": \"ip\",", with: "\"target\": \"ip\", \"circuit\": { \"failures\": 0 },")
    }

    func dispatcher(_ bench: DispatchBench) -> Dispatcher {
        Dispatcher(engine: SQLiteEngine(path: bench.dbPath), config: bench.config, retryPolicy: RetryPolicy(base: 0.05, cap: 0.1))
    }

    /// Runs the dispatcher until the remediation settles, at most `seconds`.
    func settle(_ id: Int64, _ bench: DispatchBench, _ d: Dispatcher, seconds: Double = 8) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            _ = try d.runOnce()
            let state = try bench.state(id).state
            if state != .approved && state != .dispatching { return }
            usleep(20_000)
        }
    }

    @Test func anEndpointThatRecoversWithinRetryForGetsTheBan() throws {
        let sink = try LoopbackSink(Array(repeating: .status(503), count: 6) + [.status(200)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: Self.config(sink, retries: 1, retryFor: "5s"))
        let ids = try bench.signal(banSignal("s1", ip: "203.0.113.42"))
        try bench.decide(ids, .approve, by: "alice")
        try settle(ids[0], bench, dispatcher(bench))
        let r = try bench.state(ids[0])
        #expect(r.state == .dispatched, "\(r.lastError ?? "")")
        #expect(r.attempts == 7)
        #expect(sink.requests.count == 7)
        let attempts = try bench.database().attempts(remediation: ids[0])
        #expect(attempts.map(\.status) == [503, 503, 503, 503, 503, 503, 200])
        #expect(Set(sink.requests.map { RecordedRequest($0).values("Idempotency-Key") }).count == 1)
    }

    @Test func anEndpointThatStaysDownFailsOnceRetryForIsSpentSayingWhy() throws {
        let sink = try LoopbackSink([.status(503)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: Self.config(sink, retries: 1, retryFor: "1s"))
        let ids = try bench.signal(banSignal("s1", ip: "203.0.113.42"))
        try bench.decide(ids, .approve, by: "alice")
        try settle(ids[0], bench, dispatcher(bench))
        let r = try bench.state(ids[0])
        #expect(r.state == .failed)
        #expect(r.lastError?.hasPrefix("HTTP 503; gave up after ") == true, "\(r.lastError ?? "")")
        #expect(r.lastError?.hasSuffix("(retries 1, retry_for 1s)") == true)
        let attempts = try bench.database().attempts(remediation: ids[0])
        #expect(attempts.count > 2)
        // An analyst's retry starts a new series with the whole budget.
        try bench.decide(ids, .retry, by: "alice")
        try settle(ids[0], bench, dispatcher(bench))
        #expect(try bench.database().attempts(remediation: ids[0]).count > attempts.count + 2)
    }

    @Test func byCountOnlyWhenRetryForIsZero() throws {
        let sink = try LoopbackSink([.status(503)])
        defer { sink.stop() }
        let bench = try DispatchBench(configJSON: Self.config(sink, retries: 2, retryFor: "0s"))
        let ids = try bench.signal(banSignal("s1", ip: "203.0.113.42"))
        try bench.decide(ids, .approve, by: "alice")
        try settle(ids[0], bench, dispatcher(bench))
        #expect(try bench.state(ids[0]).state == .failed)
        #expect(sink.requests.count == 3)
        #expect(try bench.state(ids[0]).lastError == "HTTP 503; gave up after 3 attempts in \(try elapsedText(bench, ids[0])) (retries 2)")
    }

    func elapsedText(_ bench: DispatchBench, _ id: Int64) throws -> String {
        let text = try bench.state(id).lastError ?? ""
        guard let start = text.range(of: " in "), let end = text.range(of: " (retries") else { return "?" }
        return String(text[start.upperBound..<end.lowerBound])
    }

    @Test func retryForIsConfiguredPerActionWithADefaultOf15Minutes() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let defaults = try DispatchBench(configJSON: httpConfig(sink))
        guard case .http(let http)? = defaults.config.actions["ban-ip"]?.kind else {
            Issue.record("not http")
            return
        }
        #expect(http.retryForSeconds == 900)
        let custom = try DispatchBench(configJSON: Self.config(sink, retries: 1, retryFor: "90s"))
        guard case .http(let short)? = custom.config.actions["ban-ip"]?.kind else { return }
        #expect(short.retryForSeconds == 90)
        for bad in ["permanent", "25h", "soon", "-1s"] {
            #expect(throws: ConfigError.self) { try DispatchBench(configJSON: Self.config(sink, retries: 1, retryFor: bad)) }
        }
    }
}
