extension GavelConfig {
    /// Reads the `datadog` section: the word back to Datadog (field reference:
    /// `docs/configuration.md`, "datadog"; what it sends: `DatadogTriageConfig`).
    /// - Throws: `ConfigError` naming the field: `datadog.site: …`, `datadog.api_url: …`,
    ///   `datadog.triage.dispatched.archive_reason: …`, `datadog.triage.rejected.comment: unknown placeholder …`.
    static func parseDatadogTriage(_ node: ConfigObject) throws(ConfigError) -> DatadogTriageConfig {
        var c = DatadogTriageConfig()
        if let site = try node.string("site") {
            c.site = try siteName(site, field: node.field("site"))
        }
        if let url = try node.string("api_url") {
            try checkAPIURL(url, field: node.field("api_url"))
            c.apiURL = url
        }
        for key in ["api_key_env", "application_key_env"] {
            guard let name = try node.string(key) else { continue }
            guard isEnvironmentVariableName(name) else {
                throw ConfigError(field: node.field(key), message: "not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
            }
            if key == "api_key_env" { c.apiKeyEnv = name } else { c.applicationKeyEnv = name }
        }
        c.timeoutSeconds = try node.seconds("timeout", maximum: 120) ?? c.timeoutSeconds
        c.maxRetries = try node.int("max_retries", in: 0...100) ?? c.maxRetries
        if let triage = try node.object("triage") {
            for name in triage.keys {
                guard let event = TriageEvent(rawValue: name) else {
                    throw ConfigError(
                        field: triage.field(name),
                        message: "unknown event (known: \(TriageEvent.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard let change = try triage.object(name) else {
                    c.changes[event] = nil
                    continue
                }
                c.changes[event] = try parseTriageChange(change)
            }
            try triage.finish()
        }
        try node.finish()
        return c
    }

    private static func parseTriageChange(_ node: ConfigObject) throws(ConfigError) -> TriageChange {
        guard let stateText = try node.string("state") else {
            throw ConfigError(field: node.field("state"), message: "required: open, under_review or archived (or null for the event to send nothing)")
        }
        guard let state = SignalTriageState(rawValue: stateText) else {
            throw ConfigError(field: node.field("state"), message: "expected open, under_review or archived")
        }
        var change = TriageChange(state: state)
        if let reason = try node.string("archive_reason") {
            guard let parsed = SignalArchiveReason(rawValue: reason) else {
                throw ConfigError(
                    field: node.field("archive_reason"),
                    message: "expected one of \(SignalArchiveReason.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            change.archiveReason = parsed
        }
        change.comment = try node.string("comment")
        if state != .archived {
            for key in ["archive_reason", "comment"] where node.value(key) != nil {
                throw ConfigError(field: node.field(key), message: "only an archived signal has an archive reason and comment")
            }
        }
        if let comment = change.comment {
            var rest = Substring(comment)
            while let open = rest.range(of: "{{") {
                let after = rest[open.upperBound...]
                guard let close = after.range(of: "}}") else {
                    throw ConfigError(field: node.field("comment"), message: "unclosed {{")
                }
                let name = String(after[..<close.lowerBound]).trimmingASCIIWhitespace()
                guard TriageChange.placeholders.contains(name) else {
                    throw ConfigError(
                        field: node.field("comment"),
                        message: "unknown placeholder {{\(name)}} (known: \(TriageChange.placeholders.sorted().joined(separator: ", ")))")
                }
                rest = after[close.upperBound...]
            }
        }
        try node.finish()
        return change
    }

    /// A Datadog site's host name, lowercased, without a scheme or an `app.` prefix.
    private static func siteName(_ text: String, field: String) throws(ConfigError) -> String {
        var site = text.lowercased()
        for prefix in ["https://", "http://"] where site.hasPrefix(prefix) { site.removeFirst(prefix.count) }
        if site.hasSuffix("/") { site.removeLast() }
        if site.hasPrefix("app.") { site.removeFirst(4) }
        let labels = site.split(separator: ".", omittingEmptySubsequences: false)
        let valid =
            labels.count >= 2 && site.utf8.count <= 253
            && labels.allSatisfy { label in
                !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                    && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
            }
        guard valid else {
            throw ConfigError(field: field, message: "not a Datadog site (a host name such as datadoghq.com, us5.datadoghq.com or datadoghq.eu)")
        }
        return site
    }

    /// `api_url`: `https://HOST[:PORT][/PATH]`, or `http://` for a loopback host (127.0.0.0/8,
    /// ::1, localhost) — the keys must not cross a network in clear text. No user info, query or fragment.
    private static func checkAPIURL(_ url: String, field: String) throws(ConfigError) {
        let lower = url.lowercased()
        let scheme = lower.hasPrefix("https://") ? "https" : lower.hasPrefix("http://") ? "http" : ""
        guard !scheme.isEmpty else { throw ConfigError(field: field, message: "expected an http(s):// URL") }
        let rest = url.dropFirst(scheme.count + 3)
        let authority = rest.prefix { $0 != "/" }
        guard !authority.isEmpty, !url.contains("?"), !url.contains("#"), !authority.contains("@"),
            !url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
        else {
            throw ConfigError(field: field, message: "expected scheme://host[:port][/path] without user info, query, fragment or blanks")
        }
        var host = String(authority)
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { throw ConfigError(field: field, message: "bad IPv6 host (expected [ADDRESS])") }
            host = String(host[host.index(after: host.startIndex)..<end])
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        if scheme == "http" {
            let loopback =
                host.lowercased() == "localhost"
                || (IPAddress(parsing: host).map { $0.isIPv4 ? $0.bytes[0] == 127 : $0.bytes == Array(repeating: 0, count: 15) + [1] } ?? false)
            guard loopback else {
                throw ConfigError(
                    field: field, message: "http:// only for a loopback host (the API keys would cross the network in clear text); use https://")
            }
        }
    }

    private static func isEnvironmentVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }
}
