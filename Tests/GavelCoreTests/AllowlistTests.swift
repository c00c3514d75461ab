import Testing

@testable import GavelCore

@Suite struct AllowlistTests {
    @Test(arguments: [
        ("10.1.2.3", "allowlist: 10.0.0.0/8 (RFC 1918)"),
        ("192.168.1.1", "allowlist: 192.168.0.0/16 (RFC 1918)"),
        ("172.31.255.255", "allowlist: 172.16.0.0/12 (RFC 1918)"),
        ("127.0.0.1", "allowlist: 127.0.0.0/8 (loopback)"),
        ("169.254.169.254", "allowlist: 169.254.0.0/16 (link-local / cloud metadata)"),
        ("100.64.0.1", "allowlist: 100.64.0.0/10 (shared address space / CGNAT, RFC 6598)"),
        ("224.0.0.1", "allowlist: 224.0.0.0/4 (multicast)"),
        ("0.0.0.0", "allowlist: 0.0.0.0/8 (this network, RFC 1122)"),
        ("::1", "allowlist: ::1/128 (loopback)"),
        ("::", "allowlist: ::/128 (unspecified)"),
        ("fd00::1", "allowlist: fc00::/7 (unique local, RFC 4193)"),
        ("fe80::1", "allowlist: fe80::/10 (link-local)"),
        ("ff02::1", "allowlist: ff00::/8 (multicast)"),
    ])
    func defaultsProtectInternalRanges(_ ip: String, _ reason: String) {
        #expect(Allowlist().match(kind: .ip, target: ip) == reason)
    }

    @Test(arguments: ["203.0.113.42", "198.51.100.23", "2001:db8::17", "172.32.0.1", "100.128.0.1", "8.8.8.8"])
    func publicAddressesAreNotProtected(_ ip: String) {
        #expect(Allowlist().match(kind: .ip, target: ip) == nil)
    }

    /// Issue 16 item 4: internal addresses in other spellings were proposed as bans while
    /// `protect_internal` was on.
    @Test(arguments: [
        ("64:ff9b::a00:1", "allowlist: 10.0.0.0/8 (RFC 1918) via 64:ff9b::/96 (NAT64, RFC 6052)"),
        ("64:ff9b::7f00:1", "allowlist: 127.0.0.0/8 (loopback) via 64:ff9b::/96 (NAT64, RFC 6052)"),
        ("64:ff9b::a9fe:a9fe", "allowlist: 169.254.0.0/16 (link-local / cloud metadata) via 64:ff9b::/96 (NAT64, RFC 6052)"),
        ("2002:a00:1::1", "allowlist: 10.0.0.0/8 (RFC 1918) via 2002::/16 (6to4, RFC 3056)"),
        ("2002:c0a8:101:5::1", "allowlist: 192.168.0.0/16 (RFC 1918) via 2002::/16 (6to4, RFC 3056)"),
        ("::10.0.0.1", "allowlist: ::/96 (IPv4-compatible, deprecated, RFC 4291)"),
        ("::8.8.8.8", "allowlist: ::/96 (IPv4-compatible, deprecated, RFC 4291)"),
        ("240.0.0.1", "allowlist: 240.0.0.0/4 (reserved, RFC 1112)"),
        ("255.255.255.254", "allowlist: 240.0.0.0/4 (reserved, RFC 1112)"),
        ("255.255.255.255", "allowlist: 255.255.255.255/32 (broadcast)"),
        ("198.18.0.1", "allowlist: 198.18.0.0/15 (benchmarking, RFC 2544)"),
        ("198.19.255.255", "allowlist: 198.18.0.0/15 (benchmarking, RFC 2544)"),
        ("64:ff9b:1::a00:1", "allowlist: 64:ff9b:1::/48 (local-use IPv4/IPv6 translation, RFC 8215)"),
        ("192.0.0.170", "allowlist: 192.0.0.0/24 (IETF protocol assignments, RFC 6890)"),
        ("100::1", "allowlist: 100::/64 (discard-only, RFC 6666)"),
        ("2001:2::1", "allowlist: 2001:2::/48 (benchmarking, RFC 5180)"),
        ("fec0::1", "allowlist: fec0::/10 (site-local, deprecated, RFC 3879)"),
        // Found by the second attacker pass: the IPv4-translated spelling of 10.0.0.1 and
        // 127.0.0.1, and segment identifiers that are not globally reachable.
        ("::ffff:0:a00:1", "allowlist: ::ffff:0:0:0/96 (IPv4-translated, RFC 2765)"),
        ("::ffff:0:7f00:1", "allowlist: ::ffff:0:0:0/96 (IPv4-translated, RFC 2765)"),
        ("5f00::1", "allowlist: 5f00::/16 (SRv6 SIDs, RFC 9602)"),
    ])
    func otherSpellingsOfInternalAddressesAreProtected(_ ip: String, _ reason: String) {
        #expect(Allowlist().match(kind: .ip, target: ip) == reason)
        #expect(Allowlist(protectInternal: false).match(kind: .ip, target: ip) == nil)
    }

