import GavelCore

/// One POST that carried a signal, as the receiver hands it to the store.
public struct IncomingSignal: Sendable {
    /// The normalized signal.
    public var signal: Signal {
        didSet {
            attributesJSON = signal.attributes?.compactText
            configuredProposals = nil
        }
    }
    /// The request body exactly as received.
    public var rawBody: [UInt8] {
        didSet { bodySHA256 = SHA256.hex(SHA256.hash(rawBody)) }
    }
    /// Lowercase hex SHA-256 of `rawBody`, and `signal.attributes` as compact JSON: derived
    /// when the value is made (on the receiver's connection thread, in parallel) so the one
    /// ingest writer thread does not spend its time on them. Kept in step by the `didSet`s.
    public private(set) var bodySHA256: String
    public private(set) var attributesJSON: String?
    /// The request's media type (`application/json`, `application/x-www-form-urlencoded`).
    public var contentType: String?
    /// The peer address (`127.0.0.1:53211`), for the deliveries table.
    public var peer: String?
    /// When the request was received.
    public var receivedAt: Timestamp
    /// `IntakePlan.configuredProposals(for: signal, config:)` for the configuration the intake
    /// is given, made on the receiver's connection thread (`IncomingPost.planned(for:)`); nil:
    /// the store makes it. It must be made from that same configuration.
    public var configuredProposals: [ProposedRemediation]?

    /// This delivery with `configuredProposals` made for `config` — on the caller's thread (a
    /// receiver connection), with the configuration the engine then hands to its intake.
    public func planned(for config: GavelConfig) -> IncomingSignal {
        var planned = self
        planned.configuredProposals = IntakePlan.configuredProposals(for: signal, config: config)
        return planned
    }

    public init(signal: Signal, rawBody: [UInt8], contentType: String?, peer: String?, receivedAt: Timestamp = .now) {
        self.signal = signal
        self.rawBody = rawBody
        self.bodySHA256 = SHA256.hex(SHA256.hash(rawBody))
        self.attributesJSON = signal.attributes?.compactText
        self.contentType = contentType
        self.peer = peer
        self.receivedAt = receivedAt
    }
}

/// One extracted entity of a signal: its kind as stored and its value.
public struct EntityValue: Sendable, Equatable, Hashable {
    /// Targets: `ip`, `user`, `security_group`, `ip_range`. Shown only: `invalid_ip`,
    /// `user_email`, `user_name`, `actor`, and the context kinds `context_ip`, `context_host`,
    /// `context_resource`, `context_security_group` (never proposed).
    public var kind: String
    public var value: String
    public init(_ kind: String, _ value: String) {
        self.kind = kind
        self.value = value
    }

    /// Every kind a store accepts (the schema's CHECK).
    public static let kinds: [String] = [
        "ip", "user", "security_group", "invalid_ip", "user_email", "user_name", "actor", "ip_range", "context_ip", "context_host",
        "context_resource", "context_security_group",
    ]
    /// The kinds a remediation can act on (an update of a signal proposes only for new ones of these).
    public static let targetKinds: Set<String> = ["ip", "user", "security_group"]
}

extension Signal {
    /// The entities stored for this signal, in extraction order: targets, then what is only shown,
    /// then context.
    public var entityValues: [EntityValue] {
        ips.map { EntityValue("ip", $0.description) }
            + users.map { EntityValue("user", $0) }
            + securityGroups.map { EntityValue("security_group", $0) }
            + invalidIPs.map { EntityValue("invalid_ip", $0) }
            + userEmails.map { EntityValue("user_email", $0) }
            + userNames.map { EntityValue("user_name", $0) }
            + (actor.map { [EntityValue("actor", $0)] } ?? [])
            + ipRanges.map { EntityValue("ip_range", $0.description) }
            + contextIPs.map { EntityValue("context_ip", $0.description) }
            + contextHosts.map { EntityValue("context_host", $0) }
            + contextResources.map { EntityValue("context_resource", $0) }
            + contextSecurityGroups.map { EntityValue("context_security_group", $0) }
    }

