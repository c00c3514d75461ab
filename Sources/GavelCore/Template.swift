/// A value an action template can name as `{{name}}` (no white space inside the braces).
public enum Placeholder: String, Sendable, CaseIterable {
    /// The remediation's validated target (canonical IP, user id, group id or signal id).
    case target
    /// The target when the action acts on `ip`, else empty.
    case ip
    /// The target when the action acts on `user`, else empty.
    case user
    /// The target when the action acts on `security_group`, else empty.
    case securityGroup = "security_group"
    /// Datadog's signal id (`SECURITY_SIGNAL_ID`) of the signal that proposed the remediation.
    case signalID = "signal_id"
    /// The detection rule's name (`SECURITY_RULE_NAME`).
    case ruleName = "rule_name"
    /// The detection rule's id (`SECURITY_RULE_ID`).
    case ruleID = "rule_id"
    /// The signal's severity word (`info` … `critical`), or empty.
    case severity
    /// gavel's remediation id.
    case remediationID = "remediation_id"
    /// The idempotency key: the same for every attempt of one remediation.
    case idempotencyKey = "idempotency_key"
    /// Who approved: the analyst's name, or `auto:RULE`.
    case decidedBy = "decided_by"
    /// The action's name (`ban-ip`, …).
    case action
}

/// The values substituted into an action's templates. Every value is a plain string; a
/// missing value renders as the empty string. Values are attacker-influenced (rule names,
/// signal ids come from the webhook) and are escaped for the context they land in when rendered.
public struct TemplateContext: Sendable, Equatable {
    public var target = ""
    public var ip = ""
    public var user = ""
    public var securityGroup = ""
    public var signalID = ""
    public var ruleName = ""
    public var ruleID = ""
    public var severity = ""
    public var remediationID = ""
    public var idempotencyKey = ""
    public var decidedBy = ""
    public var action = ""
    /// The body of the dispatch's successful response, parsed as JSON, for a revert template's
    /// `{{response.json.PATH}}` values (nil when it was not JSON or there was none).
    public var response: JSONValue?

    /// An empty context (every value empty).
    public init() {}

    /// The context for dispatching `action` on `target`: `ip` / `user` / `security_group`
    /// repeat the target when the action acts on that kind; signal and rule values come from
    /// `signal` when given.
    public init(action: ActionConfig, target: String, signal: Signal?, remediationID: String, idempotencyKey: String, decidedBy: String) {
        self.init(
            action: action, target: target, signalID: signal?.signalID, ruleName: signal?.ruleName, ruleID: signal?.ruleID,
            severity: signal?.severity?.rawValue, remediationID: remediationID, idempotencyKey: idempotencyKey, decidedBy: decidedBy)
    }

    /// The same, from stored values (the dispatcher and the console render from database rows).
    /// Missing values render as empty strings.
    public init(
        action: ActionConfig, target: String, signalID: String?, ruleName: String?, ruleID: String?, severity: String?,
        remediationID: String, idempotencyKey: String, decidedBy: String?
    ) {
        self.action = action.name
        self.target = target
        switch action.target {
        case .ip: ip = target
        case .user: user = target
        case .securityGroup: securityGroup = target
        case .signal: break
        }
        self.signalID = signalID ?? ""
        self.ruleName = ruleName ?? ""
        self.ruleID = ruleID ?? ""
        self.severity = severity ?? ""
        self.remediationID = remediationID
        self.idempotencyKey = idempotencyKey
        self.decidedBy = decidedBy ?? ""
    }

    /// The value for `placeholder`.
    public subscript(placeholder: Placeholder) -> String {
        switch placeholder {
        case .target: target
        case .ip: ip
        case .user: user
        case .securityGroup: securityGroup
        case .signalID: signalID
        case .ruleName: ruleName
        case .ruleID: ruleID
        case .severity: severity
        case .remediationID: remediationID
        case .idempotencyKey: idempotencyKey
        case .decidedBy: decidedBy
        case .action: action
        }
    }
}

