/// Entity extraction from a signal's attributes (Datadog standard attributes and CloudTrail fields).
///
/// Paths: `network.client.ip` (IPs), `usr.id` / `usr.email` / `usr.name` (users),
/// `evt.name` / `evt.outcome`, `requestParameters.groupId` / `responseElements.groupId`
/// (security groups), `userIdentity.arn` (actor). Each path is found nested
/// (`{"network":{"client":{"ip":…}}}`), flattened (`{"network.client.ip":…}`) or mixed
/// (`{"network":{"client.ip":…}}`); values from every spelling present are merged.
extension SignalPayloadReader {
    mutating func extractEntities(from attributes: JSONValue, into s: inout Signal) {
        var ips = UniqueList<IPAddress>()
        var invalid = UniqueList<String>()
        for value in Self.values(at: "network.client.ip", in: attributes) {
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

        let ids = texts(at: "usr.id", in: attributes)
        s.userEmails = texts(at: "usr.email", in: attributes)
        s.userNames = texts(at: "usr.name", in: attributes)
        s.users = !ids.isEmpty ? ids : !s.userEmails.isEmpty ? s.userEmails : s.userNames

        s.eventName = texts(at: "evt.name", in: attributes).first
        s.eventOutcome = texts(at: "evt.outcome", in: attributes).first
        s.actor = texts(at: "userIdentity.arn", in: attributes).first

        var groups = UniqueList<String>()
        for path in ["requestParameters.groupId", "responseElements.groupId"] {
            for g in texts(at: path, in: attributes) { groups.append(g) }
        }
        s.securityGroups = groups.values

        if ips.truncated || invalid.truncated || groups.truncated { flag(.entitiesTruncated) }
    }

    /// The distinct non-empty scalar texts at `path` (arrays flattened one level), capped.
    private mutating func texts(at path: String, in attributes: JSONValue) -> [String] {
        var out = UniqueList<String>()
        for value in Self.values(at: path, in: attributes) {
            if let text = value.scalarText, !text.isEmpty { out.append(text) }
        }
        if out.truncated { flag(.entitiesTruncated) }
        return out.values
    }

    /// Every value found at the dotted `path`, nested or flattened; array values are flattened
    /// one level (so `"ip": ["a", "b"]` and `"ip": "a"` read alike).
    static func values(at path: String, in object: JSONValue) -> [JSONValue] {
        var found: [JSONValue] = []
        collect(path.split(separator: ".").map(String.init)[...], in: object, into: &found)
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
