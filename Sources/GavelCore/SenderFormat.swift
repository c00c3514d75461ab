/// Which sender's format a webhook body is in. Each sender has its own route (DESIGN.md,
/// "HTTP"); a body on plain `/webhook` is recognised by its shape (`SenderIntake.recognise`).
public enum SenderFormat: Sendable, Hashable, CustomStringConvertible {
    /// Datadog Cloud SIEM's security webhook (`/webhook`, `/webhook/datadog`).
    case datadog
    /// Prometheus Alertmanager's webhook receiver, payload `version` "4" (`/webhook/alertmanager`).
    case alertmanager
    /// Grafana alerting's webhook contact point, payload `version` "1" (`/webhook/grafana`).
    case grafana
    /// AWS GuardDuty findings delivered by an EventBridge API destination, or bare findings
    /// (`/webhook/guardduty`).
    case guardduty
    /// CrowdSec's `http` notification plugin with its default `{{.|toJson}}` format (`/webhook/crowdsec`).
    case crowdsec
    /// A generic JSON sender declared under `senders.generic.NAME` in the config (`/webhook/generic/NAME`).
    case generic(String)

    /// The value of `Signal.source` for this format: the sender's name, or the generic sender's name.
    public var source: String {
        switch self {
        case .datadog: "datadog"
        case .alertmanager: "alertmanager"
        case .grafana: "grafana"
        case .guardduty: "guardduty"
        case .crowdsec: "crowdsec"
        case .generic(let name): name
        }
    }

    /// The built-in formats' source names, which a generic sender may not take.
    public static let builtInSources: Set<String> = ["datadog", "alertmanager", "grafana", "guardduty", "crowdsec"]

    /// `source`, with `generic:` before a generic sender's name.
    public var description: String {
        if case .generic(let name) = self { return "generic:\(name)" }
        return source
    }
}

/// The webhook route a request was posted to, read from the request target's path.
///
/// | path | route |
/// | --- | --- |
/// | `/webhook` | by shape: `SenderIntake.recognise` picks the format (Datadog unless clearly another's) |
/// | `/webhook/datadog` | `.datadog` |
/// | `/webhook/alertmanager`, `/webhook/grafana`, `/webhook/guardduty`, `/webhook/crowdsec` | that sender |
/// | `/webhook/generic/NAME` | `.generic(NAME)`; NAME as configured (`[A-Za-z0-9_-]`, 1–64) |
///
/// A trailing `/` is not accepted (the routes are exact), nor a query string (strip it first).
public struct WebhookRoute: Sendable, Equatable {
    /// The route's sender; nil for plain `/webhook` (recognised by shape).
    public var sender: SenderFormat?

    /// The route for `path`, or nil when `path` is not a webhook route (answer 404).
    public init?(path: String) {
        switch path {
        case "/webhook": sender = nil
        case "/webhook/datadog": sender = .datadog
        case "/webhook/alertmanager": sender = .alertmanager
        case "/webhook/grafana": sender = .grafana
        case "/webhook/guardduty": sender = .guardduty
        case "/webhook/crowdsec": sender = .crowdsec
        default:
            let prefix = "/webhook/generic/"
            guard path.hasPrefix(prefix) else { return nil }
            let name = String(path.dropFirst(prefix.count))
            guard GenericSender.isValidName(name) else { return nil }
            sender = .generic(name)
        }
    }

    /// A route for `sender` (nil = by shape).
    public init(sender: SenderFormat?) { self.sender = sender }
}