    /// Adds one stored entity back to its list (the inverse of `entityValues`); unknown kinds and
    /// unparsable addresses are skipped.
    public mutating func addStoredEntity(kind: String, value: String) {
        switch kind {
        case "ip": if let ip = IPAddress(parsing: value) { ips.append(ip) }
        case "user": users.append(value)
        case "security_group": securityGroups.append(value)
        case "invalid_ip": invalidIPs.append(value)
        case "user_email": userEmails.append(value)
        case "user_name": userNames.append(value)
        case "actor": actor = actor ?? value
        case "ip_range": if let range = CIDR(parsing: value) { ipRanges.append(range) }
        case "context_ip": if let ip = IPAddress(parsing: value) { contextIPs.append(ip) }
        case "context_host": contextHosts.append(value)
        case "context_resource": contextResources.append(value)
        case "context_security_group": contextSecurityGroups.append(value)
        default: break
        }
    }
}

/// What storing one delivery did to its signal.
public struct SignalRecord: Sendable, Equatable {
    /// The store's row id of the signal.
    public var rowID: Int64
    /// The signal's id (Datadog's, or derived).
    public var signalID: String
    /// True when the signal id was already stored (a retry or an update); no second signal was made.
    public var duplicate: Bool
    /// True when the body differed from every earlier delivery of this id (Datadog's "notify on update").
    public var updated: Bool
    /// Entities this delivery added that were not stored before.
    public var newEntities: [EntityValue]

    public init(rowID: Int64, signalID: String, duplicate: Bool, updated: Bool, newEntities: [EntityValue]) {
        self.rowID = rowID
        self.signalID = signalID
        self.duplicate = duplicate
        self.updated = updated
        self.newEntities = newEntities
    }
}

/// What the intake of one delivery did: the stored signal and the remediations it proposed or
/// attached to (the receiver's `202` answer).
public struct IntakeOutcome: Sendable, Equatable {
    public var record: SignalRecord
    /// Remediations proposed or attached by this delivery, in proposal order.
    public var remediations: [Int64]
    /// Those of them that auto-remediation approved (a dispatcher sends them at once).
    public var autoApproved: [Int64]

    public init(record: SignalRecord, remediations: [Int64], autoApproved: [Int64]) {
        self.record = record
        self.remediations = remediations
        self.autoApproved = autoApproved
    }
}

/// A signal as stored: the normalized fields, plus what the store knows about its deliveries.
public struct StoredSignal: Sendable, Equatable, Identifiable {
    /// The store's row id.
    public var id: Int64
    /// The normalized signal (`attributes` left nil: see `attributesText`).
    public var signal: Signal
    /// The attributes as compact JSON text, as stored; parse only what is shown (and cache it by `id`).
    public var attributesText: String?
    /// The sender format (`datadog`, …).
    public var source: String
    /// When gavel first received it.
    public var receivedAt: Timestamp
    /// How many POSTs carried it.
    public var deliveries: Int

    public init(id: Int64, signal: Signal, attributesText: String?, source: String, receivedAt: Timestamp, deliveries: Int) {
        self.id = id
        self.signal = signal
        self.attributesText = attributesText
        self.source = source
        self.receivedAt = receivedAt
        self.deliveries = deliveries
    }
}

/// A webhook body the receiver refused, kept for the analyst (Intake errors view).
public struct IntakeErrorEntry: Sendable, Equatable, Identifiable {
    /// The store's id (0 before it is stored).
    public var id: Int64
    public var receivedAt: Timestamp
    /// The sender's address as `HOST:PORT`.
    public var peer: String?
    /// The HTTP status answered (400, 500, …).
    public var status: Int
    /// Why it was refused.
    public var reason: String
    /// The request's media type.
    public var contentType: String?
    /// The body (cut to the store's cap when stored; an excerpt when listed).
    public var body: [UInt8]
    /// The body's real size in bytes.
    public var bodySize: Int

