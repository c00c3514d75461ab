/// Targets gavel never remediates: a proposal on an allowlisted target starts `suppressed`,
/// and the dispatcher refuses it even when approved by hand (hardening checklist D1).
///
/// Matching:
/// - `ip` targets against the configured `cidrs`, then, when `protectInternal` is on, against
///   `internalRanges` (loopback, link-local, multicast, unspecified, private, shared address
///   space). An IPv4-mapped IPv6 address is compared as its IPv4 address.
/// - `user` targets against `users`, ignoring ASCII case (e-mail style ids differ in case
///   between sources; erring toward suppression is the safe side).
/// - `security_group` targets against `resources`, ignoring ASCII case.
/// - `signal` targets never match.
public struct Allowlist: Sendable, Equatable {
    /// Configured address ranges never to ban.
    public var cidrs: [CIDR]
    /// User ids never to disable (compared ignoring case).
    public var users: Set<String>
    /// Resource ids (security groups) never to delete (compared ignoring case).
    public var resources: Set<String>
    /// Whether `internalRanges` are protected as well (default true).
    public var protectInternal: Bool

    /// An allowlist; the default protects internal ranges only.
    public init(cidrs: [CIDR] = [], users: Set<String> = [], resources: Set<String> = [], protectInternal: Bool = true) {
        self.cidrs = cidrs
        self.users = users
        self.resources = resources
        self.protectInternal = protectInternal
    }

    /// Address ranges that are never public targets, with the reason shown to the analyst:
    /// RFC 1122 / RFC 6890 special-purpose ranges gavel must never ban (banning them cuts off
    /// the host's own network, its cloud metadata service, or is meaningless).
    public static let internalRanges: [(range: CIDR, name: String)] = [
        ("0.0.0.0/8", "this network, RFC 1122"),
        ("10.0.0.0/8", "RFC 1918"),
        ("100.64.0.0/10", "shared address space / CGNAT, RFC 6598"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local / cloud metadata"),
        ("172.16.0.0/12", "RFC 1918"),
        ("192.168.0.0/16", "RFC 1918"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "unique local, RFC 4193"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    ].map { (CIDR(parsing: $0.0)!, $0.1) }

    /// The internal range holding `address`, as `"10.0.0.0/8 (RFC 1918)"`, or nil.
    public static func internalRange(containing address: IPAddress) -> String? {
        internalRanges.first(where: { $0.range.contains(address) }).map { "\($0.range) (\($0.name))" }
    }

    /// The allowlist entry protecting `target`, as a reason such as
    /// `"allowlist: 10.0.0.0/8 (RFC 1918)"` or `"allowlist: user alice@example.com"`; nil when
    /// the target is not allowlisted. An `ip` target that does not parse never matches (the
    /// target validator refuses it).
    public func match(kind: TargetKind, target: String) -> String? {
        switch kind {
        case .ip:
            guard let address = IPAddress(parsing: target) else { return nil }
            if let range = cidrs.first(where: { $0.contains(address) }) {
                return "allowlist: \(range)"
            }
            if protectInternal, let range = Allowlist.internalRange(containing: address) {
                return "allowlist: \(range)"
            }
            return nil
        case .user:
            let lowered = target.lowercased()
            return users.contains(where: { $0.lowercased() == lowered }) ? "allowlist: user \(target)" : nil
        case .securityGroup:
            let lowered = target.lowercased()
            return resources.contains(where: { $0.lowercased() == lowered }) ? "allowlist: resource \(target)" : nil
        case .signal:
            return nil
        }
    }
}
