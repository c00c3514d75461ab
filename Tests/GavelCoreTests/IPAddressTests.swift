import Testing

@testable import GavelCore

@Suite struct IPAddressTests {
    @Test(arguments: [
        "127.1", "0177.0.0.1", "010.8.8.8", "0x7f.0.0.1", "2130706433", "1.2.3.4 ", " 1.2.3.4",
        "fe80::1%eth0", "", "1.2.3.256", "1.2.3", "::ffff:1.2.3", "1:2:3:4:5:6:7:8:9", "AWS Internal",
    ])
    func refusesNonCanonicalText(_ text: String) {
        #expect(IPAddress(parsing: text) == nil)
    }

    @Test(arguments: [
        ("203.0.113.42", "203.0.113.42"),
        ("2001:DB8::17", "2001:db8::17"),
        ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("::FFFF:a00:1", "10.0.0.1"),
        ("::1", "::1"),
        ("0.0.0.0", "0.0.0.0"),
    ])
    func canonicalizes(_ input: String, _ expected: String) throws {
        let ip = try #require(IPAddress(parsing: input))
        #expect(ip.description == expected)
        #expect(IPAddress(parsing: ip.description) == ip)
    }

    @Test func embeddedIPv4OfNAT64And6to4() throws {
        let nat64 = try #require(IPAddress(parsing: "64:ff9b::a00:1")?.embeddedIPv4)
        #expect(nat64.address == IPAddress(parsing: "10.0.0.1"))
        #expect(nat64.embedding == "64:ff9b::/96 (NAT64, RFC 6052)")
        let sixToFour = try #require(IPAddress(parsing: "2002:a00:1:2:3:4:5:6")?.embeddedIPv4)
        #expect(sixToFour.address == IPAddress(parsing: "10.0.0.1"))
        #expect(sixToFour.embedding == "2002::/16 (6to4, RFC 3056)")
        for text in ["10.0.0.1", "2001:db8::a00:1", "64:ff9b:1::a00:1", "64:ff9b::1:a00:1", "::10.0.0.1", "::ffff:10.0.0.1"] {
            #expect(IPAddress(parsing: text)?.embeddedIPv4 == nil, "\(text)")
        }
    }

    @Test func cidrContains() throws {
        let ten = try #require(CIDR(parsing: "10.0.0.0/8"))
        #expect(ten.contains(IPAddress(parsing: "10.1.2.3")!))
        #expect(!ten.contains(IPAddress(parsing: "11.0.0.1")!))
        let ula = try #require(CIDR(parsing: "fc00::/7"))
        #expect(ula.contains(IPAddress(parsing: "fd12::1")!))
        #expect(!ula.contains(IPAddress(parsing: "10.0.0.1")!))
        #expect(CIDR(parsing: "10.0.0.0/33") == nil)
        #expect(CIDR(parsing: "10.0.0.0/08") == nil)
        #expect(CIDR(parsing: "10.0.0.0/-1") == nil)
        #expect(CIDR(parsing: "10.9.9.9/8")?.description == "10.0.0.0/8")
        #expect(CIDR(parsing: "::ffff:10.0.0.0/104")?.description == "10.0.0.0/8")
    }
}
