import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads one entry of the config's `actions` object into an `ActionConfig`.
struct ActionLoader {
    /// The outbox file for outbox actions that name none.
    let outboxPath: String
    /// The config file's directory (with a trailing `/`, or empty), for relative paths.
    let baseDirectory: String
    /// `allow_internal_action_urls`.
    let allowInternalURLs: Bool
    /// The extra template forms allowed (`{{response.json.…}}` in a revert).
    var extraForms: Template.Allowed = []

    /// Header names the HTTP client sets itself (RFC 9110 §7.2, §8.6, RFC 9112 §6–7, §9.6).
    static let reservedHeaders: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive", "proxy-connection",
    ]

    func action(named name: String, in actions: ConfigObject, builtIn: ActionConfig?) throws(ConfigError) -> ActionConfig {
        let path = actions.field(name)
        guard ActionLoader.isActionName(name) else {
            throw ConfigError(field: path, message: "not an action name (1–64 characters of A–Z a–z 0–9 . _ -, starting with a letter or digit)")
        }
        guard let node = try actions.object(name) else {
            throw ConfigError(field: path, message: "expected an object, got null")
        }
        var action = builtIn ?? ActionConfig(name: name, target: .ip, kind: .outbox(OutboxTemplate(path: outboxPath, headers: [], body: nil)))
        if let targetText = try node.string("target") {
            guard let kind = TargetKind(rawValue: targetText) else {
                throw ConfigError(
                    field: node.field("target"), message: "expected one of \(TargetKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let builtIn, builtIn.target != kind {
                throw ConfigError(field: node.field("target"), message: "the built-in action \(name) acts on \(builtIn.target.rawValue)")
            }
            action.target = kind
        } else if builtIn == nil {
            throw ConfigError(
                field: node.field("target"), message: "required (one of \(TargetKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        action.idempotent = try node.bool("idempotent") ?? action.idempotent
        action.confirm = try node.bool("confirm") ?? action.confirm
        if let pattern = try node.string("target_pattern") {
            if let problem = TargetValidator.patternProblem(pattern) {
                throw ConfigError(field: node.field("target_pattern"), message: problem)
            }
            action.targetPattern = pattern
        }
        let http = try node.object("http")
        let command = try node.object("command")
        let outbox = try node.object("outbox")
        let kinds = [http, command, outbox].compactMap { $0 }
        if kinds.count > 1 {
            throw ConfigError(field: path, message: "give only one of http, command, outbox")
        }
        if let http {
            action.kind = .http(try httpTemplate(http, target: action.target))
        } else if let command {
            action.kind = .command(try commandTemplate(command))
        } else if let outbox {
            action.kind = .outbox(try outboxTemplate(outbox, target: action.target))
        } else if builtIn == nil {
            throw ConfigError(field: path, message: "one of http, command, outbox is required")
        }
        try lifecycle(node, into: &action)
        try sending(node, into: &action)
        try node.finish()
        action.name = name
        return action
    }

    /// The life after dispatch (issue 12): `revert` (an `http`, `command` or `outbox` object, the
    /// same shapes as the action's own, whose templates may also use `{{response.json.PATH}}`),
    /// `duration`, `irreversible`, `escalation` {`factor`, `max`, `window`}, `grace`, `extend_on_repeat`.
    private func lifecycle(_ node: ConfigObject, into action: inout ActionConfig) throws(ConfigError) {
        action.irreversible = try node.bool("irreversible") ?? action.irreversible
        if let revert = try node.object("revert") {
            var loader = self
            loader.extraForms = [.response]
            let http = try revert.object("http")
            let command = try revert.object("command")
            let outbox = try revert.object("outbox")
            guard [http, command, outbox].compactMap({ $0 }).count == 1 else {
                throw ConfigError(field: node.field("revert"), message: "give exactly one of http, command, outbox")
            }
            if let http {
                action.revert = .http(try loader.httpTemplate(http, target: action.target))
            } else if let command {
                action.revert = .command(try loader.commandTemplate(command))
            } else if let outbox {
                action.revert = .outbox(try loader.outboxTemplate(outbox, target: action.target))
            }
            try revert.finish()
        }
        if action.irreversible && action.revert != nil {
            throw ConfigError(
                field: node.field("revert"), message: "an irreversible action cannot have a revert (remove \"irreversible\" or the revert)")
        }
        if let text = try node.string("duration") {
            action.durationMs = try ActionLoader.duration(text, field: node.field("duration"))
        }
        if action.durationMs != nil && action.revert == nil {
            throw ConfigError(
                field: node.field("duration"),
                message: "needs a revert: gavel cannot undo this action by itself (add \"revert\", or remove the duration)")
        }
        if let escalation = try node.object("escalation") {
            let factor = try escalation.number("factor", in: 1...100) ?? 2
            guard let maxText = try escalation.string("max") else {
                throw ConfigError(field: escalation.field("max"), message: "required, e.g. \"30d\"")
            }
            guard let windowText = try escalation.string("window") else {
                throw ConfigError(field: escalation.field("window"), message: "required, e.g. \"30d\"")
            }
            guard let maxMs = try ActionLoader.duration(maxText, field: escalation.field("max")),
                let windowMs = try ActionLoader.duration(windowText, field: escalation.field("window"))
            else {
                throw ConfigError(field: escalation.field("max"), message: "max and window must be finite durations, not permanent")
            }
            try escalation.finish()
            action.escalation = Escalation(factor: factor, maxMs: maxMs, windowMs: windowMs)
        }
        if let text = try node.string("grace") {
            guard let grace = try ActionLoader.duration(text, field: node.field("grace")), grace <= 3_600_000 else {
                throw ConfigError(field: node.field("grace"), message: "expected a delay of at most 1h, e.g. \"10s\"")
            }
            action.graceMs = grace
        }
        action.extendOnRepeat = try node.bool("extend_on_repeat") ?? action.extendOnRepeat
        let irreversibleChanged = try node.bool("irreversible") != nil
        action.approvals = try node.int("approvals", in: 1...5) ?? (irreversibleChanged ? (action.irreversible ? 2 : 1) : action.approvals)
        if let text = try node.string("pending_ttl") {
            guard let ttl = try ActionLoader.duration(text, field: node.field("pending_ttl")) else {
                throw ConfigError(field: node.field("pending_ttl"), message: "expected a duration such as \"24h\" (permanent is the default)")
            }
            action.pendingTTLMs = ttl
        }
    }

    /// `path`: the command's `PATH`, absolute directories separated by `:` (no empty entry: it
    /// would mean the working directory). Nil when absent.
    static func commandPath(_ node: ConfigObject) throws(ConfigError) -> String? {
        guard let text = try node.string("path") else { return nil }
        let entries = text.split(separator: ":", omittingEmptySubsequences: false)
        guard !text.isEmpty, entries.allSatisfy({ $0.hasPrefix("/") }),
            !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw ConfigError(
                field: node.field("path"), message: "expected absolute directories separated by ':', e.g. \"/usr/local/bin:/usr/bin:/bin\"")
        }
        return text
    }

    /// `pass_env`: the names of variables the command gets from gavel's environment, or
    /// prefixes ending in `*` (`AWS_*`; a lone `*` is refused). `PATH` (use `path`) and
    /// `GAVEL_IDEMPOTENCY_KEY` cannot be passed (a prefix never matches them either).
    static func passEnvironment(_ node: ConfigObject) throws(ConfigError) -> [String] {
        guard let names = try node.strings("pass_env") else { return [] }
        for (i, name) in names.enumerated() {
            let field = "\(node.field("pass_env"))[\(i)]"
            let bare = name.hasSuffix("*") ? String(name.dropLast()) : name
            guard Template.isEnvironmentName(bare) else {
                throw ConfigError(
                    field: field, message: "expected a variable name ([A-Za-z_][A-Za-z0-9_]*) or a prefix ending in '*', e.g. \"AWS_*\"")
            }
            if name == "PATH" { throw ConfigError(field: field, message: "set the command's PATH with \"path\"") }
            if name == "GAVEL_IDEMPOTENCY_KEY" {
                throw ConfigError(field: field, message: "set by gavel for every attempt")
            }
        }
        return names
    }

    /// `retry_for`: how long after the first attempt failures are still retried — a duration of
    /// at most 24h (`"15m"`, `"90s"`), or `"0s"` for by count only. Nil when absent.
    static func retryFor(_ node: ConfigObject) throws(ConfigError) -> Double? {
        guard let text = try node.string("retry_for") else { return nil }
        if text == "0" || text == "0s" { return 0 }
        let field = node.field("retry_for")
        guard let ms = try duration(text, field: field), ms <= 24 * DurationText.hour else {
            throw ConfigError(field: field, message: "expected a duration of at most 24h, e.g. \"15m\" (or \"0s\": retry by count only)")
        }
        return Double(ms) / 1000
    }

    /// A duration field (`DurationText`): milliseconds, nil for `permanent`.
    static func duration(_ text: String, field: String) throws(ConfigError) -> Int64? {
        do {
            return try DurationText.milliseconds(text)
        } catch {
            throw ConfigError(field: field, message: error.message)
        }
    }

    static func isActionName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 64,
            ("a"..."z").contains(first) || ("A"..."Z").contains(first) || ("0"..."9").contains(first)
        else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-"
        }
    }

    private func httpTemplate(_ node: ConfigObject, target: TargetKind) throws(ConfigError) -> HTTPTemplate {
        let method = try node.string("method") ?? "POST"
        guard !method.isEmpty, method.count <= 16, method.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) }) else {
            throw ConfigError(field: node.field("method"), message: "expected an upper-case HTTP method (POST, PUT, DELETE, …)")
        }
        guard let urlText = try node.string("url") else {
            throw ConfigError(field: node.field("url"), message: "required")
        }
        let url = try Template(urlText, field: node.field("url"), allowing: extraForms)
        try ActionURLPolicy(allowInternal: allowInternalURLs).check(url, field: node.field("url"))
        let body = try bodyTemplate(node, target: target)
        let headers = try headerTemplates(node, hasBody: body != nil, userAgent: true)
        let template = HTTPTemplate(
            method: method, url: url, headers: headers, body: body,
            timeoutSeconds: try node.seconds("timeout_seconds", maximum: 300) ?? 10,
            retries: try node.int("retries", in: 0...20) ?? 5,
            retryForSeconds: try ActionLoader.retryFor(node) ?? HTTPTemplate.defaultRetryForSeconds)
        try node.finish()
        return template
    }

    private func commandTemplate(_ node: ConfigObject) throws(ConfigError) -> CommandTemplate {
        guard let texts = try node.strings("argv"), !texts.isEmpty else {
            throw ConfigError(field: node.field("argv"), message: "required: a non-empty array (program path, then arguments)")
        }
        var argv: [Template] = []
        for (i, text) in texts.enumerated() {
            let field = "\(node.field("argv"))[\(i)]"
            if text.utf8.contains(0) { throw ConfigError(field: field, message: "contains NUL") }
            argv.append(try Template(text, field: field, allowing: extraForms))
        }
        guard !argv[0].hasPlaceholders, texts[0].hasPrefix("/") else {
            throw ConfigError(
                field: "\(node.field("argv"))[0]", message: "the program must be an absolute path with no placeholders (no $PATH lookup, no shell)")
        }
        let template = CommandTemplate(
            argv: argv, timeoutSeconds: try node.seconds("timeout_seconds", maximum: 3600) ?? 30,
            retries: try node.int("retries", in: 0...20) ?? 0, retryForSeconds: try ActionLoader.retryFor(node) ?? 0,
            path: try ActionLoader.commandPath(node) ?? CommandDispatchRequest.defaultPath,
            passEnvironment: try ActionLoader.passEnvironment(node))
        try node.finish()
        return template
    }

    private func outboxTemplate(_ node: ConfigObject, target: TargetKind) throws(ConfigError) -> OutboxTemplate {
        var path = outboxPath
        if let configured = try node.string("path") {
            guard !configured.isEmpty, !configured.utf8.contains(0) else {
                throw ConfigError(field: node.field("path"), message: "expected a file path")
            }
            path = GavelConfig.resolve(configured, against: baseDirectory)
        }
        let body = try bodyTemplate(node, target: target)
        let template = OutboxTemplate(path: path, headers: try headerTemplates(node, hasBody: body != nil), body: body)
        try node.finish()
        return template
    }

    /// `body`: absent = the default body; `null` = no body; anything else is a JSON template.
    private func bodyTemplate(_ node: ConfigObject, target: TargetKind) throws(ConfigError) -> JSONTemplate? {
        guard let raw = node.raw("body") else { return ActionConfig.defaultBody(target: target) }
        if raw == .null { return nil }
        return try JSONTemplate(raw, field: node.field("body"), allowing: extraForms)
    }

    /// `headers`: an object of name → value template (in the file's order), then the defaults not configured.
    private func headerTemplates(_ node: ConfigObject, hasBody: Bool, userAgent: Bool = false) throws(ConfigError) -> [HeaderTemplate] {
        var headers: [HeaderTemplate] = []
        if let object = try node.object("headers") {
            for name in object.keys {
                let field = object.field(name)
                guard HTTPToken.isToken(name) else { throw ConfigError(field: field, message: "not an HTTP header name (RFC 9110 token)") }
                guard !ActionLoader.reservedHeaders.contains(name.lowercased()) else {
                    throw ConfigError(field: field, message: "set by the HTTP client; cannot be configured")
                }
                guard let text = try object.string(name) else { throw ConfigError(field: field, message: "expected a string, got null") }
                if text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
                    throw ConfigError(field: field, message: "contains CR, LF, NUL or another control character")
                }
                headers.append(HeaderTemplate(name: name, value: try Template(text, field: field, allowing: extraForms.union(.environment))))
            }
            try object.finish()
        }
        for header in HeaderTemplate.defaults(hasBody: hasBody, userAgent: userAgent)
        where !headers.contains(where: { $0.name.lowercased() == header.name.lowercased() }) {
            headers.append(header)
        }
        return headers
    }
}

