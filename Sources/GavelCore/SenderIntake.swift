/// Normalization of every sender's webhook body into `Signal`s: the one entry point the
/// receiver calls for `/webhook` and each `/webhook/…` route (DESIGN.md, "HTTP").
///
/// | sender | format | one signal per | details |
/// | --- | --- | --- | --- |
/// | Datadog | JSON object or form | post | `SignalPayload` |
/// | Alertmanager, Grafana | JSON object with `alerts` | alert | `AlertmanagerWebhook` |
/// | GuardDuty | EventBridge event, finding, `{"Findings":[…]}` or an array | finding | `GuardDutyFinding` |
/// | CrowdSec | JSON array of alerts (or one alert object) | alert | `CrowdSecAlert` |
/// | generic NAME | JSON, read with the configured field paths | alert | `GenericPayload` |
///
/// Shared rules:
/// - The result is never empty. A body with no alert in it (an empty `alerts` list, an object
///   that is not a GuardDuty finding), or a signal from which no rule and no entity could be
///   read, is returned flagged `unrecognised` (with a derived id) so the store can keep and
///   count it instead of passing it off as an empty Datadog signal.
/// - Every signal carries `source`; a resolved alert carries `status` `.resolved` and proposes nothing.
/// - At most `maxAlertsPerPost` alerts per post (more is an error naming the limit), at most
///   `maxLabelsPerAlert` labels read per alert and `SignalPayload.maxListCount` values per
///   entity list (flag `entitiesTruncated`); ids longer than `SignalPayload.maxSignalIDBytes`
///   are replaced by derived ones (flag `signalIDTooLong`).
/// - Strings are kept as sent: sanitizing for display happens where they are displayed, and
///   escaping where they are rendered.
public enum SenderIntake {
    /// The most alerts (findings, CrowdSec alerts, generic alerts) accepted in one post.
    public static let maxAlertsPerPost = 1000
    /// The most labels of one Alertmanager or Grafana alert that are read.
    public static let maxLabelsPerAlert = 256

    /// Normalizes one webhook body into its signals (rules in the type summary).
    ///
    /// - Parameters:
    ///   - body: The raw request body.
    ///   - format: From the request's `Content-Type`. Form bodies are Datadog's only.
    ///   - sender: The route's sender (`WebhookRoute.sender`); nil for plain `/webhook`, where
    ///     the format is recognised by shape (`recognise(_:)`).
    ///   - settings: The config's `senders` section (label names, generic senders).
    /// - Returns: One or more signals, in the body's order.
    /// - Throws: `PayloadError.notUTF8`, `.invalidJSON` (strict RFC 8259, depth
    ///   `SignalPayload.maxDepth`), `.badFormEncoding`; `.notAnObject` for a Datadog body that is
    ///   not an object; `.unexpectedJSON` for another sender's body of the wrong JSON type;
    ///   `.tooManyAlerts` above `maxAlertsPerPost`; `.unknownSender` for a generic sender that is
    ///   not configured; `.unsupportedFormat` for a form body on another sender's route.
    public static func signals(body: [UInt8], format: PayloadFormat, sender: SenderFormat?, settings: SenderSettings = SenderSettings())
        throws(PayloadError) -> [Signal]
    {
        if case .generic(let name)? = sender, settings.generic[name] == nil { throw .unknownSender(name) }
        if let bad = UTF8Validation.firstInvalidOffset(body) { throw .notUTF8(offset: bad) }
        if case .form = format {
            if let sender, sender != .datadog { throw .unsupportedFormat(sender: sender.source) }
            return [try SignalPayload.decode(body: body, format: .form)]
        }
        let root: JSONValue
        do { root = try JSONValue.parse(body, maxDepth: SignalPayload.maxDepth) } catch { throw .invalidJSON(error) }
        switch sender ?? recognise(root) {
        case .datadog:
            return [try SignalPayload.decode(json: root, body: body)]
        case .alertmanager:
            return try AlertmanagerWebhook.signals(root, body: body, sender: .alertmanager, settings: settings.alertmanager)
        case .grafana:
            return try AlertmanagerWebhook.signals(root, body: body, sender: .grafana, settings: settings.grafana)
        case .guardduty:
            return try GuardDutyFinding.signals(root, body: body)
        case .crowdsec:
            return try CrowdSecAlert.signals(root, body: body)
        case .generic(let name):
            guard let generic = settings.generic[name] else { throw .unknownSender(name) }
            return try GenericPayload.signals(root, body: body, sender: generic)
        }
    }

    /// Recognises which sender a JSON body on plain `/webhook` comes from, by shapes no Datadog
    /// payload template produces; anything else is Datadog's.
    ///
    /// - `.guardduty`: an EventBridge event with `detail-type` "GuardDuty Finding" and `source`
    ///   "aws.guardduty"; a bare finding (`service.serviceName` "guardduty" with `type` and
    ///   `resource`); `{"Findings":[finding…]}`; an array whose first element is one of those.
    /// - `.crowdsec`: an array whose first element has a `scenario` and a `source` object.
    /// - `.grafana`: an object with an `alerts` array and `orgId`, or `version` "1" and a `groupKey`.
    /// - `.alertmanager`: an object with an `alerts` array and `version` "4" or a `groupKey` (no `orgId`).
    /// - `.datadog`: everything else (including every form body, which is not JSON).
    public static func recognise(_ json: JSONValue) -> SenderFormat {
        switch json {
        case .array(let items):
            guard let first = items.first else { return .datadog }
            if GuardDutyFinding.isEvent(first) || GuardDutyFinding.isFinding(first) { return .guardduty }
            if CrowdSecAlert.isAlert(first) { return .crowdsec }
            return .datadog
        case .object:
            if GuardDutyFinding.isEvent(json) || GuardDutyFinding.isFinding(json) { return .guardduty }
            if case .array(let findings)? = json["Findings"], let first = findings.first, GuardDutyFinding.isFinding(first) {
                return .guardduty
            }
            guard case .array? = json["alerts"] else { return .datadog }
            let version = SignalDraft.text(json["version"])
            let hasGroupKey = SignalDraft.text(json["groupKey"]) != nil
            if json["orgId"] != nil || (version == "1" && hasGroupKey) { return .grafana }
            if version == "4" || hasGroupKey { return .alertmanager }
            return .datadog
        default:
            return .datadog
        }
    }

    /// Throws `.tooManyAlerts` when `count` is above `maxAlertsPerPost`.
    static func checkAlertCount(_ count: Int) throws(PayloadError) {
        if count > maxAlertsPerPost { throw .tooManyAlerts(count: count, limit: maxAlertsPerPost) }
    }

    /// A signal for a body (or an element of one) in which no alert could be read: a derived id
    /// from `body`, flags `derivedID` and `unrecognised`, `attributes` the value as sent.
    static func unrecognised(body: [UInt8], source: String, attributes: JSONValue) -> Signal {
        var draft = SignalDraft(source: source)
        draft.setID(nil) { body }
        draft.signal.attributes = attributes
        return draft.finish()
    }
}
