/// What kind of thing a remediation acts on.
public enum TargetKind: String, Sendable, CaseIterable, Codable {
    /// A canonical IP address (ban it).
    case ip
    /// A user id (disable its credentials).
    case user
    /// A cloud security-group id (delete it).
    case securityGroup = "security_group"
    /// The signal itself (forward it).
    case signal
}

/// The lifecycle state of a remediation (DESIGN.md "Remediation states"). Which event moves
/// it from one state to another, and who may cause that, is `RemediationLifecycle.table`.
public enum RemediationState: String, Sendable, CaseIterable, Codable {
    case pending, approved, dispatching, dispatched, failed, rejected, suppressed, simulated
    /// In force, and a revert was proposed (the target became allowlisted): waiting for an analyst.
    case revertPending = "revert-pending"
    /// In force, its revert queued or being sent.
    case reverting
    /// Its revert was sent and accepted: no longer in force.
    case reverted
    /// Its revert failed: possibly still in force, for the analyst to retry.
    case revertFailed = "revert-failed"
    /// It waited past its `pending_ttl` without a decision: never dispatched.
    case expired

    /// Not yet sent: a new proposal of the same (action, target) attaches to it instead of making
    /// a second one (at most one per (action, target), across every process).
    public var isOpen: Bool { self == .pending || self == .approved || self == .dispatching }

    /// Sent and not (yet) undone: what `gavel active` lists and the In force view shows.
    public var isInForce: Bool { self == .dispatched || self == .revertPending || self == .reverting || self == .revertFailed }

    /// A new signal for its (action, target) attaches to it rather than proposing again: open, or
    /// in force and not being reverted (a target already banned is never banned twice).
    public var gathersSignals: Bool { isOpen || (isInForce && self != .reverting) }
}

/// How a detection rule's remediations are decided.
public enum RuleMode: String, Sendable, CaseIterable, Codable {
    /// An analyst approves or rejects each one.
    case manual
    /// Approved by `auto:<rule>` and dispatched at once, within the auto budgets.
    case auto
    /// Rendered and recorded as `simulated`; never sent.
    case dryRun = "dry-run"
}

