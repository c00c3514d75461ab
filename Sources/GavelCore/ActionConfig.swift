/// A configured action: what a remediation does when dispatched, and on what kind of target.
///
/// The three built-in actions always exist (`builtInActions(outboxPath:)`); a config may
/// redefine them or add others. Rendering an action for one target gives the exact
/// `RenderedRequest` the dispatcher sends (`ActionConfig+Rendering.swift`).
public struct ActionConfig: Sendable, Equatable {
    /// The action's name (`ban-ip`, …): 1–64 characters of `[A-Za-z0-9._-]`, starting alphanumeric.
    public var name: String
    /// What the action acts on.
    public var target: TargetKind
    /// Whether sending it twice has the effect of sending it once. A dispatch interrupted by
    /// a crash is re-sent only for idempotent actions. Default true (false for `delete-security-group`).
    public var idempotent: Bool
    /// Whether the console asks for an explicit confirmation before approving. Default false
    /// (true for `delete-security-group`).
    public var confirm: Bool
    /// How it is dispatched.
    public var kind: ActionKind
    /// A regular expression the whole target must match, replacing the default check for
    /// the target kind (adding to it for `ip`); see `TargetValidator`.
    public var targetPattern: String?
    /// How a dispatched remediation is undone (same shapes as `kind`; its templates may use
    /// `{{response.json.PATH}}` from the dispatch's response); nil: gavel cannot undo it by itself.
    public var revert: ActionKind?
    /// How long a dispatched remediation stays in force before its revert is sent, in
    /// milliseconds; nil: permanent (the default). Needs `revert`.
    public var durationMs: Int64?
    /// True when the action cannot be undone at all (built in for `delete-security-group`): a
    /// revert of it is refused with a clear message. An action without a revert is not
    /// irreversible, merely not undone by gavel.
    public var irreversible: Bool
    /// How the duration grows for a target remediated before; nil: no escalation.
    public var escalation: Escalation?
    /// A delay between the approval and the dispatch, in milliseconds, during which the approval
    /// can be withdrawn (`gavel withdraw`); nil: none.
    public var graceMs: Int64?
    /// Whether a new signal for a target in force extends its expiry (restarts its duration).
    /// Default true.
    public var extendOnRepeat: Bool
    /// How many different analysts must approve it (the two-person rule). Default 1; 2 for an
    /// irreversible action. Auto mode never counts as one.
    public var approvals: Int
    /// How long a proposal may stay pending before it `expired`s, in milliseconds; nil: forever.
    public var pendingTTLMs: Int64?
    /// How many requests of this action (and its reverts) one dispatcher process keeps in flight
    /// at once, 1…256. Default 8 (`defaultConcurrency`).
    public var concurrency: Int
    /// The most requests per period (a token bucket per dispatcher process); nil: no limit.
    public var rate: RateLimit?
    /// When the action's circuit opens and for how long. Default 5 failures, 30 s.
    public var circuit: CircuitSettings
    /// Many remediations per request; nil: one request per remediation (the default).
    public var batch: BatchSettings?

    public init(
        name: String, target: TargetKind, idempotent: Bool = true, confirm: Bool = false, kind: ActionKind, targetPattern: String? = nil,
        revert: ActionKind? = nil, durationMs: Int64? = nil, irreversible: Bool = false, escalation: Escalation? = nil, graceMs: Int64? = nil,
        extendOnRepeat: Bool = true, approvals: Int? = nil, pendingTTLMs: Int64? = nil, concurrency: Int = ActionConfig.defaultConcurrency,
        rate: RateLimit? = nil, circuit: CircuitSettings = CircuitSettings(), batch: BatchSettings? = nil
    ) {
        self.name = name
        self.target = target
        self.idempotent = idempotent
        self.confirm = confirm
        self.kind = kind
        self.targetPattern = targetPattern
        self.revert = revert
        self.durationMs = durationMs
        self.irreversible = irreversible
        self.escalation = escalation
        self.graceMs = graceMs
        self.extendOnRepeat = extendOnRepeat
        self.approvals = approvals ?? (irreversible ? 2 : 1)
        self.pendingTTLMs = pendingTTLMs
        self.concurrency = concurrency
        self.rate = rate
        self.circuit = circuit
        self.batch = batch
    }

    /// The names of the built-in actions and what they act on.
    public static let builtInTargets: [(name: String, target: TargetKind)] = [
        ("ban-ip", .ip), ("disable-user", .user), ("delete-security-group", .securityGroup),
    ]

    /// `ban-ip` (ip), `disable-user` (user) and `delete-security-group` (security_group,
    /// not idempotent, needs confirmation), each appending to the outbox at `outboxPath`
    /// with the default headers and body.
    public static func builtInActions(outboxPath: String) -> [String: ActionConfig] {
        var actions: [String: ActionConfig] = [:]
        for (name, target) in builtInTargets {
            actions[name] = builtIn(name: name, target: target, outboxPath: outboxPath)
        }
        return actions
    }

    /// The built-in definition of `name` acting on `target`, as an outbox action.
    static func builtIn(name: String, target: TargetKind, outboxPath: String) -> ActionConfig {
        let destructive = target == .securityGroup
        let outbox = OutboxTemplate(path: outboxPath, headers: HeaderTemplate.defaults(hasBody: true), body: defaultBody(target: target))
        return ActionConfig(
            name: name, target: target, idempotent: !destructive, confirm: destructive, kind: .outbox(outbox), irreversible: destructive)
    }

