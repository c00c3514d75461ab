/// Normalization of CrowdSec's `http` notification plugin bodies.
///
/// With the plugin's default `format: {{.|toJson}}` the body is a JSON array of CrowdSec
/// `models.Alert` objects (crowdsecurity/crowdsec `pkg/models/alert.go`): `scenario`,
/// `scenario_hash`, `scenario_version`, `message`, `events_count`, `start_at`, `stop_at`,
/// `capacity`, `leakspeed`, `simulated`, `remediation`, `source` (`scope`, `value`, `ip`,
/// `range`, `as_name`, `as_number`, `cn`, …), `decisions` (each `duration`, `origin`,
/// `scenario`, `scope`, `type`, `value`; may be empty or null), `events`, `labels`, and
/// optionally `id`, `uuid`, `machine_id`, `created_at`. A single alert object is accepted too.
///
/// One signal per alert:
/// - id: `uuid` when sent, else `derived-` + 32 hex digits of SHA-256 of the alert's compact
///   JSON (a retried post derives the same id). rule: `scenario`; title: `message`;
///   eventCount: `events_count`; firstSeen / lastSeen: `start_at` / `stop_at`.
/// - targets, from `source` whatever `decisions` holds: scope `Ip` → `source.ip` (else
///   `source.value`); scope `Range` → `source.range` (else `value`) as a target range. The
///   decisions' values on scope `Ip` / `Range` are targets too. For scope `Ip`, `source.range`
///   (the address's network, as CrowdSec's GeoIP enrichment reports it) is not a target; it
///   stays in the attributes with `as_name`, `as_number` and `cn`.
/// - suggestedDurationSeconds: the longest decision `duration` (Go syntax, `GoDuration`).
/// - `simulated` true flags `simulated`.
enum CrowdSecAlert {
    static func signals(_ root: JSONValue, body: [UInt8]) throws(PayloadError) -> [Signal] {
        switch root {
        case .array(let alerts):
            guard !alerts.isEmpty else { return [SenderIntake.unrecognised(body: body, source: SenderFormat.crowdsec.source, attributes: root)] }
            try SenderIntake.checkAlertCount(alerts.count)
            return alerts.map { signal($0) }
        case .object:
            return [signal(root)]
        default:
            throw .unexpectedJSON(expected: "a JSON array of CrowdSec alerts", found: root.typeName)
        }
    }

    /// True for an object shaped like a CrowdSec alert: a `scenario` and a `source` object.
    static func isAlert(_ value: JSONValue) -> Bool {
        guard case .object? = value["source"] else { return false }
        return SignalDraft.text(value["scenario"]) != nil
    }

    private static func signal(_ alert: JSONValue) -> Signal {
        var draft = SignalDraft(source: SenderFormat.crowdsec.source)
        draft.setID(SignalDraft.text(alert["uuid"])) { Array(alert.compactText.utf8) }
        guard case .object = alert else { return draft.finish() }
        var s = draft.signal
        s.ruleName = SignalDraft.text(alert["scenario"])
        s.title = SignalDraft.text(alert["message"])
        s.eventCount = SignalDraft.text(alert["events_count"]).flatMap { Int($0) }
        s.firstSeen = SignalDraft.text(alert["start_at"])
        s.lastSeen = SignalDraft.text(alert["stop_at"])
        s.attributes = alert
        draft.signal = s
        if alert["simulated"] == .bool(true) { draft.flag(.simulated) }

        if let source = alert["source"] {
            let scope = SignalDraft.text(source["scope"])?.lowercased()
            let value = SignalDraft.text(source["value"])
            switch scope {
            case "ip":
                (SignalDraft.text(source["ip"]) ?? value).map { draft.targetIP($0) }
            case "range":
                (SignalDraft.text(source["range"]) ?? value).map { addRange($0, into: &draft) }
            default:
                break
            }
        }
        var longest: Int64?
        if case .array(let decisions)? = alert["decisions"] {
            for decision in decisions.prefix(SignalPayload.maxListCount) {
                let value = SignalDraft.text(decision["value"])
                switch SignalDraft.text(decision["scope"])?.lowercased() {
                case "ip": value.map { draft.targetIP($0) }
                case "range": value.map { addRange($0, into: &draft) }
                default: break
                }
                if let seconds = SignalDraft.text(decision["duration"]).flatMap({ GoDuration.seconds($0) }), seconds >= 0 {
                    longest = max(longest ?? 0, seconds)
                }
            }
        }
        draft.signal.suggestedDurationSeconds = longest.flatMap { Int(exactly: $0) }
        return draft.finish()
    }

    /// A range target; a value that is not a CIDR range is kept as an invalid IP.
    private static func addRange(_ text: String, into draft: inout SignalDraft) {
        if let range = CIDR(parsing: text) {
            draft.range(range)
        } else {
            draft.targetIP(text)
        }
    }
}
