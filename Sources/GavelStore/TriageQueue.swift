import GavelCore

/// The word back to Datadog, as the store keeps it: one triage update per (remediation, Datadog
/// signal, event), queued in the transaction of the decision or outcome it reports
/// (`DatadogTriageConfig`), sent by `TriageReporter` apart from dispatch, retried with backoff.
/// Each try is an attempt of kind `triage` of the remediation; none ever changes the
/// remediation's state.
///
/// Which events queue updates: a dispatch that succeeded (`dispatched`), a rejection
/// (`rejected`, or `false_positive` when the analyst marked it so), a revert that succeeded
/// (`reverted`) — each only when `GavelConfig.datadogTriage` maps the event to a change, and only
/// for the remediation's signals Datadog can know (`DatadogTriageConfig.canUpdate`), the newest
/// `maxSignalsPerEvent` of them.
public protocol TriageQueue: AnyObject {
    /// Claims up to `limit` due updates under a lease until `now + leaseMs`: queued ones whose
    /// time has come, and ones whose sender's lease ran out (their open attempt is marked
    /// interrupted). One attempt (kind `triage`) opened each.
    func claimTriageUpdates(worker: String, limit: Int, leaseMs: Int64, at now: Timestamp) throws(StoreError) -> [TriageClaim]
    /// Records how a triage attempt ended: `.dispatched` → `sent`, `.retry(at:)` → `queued`
    /// again for that time, `.failed` → `failed` (audited as `triage` with the remediation as
    /// subject, on `sent` and `failed`).
    /// - Returns: false when the claim was lost meanwhile (its lease ran out and another sender took it).
    @discardableResult
    func finishTriageUpdate(_ claim: TriageClaim, _ report: AttemptReport, at now: Timestamp) throws(StoreError) -> Bool
    /// A remediation's triage updates, oldest first.
    func triageUpdates(ofRemediation id: Int64) throws(StoreError) -> [TriageUpdate]
}

/// The most Datadog signals of one remediation told about one event (the newest ones).
public let maxTriageSignalsPerEvent = 100

/// Where a triage update is.
public enum TriageUpdateState: String, Sendable, CaseIterable {
    /// Waiting to be sent (first time, or again after a retryable failure).
    case queued
    /// Claimed by a sender.
    case sending
    /// Datadog accepted it.
    case sent
    /// Given up (retries spent, or a permanent failure such as 403).
    case failed
}

/// One Datadog signal's triage update for one event of a remediation.
public struct TriageUpdate: Sendable, Equatable, Identifiable {
    public var id: Int64
    public var remediationID: Int64
    /// Datadog's signal id (the path's `{signal_id}`).
    public var signalID: String
    public var event: TriageEvent
    /// The change in a few words (`archived (remediated)`).
    public var change: String
    /// The JSON body, bound when the update was queued (`TriageChange.body`).
    public var body: String
    public var state: TriageUpdateState
    /// Attempts started.
    public var attempts: Int
    /// When it is due again after a retryable failure.
    public var nextAttemptAt: Timestamp?
    public var lastStatus: Int?
    public var lastError: String?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(
        id: Int64, remediationID: Int64, signalID: String, event: TriageEvent, change: String, body: String, state: TriageUpdateState,
        attempts: Int = 0, nextAttemptAt: Timestamp? = nil, lastStatus: Int? = nil, lastError: String? = nil, createdAt: Timestamp,
        updatedAt: Timestamp? = nil
    ) {
        self.id = id
        self.remediationID = remediationID
        self.signalID = signalID
        self.event = event
        self.change = change
        self.body = body
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}

/// A triage update a sender claimed: send `update.body` once, then `finishTriageUpdate`.
public struct TriageClaim: Sendable, Equatable {
    public var update: TriageUpdate
    /// 1 for the update's first attempt.
    public var attempt: Int
    /// The store's id of this attempt (kind `triage`).
    public var attemptID: Int64
    public var claim: Claim

    public init(update: TriageUpdate, attempt: Int, attemptID: Int64, claim: Claim) {
        self.update = update
        self.attempt = attempt
        self.attemptID = attemptID
        self.claim = claim
    }
}
