import Testing

@testable import GavelCore

@Suite struct CrowdSecAlertTests {
    func signals(_ body: String) throws -> [Signal] { try SenderIntakeTests.intake(body, .crowdsec) }

    @Test func nullDecisionsAndRangeScopes() throws {
        let all = try signals(SenderFixtures.crowdSecMixed)
        #expect(all.count == 2)
        let ssh = all[0]
        #expect(ssh.ruleName == "crowdsecurity/ssh-bf")
        #expect(ssh.ips.map(\.description) == ["198.51.100.61"])
        #expect(ssh.suggestedDurationSeconds == nil)
        #expect(ssh.flags.contains(.simulated))
        #expect(ssh.ipRanges.isEmpty && ssh.contextIPs.isEmpty)
        #expect(ssh.title == "Ip 198.51.100.61 performed 'crowdsecurity/ssh-bf' (6 events over 3s)")
        #expect(ssh.firstSeen == "2026-12-03T09:00:00Z" && ssh.lastSeen == "2026-12-03T09:00:03Z")
        let probing = all[1]
        #expect(probing.signalID == "5f0c9a1e-7b3d-4e21-9c88-0e6d1f2a3b4c")
        #expect(probing.ips.isEmpty)
        #expect(probing.ipRanges.map(\.description) == ["203.0.113.0/24"])
        #expect(probing.suggestedDurationSeconds == 3 * 3600 + 59 * 60 + 58)
        #expect(probing.eventCount == 40)
        #expect(!probing.flags.contains(.unrecognised))
    }

    @Test func sourceValueWhenIPIsAbsentAndDecisionsAddTargets() throws {
        let body = #"""
            [{"scenario":"s","source":{"scope":"ip","value":"192.0.2.7"},
              "decisions":[{"duration":"1h","scope":"Ip","type":"ban","value":"192.0.2.8"},{"duration":"90m","scope":"Ip","type":"captcha","value":"192.0.2.7"},
                           {"duration":"garbage","scope":"Country","value":"EX"}]}]
            """#
        let s = try #require(try signals(body).first)
        #expect(s.ips.map(\.description) == ["192.0.2.7", "192.0.2.8"])
        #expect(s.suggestedDurationSeconds == 5400)
    }

    @Test func emptyDecisionsStillTargetTheSource() throws {
        let s = try #require(try signals(#"[{"scenario":"s","source":{"scope":"Ip","value":"192.0.2.9","ip":"192.0.2.9"},"decisions":[]}]"#).first)
        #expect(s.ips.map(\.description) == ["192.0.2.9"])
        #expect(s.suggestedDurationSeconds == nil)
    }

    @Test func aSingleAlertObjectIsAccepted() throws {
        let s = try #require(try signals(#"{"scenario":"s","source":{"scope":"Ip","value":"192.0.2.9"}}"#).first)
        #expect(s.ips.map(\.description) == ["192.0.2.9"] && s.source == "crowdsec")
    }

    @Test func derivedIDsAreStableAcrossRetries() throws {
        let a = try signals(SenderFixtures.crowdSecMixed)
        let b = try signals(SenderFixtures.crowdSecMixed)
        #expect(a.map(\.signalID) == b.map(\.signalID))
        #expect(a[0].signalID.hasPrefix("derived-") && a[0].flags.contains(.derivedID))
    }

    @Test(arguments: [
        ("4h", Int64(14_400_000_000_000)), ("3h59m58s", 14_398_000_000_000), ("3h59m58.123456789s", 14_398_123_456_789), ("0", 0),
        ("1.5h", 5_400_000_000_000), ("300ms", 300_000_000), ("2us", 2_000), ("2µs", 2_000), ("-1m", -60_000_000_000), ("+5s", 5_000_000_000),
        (".5s", 500_000_000), ("1h0m0s", 3_600_000_000_000), ("2562047h47m16.854775807s", Int64.max),
    ])
    func goDurations(_ text: String, _ nanoseconds: Int64) {
        #expect(GoDuration.nanoseconds(text) == nanoseconds)
    }

    @Test func badGoDurations() {
        for bad in ["", "4", "h", "4x", "4 h", "-", "1.h.", "..s", "1e3s", "9999999999999999999h", "2562047h47m16.854775808s", "4hh", "4h ", " 4h"] {
            #expect(GoDuration.nanoseconds(bad) == nil, "\(bad.debugDescription)")
        }
        #expect(GoDuration.seconds("3h59m58.9s") == 14_398)
        #expect(GoDuration.nanoseconds("-2562047h47m16.854775808s") == Int64.min)
    }
}