    public init(
        id: Int64 = 0, receivedAt: Timestamp = .now, peer: String?, status: Int, reason: String, contentType: String?, body: [UInt8],
        bodySize: Int? = nil
    ) {
        self.id = id
        self.receivedAt = receivedAt
        self.peer = peer
        self.status = status
        self.reason = reason
        self.contentType = contentType
        self.body = body
        self.bodySize = bodySize ?? body.count
    }
}

/// An analyst's decision on remediations.
public enum Decision: Sendable, Equatable {
    /// Send it.
    case approve
    /// Do not send it; the reason is required and non-empty. `falsePositive`: the analyst judged
    /// the signals a false positive (recorded on the remediation, and told to Datadog as such
    /// when the word back is configured).
    case reject(String, falsePositive: Bool = false)
    /// Send a failed remediation again.
    case retry
    /// Take back an approval not yet claimed by a dispatcher.
    case withdraw

    /// The verb as the audit log and messages say it.
    public var verb: String {
        switch self {
        case .approve: "approve"
        case .reject: "reject"
        case .retry: "retry"
        case .withdraw: "withdraw"
        }
    }

    /// The state machine event it is.
    public var event: RemediationEvent {
        switch self {
        case .approve: .approve
        case .reject: .reject
        case .retry: .retry
        case .withdraw: .withdraw
        }
    }
}

/// Filters for listing remediations; all optional.
public struct RemediationFilter: Sendable, Equatable {
    /// States to include; empty: every state.
    public var states: [RemediationState]
    /// Rule key, id or name.
    public var rule: String?
    /// Text that must occur (`TextFilter` rule) in the rule, target, action or an IP/user.
    public var text: String?

    public init(states: [RemediationState] = [], rule: String? = nil, text: String? = nil) {
        self.states = states
        self.rule = rule
        self.text = text
    }
}

/// Remediations of one rule: how many wait for a decision, how many were dispatched.
public struct RuleCounts: Sendable, Equatable {
    public var pending: Int
    public var dispatched: Int

    public init(pending: Int = 0, dispatched: Int = 0) {
        self.pending = pending
        self.dispatched = dispatched
    }
}

/// A configuration applied to a store: the one every process sharing it decides and dispatches under.
public struct StoredConfiguration: Sendable, Equatable {
    /// 1 for the first configuration applied, then +1 per apply.
    public var version: Int
    /// The configuration file's text as applied.
    public var text: String
    /// Lowercase hex SHA-256 of `text`.
    public var sha256: String
    /// The file it came from, as the applying process named it.
    public var source: String?
    /// Who applied it (an analyst, or `gavel` when a process adopted its file on a fresh database).
    public var appliedBy: String
    public var appliedAt: Timestamp

    public init(version: Int, text: String, sha256: String, source: String?, appliedBy: String, appliedAt: Timestamp) {
        self.version = version
        self.text = text
        self.sha256 = sha256
        self.source = source
        self.appliedBy = appliedBy
        self.appliedAt = appliedAt
    }
}

/// A target allowlisted at run time (`gavel allowlist add TARGET --reason TEXT`).
public struct AllowlistEntry: Sendable, Equatable {
    /// What the value is: an `ip` entry is an address or a CIDR range.
    public var kind: TargetKind
    public var value: String
    public var reason: String
    public var addedBy: String
    public var addedAt: Timestamp

    public init(kind: TargetKind, value: String, reason: String, addedBy: String, addedAt: Timestamp = .now) {
        self.kind = kind
        self.value = value
        self.reason = reason
        self.addedBy = addedBy
        self.addedAt = addedAt
    }
}

extension Allowlist {
    /// This allowlist with run-time entries added (`ip` values as addresses or ranges).
    public func adding(_ entries: [AllowlistEntry]) -> Allowlist {
        var out = self
        for e in entries {
            switch e.kind {
            case .ip: if let cidr = CIDR(parsing: e.value) { out.cidrs.append(cidr) }
            case .user: out.users.insert(e.value)
            case .securityGroup: out.resources.insert(e.value)
            case .signal: break
            }
        }
        return out
    }
}

