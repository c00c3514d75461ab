import Foundation
import Testing

@testable import GavelCore

@Suite(.serialized) struct DemoEndToEndTests {
    @Test func demoAgainstServeProducesTheScenarios() throws {
        let serve = try ServeProcess()
        defer { serve.cleanup() }
        let demo = try GavelBinary.run(["demo", "--to", serve.baseURL], cwd: serve.folder)
        #expect(demo.status == 0, "\(demo.err)")
        #expect(demo.out.split(separator: "\n").filter { $0.hasPrefix("202") }.count == 9)

        let signals = try GavelBinary.run(["signals", "--json", "--db", serve.dbPath])
        let list = try JSONValue.parse(signals.out)
        guard case .array(let items) = list else {
            Issue.record("not an array")
            return
        }
        #expect(items.count == 9)
        let ips = Set(
            items.flatMap { item -> [String] in
                guard case .array(let a)? = item["ips"] else { return [] }
                return a.compactMap(\.scalarText)
            })
        #expect(
            ips.isSuperset(of: ["203.0.113.42", "198.51.100.23", "2001:db8:4::1a", "10.20.30.40", "203.0.113.77", "2001:db8::17", "198.51.100.99"]))
        #expect(items.contains { $0["resources"] == .array([.string("sg-0a1b2c3d4e5f60789")]) })
        #expect(items.contains { $0["users"] == .array([.string("shopper.one@example.com")]) })

        let rems = try GavelBinary.run(["list", "--json", "--db", serve.dbPath])
        guard case .array(let remediations) = try JSONValue.parse(rems.out) else {
            Issue.record("not an array")
            return
        }
        func find(_ action: String, _ target: String) -> JSONValue? {
            remediations.first { $0["action"] == .string(action) && $0["target"] == .string(target) }
        }
        #expect(find("delete-security-group", "sg-0a1b2c3d4e5f60789")?["state"] == .string("pending"))
        #expect(find("disable-user", "shopper.one@example.com")?["state"] == .string("pending"))
        let ban = try #require(find("ban-ip", "203.0.113.42"))
        #expect(ban["signals"] == .number("2"))
        #expect(find("ban-ip", "10.20.30.40")?["state"] == .string("suppressed"))
        #expect(find("ban-ip", "2001:db8:4::1a") != nil)
        #expect(!remediations.contains { $0["target"] == .string("192.0.2.10") }, "the security group's caller IP is context, not a target")

        // Approving the ban writes the dispatched request to the outbox (no config: outbox actions).
        let id = try #require(ban["id"]?.scalarText)
        let approve = try GavelBinary.run(["approve", id, "--by", "e2e", "--db", serve.dbPath])
        #expect(approve.status == 0, "\(approve.err)")
        var line: JSONValue?
        for _ in 0..<100 where line == nil {
            if let text = try? String(contentsOfFile: serve.folder + "/gavel-outbox.jsonl", encoding: .utf8),
                let first = text.split(separator: "\n").first
            {
                line = try JSONValue.parse(String(first))
            } else {
                usleep(50_000)
            }
        }
        let sent = try #require(line)
        #expect(sent["action"] == .string("ban-ip"))
        #expect(sent["target"] == .string("203.0.113.42"))
        #expect(sent["body"]?["decided_by"] == .string("e2e"))
        #expect(serve.stop() == 0)
    }

    @Test func demoReportsARefusedReceiver() throws {
        let r = try GavelBinary.run(["demo", "--to", "http://127.0.0.1:9"])
        #expect(r.status == 1)
        #expect(r.err.contains("not accepted"))
        let bad = try GavelBinary.run(["demo", "--to", "ftp://x"])
        #expect(bad.status == 2)
        #expect(bad.err.contains("--to"))
    }
}
