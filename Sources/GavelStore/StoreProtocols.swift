import GavelCore

/// The store's surface, named for what callers want. Each engine (SQLite, PostgreSQL) implements
/// every protocol with the same guarantees, checked by the store contract suite
/// (`Tests/GavelStoreTests/Contract`), which is written against these protocols only.
///
/// Threading: a session (`Store`) is confined to the thread that opened it — the dispatcher,
/// the console's UI thread, a CLI verb — and is not `Sendable`. `StoreEngine` (where the store
/// lives) and `SignalIntake` (the receiver's path) are `Sendable`.
///
/// Errors: every call throws `StoreError` (see there for what each case means to a caller).
///
/// Busy policy (the same for console and CLI): a write waits up to 30 s for a lock other
/// processes hold, then fails `unavailable`; an engine with one writer gives announced waiters
/// a turn (SQLite: `SQLiteStore`).
public typealias Store = SignalLog & RemediationQueue & RuleBook & AuditLog & ConsolePages & ConfigurationRegistry & AllowlistBook
    & TriageQueue

/// How a session opens the store.
public enum StoreAccess: Sendable, Equatable {
    /// It must exist and be gavel's (read verbs, decisions): never created by a mistyped `--db`.
    case existing
    /// Created and migrated when missing (`serve`, `console`).
    case create
    /// Read only; it must exist and be at this build's schema version (`console --read-only`).
    case readOnly
}

/// Where a store lives: opens sessions on it and its ingest path.
public protocol StoreEngine: Sendable {
    /// The location for people to read, with any password removed (logs, errors, the console header).
    var displayName: String { get }
    /// Opens a session for the calling thread.
    /// - Throws: `StoreError.location` for a missing, foreign or unreachable store; `unavailable`/`failed` otherwise.
    func open(_ access: StoreAccess) throws(StoreError) -> any Store
    /// The receiver's ingest path on this store, deciding with `config()` (read at each delivery,
    /// so a configuration applied while running takes effect). `onCommit` is called after a
    /// delivery that approved a remediation automatically is committed (the dispatcher wakes).
    func intake(config: @escaping @Sendable () -> GavelConfig, onCommit: @escaping @Sendable () -> Void) throws(StoreError) -> any SignalIntake
    /// Calls `onChange` soon after any process — on this host or another — commits a change to
    /// remediations, rules or the configuration (a decision, a claim, an intake that proposed
    /// something), so a dispatcher or console waiting for work wakes at once instead of at its
    /// next poll. Called on a thread of the engine's; several changes may be reported as one.
    /// - Returns: the subscription (cancel it when done), or nil when the engine has no such feed;
    ///   callers then keep polling on their own timers (the SQLite engine: one host, whose
    ///   processes poll the file).
    func watchChanges(_ onChange: @escaping @Sendable () -> Void) -> (any ChangeWatch)?
}

extension StoreEngine {
    /// No change feed: callers poll (see `StoreEngine.watchChanges`).
    public func watchChanges(_ onChange: @escaping @Sendable () -> Void) -> (any ChangeWatch)? { nil }
}

/// A running subscription of `StoreEngine.watchChanges`.
public protocol ChangeWatch: Sendable {
    /// Stops the subscription (`onChange` may still run once while it ends).
    func cancel()
}

/// The receiver's path into the store: one delivery in, committed, before the receiver answers.
public protocol SignalIntake: Sendable {
    /// Stores one delivery and applies its `IntakePlan` in one transaction, returning only once
    /// it is durable (`COMMIT` returned; `202` is sent after).
    /// - Throws: `unavailable` (answer 503 + `Retry-After`) or `failed` (answer 500, keep the body
    ///   with `recordIntakeError`).
    func intake(_ incoming: IncomingSignal) throws(StoreError) -> IntakeOutcome
    /// Stores every signal of one post, each a delivery with its own `IntakePlan`, all in one
    /// transaction (all or none), returning only once it is durable. A post of several signals is
    /// kept once, byte for byte (`IncomingPost`). A new signal flagged `unrecognised` is also
    /// listed as an intake error (status 202), for the analyst's Intake errors view.
    /// - Returns: one outcome per signal, in the post's order.
    /// - Throws: as `intake(_:)`.
    func intake(post: IncomingPost) throws(StoreError) -> [IntakeOutcome]
    /// Keeps a body the receiver refused (cut to 64 KiB; the newest 10,000 are kept).
    func recordIntakeError(_ entry: IntakeErrorEntry) throws(StoreError)
    /// Checks that deliveries can be acknowledged now (`/healthz`, `/readyz`): the store reachable
    /// (a round trip on the ingest path), its files still the ones at its path (SQLite), and no
    /// delivery failed for a store fault within the last seconds (SQLite: 10) unless one was stored
    /// since.
    /// - Throws: `unavailable` naming the fault.
    func checkHealth() throws(StoreError)
    /// Finishes pending work and releases the connection(s).
    func close()
}