/// Which action URLs the config accepts (hardening checklist D6): http or https only, a
/// literal host (placeholders only after it), and — unless `allow_internal_action_urls` —
/// no loopback, link-local / cloud-metadata, private, or other `Allowlist.internalRanges`
/// address, no `localhost`, and no numeric host in a non-canonical form (`127.1`,
/// `0x7f.0.0.1`, `2130706433`) that a resolver would read as such an address.
///
/// Only literal hosts can be checked when the config loads; a DNS name that resolves to an
/// internal address is not detected here.
struct ActionURLPolicy {
    let allowInternal: Bool

    static let internalNames: Set<String> = ["localhost", "metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"]

    func check(_ url: Template, field: String) throws(ConfigError) {
        let text = url.text
        let scheme = text.prefix(while: { $0 != ":" }).lowercased()
        guard scheme == "http" || scheme == "https", let separator = text.firstRange(of: "://"),
            separator.lowerBound == text.index(text.startIndex, offsetBy: scheme.count)
        else {
            throw ConfigError(field: field, message: "not an http(s) URL")
        }
        let afterScheme = text[separator.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard !authority.contains("{") && !authority.contains("}") else {
            throw ConfigError(field: field, message: "placeholders are not allowed in the scheme or host")
        }
        let hostPort = authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority
        var host: Substring
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw ConfigError(field: field, message: "not an http(s) URL (unclosed '[')") }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
        } else {
            host = hostPort.firstIndex(of: ":").map { hostPort[..<$0] } ?? hostPort
        }
        guard !host.isEmpty else { throw ConfigError(field: field, message: "not an http(s) URL (no host)") }
        // A non-ASCII host would be mapped by IDNA on the way out (`127。0。0。1`, `①②⑦.0.0.1`
        // reach 127.0.0.1) after this check has looked at it: hosts are ASCII (RFC 3986 §3.2.2),
        // an internationalized name in its A-label (`xn--…`) form (RFC 5890).
        guard host.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value != 0x7F }) else {
            throw ConfigError(
                field: field, message: "the host must be ASCII: write an internationalized name in its xn-- form (RFC 5890)")
        }
        guard !host.contains("%") || hostPort.hasPrefix("[") else {
            throw ConfigError(field: field, message: "percent-encoding is not allowed in the host")
        }
        let probe = url.render(TemplateContext(), escape: { _ in "x" })
        guard URLComponents(string: probe)?.host != nil else {
            throw ConfigError(field: field, message: "not an http(s) URL")
        }
        if let dot = URLDotSegments.offendingSegment(in: probe) {
            throw ConfigError(
                field: field,
                message:
                    "the path holds the dot segment \(dot.decoded.quotedForMessage) (\(dot.segment.quotedForMessage)), which clients and servers remove: write the path it means"
            )
        }
        if allowInternal { return }
        var name = host.lowercased()
        while name.hasSuffix(".") { name.removeLast() }
        let optIn = "; set allow_internal_action_urls to true to allow it"
        if ActionURLPolicy.internalNames.contains(name) || name.hasSuffix(".localhost") {
            throw ConfigError(field: field, message: "points at an internal host (\(name))\(optIn)")
        }
        if name.contains(":") {
            guard let address = IPAddress(parsing: name) else {
                throw ConfigError(field: field, message: "not a valid IPv6 address literal (zone ids are not accepted)")
            }
            if let range = Allowlist.internalRange(containing: address) {
                throw ConfigError(field: field, message: "points at an internal address \(address) in \(range)\(optIn)")
            }
            return
        }
        var lenient = in_addr()
        if inet_aton(name, &lenient) != 0 {
            let bytes = withUnsafeBytes(of: &lenient) { Array($0) }
            let address = IPAddress(bytes: bytes)!
            guard address.description == name else {
                throw ConfigError(
                    field: field, message: "numeric host \(name.quotedForMessage) is not a canonical IPv4 address (it means \(address))")
            }
            if let range = Allowlist.internalRange(containing: address) {
                throw ConfigError(field: field, message: "points at an internal address \(address) in \(range)\(optIn)")
            }
        }
    }
}