/// A string with `{{placeholder}}` slots, parsed and checked once when the config loads.
///
/// Syntax (strict): `{{` + a name from `Placeholder` + `}}`, no white space inside the
/// braces. A `{{` without a closing `}}`, an unknown name, or a stray `}}` is a config
/// error. Single `{` and `}` are literal text. Two more forms where a template allows them:
/// - `{{response.json.PATH}}` (revert templates): a value of the dispatch's response body,
///   `PATH` a dot-separated list of object keys and array indexes (`result.id`, `data.0.id`);
/// - `{{env.NAME}}` (header values): the environment variable `NAME` of the sending process,
///   read when the request is sent — a secret that is never stored (`RenderedRequest.resolvingEnvironment`).
public struct Template: Sendable, Equatable, CustomStringConvertible {
    /// One piece of a template.
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case placeholder(Placeholder)
        /// `{{response.json.PATH}}`: the path's keys and indexes.
        case response([String])
        /// `{{env.NAME}}`.
        case environment(String)
    }

    /// The extra forms a template may use.
    public struct Allowed: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// `{{response.json.PATH}}` (revert templates).
        public static let response = Allowed(rawValue: 1)
        /// `{{env.NAME}}` (header values).
        public static let environment = Allowed(rawValue: 2)
    }

    /// How an environment reference renders until it is sent: NUL-delimited, which no rendered
    /// value can hold (rendering refuses NUL in headers), so it cannot be forged by a payload.
    public static func environmentMarker(_ name: String) -> String { "\u{0}env.\(name)\u{0}" }

    /// The template as written in the config.
    public let text: String
    /// The parsed pieces, in order.
    public let segments: [Segment]

    /// Parses `text`.
    /// - Parameter field: the config field holding it, named in errors.
    /// - Throws: `ConfigError` for an unknown placeholder or unbalanced `{{` / `}}`.
    public init(_ text: String, field: String, allowing allowed: Allowed = []) throws(ConfigError) {
        var segments: [Segment] = []
        var literal = ""
        var rest = Substring(text)
        while !rest.isEmpty {
            if rest.hasPrefix("{{") {
                let afterOpen = rest.dropFirst(2)
                guard let close = afterOpen.firstRange(of: "}}") else {
                    throw ConfigError(field: field, message: "unbalanced '{{' (no closing '}}')")
                }
                let name = String(afterOpen[..<close.lowerBound])
                let segment: Segment
                if let placeholder = Placeholder(rawValue: name) {
                    segment = .placeholder(placeholder)
                } else if name.hasPrefix("response.json.") {
                    guard allowed.contains(.response) else {
                        throw ConfigError(field: field, message: "{{\(name)}} is only allowed in a revert template (the dispatch's response)")
                    }
                    let path = name.dropFirst("response.json.".count).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                    guard !path.isEmpty, path.allSatisfy({ !$0.isEmpty && !$0.contains(" ") }) else {
                        throw ConfigError(field: field, message: "{{\(name)}}: expected response.json.KEY[.KEY…] (keys and array indexes)")
                    }
                    segment = .response(path)
                } else if name.hasPrefix("env.") {
                    let variable = String(name.dropFirst(4))
                    guard allowed.contains(.environment) else {
                        throw ConfigError(field: field, message: "{{\(name)}} is only allowed in a header value")
                    }
                    guard Template.isEnvironmentName(variable) else {
                        throw ConfigError(field: field, message: "{{\(name)}}: not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
                    }
                    segment = .environment(variable)
                } else if name == "targets" {
                    throw ConfigError(
                        field: field,
                        message: "{{targets}} is only allowed in a batch body (batch.body, batch.revert_body), as a whole JSON string value")
                } else {
                    let known = Placeholder.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ConfigError(
                        field: field, message: "unknown placeholder {{\(name)}} (known: \(known), env.NAME in headers, response.json.PATH in reverts)"
                    )
                }
                if !literal.isEmpty {
                    segments.append(.literal(literal))
                    literal = ""
                }
                segments.append(segment)
                rest = afterOpen[close.upperBound...]
            } else if rest.hasPrefix("}}") {
                throw ConfigError(field: field, message: "unbalanced '}}' (no opening '{{')")
            } else {
                literal.append(rest.removeFirst())
            }
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.text = text
        self.segments = segments
    }

    /// A template from pieces already checked (`text` is what they were parsed from).
    init(checkedText text: String, segments: [Segment]) {
        self.text = text
        self.segments = segments
    }

    /// A template holding `text` literally (no placeholders are parsed).
    public init(literal text: String) {
        self.text = text
        self.segments = text.isEmpty ? [] : [.literal(text)]
    }

    /// True when the template has at least one placeholder (of any form).
    public var hasPlaceholders: Bool {
        segments.contains { if case .literal = $0 { false } else { true } }
    }

    /// The `{{response.json.PATH}}` paths it uses.
    public var responsePaths: [[String]] {
        segments.compactMap { if case .response(let p) = $0 { p } else { nil } }
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    /// The value at `path` in a response body: object keys, or array indexes; nil when absent
    /// or not a scalar (a string, number or boolean).
    public static func value(at path: [String], in response: JSONValue?) -> String? {
        var node = response
        for key in path {
            switch node {
            case .object?: node = node?[key]
            case .array(let items)?:
                guard let i = Int(key), i >= 0, i < items.count else { return nil }
                node = items[i]
            default: return nil
            }
        }
        return node?.scalarText
    }

    /// The literal text before the first placeholder (the whole text when there is none).
    public var literalPrefix: String {
        var prefix = ""
        for segment in segments {
            guard case .literal(let s) = segment else { break }
            prefix += s
        }
        return prefix
    }

    /// Renders the template: literals as written, each value passed through `escape`; an
    /// environment reference as `environment(name)` (default: the unsendable marker resolved at send).
    public func render(
        _ context: TemplateContext, escape: (String) -> String = { $0 }, environment: (String) -> String = Template.environmentMarker
    ) -> String {
        var out = ""
        for segment in segments {
            switch segment {
            case .literal(let s): out += s
            case .placeholder(let p): out += escape(context[p])
            case .response(let path): out += escape(Template.value(at: path, in: context.response) ?? "")
            case .environment(let name): out += environment(name)
            }
        }
        return out
    }

    public var description: String { text }

    /// Percent-encodes every byte of `value`'s UTF-8 except RFC 3986 §2.3 unreserved
    /// characters (`A–Z a–z 0–9 - . _ ~`), so a value can never add a path segment, query
    /// parameter or fragment to a URL.
    public static func percentEncoded(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0x0f)])
            }
        }
        return out
    }
}
