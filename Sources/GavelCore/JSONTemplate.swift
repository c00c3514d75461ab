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
    /// - Throws: `ConfigError` for a bad placeholder or a `{{` in an object key.
    public init(_ value: JSONValue, field: String) throws(ConfigError) {
        try JSONTemplate.check(value, field: field)
        self.value = value
    }

    /// A template whose strings were already checked.
    init(checkedValue value: JSONValue) {
        self.value = value
    }

    private static func check(_ value: JSONValue, field: String) throws(ConfigError) {
        switch value {
        case .string(let s): _ = try Template(s, field: field)
        case .array(let items):
            for (i, item) in items.enumerated() { try check(item, field: "\(field)[\(i)]") }
        case .object(let members):
            for member in members {
                let path = ConfigPath.child(field, member.key)
                if member.key.contains("{{") || member.key.contains("}}") {
                    throw ConfigError(field: path, message: "placeholders are not allowed in object keys")
                }
                try check(member.value, field: path)
            }
        case .null, .bool, .number: break
        }
    }

    /// The value with every string's placeholders substituted from `context`.
    public func rendered(_ context: TemplateContext) -> JSONValue {
        JSONTemplate.substitute(value, context)
    }

    /// The rendered value as compact JSON text.
    public func render(_ context: TemplateContext) -> String {
        CompactJSON.text(rendered(context))
    }

    private static func substitute(_ value: JSONValue, _ context: TemplateContext) -> JSONValue {
        switch value {
        case .string(let s):
            // Checked at init, so parsing cannot fail here; fall back to the literal text.
            let template = (try? Template(s, field: "")) ?? Template(literal: s)
            return .string(template.render(context))
        case .array(let items): return .array(items.map { substitute($0, context) })
        case .object(let members): return .object(members.map { JSONMember($0.key, substitute($0.value, context)) })
        case .null, .bool, .number: return value
        }
    }
}

/// Compact JSON text (RFC 8259) for the values gavel renders: members in order, numbers as
/// their stored digits, strings escaped (`"`, `\`, control characters, and U+2028/U+2029
/// so the text is also safe inside JavaScript).
enum CompactJSON {
    static func text(_ value: JSONValue) -> String {
        var out = ""
        write(value, to: &out)
        return out
    }

    static func write(_ value: JSONValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += "," }
                writeString(member.key, to: &out)
                out += ":"
                write(member.value, to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{2028}", "\u{2029}", "\u{00}"..."\u{1F}", "\u{7F}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
