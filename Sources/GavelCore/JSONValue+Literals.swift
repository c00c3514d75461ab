/// Building JSON values in code: literals (`["signal": "abc", "remediations": [1, 2]]`) and a
/// few initializers for the shapes gavel writes (CLI `--json` output, HTTP answers, outbox lines).
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Members in the literal's order; a repeated key keeps the last value at its first position.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(members: elements.map { JSONMember($0.0, $0.1) })
    }

    /// An object from members in order; a repeated key keeps the last value at its first position
    /// (the same rule the parser applies).
    public init(members: [JSONMember]) {
        var out: [JSONMember] = []
        var firstIndex: [String: Int] = [:]
        for member in members {
            if let at = firstIndex[member.key] {
                out[at].value = member.value
            } else {
                firstIndex[member.key] = out.count
                out.append(member)
            }
        }
        self = .object(out)
    }

    /// A number from an integer (its decimal digits).
    public init(_ value: Int) { self = .number(String(value)) }

    /// A string, or `null` for nil.
    public init(_ value: String?) { self = value.map { .string($0) } ?? .null }

    /// An array of strings.
    public init(strings: [String]) { self = .array(strings.map { .string($0) }) }
}
