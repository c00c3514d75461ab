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
