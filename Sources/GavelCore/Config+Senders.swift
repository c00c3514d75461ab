extension GavelConfig {
    /// Reads the `senders` section (field reference: `docs/configuration.md`, "senders").
    /// - Throws: `ConfigError` naming the field: `senders.alertmanager.ip_labels[2]: empty`,
    ///   `senders.generic.elastic.ips[0]: not a field path …`, `senders.generic["my sender"]: …`.
    static func parseSenders(_ node: ConfigObject) throws(ConfigError) -> SenderSettings {
        var settings = SenderSettings()
        if let am = try node.object("alertmanager") { settings.alertmanager = try parseLabelSender(am) }
        if let grafana = try node.object("grafana") { settings.grafana = try parseLabelSender(grafana) }
        if let generic = try node.object("generic") {
            for name in generic.keys {
                let field = generic.field(name)
                guard GenericSender.isValidName(name) else {
                    throw ConfigError(field: field, message: "a sender name is 1–64 characters of A–Z a–z 0–9 _ - (it is a URL path segment)")
                }
                guard !SenderFormat.builtInSources.contains(name) else {
                    throw ConfigError(field: field, message: "\(name.quotedForMessage) is a built-in sender's name")
                }
                guard let sender = try generic.object(name) else { continue }
                settings.generic[name] = try parseGenericSender(sender, name: name)
            }
            try generic.finish()
        }
        try node.finish()
        return settings
    }

    private static func parseLabelSender(_ node: ConfigObject) throws(ConfigError) -> LabelSenderSettings {
        var s = LabelSenderSettings()
        var targets: [String: String] = [:]
        for key in ["ip_labels", "user_labels", "resource_labels", "context_labels"] {
            guard let labels = try node.strings(key) else {
                let defaults: [String] =
                    switch key {
                    case "ip_labels": s.ipLabels
                    case "user_labels": s.userLabels
                    case "resource_labels": s.resourceLabels
                    default: s.contextLabels
                    }
                if key != "context_labels" { for label in defaults { targets[label] = targets[label] ?? key } }
                continue
            }
            for (i, label) in labels.enumerated() {
                let field = "\(node.field(key))[\(i)]"
                guard !label.isEmpty else { throw ConfigError(field: field, message: "empty label name") }
                guard !labels[..<i].contains(label) else { throw ConfigError(field: field, message: "label \(label.quotedForMessage) listed twice") }
                if key == "context_labels", let other = targets[label] {
                    throw ConfigError(
                        field: field,
                        message: "label \(label.quotedForMessage) is also a target label (\(other)); a label is a target or context, not both")
                }
                if key != "context_labels" { targets[label] = targets[label] ?? key }
            }
            switch key {
            case "ip_labels": s.ipLabels = labels
            case "user_labels": s.userLabels = labels
            case "resource_labels": s.resourceLabels = labels
            default: s.contextLabels = labels
            }
        }
        if node.raw("context_labels") == nil, let label = s.contextLabels.first(where: { targets[$0] != nil }), let key = targets[label] {
            throw ConfigError(
                field: node.field(key),
                message:
                    "label \(label.quotedForMessage) is a context label by default (the monitored host); to make it a target, also set context_labels without it"
            )
        }
        if let label = try node.string("severity_label") {
            guard !label.isEmpty else { throw ConfigError(field: node.field("severity_label"), message: "empty label name") }
            s.severityLabel = label
        }
        try node.finish()
        return s
    }

    private static func parseGenericSender(_ node: ConfigObject, name: String) throws(ConfigError) -> GenericSender {
        var s = GenericSender(name: name)
        func path(_ key: String) throws(ConfigError) -> FieldPath? {
            guard let text = try node.string(key) else { return nil }
            return try fieldPath(text, field: node.field(key))
        }
        func paths(_ key: String) throws(ConfigError) -> [FieldPath] {
            guard let value = node.value(key) else { return [] }
            if case .string(let text) = value { return [try fieldPath(text, field: node.field(key))] }
            guard let texts = try node.strings(key) else { return [] }
            var out: [FieldPath] = []
            for (i, text) in texts.enumerated() { out.append(try fieldPath(text, field: "\(node.field(key))[\(i)]")) }
            return out
        }
        s.alerts = try path("alerts")
        s.id = try path("id")
        s.rule = try path("rule")
        s.ruleID = try path("rule_id")
        s.severity = try path("severity")
        s.title = try path("title")
        s.message = try path("message")
        s.link = try path("link")
        s.status = try path("status")
        if let values = try node.strings("resolved_values") {
            for (i, v) in values.enumerated() where v.isEmpty {
                throw ConfigError(field: "\(node.field("resolved_values"))[\(i)]", message: "empty value")
            }
            s.resolvedValues = values
        }
        if let map = try node.object("severity_map") {
            for key in map.keys {
                guard let word = try map.string(key) else { continue }
                guard let severity = Severity(rawValue: word) else {
                    throw ConfigError(field: map.field(key), message: "expected info, low, medium, high or critical")
                }
                s.severityMap[key] = severity
            }
            try map.finish()
        }
        s.ips = try paths("ips")
        s.users = try paths("users")
        s.resources = try paths("resources")
        s.contextIPs = try paths("context_ips")
        s.contextHosts = try paths("context_hosts")
        s.contextResources = try paths("context_resources")
        try node.finish()
        guard s.rule != nil || !s.ips.isEmpty || !s.users.isEmpty || !s.resources.isEmpty else {
            throw ConfigError(field: node.path, message: "a generic sender needs at least one of rule, ips, users, resources")
        }
        return s
    }

    private static func fieldPath(_ text: String, field: String) throws(ConfigError) -> FieldPath {
        guard let path = FieldPath(text) else {
            throw ConfigError(
                field: field,
                message:
                    "not a field path (dotted names such as source.ip: 1–\(FieldPath.maxComponents) non-empty parts, at most \(FieldPath.maxLength) bytes)"
            )
        }
        return path
    }
}
