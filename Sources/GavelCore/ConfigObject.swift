/// One JSON object of the config file being read, with its field path: typed getters that
/// name the field in their errors, and `finish()`, which refuses keys nobody asked for (so a
/// typo such as `"retires"` is an error, not a silently ignored setting).
///
/// Members stay in the file's order (`keys`, and so header order, follow it). A key given
/// twice in one object is refused ("repeated key") rather than one of its values being
/// picked silently. Keys starting with `_comment` are comments: accepted anywhere a config
/// object is, repeated or not, and ignored.
final class ConfigObject {
    let path: String
    private let members: [JSONMember]
    /// Each key's member index (keys are unique once `init` has checked them).
    private let index: [String: Int]
    private var read: Set<String> = []

    /// Wraps `value`, parsed with every member kept (`JSONValue.parse(_:maxDepth:keepingRepeatedKeys:)`),
    /// found at `path`.
    /// - Throws: `ConfigError` when it is not a JSON object, or naming the second occurrence
    ///   of a key that is not a comment and appears more than once ("repeated key").
    init(_ value: JSONValue, path: String) throws(ConfigError) {
        guard case .object(let members) = value else {
            throw ConfigError(field: path, message: "expected an object, got \(ConfigObject.typeName(value))")
        }
        var index: [String: Int] = [:]
        for (i, member) in members.enumerated() {
            if index[member.key] != nil {
                if ConfigObject.isComment(member.key) { continue }
                throw ConfigError(field: ConfigPath.child(path, member.key), message: "repeated key")
            }
            index[member.key] = i
        }
        self.path = path
        self.members = members
        self.index = index
    }

    /// The keys present, comments excluded, in the file's order.
    var keys: [String] { members.map(\.key).filter { !ConfigObject.isComment($0) } }

    /// The field path of `key`.
    func field(_ key: String) -> String { ConfigPath.child(path, key) }

    static func isComment(_ key: String) -> Bool { key.hasPrefix("_comment") }

    /// The value of `key` as written, marking it read; nil when absent (`null` is `.null`).
    func raw(_ key: String) -> JSONValue? {
        read.insert(key)
        return index[key].map { members[$0].value }
    }

    /// The value of `key`, marking it read; nil when absent or `null`.
    func value(_ key: String) -> JSONValue? {
        guard let v = raw(key), v != .null else { return nil }
        return v
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw typeError(key, "a string", v) }
        return s
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw typeError(key, "true or false", v) }
        return b
    }

    /// An integer written as digits only (`-?(0|[1-9][0-9]*)`, RFC 8259 §6 without fraction or
    /// exponent): `1.0` and `1e3` are refused as "expected an integer, got a number".
    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let v = value(key) else { return nil }
        guard case .number(let text) = v, ConfigObject.isIntegerText(text) else { throw typeError(key, "an integer", v) }
        guard let i = Int(text), range.contains(i) else {
            throw ConfigError(field: field(key), message: "\(text) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return i
    }

    /// A number of seconds: greater than 0 and at most `maximum`.
    func seconds(_ key: String, maximum: Double) throws(ConfigError) -> Double? {
        guard let v = value(key) else { return nil }
        guard case .number(let text) = v, let d = Double(text) else { throw typeError(key, "a number of seconds", v) }
        guard d.isFinite, d > 0, d <= maximum else {
            throw ConfigError(field: field(key), message: "\(text) is out of range (more than 0, at most \(Int(maximum)))")
        }
        return d
    }

    /// A number within `range` (a factor, a rate).
    func number(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let v = value(key) else { return nil }
        guard case .number(let text) = v, let d = Double(text) else { throw typeError(key, "a number", v) }
        guard d.isFinite, range.contains(d) else {
            throw ConfigError(field: field(key), message: "\(text) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return d
    }

    func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let v = value(key) else { return nil }
        guard case .array(let items) = v else { throw typeError(key, "an array of strings", v) }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else {
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

    /// Refuses the first key, in the file's order, that was not read and is not a comment.
    func finish() throws(ConfigError) {
        if let unknown = members.first(where: { !read.contains($0.key) && !ConfigObject.isComment($0.key) }) {
            throw ConfigError(field: field(unknown.key), message: "unknown key")
        }
    }

    func typeError(_ key: String, _ expected: String, _ got: JSONValue) -> ConfigError {
        ConfigError(field: field(key), message: "expected \(expected), got \(ConfigObject.typeName(got))")
    }

    /// `null`, `a string`, `true`, `false`, `a number`, `an array` or `an object`.
    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .string: "a string"
        case .bool(let b): b ? "true" : "false"
        case .number: "a number"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// True for `-?(0|[1-9][0-9]*)`.
    static func isIntegerText(_ text: String) -> Bool {
        let digits = text.hasPrefix("-") ? text.utf8.dropFirst() : text.utf8[...]
        guard let first = digits.first, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
        return first != 0x30 || digits.count == 1
    }
}
