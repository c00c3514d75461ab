/// Normalization of Prometheus Alertmanager and Grafana alerting webhook bodies.
///
/// Format (Alertmanager `webhook_config`, payload `version` "4"; Grafana's webhook contact point
/// sends the same shape with `version` "1" plus `orgId`, `title`, `state`, `message`, and per
/// alert `values`, `valueString`, `silenceURL`, `dashboardURL`, `panelURL`):
///
///     {"version":"4","groupKey":…,"truncatedAlerts":0,"status":"firing|resolved","receiver":…,
///      "groupLabels":{…},"commonLabels":{…},"commonAnnotations":{…},"externalURL":…,
///      "alerts":[{"status":"firing|resolved","labels":{…},"annotations":{…},
///                 "startsAt":RFC3339,"endsAt":RFC3339,"generatorURL":…,"fingerprint":…}]}
///
/// One signal per alert:
/// - id: `fingerprint:startsAt` (the fingerprint identifies a label set, not one firing; a
///   later firing of the same labels starts at another time). A missing fingerprint is derived
///   from the labels exactly as Alertmanager computes it (`labelSetToFingerprint`: FNV-1a 64
///   over the sorted names and values, each followed by byte 0xFF, printed as 16 hex digits),
///   flagged `derivedID`. A resolved notification of a firing alert has the same id: it is a
///   later delivery of the same signal, now resolved.
/// - rule: the `alertname` label; severity: the severity label (`Severity(label:)`).
/// - title: the `summary` annotation (else `title`); message: `description` (else `message`).
/// - link: `generatorURL`; firstSeen: `startsAt`; lastSeen: `endsAt` unless it is the zero
///   time `0001-01-01T00:00:00Z` Alertmanager sends for a firing alert.
/// - status: the alert's `status` (else the notification's); `resolved` proposes nothing.
/// - entities from the labels named in `LabelSenderSettings`: target IPs, users and security
///   groups; context addresses (`instance` by default: the monitored host is never a target).
/// - attributes: the alert object as sent.
/// At most `SenderIntake.maxLabelsPerAlert` labels of an alert are read (flag `entitiesTruncated`).
enum AlertmanagerWebhook {
    static func signals(_ root: JSONValue, body: [UInt8], sender: SenderFormat, settings: LabelSenderSettings) throws(PayloadError)
        -> [Signal]
    {
        guard case .object = root else {
            throw .unexpectedJSON(expected: "a JSON object (\(sender.source) webhook notification)", found: root.typeName)
        }
        guard case .array(let alerts)? = root["alerts"], !alerts.isEmpty else {
            return [SenderIntake.unrecognised(body: body, source: sender.source, attributes: root)]
        }
        try SenderIntake.checkAlertCount(alerts.count)
        let notificationResolved = SignalDraft.text(root["status"]) == "resolved"
        return alerts.map { alert in
            signal(alert, sender: sender, settings: settings, notificationResolved: notificationResolved)
        }
    }

    private static func signal(_ alert: JSONValue, sender: SenderFormat, settings: LabelSenderSettings, notificationResolved: Bool) -> Signal {
        var draft = SignalDraft(source: sender.source)
        var labels: [JSONMember] = []
        if case .object(let members)? = alert["labels"] {
            labels = Array(members.prefix(SenderIntake.maxLabelsPerAlert))
            if members.count > labels.count { draft.flag(.entitiesTruncated) }
        }
        func label(_ name: String) -> String? { SignalDraft.text(labels.last(where: { $0.key == name })?.value) }

        let startsAt = SignalDraft.text(alert["startsAt"])
        var fingerprint = SignalDraft.text(alert["fingerprint"])
        if fingerprint == nil, !labels.isEmpty {
            fingerprint = labelFingerprint(labels)
            draft.flag(.derivedID)
        }
        let id = fingerprint.map { fp in startsAt.map { fp + ":" + $0 } ?? fp }
        draft.setID(id) { Array(alert.compactText.utf8) }

        var s = draft.signal
        s.ruleName = label("alertname")
        s.severity = label(settings.severityLabel).flatMap { Severity(label: $0) }
        let annotations = alert["annotations"]
        s.title = SignalDraft.text(annotations?["summary"]) ?? SignalDraft.text(annotations?["title"])
        s.message = SignalDraft.text(annotations?["description"]) ?? SignalDraft.text(annotations?["message"])
        s.link = SignalDraft.text(alert["generatorURL"])
        s.firstSeen = startsAt
        s.lastSeen = SignalDraft.text(alert["endsAt"]).flatMap { $0.hasPrefix("0001-01-01") ? nil : $0 }
        let status = SignalDraft.text(alert["status"])
        s.status = status == "resolved" || (status == nil && notificationResolved) ? .resolved : .firing
        s.attributes = alert
        draft.signal = s

        for name in settings.ipLabels { label(name).map { draft.targetIP($0) } }
        for name in settings.userLabels { label(name).map { draft.user($0) } }
        for name in settings.resourceLabels { label(name).map { draft.securityGroup($0) } }
        for name in settings.contextLabels { label(name).map { draft.contextAddress($0) } }
        return draft.finish()
    }

    /// Alertmanager's fingerprint of a label set (prometheus/common `model.labelSetToFingerprint`):
    /// FNV-1a 64 over the label names sorted bytewise, each name and value followed by 0xFF;
    /// printed as 16 lowercase hex digits (`Fingerprint.String`).
    static func labelFingerprint(_ labels: [JSONMember]) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        func add(_ bytes: some Sequence<UInt8>) {
            for b in bytes {
                hash ^= UInt64(b)
                hash = hash &* 1_099_511_628_211
            }
        }
        let sorted = labels.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
        for member in sorted {
            add(member.key.utf8)
            add([0xFF])
            add((member.value.scalarText ?? "").utf8)
            add([0xFF])
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
