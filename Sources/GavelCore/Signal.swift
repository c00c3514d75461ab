/// A security signal as gavel understands it: the normalized fields of one alert from a sender
/// (Datadog Cloud SIEM, Prometheus Alertmanager, Grafana, AWS GuardDuty, CrowdSec or a generic
/// JSON sender; see `SenderIntake`), named by `source`.
///
/// **Targets and context.** `ips`, `users` and `securityGroups` are *targets*: the planner turns
/// them into remediations. The `context…` lists name what the signal is about (the monitored
/// host, the attacked instance, its security groups and private addresses) for the analyst and
/// are never remediated. A `resolved` signal (`status`) proposes nothing.
///
/// For Datadog, field sources are the webhook variables: `SECURITY_SIGNAL_ID`, `SECURITY_RULE_NAME`,
/// `SECURITY_RULE_ID`, `SECURITY_RULE_TYPE`, `SECURITY_SIGNAL_SEVERITY`, `SECURITY_SIGNAL_TITLE`,
/// `SECURITY_SIGNAL_MSG`, `SECURITY_SIGNAL_ATTRIBUTES`, `SECURITY_RULE_MATCHED_QUERIES`
/// (older templates: `SECURITY_RULE_QUERY`), `SECURITY_RULE_GROUP_BY_FIELDS`, `ID`, `DATE`,
/// `LINK`, `TAGS`. Entities come from the attributes (see `SignalPayload`).
public struct Signal: Sendable, Equatable {
    /// Datadog's signal id as sent, or a derived id (`derived-` + the first 32 hex digits of
    /// SHA-256 of the raw body) when the payload had none, an unsubstituted `$SECURITY_SIGNAL_ID`,
    /// or one longer than 512 UTF-8 bytes.
    public var signalID: String
    /// The detection rule's name, if sent.
    public var ruleName: String?
    /// The detection rule's id, if sent.
    public var ruleID: String?
    /// The detection rule's type (`log_detection`, `signal_correlation`, …), if sent.
    public var ruleType: String?
    /// `SECURITY_SIGNAL_SEVERITY` (a word, or Datadog's 0–4 integer), nil when absent or unknown.
    public var severity: Severity?
    /// `SECURITY_SIGNAL_TITLE`, if sent.
    public var title: String?
    /// `SECURITY_SIGNAL_MSG` (the signal's message, often Markdown), if sent.
    public var message: String?
    /// `SECURITY_SIGNAL_ATTRIBUTES` as an object (parsed once if it arrived as a JSON string);
    /// when it was neither, the value as sent (flagged `attributesUnparsed`).
    public var attributes: JSONValue?
    /// `SECURITY_RULE_MATCHED_QUERIES` (or `SECURITY_RULE_QUERY`), one entry per query.
    public var matchedQueries: [String]
    /// `SECURITY_RULE_GROUP_BY_FIELDS`, one entry per field or value (`key:value` for an object).
    public var groupByFields: [String]
    /// The webhook's `ID` (the notification's event id), if sent.
    public var eventID: String?
    /// `DATE`: epoch milliseconds as the original digits (never rounded); nil unless all digits.
    public var date: String?
    /// `LINK`: the signal's page in Datadog.
    public var link: String?
    /// `TAGS`: the comma-separated string split and trimmed, empty entries dropped.
    public var tags: [String]
    /// Canonical client IPs from `network.client.ip`, de-duplicated in order.
    public var ips: [IPAddress]
    /// Values of `network.client.ip` that are not IP addresses (e.g. `AWS Internal`): kept, never targets.
    public var invalidIPs: [String]
    /// User ids: `usr.id`, else `usr.email`, else `usr.name`; de-duplicated in order.
    public var users: [String]
    /// `usr.email` values (context for the analyst).
    public var userEmails: [String]
    /// `usr.name` values (context for the analyst).
    public var userNames: [String]
    /// `evt.name`.
    public var eventName: String?
    /// `evt.outcome`.
    public var eventOutcome: String?
    /// Security-group ids from `requestParameters.groupId` / `responseElements.groupId`.
    public var securityGroups: [String]
    /// `userIdentity.arn` (CloudTrail): who made the change.
    public var actor: String?
    /// What was unusual about the payload.
    public var flags: [SignalFlag]