    /// The body sent when an action configures none:
    /// `{"action","target","kind","signal_id","rule","rule_id","severity","decided_by","remediation_id","idempotency_key"}`,
    /// with `kind` the target kind's name.
    public static func defaultBody(target: TargetKind) -> JSONTemplate {
        let fields: [(String, String)] = [
            ("action", "{{action}}"), ("target", "{{target}}"), ("kind", target.rawValue),
            ("signal_id", "{{signal_id}}"), ("rule", "{{rule_name}}"), ("rule_id", "{{rule_id}}"),
            ("severity", "{{severity}}"), ("decided_by", "{{decided_by}}"),
            ("remediation_id", "{{remediation_id}}"), ("idempotency_key", "{{idempotency_key}}"),
        ]
        let value = JSONValue.object(fields.map { JSONMember($0.0, .string($0.1)) })
        // The default body's placeholders are all known, so this cannot fail.
        return (try? JSONTemplate(value, field: "")) ?? JSONTemplate(checkedValue: value)
    }
}

/// How an action is dispatched.
public enum ActionKind: Sendable, Equatable {
    /// An HTTP request (gavel's own HTTP/1.1 client for `http://`, FoundationNetworking for `https://`), redirects not followed.
    case http(HTTPTemplate)
    /// A local program run without a shell, one argv element per template element.
    case command(CommandTemplate)
    /// One JSON line appended to a local file: the request an HTTP action would send.
    case outbox(OutboxTemplate)
}

/// The HTTP request an `http` action sends.
public struct HTTPTemplate: Sendable, Equatable {
    /// Upper-case method token. Default `POST`.
    public var method: String
    /// An http(s) URL; placeholders only after the host (path, query, fragment), where
    /// values are percent-encoded.
    public var url: Template
    /// Header fields in order; values are rendered raw and refused if they hold CR, LF or NUL.
    public var headers: [HeaderTemplate]
    /// The JSON body; nil = no body.
    public var body: JSONTemplate?
    /// Deadline for the whole exchange, in seconds. Default 10.
    public var timeoutSeconds: Double
    /// Retries after a retryable failure (network error, 408, 429, 5xx), at least. Default 5.
    public var retries: Int
    /// How long after the first attempt retryable failures are still retried, in seconds
    /// (`retry_for`), however many retries that takes. Default 900 (15 minutes).
    public var retryForSeconds: Double

    public init(
        method: String = "POST", url: Template, headers: [HeaderTemplate], body: JSONTemplate?, timeoutSeconds: Double = 10, retries: Int = 5,
        retryForSeconds: Double = HTTPTemplate.defaultRetryForSeconds
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
        self.retries = retries
        self.retryForSeconds = retryForSeconds
    }

    /// The default `retry_for` of an `http` action: 15 minutes (900 s), so an API outage of
    /// minutes does not lose a ban (issue 16: `retries: 3` gave up after about 5 s).
    public static let defaultRetryForSeconds = 900.0
}

/// One header field of an action: a literal name and a value template.
public struct HeaderTemplate: Sendable, Equatable {
    public var name: String
    public var value: Template

    public init(name: String, value: Template) {
        self.name = name
        self.value = value
    }

    /// The headers added unless configured (names compared ignoring case), after the configured
    /// ones: `Content-Type: application/json` when there is a body,
    /// `Idempotency-Key: {{idempotency_key}}` (the IETF httpapi idempotency-key header draft), and
    /// — for an `http` action, not in an outbox line — `User-Agent: gavel/VERSION` (`HTTPDispatchRequest.userAgent`).
    static func defaults(hasBody: Bool, userAgent: Bool = false) -> [HeaderTemplate] {
        var headers: [HeaderTemplate] = []
        if hasBody { headers.append(HeaderTemplate(name: "Content-Type", value: Template(literal: "application/json"))) }
        headers.append(
            HeaderTemplate(name: "Idempotency-Key", value: Template(checkedText: "{{idempotency_key}}", segments: [.placeholder(.idempotencyKey)])))
        if userAgent { headers.append(HeaderTemplate(name: "User-Agent", value: Template(literal: HTTPDispatchRequest.userAgent))) }
        return headers
    }
}

/// The program a `command` action runs.
public struct CommandTemplate: Sendable, Equatable {
    /// Program (an absolute path, no placeholders) and argument templates; each renders to
    /// exactly one argv element.
    public var argv: [Template]
    /// Seconds before the process group is killed. Default 30.
    public var timeoutSeconds: Double
    /// Retries after a failed run (non-zero exit, timeout), at least. Default 0.
    public var retries: Int
    /// How long after the first attempt failed runs are still retried, in seconds (`retry_for`).
    /// Default 0: by count only.
    public var retryForSeconds: Double
    /// The child's `PATH` (`path`). Default `/usr/bin:/bin`.
    public var path: String
    /// Variables the child gets from gavel's environment (`pass_env`): names, or prefixes ending
    /// in `*`. Default none: the child gets only `PATH` and `GAVEL_IDEMPOTENCY_KEY`.
    public var passEnvironment: [String]

    public init(
        argv: [Template], timeoutSeconds: Double = 30, retries: Int = 0, retryForSeconds: Double = 0,
        path: String = CommandDispatchRequest.defaultPath, passEnvironment: [String] = []
    ) {
        self.argv = argv
        self.timeoutSeconds = timeoutSeconds
        self.retries = retries
        self.retryForSeconds = retryForSeconds
        self.path = path
        self.passEnvironment = passEnvironment
    }
}

/// Where an `outbox` action appends, and the request it records.
public struct OutboxTemplate: Sendable, Equatable {
    /// The outbox file (JSON Lines).
    public var path: String
    /// Headers recorded in the line, as an HTTP action would send them.
    public var headers: [HeaderTemplate]
    /// The body recorded in the line; nil = `null`.
    public var body: JSONTemplate?

    public init(path: String, headers: [HeaderTemplate], body: JSONTemplate?) {
        self.path = path
        self.headers = headers
        self.body = body
    }
}