/// Signals as received.
public protocol SignalLog: AnyObject {
    /// Signals newest first (`limit` 0: no limit), with `id < before` when given.
    func signals(limit: Int, before: Int64?) throws(StoreError) -> [StoredSignal]
    /// The signals gathered into a remediation, newest first, at most `limit`.
    func signals(ofRemediation id: Int64, limit: Int) throws(StoreError) -> [StoredSignal]
    /// The newest signal of a remediation: what its templates render with.
    func latestSignal(ofRemediation id: Int64) throws(StoreError) -> SignalReference?
    /// How many signals named `value` as an entity of `kind` (`ip`, `user`, `security_group`).
    func signalCount(naming value: String, kind: String) throws(StoreError) -> Int
    /// Refused bodies, newest first (`body` an excerpt of at most 512 bytes).
    func intakeErrors(limit: Int, before: Int64?) throws(StoreError) -> [IntakeErrorEntry]
}

/// Remediations: listing, decisions (compare-and-set, all or none) and dispatch claims.
public protocol RemediationQueue: AnyObject {
    /// Remediations newest first (`limit` 0: no limit), optionally filtered, with `id < before` when given.
    func remediations(_ filter: RemediationFilter, limit: Int, before: Int64?) throws(StoreError) -> [Remediation]
    /// One remediation, or nil.
    func remediation(id: Int64) throws(StoreError) -> Remediation?
    /// Other remediations of the same target, newest first (the detail pane's target history).
    func remediations(ofTarget target: String, excluding id: Int64, limit: Int) throws(StoreError) -> [Remediation]
    /// The dispatch attempts of a remediation, oldest first.
    func attempts(ofRemediation id: Int64) throws(StoreError) -> [Attempt]
    /// How many remediations are in each state (states with none are absent).
    func stateCounts() throws(StoreError) -> [RemediationState: Int]