    /// The documentation ranges stay bannable (examples and tests use them as public
    /// addresses), and so do NAT64 and 6to4 addresses carrying a public IPv4 address.
    @Test(arguments: [
        "192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", "2001:db8:ffff::1", "198.17.255.255", "198.20.0.0",
        "64:ff9b::cb00:712a", "2002:cb00:712a::1", "64:ff9b:2::1", "2001:3::1", "192.0.1.255",
    ])
    func documentationAndEmbeddedPublicAddressesStayBannable(_ ip: String) {
        #expect(Allowlist().match(kind: .ip, target: ip) == nil)
    }

    /// A configured range also protects the NAT64 and 6to4 spellings of its addresses.
    @Test func configuredCIDRMatchesEmbeddedIPv4() throws {
        let list = Allowlist(cidrs: [try #require(CIDR(parsing: "203.0.113.0/24"))])
        #expect(list.match(kind: .ip, target: "64:ff9b::cb00:712a") == "allowlist: 203.0.113.0/24 via 64:ff9b::/96 (NAT64, RFC 6052)")
        #expect(list.match(kind: .ip, target: "2002:cb00:712a::1") == "allowlist: 203.0.113.0/24 via 2002::/16 (6to4, RFC 3056)")
        #expect(list.match(kind: .ip, target: "64:ff9b::c633:6417") == nil)
    }

    @Test func mappedIPv6IsComparedAsIPv4() {
        // IPAddress canonicalizes ::ffff:10.0.0.1 to 10.0.0.1; a non-canonical target never matches
        // (the validator refuses it before the allowlist is asked).
        #expect(Allowlist().match(kind: .ip, target: "::ffff:10.0.0.1") == "allowlist: 10.0.0.0/8 (RFC 1918)")
    }

    @Test func configuredCIDR() throws {
        let list = Allowlist(cidrs: [try #require(CIDR(parsing: "203.0.113.0/24")), try #require(CIDR(parsing: "2001:db8::/32"))])
        #expect(list.match(kind: .ip, target: "203.0.113.42") == "allowlist: 203.0.113.0/24")
        #expect(list.match(kind: .ip, target: "2001:db8::17") == "allowlist: 2001:db8::/32")
        #expect(list.match(kind: .ip, target: "198.51.100.23") == nil)
        // Configured entries win over the internal ranges in the reason.
        let wide = Allowlist(cidrs: [try #require(CIDR(parsing: "10.1.0.0/16"))])
        #expect(wide.match(kind: .ip, target: "10.1.2.3") == "allowlist: 10.1.0.0/16")
    }

    @Test func protectInternalOff() {
        let list = Allowlist(protectInternal: false)
        #expect(list.match(kind: .ip, target: "10.1.2.3") == nil)
        #expect(list.match(kind: .ip, target: "::1") == nil)
    }

    @Test func usersAndResourcesIgnoreCase() {
        let list = Allowlist(users: ["Break-Glass@Example.com"], resources: ["sg-0123456789abcdef0"])
        #expect(list.match(kind: .user, target: "break-glass@example.com") == "allowlist: user break-glass@example.com")
        #expect(list.match(kind: .user, target: "someone@example.com") == nil)
        #expect(list.match(kind: .securityGroup, target: "sg-0123456789abcdef0") == "allowlist: resource sg-0123456789abcdef0")
        #expect(list.match(kind: .securityGroup, target: "sg-0a1b2c3d") == nil)
        #expect(list.match(kind: .signal, target: "sg-0123456789abcdef0") == nil)
        // A user allowlist entry does not protect a resource of the same name, and vice versa.
        #expect(list.match(kind: .securityGroup, target: "break-glass@example.com") == nil)
    }

    @Test func unparsableIPNeverMatches() {
        #expect(Allowlist().match(kind: .ip, target: "127.1") == nil)
    }
}
