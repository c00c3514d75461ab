import GavelCore
import GavelTestSupport
import Testing

@testable import GavelDispatch

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test("defaults are 1 s base and 300 s cap")
    func defaults() {
        let policy = RetryPolicy()
        #expect(policy.base == 1)
        #expect(policy.cap == 300)
    }

    @Test("the window doubles from the base and stops at the cap")
    func windowGrowsToCap() {
        let policy = RetryPolicy()
        #expect((1...10).map { policy.window(afterAttempt: $0) } == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300])
        #expect(policy.window(afterAttempt: 64) == 300)
        #expect(policy.window(afterAttempt: Int.max) == 300)
        #expect(policy.window(afterAttempt: 0) == 1)
        #expect(policy.window(afterAttempt: -7) == 1)
        let custom = RetryPolicy(base: 0.5, cap: 10)
        #expect((1...6).map { custom.window(afterAttempt: $0) } == [0.5, 1, 2, 4, 8, 10])
    }

    @Test("every delay lies in 0 ... min(cap, base × 2^(n−1))")
    func delaysWithinBounds() {
        let policy = RetryPolicy()
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
        let policy = RetryPolicy()
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
}
