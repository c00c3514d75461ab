import Foundation

extension GavelConfig {
    /// The largest config file read, in bytes.
    public static let maxConfigFileBytes = 4 << 20

    /// Loads the configuration.
    ///
    /// The file is one JSON object (field reference: `docs/configuration.md`). Unknown keys
    /// are errors; keys starting with `_comment` are ignored anywhere. Relative paths in the
    /// file (`outbox_path`, an outbox action's `path`) are resolved against the database's
    /// directory, where gavel keeps its data (the config's own directory may be read-only).
    ///
    /// The receiver's secret, in order of precedence:
    /// 1. the environment variable named by `secret_env` (default `GAVEL_TOKEN`), when set and non-empty;
    /// 2. `secret` in the file;
    /// 3. none — but if `secret_env` names a variable explicitly and neither is set, loading fails
    ///    (the operator asked for authentication; gavel must not silently run without it).
    /// - Parameters:
    ///   - path: the config file; nil = `builtInDefaults(databasePath:)` (plus `$GAVEL_TOKEN`).
    ///   - environment: the process environment (`ProcessInfo.processInfo.environment`).
    ///   - databasePath: the database's path; the default outbox goes beside it.
    ///   - requireSecret: when true (the receiver's verbs), a `secret_env` naming an unset
    ///     variable is an error; the other verbs pass false and run without the secret.
    /// - Throws: `ConfigError` naming the field at fault (`actions.ban-ip.http.url: …`), or
    ///   with an empty field for an unreadable file or one that is not a JSON object.
    public static func load(path: String?, environment: [String: String], databasePath: String, requireSecret: Bool = true) throws(ConfigError)
        -> GavelConfig
    {
        guard let path else {
            var config = builtInDefaults(databasePath: databasePath)
            config.secret = try resolveSecret(fileSecret: nil, secretEnv: nil, environment: environment, required: requireSecret)
            return config
        }
        return try load(json: try readJSON(path: path), environment: environment, databasePath: databasePath, requireSecret: requireSecret)
    }

    /// Loads a configuration from the text of a config file (the configuration in force, as a
    /// store keeps it); the same rules as `load(path:…)`.
    /// - Parameter origin: what to call the text in errors (`the configuration in force (version 3)`).
    /// - Throws: `ConfigError` naming the field at fault.
    public static func load(text: String, origin: String, environment: [String: String], databasePath: String, requireSecret: Bool = true)
        throws(ConfigError) -> GavelConfig
    {
        let json = try parseJSON(Array(text.utf8), origin: origin)
        return try load(json: json, environment: environment, databasePath: databasePath, requireSecret: requireSecret)
    }

    /// Reads a config file's bytes (at most `maxConfigFileBytes`), as `load(path:…)` does; for a
    /// process that compares its file with the configuration in force and may apply it.
    /// - Throws: `ConfigError` for an unreadable file, a directory, or a file over the limit.
    public static func readText(path: String) throws(ConfigError) -> String {
        String(decoding: try readBytes(path: path), as: UTF8.self)
    }