/// A remediation a dispatcher claimed and must now send: exactly `request`, once.
public struct DispatchClaim: Sendable, Equatable {
    /// What the claim sends: the remediation itself, or its revert.
    public var kind: Attempt.Kind
    /// The remediation as claimed (state `dispatching`, or `reverting` for a revert).
    public var remediation: Remediation
    /// 1 for the first attempt.
    public var attempt: Int
    /// The store's id of this attempt.
    public var attemptID: Int64
    /// The request bound at approval (or rendered now for an approval made before requests were
    /// bound), or the reason it cannot be sent.
    public var request: Result<RenderedRequest, DispatchRefusal>
    /// Who holds the claim and until when.
    public var claim: Claim

    public init(
        kind: Attempt.Kind = .dispatch, remediation: Remediation, attempt: Int, attemptID: Int64, request: Result<RenderedRequest, DispatchRefusal>,
        claim: Claim
    ) {
        self.kind = kind
        self.remediation = remediation
        self.attempt = attempt
        self.attemptID = attemptID
        self.request = request
        self.claim = claim
    }

    public var id: Int64 { remediation.id }

    /// The batch its remediation last went in, when a retry or a recovery left it to go again with
    /// the same members (`Remediation.batchKey`).
    public var batchKey: String? { remediation.batchKey }

    /// The idempotency key this claim sends with (the revert's own for a revert).
    public var idempotencyKey: String { kind == .revert ? remediation.revertIdempotencyKey : remediation.idempotencyKey }
}

/// How one dispatch attempt ended, for `RemediationQueue.finish`.
public struct AttemptReport: Sendable, Equatable {
    /// What happens to the remediation next.
    public enum Result: Sendable, Equatable {
        /// The endpoint accepted it: `dispatched`.
        case dispatched
        /// A failure that may pass: `approved` again, due at this time.
        case retry(at: Timestamp)
        /// A failure for good: `failed`.
        case failed
    }

    public var result: Result
    /// HTTP status or exit status.
    public var status: Int?
    /// What went wrong.
    public var error: String?
    /// The start of the response body or command output.
    public var response: String
    /// How long the attempt took, in milliseconds.
    public var durationMs: Int
    /// The batch the attempt went in (its idempotency key); nil when sent alone. A retry keeps it on
    /// the remediation, so the members go again together.
    public var batchKey: String?
    /// The end of a command's stderr, nil for none (kept on the attempt: `Attempt.stderr`).
    public var stderr: String?

    public init(
        result: Result, status: Int? = nil, error: String? = nil, response: String = "", durationMs: Int = 0, batchKey: String? = nil,
        stderr: String? = nil
    ) {
        self.result = result
        self.status = status
        self.error = error
        self.response = response
        self.durationMs = durationMs
        self.batchKey = batchKey
        self.stderr = stderr
    }
}

/// One claim and how its attempt ended, for `RemediationQueue.finish(_:config:at:)`.
public struct FinishedAttempt: Sendable, Equatable {
    public var claim: DispatchClaim
    public var report: AttemptReport

    public init(_ claim: DispatchClaim, _ report: AttemptReport) {
        self.claim = claim
        self.report = report
    }
}

/// How many due remediations a dispatcher claims at once, per action: it takes only what it can
/// send soon (free places in flight, tokens of its rate limit, a closed circuit).
public struct ClaimQuota: Sendable, Equatable {
    /// Most claims per action name (0 or absent: none of that action, unless `others` covers it).
    public var actions: [String: Int]
    /// Most claims in all of the actions not named in `actions` (an action no longer configured is
    /// claimed this way, so that it can be failed with a clear error).
    public var others: Int

    public init(actions: [String: Int] = [:], others: Int = 0) {
        self.actions = actions
        self.others = others
    }

    /// Up to `limit` claims of any action.
    public static func any(_ limit: Int) -> ClaimQuota { ClaimQuota(others: limit) }
}
