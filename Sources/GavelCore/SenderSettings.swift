/// Per-sender settings: the config file's `senders` section (field reference:
/// `docs/configuration.md`, sender setup: `docs/senders.md`).
///
/// Datadog, GuardDuty and CrowdSec need none: their formats say which entity is which.
/// Alertmanager and Grafana alerts carry free-form labels, so which labels name a target and
/// which name context is configurable (with safe defaults); a generic sender is nothing but
/// its field paths.
public struct SenderSettings: Sendable, Equatable {
    /// `senders.alertmanager`: labels of Prometheus Alertmanager alerts.
    public var alertmanager: LabelSenderSettings
    /// `senders.grafana`: labels of Grafana alerts.
    public var grafana: LabelSenderSettings
    /// `senders.generic`: generic JSON senders by name (the NAME of `/webhook/generic/NAME`).
    public var generic: [String: GenericSender]

    /// The defaults: `LabelSenderSettings()` for both label senders, no generic sender.
    public init(
        alertmanager: LabelSenderSettings = LabelSenderSettings(), grafana: LabelSenderSettings = LabelSenderSettings(),
        generic: [String: GenericSender] = [:]
    ) {
        self.alertmanager = alertmanager
        self.grafana = grafana
        self.generic = generic
    }
}

/// Which labels of an Alertmanager or Grafana alert name targets and which name context.
///
/// A label's value may be an address, `host:port`, `[v6]:port` or a URL (`scheme://host[:port]/…`):
/// the host part is used. Target IP labels whose host is not an IP address are kept in
/// `Signal.invalidIPs` (never resolved, never targets). A label listed nowhere is only shown
/// (it stays in the signal's attributes).
public struct LabelSenderSettings: Sendable, Equatable {
    /// The default target IP labels: `src_ip`, `source_ip`, `client_ip`, `remote_addr`, `remote_ip`.
    public static let defaultIPLabels = ["src_ip", "source_ip", "client_ip", "remote_addr", "remote_ip"]
    /// The default target user labels: `user`, `username`.
    public static let defaultUserLabels = ["user", "username"]
    /// The default context labels: `instance` (the monitored host: never a target), `host`,
    /// `hostname`, `node`.
    public static let defaultContextLabels = ["instance", "host", "hostname", "node"]

    /// `ip_labels`: labels whose value is an IP address to ban (a target).
    public var ipLabels: [String]
    /// `user_labels`: labels whose value is a user id to disable (a target).
    public var userLabels: [String]
    /// `resource_labels`: labels whose value is a security-group id to delete (a target). Default none.
    public var resourceLabels: [String]
    /// `context_labels`: labels naming the monitored host (addresses become `contextIPs`,
    /// names `contextHosts`): never targets.
    public var contextLabels: [String]
    /// `severity_label`: the label holding the severity. Default `severity`.
    public var severityLabel: String

    public init(
        ipLabels: [String] = LabelSenderSettings.defaultIPLabels, userLabels: [String] = LabelSenderSettings.defaultUserLabels,
        resourceLabels: [String] = [], contextLabels: [String] = LabelSenderSettings.defaultContextLabels, severityLabel: String = "severity"
    ) {
        self.ipLabels = ipLabels
        self.userLabels = userLabels
        self.resourceLabels = resourceLabels
        self.contextLabels = contextLabels
        self.severityLabel = severityLabel
    }
}

/// A generic JSON sender: a name and the field paths that find each part of a signal in its
/// body (`senders.generic.NAME`), for Elastic Security's webhook connector and any other sender
/// whose body the operator writes.
///
/// When `alerts` is set, it names an array in the body and each element is one alert (one
/// signal); otherwise a JSON array body is a list of alerts and an object body is one alert.
/// Every other path is looked up in the alert first and, when `alerts` split the body, in the
/// whole body next (so a rule name given once beside the alert list applies to each alert).
public struct GenericSender: Sendable, Equatable {
    /// The sender's name: the NAME of `/webhook/generic/NAME` and the signals' `source`.
    public var name: String
    /// `alerts`: the array of alerts in the body; nil = the body is the alert (or the list).
    public var alerts: FieldPath?
    /// `id`: the alert's id. Missing → `derived-` + 32 hex digits of SHA-256 of the alert.
    public var id: FieldPath?
    /// `rule`: the detection rule's name.
    public var rule: FieldPath?
    /// `rule_id`: the detection rule's id.
    public var ruleID: FieldPath?
    /// `severity`: a word (`critical`, `high`, `error`, `warning`, `medium`, `low`, `info`, …) or 0–4.
    public var severity: FieldPath?
    /// `severity_map`: sender values → severities, tried before the words (exact match).
    public var severityMap: [String: Severity]
    /// `title`: the alert's one-line title.
    public var title: FieldPath?
    /// `message`: the alert's longer description.
    public var message: FieldPath?
    /// `link`: a URL to the alert in the sender's UI.
    public var link: FieldPath?
    /// `status`: the alert's status; a value in `resolvedValues` marks the signal resolved.
    public var status: FieldPath?
    /// `resolved_values`: status values meaning resolved (compared ignoring ASCII case).
    /// Default `["resolved"]`.
    public var resolvedValues: [String]
    /// `ips`: target addresses (each path may hold a string or an array of strings).
    public var ips: [FieldPath]
    /// `users`: target user ids.
    public var users: [FieldPath]
    /// `resources`: target security-group ids.
    public var resources: [FieldPath]
    /// `context_ips`: addresses shown as context, never targets.
    public var contextIPs: [FieldPath]
    /// `context_hosts`: host names shown as context.
    public var contextHosts: [FieldPath]
    /// `context_resources`: resource ids shown as context.
    public var contextResources: [FieldPath]

    /// A sender with no paths (every signal of it would be flagged `unrecognised`).
    public init(name: String) {
        self.name = name
        severityMap = [:]
        resolvedValues = ["resolved"]
        ips = []
        users = []
        resources = []
        contextIPs = []
        contextHosts = []
        contextResources = []
    }

    /// True for 1–64 characters of `A–Z a–z 0–9 _ -` (the route segment and the `source`).
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D
            }
    }
}
