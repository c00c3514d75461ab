/// Normalization of a generic JSON sender's body with the field paths of its `GenericSender`
/// configuration (see `GenericSender` for where the alerts and each path are looked up).
///
/// Per alert: id from `id` (else derived: `derived-` + 32 hex digits of SHA-256 of the raw body
/// when the body is the alert, of the alert's compact JSON when the body holds a list); rule,
/// rule id, title, message and link from the first scalar at their paths; severity from
/// `severity_map`, else `Severity(label:)`; status resolved when the `status` value is one of
/// `resolved_values` (ASCII case ignored); every scalar at the `ips`, `users` and `resources`
/// paths is a target, at the `context_…` paths context. Attributes: the alert as sent.
enum GenericPayload {
    static func signals(_ root: JSONValue, body: [UInt8], sender: GenericSender) throws(PayloadError) -> [Signal] {
        let alerts: [JSONValue]
        var whole: JSONValue?
        if let path = sender.alerts {
            alerts = path.values(in: root, limit: .max)
            whole = root
        } else if case .array(let items) = root {
            alerts = items
        } else {
            return [signal(root, shared: [:], sender: sender, derivedFrom: body)]
        }
        guard !alerts.isEmpty else { return [SenderIntake.unrecognised(body: body, source: sender.name, attributes: root)] }
        try SenderIntake.checkAlertCount(alerts.count)
        // What each path finds beside the alerts is the same for every alert: look it up once.
        var shared: [FieldPath: [String]] = [:]
        if let whole {
            for path in sender.allPaths where shared[path] == nil {
                shared[path] = path.values(in: whole).flatMap { SignalDraft.texts($0) }
            }
        }
        return alerts.map { signal($0, shared: shared, sender: sender, derivedFrom: Array($0.compactText.utf8)) }
    }

    /// One alert's signal; `shared` holds each path's values found beside the alert list.
    private static func signal(_ alert: JSONValue, shared: [FieldPath: [String]], sender: GenericSender, derivedFrom bytes: [UInt8]) -> Signal {
        func values(_ path: FieldPath) -> [String] {
            let here = path.values(in: alert).flatMap { SignalDraft.texts($0) }
            return here.isEmpty ? shared[path] ?? [] : here
        }
        func first(_ path: FieldPath?) -> String? { path.flatMap { values($0).first } }
        func all(_ paths: [FieldPath]) -> [String] { paths.flatMap { values($0) } }
        var draft = SignalDraft(source: sender.name)
        draft.setID(first(sender.id)) { bytes }
        var s = draft.signal
        s.ruleName = first(sender.rule)
        s.ruleID = first(sender.ruleID)
        s.severity = first(sender.severity).flatMap { sender.severityMap[$0] ?? Severity(label: $0) }
        s.title = first(sender.title)
        s.message = first(sender.message)
        s.link = first(sender.link)
        if let status = first(sender.status)?.lowercased(), sender.resolvedValues.contains(where: { $0.lowercased() == status }) {
            s.status = .resolved
        }
        s.attributes = alert
        draft.signal = s
        for ip in all(sender.ips) { draft.targetIP(ip) }
        for user in all(sender.users) { draft.user(user) }
        for group in all(sender.resources) { draft.securityGroup(group) }
        for address in all(sender.contextIPs) { draft.contextAddress(address) }
        for host in all(sender.contextHosts) { draft.contextHost(host) }
        for resource in all(sender.contextResources) { draft.contextResource(resource) }
        return draft.finish()
    }
}

extension GenericSender {
    /// Every configured path except `alerts`.
    var allPaths: [FieldPath] {
        [id, rule, ruleID, severity, title, message, link, status].compactMap { $0 } + ips + users + resources + contextIPs + contextHosts
            + contextResources
    }
}
