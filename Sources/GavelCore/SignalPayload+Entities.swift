/// Entity extraction from a signal's attributes and group-by values (Datadog standard
/// attributes, CloudTrail fields, App and API Protection's actor).
///
/// Paths: `network.client.ip` and `actor.ip` (IPs; `actor.ip` is the attacker of an App and
/// API Protection signal); user ids `usr.id` / `user.id`, else e-mails `usr.email` /
/// `user.email`, else names `usr.name` / `user.name` (Datadog's documentation uses both
/// spellings); `evt.name` / `evt.outcome`; `requestParameters.groupId` /
/// `responseElements.groupId` (CloudTrail security groups); `userIdentity.arn` (CloudTrail
/// actor). Each path is found nested (`{"network":{"client":{"ip":…}}}`), flattened
/// (`{"network.client.ip":…}`), mixed (`{"network":{"client.ip":…}}`) or with Datadog's facet
/// prefix `@` on its first key (`{"@network.client.ip":…}`); values from every spelling present
/// are merged.
///
/// The same paths are read from `SECURITY_RULE_GROUP_BY_FIELDS` when it is an object (or a
/// string holding one), whose keys carry the `@` prefix (`{"@usr.name":"…","@network.client.ip":"…"}`):
/// the values a rule grouped by name the entity exactly.
extension SignalPayloadReader {
    /// The paths whose values are client IPs.
    static let ipPaths = [AttributePath("network.client.ip"), AttributePath("actor.ip")]
    static let userIDPaths = [AttributePath("usr.id"), AttributePath("user.id")]
    static let userEmailPaths = [AttributePath("usr.email"), AttributePath("user.email")]
    static let userNamePaths = [AttributePath("usr.name"), AttributePath("user.name")]
    static let eventNamePaths = [AttributePath("evt.name")]
    static let eventOutcomePaths = [AttributePath("evt.outcome")]
    static let actorPaths = [AttributePath("userIdentity.arn")]
    static let securityGroupPaths = [AttributePath("requestParameters.groupId"), AttributePath("responseElements.groupId")]

    mutating func extractEntities(from sources: [JSONValue], into s: inout Signal) {
        var ips = UniqueList<IPAddress>()
        var invalid = UniqueList<String>()
        for value in Self.ipPaths.flatMap({ path in sources.flatMap { Self.values(at: path, in: $0) } }) {
            switch value {
            case .null: continue
            case .string(let text):
                if text.isEmpty { continue }
                if let ip = IPAddress(parsing: text) {
                    ips.append(ip)
                } else {
                    invalid.append(text)
                }
            default:
                invalid.append(value.scalarText ?? value.compactText)
            }
        }
        if !invalid.values.isEmpty { flag(.invalidIP) }
        s.ips = ips.values
        s.invalidIPs = invalid.values

        let ids = texts(at: Self.userIDPaths, in: sources)
        s.userEmails = texts(at: Self.userEmailPaths, in: sources)
        s.userNames = texts(at: Self.userNamePaths, in: sources)
        s.users = !ids.isEmpty ? ids : !s.userEmails.isEmpty ? s.userEmails : s.userNames

        s.eventName = texts(at: Self.eventNamePaths, in: sources).first
        s.eventOutcome = texts(at: Self.eventOutcomePaths, in: sources).first
        s.actor = texts(at: Self.actorPaths, in: sources).first
        s.securityGroups = texts(at: Self.securityGroupPaths, in: sources)

        if ips.truncated || invalid.truncated { flag(.entitiesTruncated) }
    }

    /// The distinct non-empty scalar texts at any of `paths` in any of `sources`, capped.
    private mutating func texts(at paths: [AttributePath], in sources: [JSONValue]) -> [String] {
        var out = UniqueList<String>()
        for path in paths {
            for source in sources {
                for value in Self.values(at: path, in: source) {
                    if let text = value.scalarText, !text.isEmpty { out.append(text) }
                }
            }
        }
        if out.truncated { flag(.entitiesTruncated) }
        return out.values
    }

    /// Every value found at the dotted `path`, nested or flattened; array values are flattened
    /// one level (so `"ip": ["a", "b"]` and `"ip": "a"` read alike).
    static func values(at path: String, in object: JSONValue) -> [JSONValue] {
        values(at: AttributePath(path), in: object)
    }

    /// `values(at:in:)` for a path split once (the extraction's paths are static).
    static func values(at path: AttributePath, in object: JSONValue) -> [JSONValue] {
        var found: [JSONValue] = []
        collect(path, from: 0, prefixed: false, in: object, into: &found)
        collect(path, from: 0, prefixed: true, in: object, into: &found)
        return found.flatMap { value -> [JSONValue] in
            if case .array(let items) = value { return items }
            return [value]
        }
    }

    /// Tries every split of the components from `start` into a first key (components joined
    /// with `.`) and the rest, so `a.b.c` matches `a`→`b`→`c`, `a.b`→`c`, `a`→`b.c` and
    /// `a.b.c`; `prefixed` puts Datadog's facet `@` on the path's first key.
    private static func collect(_ path: AttributePath, from start: Int, prefixed: Bool, in object: JSONValue, into found: inout [JSONValue]) {
        guard case .object = object, start < path.count else { return }
        for end in start..<path.count {
            guard let value = object[path.key(from: start, through: end, prefixed: prefixed)] else { continue }
            if end == path.count - 1 {
                found.append(value)
            } else {
                collect(path, from: end + 1, prefixed: false, in: value, into: &found)
            }
        }
    }
}

/// A dotted attribute path (`network.client.ip`) with every key it can be spelled as made
/// once: the components `i...j` joined with `.`, and those from the first with Datadog's
/// facet prefix `@` (`@network.client`). Reading a signal looks up 13 such paths in each
/// source; splitting and joining them on every lookup was a fifth of the receiver's
/// decoding time (BENCHMARKS.md).
struct AttributePath: Sendable {
    /// How many components (`network.client.ip`: 3).
    let count: Int
    /// `joined[i][j - i]`: components `i...j` joined with `.`.
    private let joined: [[String]]
    /// `prefixedJoined[j]`: `@` + components `0...j` joined with `.`.
    private let prefixedJoined: [String]

    init(_ path: String) {
        let components = path.split(separator: ".").map(String.init)
        count = components.count
        joined = components.indices.map { i in components.indices.filter { $0 >= i }.map { j in components[i...j].joined(separator: ".") } }
        prefixedJoined = components.indices.map { j in "@" + components[0...j].joined(separator: ".") }
    }

    /// Components `start...end` joined with `.`, with `@` first when `prefixed` (only from the first).
    func key(from start: Int, through end: Int, prefixed: Bool) -> String {
        prefixed && start == 0 ? prefixedJoined[end] : joined[start][end - start]
    }
}

/// An insertion-ordered list without repeats, holding at most `SignalPayload.maxListCount` values.
struct UniqueList<Element: Hashable> {
    private(set) var values: [Element] = []
    private var seen: Set<Element> = []
    /// True once a new value was refused because the list was full.
    private(set) var truncated = false

    mutating func append(_ value: Element) {
        guard !seen.contains(value) else { return }
        guard values.count < SignalPayload.maxListCount else {
            truncated = true
            return
        }
        seen.insert(value)
        values.append(value)
    }
}