/// A remediation: one action on one validated target, proposed by one or more signals of a
/// detection rule, decided by an analyst or by auto mode, and dispatched.
///
/// The one shape of the central noun: every layer (store, dispatcher, console, CLI) uses this
/// value; a store maps its row to it in exactly one place, and the CLI's JSON and the console's
/// rows are presentation functions over it (`Remediation+Presentation.swift`).
public struct Remediation: Sendable, Equatable, Identifiable {
    /// The store's id (`gavel list` `id`), positive.
    public var id: Int64
    /// The action's name (`ban-ip`, `disable-user`, `delete-security-group`, or a configured one).
    public var action: String
    /// What the target is.
    public var targetKind: TargetKind
    /// The canonical target: an IP in canonical form, a user id, a security-group id, a signal id.
    public var target: String
    /// The key the detection rule is stored under (its id when signals carry one, else its name).
    public var ruleKey: String
    /// The detection rule's name, when known.
    public var ruleName: String?
    /// The highest severity among the gathered signals; nil when none carried one.
    public var severity: Severity?
    /// The lifecycle state.
    public var state: RemediationState
    /// The same for every attempt of this remediation (`Idempotency-Key`, `GAVEL_IDEMPOTENCY_KEY`).
    public var idempotencyKey: String
    /// How many signals were gathered into it.
    public var signalCount: Int
    /// Ids of the gathered signals, newest first (at most the store's cap, 50).
    public var signalIDs: [String]
    /// Canonical IPs named by the gathered signals, in order of first appearance (context, not
    /// only the target; at most the store's cap).
    public var ips: [String]
    /// User ids named by the gathered signals, in order of first appearance.
    public var users: [String]
    /// Who decided: an analyst's name or `auto:RULE`; nil while undecided.
    public var decidedBy: String?
    /// When it was decided.
    public var decidedAt: Timestamp?
    /// The rejection reason, or for a suppressed remediation the allowlist entry (or target
    /// validation failure) that stopped it.
    public var reason: String?
    /// How many dispatch attempts were started.
    public var attempts: Int
    /// The last attempt's HTTP status or exit status.
    public var lastStatus: Int?
    /// The last attempt's error.
    public var lastError: String?
    /// When it was proposed.
    public var createdAt: Timestamp
    /// When anything about it last changed.
    public var updatedAt: Timestamp
    /// When a signal last proposed it.
    public var lastSeenAt: Timestamp
    /// When the next attempt is due (after a retryable failure), nil: as soon as approved.
    public var nextAttemptAt: Timestamp?
    /// The dispatcher holding it while `dispatching`, and until when (`host:pid:instance`).
    public var claim: Claim?
    /// The exact request, unmasked: bound at the (final) approval — every attempt sends these
    /// bytes — or recorded for a dry-run (`simulated`). Nil before approval.
    public var boundRequest: RenderedRequest?
    /// A recorded request as display text, for rows written before requests were bound
    /// (schema version 3 and earlier); nil otherwise.
    public var legacyRequestText: String?
    /// The configuration version its request was bound (rendered) under; nil before approval.
    public var configVersion: Int?
    /// When it was dispatched successfully (came into force); nil before.
    public var inForceSince: Timestamp?
    /// When its revert is due; nil: permanent, or not in force.
    public var expiresAt: Timestamp?
    /// How long it stays in force, in milliseconds (nil: permanent), as decided when it came into force.
    public var durationMs: Int64?
    /// The start of the successful dispatch's response body (for a revert's `{{response.json.…}}`).
    public var dispatchResponse: String?
    /// The revert request, bound when the revert was decided (by an analyst, the allowlist or the clock).
    public var revertRequest: RenderedRequest?
    /// The approvals recorded so far, oldest first (several when the action needs more than one).
    public var approvals: [Approval] = []
    /// True when the analyst who rejected it marked its signals a false positive.
    public var falsePositive = false
    /// Who decided the revert (an analyst, `auto:RULE`, `expiry`, `allowlist`), when, and why.
    public var revertedBy: String?
    public var revertedAt: Timestamp?
    public var revertReason: String?
    /// The batch it waits to be sent in again (its last attempt went in this batch and a retry or a
    /// crash recovery re-queued it): a dispatcher claims the batch's members together and re-sends
    /// them under the same key (`RenderedRequest.batchKey`); nil otherwise.
    public var batchKey: String?

    public init(
        id: Int64, action: String, targetKind: TargetKind, target: String, ruleKey: String, ruleName: String? = nil,
        severity: Severity? = nil, state: RemediationState, idempotencyKey: String = "", signalCount: Int = 1,
        signalIDs: [String] = [], ips: [String] = [], users: [String] = [], decidedBy: String? = nil, decidedAt: Timestamp? = nil,
        reason: String? = nil, attempts: Int = 0, lastStatus: Int? = nil, lastError: String? = nil, createdAt: Timestamp,
        updatedAt: Timestamp? = nil, lastSeenAt: Timestamp? = nil, nextAttemptAt: Timestamp? = nil, claim: Claim? = nil,
        boundRequest: RenderedRequest? = nil, legacyRequestText: String? = nil, configVersion: Int? = nil, inForceSince: Timestamp? = nil,
        expiresAt: Timestamp? = nil, durationMs: Int64? = nil
    ) {
        self.id = id
        self.action = action
        self.targetKind = targetKind
        self.target = target
        self.ruleKey = ruleKey
        self.ruleName = ruleName
        self.severity = severity
        self.state = state
        self.idempotencyKey = idempotencyKey
        self.signalCount = signalCount
        self.signalIDs = signalIDs
        self.ips = ips
        self.users = users
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
        self.reason = reason
        self.attempts = attempts
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.lastSeenAt = lastSeenAt ?? createdAt
        self.nextAttemptAt = nextAttemptAt
        self.claim = claim
        self.boundRequest = boundRequest
        self.legacyRequestText = legacyRequestText
        self.configVersion = configVersion
        self.inForceSince = inForceSince
        self.expiresAt = expiresAt
        self.durationMs = durationMs
    }

    /// The idempotency key of its revert: its own, derived from the remediation's, the same for
    /// every attempt of the revert.
    public var revertIdempotencyKey: String { idempotencyKey + "-revert" }

    /// The rule as people read it: its name, else its key.
    public var ruleDisplayName: String { ruleName ?? ruleKey }

