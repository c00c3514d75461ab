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
    static let ipPaths = ["network.client.ip", "actor.ip"]

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

        let ids = texts(at: ["usr.id", "user.id"], in: sources)
        s.userEmails = texts(at: ["usr.email", "user.email"], in: sources)
        s.userNames = texts(at: ["usr.name", "user.name"], in: sources)
        s.users = !ids.isEmpty ? ids : !s.userEmails.isEmpty ? s.userEmails : s.userNames

        s.eventName = texts(at: ["evt.name"], in: sources).first
        s.eventOutcome = texts(at: ["evt.outcome"], in: sources).first
        s.actor = texts(at: ["userIdentity.arn"], in: sources).first
        s.securityGroups = texts(at: ["requestParameters.groupId", "responseElements.groupId"], in: sources)

        if ips.truncated || invalid.truncated { flag(.entitiesTruncated) }
    }

    /// The distinct non-empty scalar texts at any of `paths` in any of `sources`, capped.
    private mutating func texts(at paths: [String], in sources: [JSONValue]) -> [String] {
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
        var found: [JSONValue] = []
        var components = path.split(separator: ".").map(String.init)
        collect(components[...], in: object, into: &found)
        components[0] = "@" + components[0]
        collect(components[...], in: object, into: &found)
        return found.flatMap { value -> [JSONValue] in
            if case .array(let items) = value { return items }
            return [value]
        }
    }

    /// Tries every split of `components` into a first key (components joined with `.`) and the
    /// rest, so `a.b.c` matches `a`→`b`→`c`, `a.b`→`c`, `a`→`b.c` and `a.b.c`.
    private static func collect(_ components: ArraySlice<String>, in object: JSONValue, into found: inout [JSONValue]) {
        guard case .object = object, !components.isEmpty else { return }
        var key = ""
        for k in components.indices {
            key += (k == components.startIndex ? "" : ".") + components[k]
            guard let value = object[key] else { continue }
            let rest = components[(k + 1)...]
            if rest.isEmpty {
                found.append(value)
            } else {
                collect(rest, in: value, into: &found)
            }
        }
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