    /// The sender format (`datadog`, `alertmanager`, `grafana`, `guardduty`, `crowdsec`) or the
    /// generic sender's configured name. Default `datadog`.
    public var source: String = "datadog"
    /// Whether the sender reports the alert as still firing or as resolved (Alertmanager and
    /// Grafana `status`, a generic sender's `status` path). A resolved signal proposes nothing:
    /// check `isResolved` before planning. Default `firing`.
    public var status: SignalStatus = .firing
    /// Context addresses, canonical and de-duplicated (the monitored host of an Alertmanager
    /// alert's `instance`, a GuardDuty instance's private and public addresses): never targets.
    public var contextIPs: [IPAddress] = []
    /// Context host names (an `instance` label's host, an instance's DNS names): never targets.
    public var contextHosts: [String] = []
    /// Context resource ids (instance ids, access key ids, bucket and cluster names): never targets.
    public var contextResources: [String] = []
    /// Security groups named as context (a GuardDuty instance's groups): never deleted unless a
    /// rule's configuration says so; see `securityGroups` for groups that are targets.
    public var contextSecurityGroups: [String] = []
    /// Address ranges named as targets (a CrowdSec decision on a `Range` scope). No built-in
    /// action acts on ranges; they are shown to the analyst.
    public var ipRanges: [CIDR] = []
    /// The remediation's suggested duration in whole seconds (a CrowdSec decision's `duration`),
    /// or nil when the sender gave none.
    public var suggestedDurationSeconds: Int?
    /// How many events the sender counted behind this alert (GuardDuty `service.count`,
    /// CrowdSec `events_count`), or nil.
    public var eventCount: Int?
    /// When the alert started, as the sender wrote it (RFC 3339: Alertmanager `startsAt`,
    /// GuardDuty `service.eventFirstSeen`, CrowdSec `start_at`), or nil.
    public var firstSeen: String?
    /// When the alert last fired or ended, as the sender wrote it (Alertmanager `endsAt` when
    /// set, GuardDuty `service.eventLastSeen`, CrowdSec `stop_at`), or nil.
    public var lastSeen: String?

    /// True when the sender reported the alert resolved: the planner proposes nothing for it.
    public var isResolved: Bool { status == .resolved }

    /// The key a detection rule is known by: its id when sent, else its name, else `(unnamed rule)`.
    public var ruleKey: String { ruleID ?? ruleName ?? "(unnamed rule)" }

    /// An empty signal with the given id.
    public init(signalID: String) {
        self.signalID = signalID
        matchedQueries = []
        groupByFields = []
        tags = []
        ips = []
        invalidIPs = []
        users = []
        userEmails = []
        userNames = []
        securityGroups = []
        flags = []
    }
}

/// Something unusual about a payload that the analyst should know about.
public enum SignalFlag: String, Sendable, Equatable, CaseIterable {
    /// The payload had no `SECURITY_SIGNAL_ID` (or an unsubstituted `$SECURITY_SIGNAL_ID`): the id was derived.
    case derivedID = "derived_id"
    /// `SECURITY_SIGNAL_ATTRIBUTES` arrived as a string holding JSON (a quoted template variable).
    case attributesWereString = "attributes_string"
    /// Attributes were present but were not a JSON object (or a string holding one).
    case attributesUnparsed = "attributes_unparsed"
    /// A value of `network.client.ip` was not an IP address.
    case invalidIP = "invalid_ip"
    /// The body was `application/x-www-form-urlencoded`.
    case formEncoded = "form_encoded"
    /// A field held an unsubstituted template variable such as `$SECURITY_RULE_NAME`.
    case unsubstitutedVariable = "unsubstituted_variable"
    /// A list (IPs, users, groups, tags, queries, …) had more than 256 values; the rest were dropped.
    case entitiesTruncated = "entities_truncated"
    /// `SECURITY_SIGNAL_ID` was longer than 512 UTF-8 bytes, so the id was derived instead.
    case signalIDTooLong = "signal_id_too_long"
    /// `DATE` was sent but is not epoch milliseconds (not all digits, e.g. negative or a date
    /// string): the signal is never fresh for auto mode (`IntakePlan.isFresh`).
    case invalidDate = "invalid_date"
    /// No rule and no entity could be read from the payload: the signal is kept for the analyst
    /// (and counted) but is not a Datadog signal nor any sender's alert gavel understood.
    case unrecognised = "unrecognised"
    /// A GuardDuty sample finding (`service.additionalInfo.sample` true): processed like any other.
    case sampleFinding = "sample_finding"
    /// The sender ran the alert in simulation (CrowdSec `simulated` true): its own decisions were
    /// not applied.
    case simulated = "simulated"
    /// An address named as a target is also one of the monitored resource's own addresses (its
    /// `instance`, a GuardDuty instance's addresses): it was kept as context only.
    case targetWasContext = "target_was_context"
}

extension Signal {
    /// True when the signal names any target, invalid IP or context entity.
    var hasEntities: Bool {
        !ips.isEmpty || !invalidIPs.isEmpty || !users.isEmpty || !securityGroups.isEmpty || !ipRanges.isEmpty || !contextIPs.isEmpty
            || !contextHosts.isEmpty || !contextResources.isEmpty || !contextSecurityGroups.isEmpty || actor != nil
    }
}

/// Whether an alert is still firing or was resolved by its sender.
public enum SignalStatus: String, Sendable, Equatable, CaseIterable {
    /// Firing (the default, and every Datadog, GuardDuty and CrowdSec signal).
    case firing
    /// Resolved: recorded and shown, never proposes a remediation.
    case resolved
}
