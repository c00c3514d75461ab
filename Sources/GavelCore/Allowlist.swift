/// Targets gavel never remediates: a proposal on an allowlisted target starts `suppressed`,
/// and the dispatcher refuses it even when approved by hand (hardening checklist D1).
///
/// Matching:
/// - `ip` targets against the configured `cidrs`, then, when `protectInternal` is on, against
///   `internalRanges` (loopback, link-local, multicast, unspecified, private, shared address
///   space, reserved, benchmarking, IPv4-compatible and local-use translation). An IPv4-mapped
///   IPv6 address is compared as its IPv4 address; a NAT64 (`64:ff9b::/96`) or 6to4
///   (`2002::/16`) address is also compared as the IPv4 address it carries.
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
    /// RFC 6890 special-purpose ranges gavel must never ban (banning them cuts off the host's own
    /// network, its cloud metadata service, or is meaningless because they are not routed on
    /// the internet). The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
    /// 2001:db8::/32, RFC 5737 / RFC 3849) are deliberately absent: examples and tests use them
    /// as public addresses. Order matters where ranges nest: the first match names the reason.
    public static let internalRanges: [(range: CIDR, name: String)] = [
        ("0.0.0.0/8", "this network, RFC 1122"),
        ("10.0.0.0/8", "RFC 1918"),
        ("100.64.0.0/10", "shared address space / CGNAT, RFC 6598"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local / cloud metadata"),
        ("172.16.0.0/12", "RFC 1918"),
        ("192.0.0.0/24", "IETF protocol assignments, RFC 6890"),
        ("192.168.0.0/16", "RFC 1918"),
        ("198.18.0.0/15", "benchmarking, RFC 2544"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved, RFC 1112"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible, deprecated, RFC 4291"),
        ("::ffff:0:0:0/96", "IPv4-translated, RFC 2765"),
        ("5f00::/16", "SRv6 SIDs, RFC 9602"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation, RFC 8215"),
        ("100::/64", "discard-only, RFC 6666"),
        ("2001:2::/48", "benchmarking, RFC 5180"),
        ("fc00::/7", "unique local, RFC 4193"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local, deprecated, RFC 3879"),
        ("ff00::/8", "multicast"),
    ].map { (CIDR(parsing: $0.0)!, $0.1) }

    /// The internal range holding `address`, as `"10.0.0.0/8 (RFC 1918)"`, or nil.
    ///
    /// An IPv6 address that carries an IPv4 address (NAT64 `64:ff9b::/96`, 6to4 `2002::/16`;
    /// see `IPAddress.embeddedIPv4`) is internal when that IPv4 address is, named with both
    /// ranges: `"10.0.0.0/8 (RFC 1918) via 64:ff9b::/96 (NAT64, RFC 6052)"`.
    public static func internalRange(containing address: IPAddress) -> String? {
        if let range = internalRanges.first(where: { $0.range.contains(address) }) {
            return "\(range.range) (\(range.name))"
        }
        if let (v4, embedding) = address.embeddedIPv4, let range = internalRanges.first(where: { $0.range.contains(v4) }) {
            return "\(range.range) (\(range.name)) via \(embedding)"
        }
        return nil
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
            if let (v4, embedding) = address.embeddedIPv4, let range = cidrs.first(where: { $0.contains(v4) }) {
                return "allowlist: \(range) via \(embedding)"
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