    /// Records one decision on each of `ids`, all or none, in one transaction, each a
    /// compare-and-set move of `RemediationLifecycle` caused by `.analyst`. An approval binds the
    /// request it sends (rendered under `config`, recorded with `config.version`). An action that
    /// needs several approvals (`GavelConfig.requiredApprovals`) records each one (`endorse`) until
    /// the last, from different analysts; the final one approves and binds. A pending remediation
    /// past its `pending_ttl` cannot be approved.
    /// - Returns: the remediations after the decision.
    /// - Throws: `notFound` for an unknown id, `conflict` naming who decided it and how when its
    ///   state does not allow the decision (nothing is changed), `refused` when its request cannot
    ///   be rendered safely.
    @discardableResult
    func decide(_ ids: [Int64], _ decision: Decision, by analyst: String, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [Remediation]

    /// Leaves a note on a remediation (audited). Returns it.
    @discardableResult
    func addNote(to id: Int64, text: String, by author: String, at now: Timestamp) throws(StoreError) -> Note
    /// A remediation's notes, oldest first.
    func notes(ofRemediation id: Int64) throws(StoreError) -> [Note]
    /// Pending remediations that waited past their `pending_ttl` (the rule's, else the action's,
    /// under `config`) become `expired` (audited by `expiry`). Returns their ids.
    @discardableResult
    func expirePending(config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Int64]

    /// Remediations in force (`RemediationState.isInForce`), soonest expiry first, permanent ones last.
    func inForce(limit: Int) throws(StoreError) -> [Remediation]
    /// Reverts remediations in force now, all or none (`dispatched` → `reverting`, or a failed
    /// revert again), binding each revert request (rendered under `config`). Audited with the reason.
    /// - Throws: `conflict` when one is not in force, `refused` when one cannot be reverted
    ///   (irreversible, no revert configured, a response value missing).
    @discardableResult
    func revert(_ ids: [Int64], reason: String, by analyst: String, config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Remediation]
    /// Moves the expiry of remediations in force, all or none: `ms` later than the later of now and
    /// the current expiry; nil makes them permanent. Audited.
    /// - Throws: `conflict` when one is not in force, `refused` when one is permanent and `ms` is given.
    @discardableResult
    func extend(_ ids: [Int64], by ms: Int64?, actor: String, at now: Timestamp) throws(StoreError) -> [Remediation]

    /// Claims due pieces of work under a lease until `now + leaseMs`, at most `quota` of each action:
    /// approved remediations (`approved` → `dispatching`) and reverts (remediations in force whose
    /// expiry passed become `reverting` first, their revert request bound under `config`). One
    /// attempt opened each. Two dispatchers never claim the same one. Per action, members of a batch
    /// waiting to go again (`Remediation.batchKey`) come first, together, then the oldest due.
    func claimDue(worker: String, quota: ClaimQuota, leaseMs: Int64, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [DispatchClaim]
    /// Records how attempts ended, in one transaction, and moves each remediation on: a dispatch to
    /// `dispatched` (in force, its expiry set from `config`: the rule's or action's duration, the
    /// sender's suggestion, escalated for a repeat offender), `approved` with a retry time, or
    /// `failed`; a revert to `reverted`, `reverting` with a retry time, or `revert-failed`. Audited,
    /// one entry per remediation. A retry keeps the attempt's batch on the remediation.
    /// - Returns: for each attempt, false when its claim was lost meanwhile (its lease ran out and
    ///   another dispatcher recovered it): nothing is recorded on that remediation then.
    @discardableResult
    func finish(_ attempts: [FinishedAttempt], config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Bool]
    /// Records, before they are sent, which claims go in which batch (its key), in one transaction: on
    /// the remediations (so a crash recovery re-queues them as that batch) and on their attempts.
    /// Claims lost meanwhile are left alone.
    func recordBatches(_ batches: [(key: String, claims: [DispatchClaim])], at now: Timestamp) throws(StoreError)
    /// Gives back claims that were never sent (the action's circuit opened, the dispatcher stops):
    /// `dispatching` → `approved` (a revert stays `reverting`), due at once, the unstarted attempt
    /// removed and the attempt count restored, so no retry is spent. Claims lost meanwhile are left alone.
    func releaseClaims(_ claims: [DispatchClaim], at now: Timestamp) throws(StoreError)
    /// Takes back an automatic approval before it is sent (the brakes): `dispatching` → `pending`,
    /// the attempt closed unsent.
    func withdrawClaim(_ claim: DispatchClaim, reason: String, at now: Timestamp) throws(StoreError)
    /// Refuses a claimed remediation whose target became allowlisted: `dispatching` → `suppressed`.
    func suppressClaim(_ claim: DispatchClaim, reason: String, at now: Timestamp) throws(StoreError)
    /// Recovers claims whose holder is gone: every `dispatching` remediation whose lease ran out,
    /// or whose holder `isDead` says is gone, is re-queued with the same idempotency key when
    /// `isIdempotent(action)`, else `failed` with "interrupted; outcome unknown".
    /// - Returns: the ids recovered.
    @discardableResult
    func recoverClaims(at now: Timestamp, isDead: (String) -> Bool, isIdempotent: (String) -> Bool) throws(StoreError) -> [Int64]
}

/// Detection rules: modes, enabled actions, the kill switch.
public protocol RuleBook: AnyObject {
    /// Every rule, most recently seen first.
    func rules() throws(StoreError) -> [Rule]
    /// The rule with this key, id or name; nil when unknown.
    func rule(named: String) throws(StoreError) -> Rule?
    /// Pending and dispatched remediations per rule key (rules with none are absent).
    func ruleCounts() throws(StoreError) -> [String: RuleCounts]
    /// Whether the rule's newest signal named a security group (its default action is then
    /// `delete-security-group`).
    func ruleNamesSecurityGroups(key: String) throws(StoreError) -> Bool
    /// Sets a rule's mode (creating the rule when named before its first signal) and clears its
    /// throttled mark; leaving `auto` takes back its automatic approvals not yet sent. Audited.
    /// - Returns: the mode before (nil for a new rule).
    @discardableResult
    func setMode(rule: String, to mode: RuleMode, by actor: String, at now: Timestamp) throws(StoreError) -> RuleMode?
    /// Enables or disables one action of a rule. Audited.
    /// - Throws: `notFound` for an unknown rule.
    func setAction(rule: String, action: String, enabled: Bool, by actor: String, at now: Timestamp) throws(StoreError)
    /// True when the kill switch (`gavel auto --all off`) stops automatic dispatch.
    func automaticDispatchDisabled() throws(StoreError) -> Bool
    /// Sets the kill switch; switching it off takes back automatic approvals not yet sent. Audited.
    func setAutomaticDispatch(enabled: Bool, by actor: String, at now: Timestamp) throws(StoreError)
}

/// The audit log.
public protocol AuditLog: AnyObject {
    /// Entries newest first (`limit` 0: no limit), with `id < before` when given; `subject`
    /// narrows to one subject (e.g. `remediation 12`).
    func auditEntries(limit: Int, before: Int64?, subject: String?) throws(StoreError) -> [AuditEntry]
    /// Entries oldest first with `id > after`, with their hashes (`AuditChain`): for verifying
    /// and exporting the chain page by page.
    func auditChain(after id: Int64, limit: Int) throws(StoreError) -> [AuditEntry]
}

/// The console's keyset pages.
public protocol ConsolePages: AnyObject {
    /// Up to `query.limit` remediations in the query's order, starting next to `query.cursor`,
    /// in display order (also for `.backward`) — exactly what `query.select(from:)` would give
    /// over every stored remediation.
    func page(_ query: ConsolePageQuery) throws(StoreError) -> [Remediation]
}

/// Targets allowlisted at run time (`gavel allowlist add`), on top of the configuration's allowlist,
/// and the allowlist looking back at what is in force.
public protocol AllowlistBook: AnyObject {
    /// Every entry added, oldest first.
    func allowlistEntries() throws(StoreError) -> [AllowlistEntry]
    /// Adds an entry (audited) and proposes reverts for what is in force on it (`proposeReverts`).
    /// - Returns: the remediations whose revert was proposed or started.
    @discardableResult
    func addAllowlistEntry(_ entry: AllowlistEntry, config: GavelConfig, at now: Timestamp) throws(StoreError) -> [Int64]
    /// The allowlist looks back: every remediation in force (`dispatched`) on a target `allowlist`
    /// matches gets a revert proposed (`revert-pending`, for an analyst), started at once when its
    /// rule is in auto (`reverting`, as `auto:RULE`). Audited.
    /// - Returns: the remediations concerned.
    @discardableResult
    func proposeReverts(allowlist: Allowlist, config: GavelConfig, by actor: String, at now: Timestamp) throws(StoreError) -> [Int64]
}

/// The configuration in force: the one every process sharing the store decides and dispatches under.
public protocol ConfigurationRegistry: AnyObject {
    /// The configuration in force, nil when none was ever applied.
    func configurationInForce() throws(StoreError) -> StoredConfiguration?
    /// Applies a configuration (a new version), audited with who applied it and from where.
    /// - Parameter expectedVersion: the version in force the caller compared against (nil: none);
    ///   another process applying meanwhile makes this a `conflict`-free `refused`.
    /// - Returns: the stored configuration (its new version).
    func applyConfiguration(text: String, source: String?, by actor: String, expectedVersion: Int?, at now: Timestamp) throws(StoreError)
        -> StoredConfiguration
}

extension RemediationQueue {
    /// Claims up to `limit` due pieces of work of any action (`claimDue(worker:quota:…)`).
    public func claimDue(worker: String, limit: Int, leaseMs: Int64, config: GavelConfig, at now: Timestamp) throws(StoreError)
        -> [DispatchClaim]
    {
        try claimDue(worker: worker, quota: .any(limit), leaseMs: leaseMs, config: config, at: now)
    }

    /// Records that these claims go in the batch `key` (`recordBatches` with one batch).
    public func recordBatch(_ claims: [DispatchClaim], key: String, at now: Timestamp) throws(StoreError) {
        try recordBatches([(key, claims)], at: now)
    }

    /// Records how one attempt ended (`finish(_:config:at:)` with one attempt).
    /// - Returns: false when the claim was lost meanwhile.
    @discardableResult
    public func finish(_ claim: DispatchClaim, _ report: AttemptReport, config: GavelConfig, at now: Timestamp) throws(StoreError) -> Bool {
        try finish([FinishedAttempt(claim, report)], config: config, at: now).first ?? false
    }
}