    /// The allowlist entry or validation failure that suppressed it, when `suppressed`.
    public var suppressedBy: String? { state == .suppressed ? reason : nil }

    /// Why no request could be bound at its (final) approval — a value that cannot be sent safely
    /// (`DispatchRefusal`), recorded instead of the request as `refused: …` — or nil. The
    /// dispatcher fails it with this reason and sends nothing; a later signal never re-renders it.
    public var bindingRefusal: DispatchRefusal? {
        guard boundRequest == nil, let text = legacyRequestText, text.hasPrefix("refused: "), decidedBy != nil else { return nil }
        return DispatchRefusal(String(text.dropFirst("refused: ".count)))
    }

    /// The recorded request as display text with secrets masked (bound, simulated, or legacy); nil when none.
    public var recordedRequestText: String? {
        if let boundRequest { return boundRequest.masked().displayText }
        return legacyRequestText.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The values its action's templates are rendered with — the one template context, used by
    /// the console's preview, `gavel show`, a dry-run and the binding at approval, so that what
    /// the analyst sees is what is sent.
    ///
    /// - Parameters:
    ///   - action: the remediation's action (`config.actions[action]`).
    ///   - signal: the newest gathered signal (`{{signal_id}}`, `{{rule_id}}`, `{{severity}}`); nil renders them empty.
    ///   - decidedBy: who approves (`{{decided_by}}`): the analyst about to approve, or `auto:RULE`.
    /// `{{rule_name}}` is the rule's name as sent by its signals, empty for a rule known only by id.
    public func templateContext(action config: ActionConfig, signal: SignalReference?, decidedBy: String) -> TemplateContext {
        TemplateContext(
            action: config, target: target, signalID: signal?.signalID, ruleName: ruleName, ruleID: signal?.ruleID,
            severity: signal?.severity?.rawValue, remediationID: String(id), idempotencyKey: idempotencyKey, decidedBy: decidedBy)
    }

    /// The values its revert template renders with: the one context plus the dispatch's response
    /// (`{{response.json.PATH}}`) and the revert's own idempotency key.
    public func revertContext(action config: ActionConfig, signal: SignalReference?, decidedBy: String) -> TemplateContext {
        var context = templateContext(action: config, signal: signal, decidedBy: decidedBy)
        context.idempotencyKey = revertIdempotencyKey
        context.response = dispatchResponse.flatMap { try? JSONValue.parse($0) }
        return context
    }

    /// Renders the exact request its revert sends (unmasked).
    /// - Throws: `DispatchRefusal` when it cannot be reverted (irreversible, no revert configured,
    ///   a response value missing) or a value cannot be sent safely.
    public func revertRequest(action config: ActionConfig, signal: SignalReference?, decidedBy: String) throws(DispatchRefusal)
        -> RenderedRequest
    {
        try config.renderRevert(revertContext(action: config, signal: signal, decidedBy: decidedBy))
    }

    /// Renders the exact request approving it by `decidedBy` sends (unmasked).
    /// - Throws: `DispatchRefusal` when the target or a rendered value cannot be sent safely.
    public func request(action config: ActionConfig, signal: SignalReference?, decidedBy: String) throws(DispatchRefusal) -> RenderedRequest {
        try config.render(templateContext(action: config, signal: signal, decidedBy: decidedBy))
    }
}

/// One analyst's approval of a remediation (the two-person rule records each).
public struct Approval: Sendable, Equatable {
    public var analyst: String
    public var at: Timestamp

    public init(analyst: String, at: Timestamp) {
        self.analyst = analyst
        self.at = at
    }
}

/// A note an analyst left on a remediation.
public struct Note: Sendable, Equatable, Identifiable {
    public var id: Int64
    public var remediationID: Int64
    public var author: String
    public var at: Timestamp
    /// As written (attacker-free but still sanitized for display like every string).
    public var text: String

    public init(id: Int64, remediationID: Int64, author: String, at: Timestamp, text: String) {
        self.id = id
        self.remediationID = remediationID
        self.author = author
        self.at = at
        self.text = text
    }
}

/// A dispatcher's hold on a remediation it is sending.
public struct Claim: Sendable, Equatable {
    /// `host:pid:instance` of the dispatcher.
    public var worker: String
    /// When the hold lapses: after it, another dispatcher recovers the remediation.
    public var leaseUntil: Timestamp?

