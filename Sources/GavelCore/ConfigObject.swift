import Foundation

/// One JSON object of the config file being read, with its field path: typed getters that
/// name the field in their errors, and `finish()`, which refuses keys nobody asked for (so a
/// typo such as `"retires"` is an error, not a silently ignored setting).
///
/// Keys starting with `_comment` are comments: accepted anywhere a config object is, and ignored.
final class ConfigObject {
    let path: String
    private let members: [String: Any]
    private var read: Set<String> = []

    /// Wraps `any` (a `JSONSerialization` result) found at `path`.
    /// - Throws: `ConfigError` when it is not a JSON object.
    init(_ any: Any, path: String) throws(ConfigError) {
        guard let members = any as? [String: Any] else {
            throw ConfigError(field: path, message: "expected an object, got \(ConfigObject.typeName(any))")
        }
        self.path = path
        self.members = members
    }

    /// The keys present, comments excluded, sorted.
    var keys: [String] { members.keys.filter { !ConfigObject.isComment($0) }.sorted() }

    /// The field path of `key`.
    func field(_ key: String) -> String { ConfigPath.child(path, key) }

    static func isComment(_ key: String) -> Bool { key.hasPrefix("_comment") }

    /// The raw value of `key`, marking it read; nil when absent. `null` is returned as `NSNull`.
    func raw(_ key: String) -> Any? {
        read.insert(key)
        return members[key]
    }

    /// The value of `key`, marking it read; nil when absent or `null`.
    func value(_ key: String) -> Any? {
        guard let v = raw(key), !(v is NSNull) else { return nil }
        return v
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v as? String else { throw typeError(key, "a string", v) }
        return s
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber, FoundationJSON.isBool(n) else { throw typeError(key, "true or false", v) }
        return n.boolValue
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber, !FoundationJSON.isBool(n) else { throw typeError(key, "an integer", v) }
        let d = n.doubleValue
        guard d == d.rounded(), abs(d) < 9.0e15 else { throw typeError(key, "an integer", v) }
        let i = Int(d)
        guard range.contains(i) else {
            throw ConfigError(field: field(key), message: "\(i) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return i
    }

    /// A number of seconds: greater than 0 and at most `maximum`.
    func seconds(_ key: String, maximum: Double) throws(ConfigError) -> Double? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber, !FoundationJSON.isBool(n) else { throw typeError(key, "a number of seconds", v) }
        let d = n.doubleValue
        guard d > 0, d <= maximum else {
            throw ConfigError(field: field(key), message: "\(n.stringValue) is out of range (more than 0, at most \(Int(maximum)))")
        }
        return d
    }

    func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let v = value(key) else { return nil }
        guard let items = v as? [Any] else { throw typeError(key, "an array of strings", v) }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = item as? String else {
                throw ConfigError(field: "\(field(key))[\(i)]", message: "expected a string, got \(ConfigObject.typeName(item))")
            }
            out.append(s)
        }
        return out
    }

    func object(_ key: String) throws(ConfigError) -> ConfigObject? {
        guard let v = value(key) else { return nil }
        return try ConfigObject(v, path: field(key))
    }

    /// Refuses every key that was not read and is not a comment.
    func finish() throws(ConfigError) {
        if let unknown = members.keys.sorted().first(where: { !read.contains($0) && !ConfigObject.isComment($0) }) {
            throw ConfigError(field: field(unknown), message: "unknown key")
        }
    }

    func typeError(_ key: String, _ expected: String, _ got: Any) -> ConfigError {
        ConfigError(field: field(key), message: "expected \(expected), got \(ConfigObject.typeName(got))")
    }

    static func typeName(_ any: Any) -> String {
        switch any {
        case is NSNull: return "null"
        case is String: return "a string"
        case let n as NSNumber: return FoundationJSON.isBool(n) ? (n.boolValue ? "true" : "false") : "a number"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "an unsupported value"
        }
    }
}
