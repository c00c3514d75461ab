/// A dotted path to values in a JSON body, as a generic sender's config names them
/// (`kibana.alert.rule.name`, `source.ip`, `alerts.0.host.name`).
///
/// Lookup, from the value the path starts at:
/// - In an object, a member whose key equals the next one or more components joined with `.`
///   continues the path, so `source.ip` matches `{"source":{"ip":…}}`, `{"source.ip":…}` and
///   mixed spellings; values from every spelling present are collected, in document order.
/// - In an array, a component of digits indexes it (`alerts.0`); any other component is looked
///   up in each element (arrays are transparent: `alerts.source.ip` reaches every alert's IP).
/// - At the end of the path an array gives its elements (one level), any other value itself.
///
/// The work is linear in the size of the JSON times the number of components, and at most
/// `maxValues` values are returned unless the caller asks for more.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    /// The most components a path may have.
    public static let maxComponents = 16
    /// The longest path text, in UTF-8 bytes.
    public static let maxLength = 256
    /// The most values one lookup returns.
    public static let maxValues = 1024

    /// The path's components (non-empty, without `.`).
    public let components: [String]

    /// Parses `a.b.c`. Nil when empty, longer than `maxLength` bytes, with more than
    /// `maxComponents` components, or with an empty component (`a..b`, `.a`, `a.`).
    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= FieldPath.maxLength else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= FieldPath.maxComponents, !parts.contains(where: \.isEmpty) else { return nil }
        components = parts
    }

    /// The components joined with `.`.
    public var description: String { components.joined(separator: ".") }

    /// Every value at this path in `root` (see the type's summary), at most `limit`.
    public func values(in root: JSONValue, limit: Int = FieldPath.maxValues) -> [JSONValue] {
        var lookup = Lookup(components: components, limit: limit)
        lookup.walk(root, at: 0)
        return lookup.found
    }

    /// The first value at this path that has scalar text (a string, number or boolean).
    public func firstText(in root: JSONValue) -> String? {
        values(in: root).lazy.compactMap(\.scalarText).first
    }

    private struct Lookup {
        let components: [String]
        /// `rest[i]`: components `i…` joined with `.`, for matching flattened keys.
        let rest: [String]
        let limit: Int
        var found: [JSONValue] = []

        init(components: [String], limit: Int) {
            self.components = components
            self.limit = limit
            rest = components.indices.map { components[$0...].joined(separator: ".") }
        }

        mutating func walk(_ value: JSONValue, at i: Int) {
            guard found.count < limit else { return }
            if i == components.count {
                if case .array(let items) = value {
                    found += items.prefix(limit - found.count)
                } else {
                    found.append(value)
                }
                return
            }
            switch value {
            case .object(let members):
                for member in members {
                    if member.key == rest[i] {
                        walk(member.value, at: components.count)
                    } else if rest[i].hasPrefix(member.key + ".") {
                        let covered = member.key.utf8.reduce(1) { $0 + ($1 == UInt8(ascii: ".") ? 1 : 0) }
                        walk(member.value, at: i + covered)
                    }
                }
            case .array(let items):
                if let index = Int(components[i]), components[i].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                    if index < items.count { walk(items[index], at: i + 1) }
                } else {
                    for item in items { walk(item, at: i) }
                }
            default:
                return
            }
        }
    }
}