    public init(worker: String, leaseUntil: Timestamp?) {
        self.worker = worker
        self.leaseUntil = leaseUntil
    }
}

/// The values of one stored signal that templates use: the newest signal of a remediation.
public struct SignalReference: Sendable, Equatable {
    /// The signal's id (Datadog's `SECURITY_SIGNAL_ID`, or derived).
    public var signalID: String
    /// The detection rule's id, when the signal carried one.
    public var ruleID: String?
    /// The signal's severity, when it carried one.
    public var severity: Severity?

    public init(signalID: String, ruleID: String? = nil, severity: Severity? = nil) {
        self.signalID = signalID
        self.ruleID = ruleID
        self.severity = severity
    }
}

/// One dispatch attempt of a remediation, or of its revert.
public struct Attempt: Sendable, Equatable, Identifiable {
    /// What an attempt sent.
    public enum Kind: String, Sendable, CaseIterable {
        /// The remediation itself.
        case dispatch
        /// Its revert.
        case revert
        /// A triage update of one of its Datadog signals (the word back to Datadog): never
        /// changes the remediation's state.
        case triage
    }

    /// How an attempt ended.
    public enum Outcome: String, Sendable, CaseIterable {
        /// Accepted by the endpoint.
        case success
        /// Failed; another attempt follows after a backoff.
        case retry
        /// Failed for good.
        case failed
        /// The dispatcher died or lost its lease during it; the result is unknown.
        case interrupted
        /// Not sent: the approval was taken back (kill switch) before it went.
        case withdrawn
        /// Not sent: the target was allowlisted.
        case suppressed
    }

    /// The store's id of the attempt.
    public var id: Int64
    /// The remediation it belongs to.
    public var remediationID: Int64
    /// Whether it dispatched the remediation or its revert.
    public var kind: Kind
    /// 1 for the first attempt of its kind.
    public var number: Int
    /// When it started.
    public var startedAt: Timestamp
    /// How long it took, in milliseconds; nil while in progress.
    public var durationMs: Int?
    /// HTTP status or exit status; nil when there was none (connect error, timeout, outbox).
    public var status: Int?
    /// How it ended; nil while in progress.
    public var outcome: Outcome?
    /// What went wrong, when it failed.
    public var error: String?
    /// The start of the response body or of a command's stdout (attacker-influenced; escape before display).
    public var response: String?
    /// The idempotency key of the batch it went in (`RenderedRequest.batchKey`); nil when it was sent alone.
    public var batchKey: String?
    /// The end of a command's stderr (at most 2048 bytes, `…` first when cut), nil when it wrote
    /// none or for HTTP and outbox attempts. Attacker-influenced: escape before display.
    public var stderr: String?
    /// For a triage attempt: what it set on which signal (`signal ID → archived (remediated)`).
    public var subject: String?

    public init(
        id: Int64, remediationID: Int64, kind: Kind = .dispatch, number: Int, startedAt: Timestamp, durationMs: Int? = nil, status: Int? = nil,
        outcome: Outcome? = nil, error: String? = nil, response: String? = nil, stderr: String? = nil
    ) {
        self.stderr = stderr
        self.id = id
        self.remediationID = remediationID
        self.kind = kind
        self.number = number
        self.startedAt = startedAt
        self.durationMs = durationMs
        self.status = status
        self.outcome = outcome
        self.error = error
        self.response = response
    }
}

extension Attempt {
    /// The end of the command's stderr as lines for `gavel show` and the console: the last
    /// `limit` non-blank ones, oldest first (not sanitized: the caller escapes them for where they go).
    public func stderrLines(limit: Int = 10) -> [String] {
        guard let stderr else { return [] }
        let lines = stderr.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .filter { !$0.allSatisfy(\.isWhitespace) }
        return lines.suffix(limit).map(String.init)
    }

