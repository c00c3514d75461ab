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
