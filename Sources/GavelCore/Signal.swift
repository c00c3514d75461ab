/// A security signal as gavel understands it: the normalized fields of one Datadog
/// security webhook delivery.
///
/// Field sources are Datadog's webhook variables: `SECURITY_SIGNAL_ID`, `SECURITY_RULE_NAME`,
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
}
