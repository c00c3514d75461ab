import GavelCore
import GavelStore

/// The attempts of one remediation (or its revert) since the decision that started them — an
/// approval, an analyst's retry, a revert — which the retry budget counts: how many, and when
/// the first started. A retry by an analyst starts a new series with the whole budget.
struct RetrySeries: Equatable {
    /// The attempt just made, 1-based within the series.
    var attempt: Int
    /// When the series' first attempt started.
    var firstStarted: Timestamp

    /// The series a claim's attempt belongs to, read from the store's attempts only when a
    /// failure needs it (a success never asks).
    struct Lookup {
        let claim: DispatchClaim
        let store: any Store

        /// The series; when the store cannot be read, the claim's own attempt number and its
        /// start (the count still bounds the retries).
        var series: RetrySeries {
            let r = claim.remediation
            let decided = claim.kind == .revert ? r.revertedAt : r.decidedAt
            guard let all = try? store.attempts(ofRemediation: r.id) else {
                return RetrySeries(attempt: claim.attempt, firstStarted: decided ?? .now)
            }
            return RetrySeries.of(all, kind: claim.kind, decidedAt: decided, current: claim.attemptID)
        }
    }

    /// The series in `attempts` (oldest first) of `kind` since `decidedAt`, ending with `current`.
    static func of(_ attempts: [Attempt], kind: Attempt.Kind, decidedAt: Timestamp?, current: Int64) -> RetrySeries {
        let since = decidedAt?.milliseconds ?? Int64.min
        let series = attempts.filter {
            $0.kind == kind && $0.startedAt.milliseconds >= since && $0.id <= current
                && $0.outcome != .withdrawn && $0.outcome != .suppressed
        }
        return RetrySeries(attempt: max(1, series.count), firstStarted: series.first?.startedAt ?? .now)
    }

    /// Why no retry follows: `gave up after 7 attempts in 15m2s (retries 5, retry_for 15m)`.
    static func gaveUp(_ series: RetrySeries, elapsed: Double, request: RenderedRequest) -> String {
        let budget = request.retryForSeconds > 0 ? ", retry_for \(DurationText.text(Int64(request.retryForSeconds * 1000)))" : ""
        return "gave up after \(series.attempt) attempt\(series.attempt == 1 ? "" : "s") in \(DurationText.text(Int64(elapsed * 1000))) "
            + "(retries \(request.maxRetries)\(budget))"
    }
}