    /// What came back from one attempt, in words: `HTTP 503 — service unavailable` (an HTTP
    /// status is 100–599), `exit 3` / `exit 0` (a command's exit status, which is stored in the
    /// same field and is below 100), or `no answer — connection refused` when nothing answered
    /// (no status: a network error, a timeout, a signal), or `done` when there is neither a
    /// status nor an error (an outbox line appended). The error follows an em dash unless it
    /// only repeats the status, or starts with it.
    public static func resultText(status: Int?, error: String?) -> String {
        let what: String
        switch status {
        case .some(let s) where s >= 100: what = "HTTP \(s)"
        case .some(let s): what = "exit \(s)"
        case nil: what = error == nil ? "done" : "no answer"
        }
        guard let error, !error.isEmpty, error != what else { return what }
        // An error that starts with the status says more about it (`exit 3 (stderr: …)`,
        // `HTTP 503; gave up after …`): shown once.
        if error.hasPrefix(what + " ") || error.hasPrefix(what + ";") { return error }
        return what + " — " + error
    }
}

/// One row of the audit log.
public struct AuditEntry: Sendable, Equatable, Identifiable {
    /// The store's id; entries are ordered by it.
    public var id: Int64
    /// When it happened.
    public var at: Timestamp
    /// Who: an analyst's name, `auto:RULE`, `dispatcher`, `gavel` (the system).
    public var actor: String
    /// What was done: `propose`, `approve`, `reject`, `dispatch`, `mode`, `config-apply`, …
    public var action: String
    /// What it was done to: `remediation 12`, `rule Foo`, `configuration`, `all rules`.
    public var subject: String
    /// The state or value before, when it changed.
    public var before: String?
    /// The state or value after.
    public var after: String?
    /// Details: a reason, an attempt's outcome.
    public var detail: String?
    /// The previous entry's hash, and this entry's (`AuditChain`); nil for an entry not yet chained.
    public var previousHash: String?
    public var hash: String?

    public init(
        id: Int64, at: Timestamp, actor: String, action: String, subject: String, before: String? = nil, after: String? = nil,
        detail: String? = nil, previousHash: String? = nil, hash: String? = nil
    ) {
        self.previousHash = previousHash
        self.hash = hash
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.subject = subject
        self.before = before
        self.after = after
        self.detail = detail
    }

    /// The remediation id when the subject is `remediation N`.
    public var remediationID: Int64? {
        subject.hasPrefix("remediation ") ? Int64(subject.dropFirst("remediation ".count)) : nil
    }
}

/// A detection rule as gavel keeps it: its mode and the actions an analyst narrowed it to.
public struct Rule: Sendable, Equatable, Identifiable {
    /// The key it is stored under: the rule id of its first signal when it carried one, else its name.
    public var key: String
    /// The detection rule's id (`SECURITY_RULE_ID`), when known.
    public var ruleID: String?
    /// The detection rule's name, when known.
    public var name: String?
    /// manual, auto or dry-run.
    public var mode: RuleMode
    /// Actions the analyst switched off for this rule (console Rules view), persisted.
    public var disabledActions: Set<String>
    /// When automatic dispatch last hit a budget; nil when not throttled.
    public var throttledAt: Timestamp?
    /// When the rule last sent a signal.
    public var lastSeenAt: Timestamp?

    public init(
        key: String, ruleID: String? = nil, name: String? = nil, mode: RuleMode = .manual, disabledActions: Set<String> = [],
        throttledAt: Timestamp? = nil, lastSeenAt: Timestamp? = nil
    ) {
        self.key = key
        self.ruleID = ruleID
        self.name = name
        self.mode = mode
        self.disabledActions = disabledActions
        self.throttledAt = throttledAt
        self.lastSeenAt = lastSeenAt
    }

    public var id: String { key }

    /// The rule as people read it: its name, else its key.
    public var displayName: String { name ?? key }

    /// The actions the rule proposes (DESIGN.md "Which remediations a signal proposes"): its
    /// configured list, else the default — `delete-security-group` when its signals name a
    /// security group (`namesSecurityGroups`), else `ban-ip` and `disable-user`.
    public func configuredActions(config: GavelConfig, namesSecurityGroups: Bool) -> [String] {
        if let actions = config.ruleConfig(ruleID: ruleID, ruleName: name ?? key)?.actions { return actions }
        return namesSecurityGroups ? ["delete-security-group"] : ["ban-ip", "disable-user"]
    }

    /// `configuredActions` less the ones an analyst disabled.
    public func enabledActions(config: GavelConfig, namesSecurityGroups: Bool) -> [String] {
        configuredActions(config: config, namesSecurityGroups: namesSecurityGroups).filter { !disabledActions.contains($0) }
    }
}