    private static func load(json: JSONValue, environment: [String: String], databasePath: String, requireSecret: Bool) throws(ConfigError)
        -> GavelConfig
    {
        var config = builtInDefaults(databasePath: databasePath)
        let root = try ConfigObject(json, path: "")
        let baseDirectory = directory(of: databasePath)

        config.listen = try root.string("listen")
        if let listen = config.listen, let problem = listenProblem(listen) {
            throw ConfigError(field: "listen", message: problem)
        }
        let fileSecret = try root.string("secret")
        if let s = fileSecret, let problem = secretProblem(s) { throw ConfigError(field: "secret", message: problem) }
        let secretEnv = try root.string("secret_env")
        if let name = secretEnv, !isEnvironmentName(name) {
            throw ConfigError(field: "secret_env", message: "not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
        }
        config.secret = try resolveSecret(fileSecret: fileSecret, secretEnv: secretEnv, environment: environment, required: requireSecret)
        if let header = try root.string("secret_header") {
            guard HTTPToken.isToken(header) else { throw ConfigError(field: "secret_header", message: "not an HTTP header name (RFC 9110 token)") }
            config.secretHeader = header
        }
        config.maxBodyBytes = try root.int("max_body_bytes", in: 1...(64 << 20)) ?? config.maxBodyBytes
        config.allowInternalActionURLs = try root.bool("allow_internal_action_urls") ?? false
        if let outbox = try root.string("outbox_path") {
            guard !outbox.isEmpty, !outbox.utf8.contains(0) else { throw ConfigError(field: "outbox_path", message: "expected a file path") }
            config.outboxPath = resolve(outbox, against: baseDirectory)
        }
        if let limits = try root.object("auto_limits") {
            config.autoLimits = try parseAutoLimits(limits)
        }
        if let allowlist = try root.object("allowlist") {
            config.allowlist = try parseAllowlist(allowlist)
        }
        let outboxPath = config.outboxPath ?? defaultOutboxPath(databasePath: databasePath)
        config.actions = ActionConfig.builtInActions(outboxPath: outboxPath)
        if let actions = try root.object("actions") {
            for name in actions.keys {
                let builtIn = ActionConfig.builtInTargets.first(where: { $0.name == name })
                    .map { ActionConfig.builtIn(name: $0.name, target: $0.target, outboxPath: outboxPath) }
                let loader = ActionLoader(
                    outboxPath: outboxPath, baseDirectory: baseDirectory,
                    allowInternalURLs: config.allowInternalActionURLs)
                config.actions[name] = try loader.action(named: name, in: actions, builtIn: builtIn)
            }
            try actions.finish()
        }
        if let senders = try root.object("senders") {
            config.senders = try parseSenders(senders)
        }
        if let datadog = try root.object("datadog") {
            config.datadogTriage = try parseDatadogTriage(datadog)
        }
        if let rules = try root.object("rules") {
            for key in rules.keys {
                guard let rule = try rules.object(key) else { continue }
                config.rules[key] = try parseRule(rule, actions: config.actions)
            }
            try rules.finish()
        }
        try root.finish()
        return config
    }

    /// The most arrays/objects open at once in the config file (a `body` template nests inside
    /// `actions.NAME.http`, four levels down).
    static let maxConfigDepth = 64

    /// Reads and parses the file with every object member kept in the file's order (repeats
    /// included, for `ConfigObject` to refuse). A leading UTF-8 byte order mark is skipped
    /// (RFC 8259 §8.1 lets a parser ignore it; editors on some systems write one).
    private static func readJSON(path: String) throws(ConfigError) -> JSONValue {
        try parseJSON(try readBytes(path: path), origin: path)
    }

    private static func readBytes(path: String) throws(ConfigError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue {
            throw ConfigError(field: "", message: "\(path) is a directory, not a config file")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: maxConfigFileBytes + 1) ?? Data()
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied or unreadable" : "no such file"
            throw ConfigError(field: "", message: "cannot read \(path): \(reason)")
        }
        guard data.count <= maxConfigFileBytes else {
            throw ConfigError(field: "", message: "\(path): larger than \(maxConfigFileBytes) bytes")
        }
        return [UInt8](data)
    }

    private static func parseJSON(_ bytes: [UInt8], origin: String) throws(ConfigError) -> JSONValue {
        var bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        do {
            return try JSONValue.parse(bytes, maxDepth: maxConfigDepth, keepingRepeatedKeys: true)
        } catch {
            throw ConfigError(field: "", message: "\(origin): \(error) — expected one JSON object (RFC 8259, UTF-8): not valid UTF-8 JSON")
        }
    }

    private static func resolveSecret(fileSecret: String?, secretEnv: String?, environment: [String: String], required: Bool) throws(ConfigError)
        -> String?
    {
        let variable = secretEnv ?? "GAVEL_TOKEN"
        if let value = environment[variable], !value.isEmpty {
            if let problem = secretProblem(value) {
                throw ConfigError(field: "$\(variable)", message: problem)
            }
            return value
        }
        if let fileSecret { return fileSecret }
        if secretEnv != nil && required {
            throw ConfigError(field: "secret_env", message: "environment variable \(variable) is not set (and no secret is given)")
        }
        return nil
    }

