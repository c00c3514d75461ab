/// A JSON body template: any JSON value whose *string values* may hold `{{placeholder}}`s.
///
/// Rendering substitutes inside each string, then serializes the value, so substituted
/// values are JSON-escaped by construction (RFC 8259 §7) and can never change the
/// document's structure. Object keys are literal (a `{{` in a key is a config error).
public struct JSONTemplate: Sendable, Equatable {
    /// The body as configured (strings still hold their placeholders).
    public let value: JSONValue

    /// Checks every string in `value` as a `Template`.
    /// - Parameter field: the config field holding the body, named in errors (`….body.a[2]`).
    /// - Throws: `ConfigError` for a bad placeholder, a `{{` in an object key, or a key given
    ///   twice in one object ("repeated key": which value would be sent is not obvious).
    public init(_ value: JSONValue, field: String, allowing allowed: Template.Allowed = []) throws(ConfigError) {
        try JSONTemplate.check(value, field: field, allowed: allowed)
        self.value = value
    }

    /// A template whose strings were already checked.
    init(checkedValue value: JSONValue) {
        self.value = value
    }

    private static func check(_ value: JSONValue, field: String, allowed: Template.Allowed) throws(ConfigError) {
        switch value {
        case .string(let s): _ = try Template(s, field: field, allowing: allowed)
        case .array(let items):
            for (i, item) in items.enumerated() { try check(item, field: "\(field)[\(i)]", allowed: allowed) }
        case .object(let members):
            var seen: Set<String> = []
            for member in members {
                let path = ConfigPath.child(field, member.key)
                if member.key.contains("{{") || member.key.contains("}}") {
                    throw ConfigError(field: path, message: "placeholders are not allowed in object keys")
                }
                guard seen.insert(member.key).inserted else { throw ConfigError(field: path, message: "repeated key") }
                try check(member.value, field: path, allowed: allowed)
            }
        case .null, .bool, .number: break
        }
    }

    /// The value with every string's placeholders substituted from `context`.
    public func rendered(_ context: TemplateContext) -> JSONValue {
        JSONTemplate.substitute(value, context)
    }

    /// The `{{response.json.PATH}}` paths its strings use.
    public var responsePaths: [[String]] { JSONTemplate.paths(in: value) }

    private static func paths(in value: JSONValue) -> [[String]] {
        switch value {
        case .string(let s): return (try? Template(s, field: "", allowing: [.response]))?.responsePaths ?? []
        case .array(let items): return items.flatMap(paths(in:))
        case .object(let members): return members.flatMap { paths(in: $0.value) }
        case .null, .bool, .number: return []
        }
    }

    /// The rendered value as compact JSON text (`JSONValue.compactText`).
    public func render(_ context: TemplateContext) -> String {
        rendered(context).compactText
    }

    private static func substitute(_ value: JSONValue, _ context: TemplateContext) -> JSONValue {
        switch value {
        case .string(let s):
            // Checked at init, so parsing cannot fail here; fall back to the literal text.
            let template = (try? Template(s, field: "", allowing: [.response])) ?? Template(literal: s)
            return .string(template.render(context))
        case .array(let items): return .array(items.map { substitute($0, context) })
        case .object(let members): return .object(members.map { JSONMember($0.key, substitute($0.value, context)) })
        case .null, .bool, .number: return value
        }
    }
}

extension JSONTemplate {
    /// The batch body's list of targets: a JSON string value that is exactly `{{targets}}`
    /// (`BatchSettings`); it renders as the JSON array of the members' items.
    public static let targetsMarker = "{{targets}}"

    /// The placeholders a batch body may use besides `{{targets}}`: values the same for every
    /// member (`{{idempotency_key}}` is then the batch's key).
    static let batchPlaceholders: Set<Placeholder> = [.action, .idempotencyKey]

    /// Checks a batch body (`batch.body`, `batch.revert_body`): `"{{targets}}"` exactly once, as a
    /// whole string value; other strings may use only `{{action}}` and `{{idempotency_key}}`;
    /// object keys are literal and not repeated.
    /// - Throws: `ConfigError` naming the field (`actions.ban-ip.batch.body.items`).
    public init(batchBody value: JSONValue, field: String) throws(ConfigError) {
        var markers: [String] = []
        try JSONTemplate.checkBatch(value, field: field, markers: &markers)
        guard !markers.isEmpty else {
            throw ConfigError(field: field, message: "needs \"{{targets}}\" once, where the list of targets goes (e.g. {\"items\": \"{{targets}}\"})")
        }
        guard markers.count == 1 else {
            throw ConfigError(field: markers[1], message: "\"{{targets}}\" may appear only once")
        }
        self.value = value
    }

    private static func checkBatch(_ value: JSONValue, field: String, markers: inout [String]) throws(ConfigError) {
        switch value {
        case .string(let s):
            if s == targetsMarker {
                markers.append(field)
                return
            }
            if s.contains(targetsMarker) {
                throw ConfigError(field: field, message: "{{targets}} must be the whole string value (it becomes a JSON array)")
            }
            let template = try Template(s, field: field)
            for case .placeholder(let p) in template.segments where !batchPlaceholders.contains(p) {
                throw ConfigError(
                    field: field,
                    message: "{{\(p.rawValue)}} differs per target: a batch body may use only {{action}} and {{idempotency_key}} (the batch's); "
                        + "per-target values belong in the action's own body, which becomes each target's item")
            }
        case .array(let items):
            for (i, item) in items.enumerated() { try checkBatch(item, field: "\(field)[\(i)]", markers: &markers) }
        case .object(let members):
            var seen: Set<String> = []
            for member in members {
                let path = ConfigPath.child(field, member.key)
                if member.key.contains("{{") || member.key.contains("}}") {
                    throw ConfigError(field: path, message: "placeholders are not allowed in object keys")
                }
                guard seen.insert(member.key).inserted else { throw ConfigError(field: path, message: "repeated key") }
                try checkBatch(member.value, field: path, markers: &markers)
            }
        case .null, .bool, .number: break
        }
    }

    /// A batch body rendered: `"{{targets}}"` becomes the array `items` (each member's item, already
    /// rendered and escaped when its request was bound), the other strings are rendered from
    /// `context` (`action`, and the batch's `idempotencyKey`). Serializing the result escapes
    /// every string (RFC 8259).
    public func renderedBatch(_ context: TemplateContext, items: [JSONValue]) -> JSONValue {
        JSONTemplate.substituteBatch(value, context, items)
    }

    private static func substituteBatch(_ value: JSONValue, _ context: TemplateContext, _ items: [JSONValue]) -> JSONValue {
        switch value {
        case .string(let s):
            if s == targetsMarker { return .array(items) }
            let template = (try? Template(s, field: "")) ?? Template(literal: s)
            return .string(template.render(context))
        case .array(let elements): return .array(elements.map { substituteBatch($0, context, items) })
        case .object(let members): return .object(members.map { JSONMember($0.key, substituteBatch($0.value, context, items)) })
        case .null, .bool, .number: return value
        }
    }
}
