/// A JSON value (RFC 8259) as gavel keeps it: object members in document order and
/// numbers as their original digits, so that a Datadog `DATE` in epoch milliseconds or a
/// 20-digit account id is never rounded through `Double`.
///
/// Parsing (strict UTF-8, depth-limited) lives in `JSONValue+Parsing.swift`;
/// compact serialization in `JSONValue+Serialization.swift`.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text exactly as it appeared (RFC 8259 §6 grammar).
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order. A repeated key keeps its last value (the first position),
    /// unless parsed with `keepingRepeatedKeys`, which keeps every member.
    case object([JSONMember])

    /// The member value for `key` in an object; nil for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// The string of a `.string`, the digits of a `.number`, `true`/`false` of a `.bool`; else nil.
    public var scalarText: String? {
        switch self {
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: nil
        }
    }
}

/// One member of a JSON object.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue
    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}