    private static func secretProblem(_ secret: String) -> String? {
        if secret.isEmpty { return "empty" }
        if secret.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) {
            return "contains white space or a control character"
        }
        return nil
    }

    private static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    /// Checks `HOST:PORT` (`[v6]:PORT` for IPv6); nil when fine.
    static func listenProblem(_ listen: String) -> String? {
        guard let colon = listen.lastIndex(of: ":") else { return "expected HOST:PORT" }
        let host = listen[..<colon]
        let port = listen[listen.index(after: colon)...]
        guard !host.isEmpty, !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = Int(port), number <= 65535
        else { return "expected HOST:PORT with a port 0…65535" }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), IPAddress(parsing: String(host.dropFirst().dropLast())) != nil else {
                return "bad IPv6 host (expected [ADDRESS]:PORT)"
            }
        } else if host.contains(":") {
            return "an IPv6 host must be in brackets ([::1]:8787)"
        }
        return nil
    }

    private static func parseAutoLimits(_ node: ConfigObject) throws(ConfigError) -> AutoLimits {
        var limits = AutoLimits()
        limits.perRule = try node.int("per_rule", in: 0...1_000_000) ?? limits.perRule
        limits.global = try node.int("global", in: 0...1_000_000) ?? limits.global
        limits.windowSeconds = try node.int("window_seconds", in: 1...604_800) ?? limits.windowSeconds
        try node.finish()
        return limits
    }

    private static func parseAllowlist(_ node: ConfigObject) throws(ConfigError) -> Allowlist {
        var allowlist = Allowlist()
        for (i, text) in (try node.strings("cidrs") ?? []).enumerated() {
            guard let cidr = CIDR(parsing: text) else {
                throw ConfigError(field: "\(node.field("cidrs"))[\(i)]", message: "not an address or CIDR range (a.b.c.d/n, x::y/n)")
            }
            allowlist.cidrs.append(cidr)
        }
        for key in ["users", "resources"] {
            for (i, entry) in (try node.strings(key) ?? []).enumerated() {
                guard !entry.isEmpty, entry == entry.trimmingASCIIWhitespace() else {
                    throw ConfigError(field: "\(node.field(key))[\(i)]", message: "empty or surrounded by blanks")
                }
                if key == "users" { allowlist.users.insert(entry) } else { allowlist.resources.insert(entry) }
            }
        }
        allowlist.protectInternal = try node.bool("protect_internal") ?? true
        try node.finish()
        return allowlist
    }

    private static func parseRule(_ node: ConfigObject, actions: [String: ActionConfig]) throws(ConfigError) -> RuleConfig {
        var rule = RuleConfig()
        if let names = try node.strings("actions") {
            for (i, name) in names.enumerated() {
                let field = "\(node.field("actions"))[\(i)]"
                guard actions[name] != nil else {
                    throw ConfigError(
                        field: field, message: "unknown action \(name.quotedForMessage) (known: \(actions.keys.sorted().joined(separator: ", ")))")
                }
                guard !names[..<i].contains(name) else { throw ConfigError(field: field, message: "action \(name.quotedForMessage) listed twice") }
            }
            rule.actions = names
        }
        if let mode = try node.string("mode") {
            guard let parsed = RuleMode(rawValue: mode) else {
                throw ConfigError(field: node.field("mode"), message: "expected manual, auto or dry-run")
            }
            rule.mode = parsed
        }
        if let durations = try node.object("durations") {
            for name in durations.keys {
                let field = durations.field(name)
                guard let action = actions[name] else {
                    throw ConfigError(
                        field: field, message: "unknown action \(name.quotedForMessage) (known: \(actions.keys.sorted().joined(separator: ", ")))")
                }
                guard let text = try durations.string(name) else { throw ConfigError(field: field, message: "expected a duration, got null") }
                let ms = try ActionLoader.duration(text, field: field)
                if ms != nil && action.revert == nil {
                    throw ConfigError(field: field, message: "action \(name) has no revert: gavel cannot undo it by itself")
                }
                rule.durations[name] = .some(ms)
            }
            try durations.finish()
        }
        if let approvals = try node.object("approvals") {
            for name in approvals.keys {
                guard actions[name] != nil else {
                    throw ConfigError(
                        field: approvals.field(name),
                        message: "unknown action \(name.quotedForMessage) (known: \(actions.keys.sorted().joined(separator: ", ")))")
                }
                rule.approvals[name] = try approvals.int(name, in: 1...5)
            }
            try approvals.finish()
        }
        if let text = try node.string("pending_ttl") {
            guard let ttl = try ActionLoader.duration(text, field: node.field("pending_ttl")) else {
                throw ConfigError(field: node.field("pending_ttl"), message: "expected a duration such as \"24h\" (permanent is the default)")
            }
            rule.pendingTTLMs = ttl
        }
        try node.finish()
        return rule
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[...slash])
    }

    static func resolve(_ path: String, against directory: String) -> String {
        path.hasPrefix("/") ? path : directory + path
    }
}
