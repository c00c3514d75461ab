import Foundation

/// Converts what `JSONSerialization` returns into `JSONValue` (object members sorted by key,
/// since Foundation's dictionaries do not keep document order). Used until the project's
/// own parser (`JSONValue.parse`) can read the config file in order.
enum FoundationJSON {
    /// Parses `data` as JSON (RFC 8259; fragments allowed), or nil when it is not JSON.
    static func parse(_ data: Data) -> Any? {
        try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }

    /// The `JSONValue` for a `JSONSerialization` result; nil for anything else.
    static func value(_ any: Any) -> JSONValue? {
        switch any {
        case is NSNull: return .null
        case let s as String: return .string(s)
        case let n as NSNumber:
            if isBool(n) { return .bool(n.boolValue) }
            return .number(n.stringValue)
        case let a as [Any]:
            var items: [JSONValue] = []
            for item in a {
                guard let v = value(item) else { return nil }
                items.append(v)
            }
            return .array(items)
        case let d as [String: Any]:
            var members: [JSONMember] = []
            for key in d.keys.sorted() {
                guard let v = value(d[key]!) else { return nil }
                members.append(JSONMember(key, v))
            }
            return .object(members)
        default: return nil
        }
    }

    /// True when Foundation made `n` from a JSON `true` / `false` (its Objective-C type is `c` or `B`).
    static func isBool(_ n: NSNumber) -> Bool {
        let type = String(cString: n.objCType)
        return type == "c" || type == "B"
    }
}
