import Foundation
import Testing

@testable import GavelCore

/// Issue 15's action settings: concurrency, rate, circuit and batch — how they load, the errors
/// that name their field, and how a batch request is assembled from its members' bound requests.
@Suite struct SendingConfigTests {
    func action(_ body: String) -> String {
        #"{ "allow_internal_action_urls": true, "actions": { "ban-ip": { "target": "ip", \#(body) } } }"#
    }

    @Test func defaultsAreEightInFlightNoRateAndACircuitAfterFiveFailures() throws {
        let config = try loadTestConfig(action(#""http": { "url": "http://127.0.0.1:9/ban" }"#))
        let ban = try #require(config.actions["ban-ip"])
        #expect(ban.concurrency == 8 && ban.rate == nil && ban.batch == nil)
        #expect(ban.circuit == CircuitSettings(failures: 5, coolDownMs: 30_000))
        #expect(GavelConfig.builtInDefaults(databasePath: "/x/gavel.db").actions["ban-ip"]?.concurrency == 8)
    }

    @Test func settingsLoad() throws {
        let config = try loadTestConfig(
            action(
                #""http": { "url": "http://127.0.0.1:9/ips", "body": { "ip": "{{ip}}", "id": "{{remediation_id}}" } }, "concurrency": 64, "rate": "1200/5m", "circuit": { "failures": 3, "cool_down": "10s" }, "batch": { "max": 500, "window": "200ms", "body": { "items": "{{targets}}", "by": "{{action}}" } }"#
            ))
        let ban = try #require(config.actions["ban-ip"])
        #expect(ban.concurrency == 64)
        #expect(ban.rate == RateLimit(count: 1200, periodMs: 300_000))
        #expect(ban.rate?.perSecond == 4 && ban.rate?.burst == 4)
        #expect(ban.circuit == CircuitSettings(failures: 3, coolDownMs: 10_000))
        #expect(ban.batch?.max == 500 && ban.batch?.windowMs == 200)
        #expect(ban.batch?.revertBody == ban.batch?.body)
    }

    @Test func rateBurstIsOneSecondsWorthAtLeastOneAtMostTheCount() throws {
        #expect(try RateLimit(parsing: "10/1s").burst == 10)
        #expect(try RateLimit(parsing: "100/1h").burst == 1)
        #expect(try RateLimit(parsing: "3/200ms").burst == 3)
        #expect(try RateLimit(parsing: "1200/5m").description == "1200/5m")
    }

    @Test(arguments: [
        (#""http": { "url": "http://127.0.0.1:9/b" }, "concurrency": 0"#, "actions.ban-ip.concurrency", "out of range 1…256"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "concurrency": 300"#, "actions.ban-ip.concurrency", "out of range 1…256"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "rate": "1200""#, "actions.ban-ip.rate", "not a rate"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "rate": "0/5m""#, "actions.ban-ip.rate", "not a rate"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "rate": "10/permanent""#, "actions.ban-ip.rate", "not permanent"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "rate": "10/2d""#, "actions.ban-ip.rate", "at most 1d"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "circuit": { "failure": 3 }"#, "actions.ban-ip.circuit.failure", "unknown key"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "circuit": { "cool_down": "2h" }"#, "actions.ban-ip.circuit.cool_down", "at most 1h"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "batch": { "window": "1s" }"#, "actions.ban-ip.batch.max", "required"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "batch": { "max": 0 }"#, "actions.ban-ip.batch.max", "out of range"),
        (#""http": { "url": "http://127.0.0.1:9/b" }, "batch": { "max": 9, "window": "1m" }"#, "actions.ban-ip.batch.window", "at most 10s"),
        (
            #""http": { "url": "http://127.0.0.1:9/b" }, "batch": { "max": 9, "body": { "a": 1 } }"#, "actions.ban-ip.batch.body",
            "needs \"{{targets}}\""
        ),
        (
            #""http": { "url": "http://127.0.0.1:9/b" }, "batch": { "max": 9, "body": { "a": "{{targets}}", "b": ["{{targets}}"] } }"#,
            "actions.ban-ip.batch.body.b[0]", "only once"
        ),
        (
            #""http": { "url": "http://127.0.0.1:9/b" }, "batch": { "max": 9, "body": { "a": "ips: {{targets}}" } }"#,
            "actions.ban-ip.batch.body.a", "whole string value"
        ),
        (
            #""http": { "url": "http://127.0.0.1:9/b" }, "batch": { "max": 9, "body": { "a": "{{targets}}", "ip": "{{ip}}" } }"#,
            "actions.ban-ip.batch.body.ip", "{{ip}} differs per target"
        ),
        (#""http": { "url": "http://127.0.0.1:9/b/{{ip}}" }, "batch": { "max": 9 }"#, "actions.ban-ip.http.url", "{{ip}} differs per target"),
        (
            #""http": { "url": "http://127.0.0.1:9/b", "headers": { "X-Rule": "{{rule_name}}" } }, "batch": { "max": 9 }"#,
            "actions.ban-ip.http.headers.X-Rule", "{{rule_name}} differs per target"
        ),
        (
            #""command": { "argv": ["/bin/true", "{{ip}}"] }, "batch": { "max": 9 }"#, "actions.ban-ip.batch",
            "a batch needs an http or outbox action"
        ),
        (
            #""http": { "url": "http://127.0.0.1:9/b" }, "revert": { "http": { "method": "DELETE", "url": "http://127.0.0.1:9/b/{{response.json.id}}" } }, "batch": { "max": 9 }"#,
            "actions.ban-ip.revert.http.url", "{{response.json.id}} differs per target"
        ),
        (
            #""http": { "url": "http://127.0.0.1:9/b", "body": { "ips": "{{targets}}" } }"#, "actions.ban-ip.http.body.ips",
            "only allowed in a batch body"
        ),
    ])
    func errorsNameTheirField(_ body: String, _ field: String, _ message: String) throws {
        let error = try #require(configError(action(body)), "loaded: \(body)")
        #expect(error.field == field, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func aBatchIsTheMembersBoundBodiesInOneRequestWithTheBatchKey() throws {
        let config = try loadTestConfig(
            action(
                #""http": { "url": "http://127.0.0.1:9/ips", "headers": { "X-Key": "k" }, "body": { "ip": "{{ip}}", "rule": "{{rule_name}}" } }, "batch": { "max": 500, "body": { "items": "{{targets}}", "by": "{{action}} {{idempotency_key}}" } }"#
            ))
        let ban = try #require(config.actions["ban-ip"])
        let hostileRule = "x\"},{\"ip\":\"0.0.0.0/0"
        let members = try [("203.0.113.7", 7, "R1"), ("2001:db8::1", 9, hostileRule)].map { target, id, rule in
            var context = TemplateContext(
                action: ban, target: target, signalID: "s", ruleName: rule, ruleID: nil, severity: nil, remediationID: String(id),
                idempotencyKey: "gavel-\(id)", decidedBy: "alice")
            context.ruleName = rule
            return BatchMember(remediationID: Int64(id), target: target, idempotencyKey: "gavel-\(id)", request: try ban.render(context))
        }
        let key = RenderedRequest.batchKey(revert: false, members: members.map(\.idempotencyKey))
        #expect(key.hasPrefix("gavel-batch-") && key.count == "gavel-batch-".count + 32)
        #expect(key == RenderedRequest.batchKey(revert: false, members: ["gavel-7", "gavel-9"]))
        #expect(key != RenderedRequest.batchKey(revert: true, members: ["gavel-7", "gavel-9"]))
        #expect(key != RenderedRequest.batchKey(revert: false, members: ["gavel-7"]))
        let batch = try RenderedRequest.batch(of: members, action: "ban-ip", body: ban.batch!.body, key: key)
        guard case .http(let http) = batch else {
            Issue.record("not http")
            return
        }
        #expect(http.url == "http://127.0.0.1:9/ips")
        #expect(http.headers.first { $0.name == "Idempotency-Key" }?.value == key)
        #expect(http.headers.first { $0.name == "X-Key" }?.value == "k")
        let body = try JSONValue.parse(String(decoding: http.body, as: UTF8.self))
        #expect(body["by"] == .string("ban-ip \(key)"))
        // The hostile rule name stays inside its own item's string: two items, never three.
        guard case .array(let items)? = body["items"] else {
            Issue.record("no items")
            return
        }
        #expect(items.count == 2)
        #expect(items[0]["ip"] == .string("203.0.113.7") && items[1]["ip"] == .string("2001:db8::1"))
        #expect(items[1]["rule"] == .string(hostileRule))
    }

    @Test func membersBoundWithAnotherURLAreRefused() throws {
        let a = RenderedRequest.http(HTTPDispatchRequest(method: "POST", url: "http://h/a", headers: [], body: Array("{}".utf8)))
        let b = RenderedRequest.http(HTTPDispatchRequest(method: "POST", url: "http://h/b", headers: [], body: Array("{}".utf8)))
        #expect(a.batchShape != b.batchShape)
        let members = [
            BatchMember(remediationID: 1, target: "t1", idempotencyKey: "k1", request: a),
            BatchMember(remediationID: 2, target: "t2", idempotencyKey: "k2", request: b),
        ]
        #expect(throws: DispatchRefusal.self) { try RenderedRequest.batch(of: members, action: "x", body: BatchSettings.defaultBody, key: "k") }
        let command = RenderedRequest.command(CommandDispatchRequest(argv: ["/bin/true"]))
        #expect(command.batchShape == nil)
    }

    @Test func anOutboxBatchIsOneLineNamingEveryMember() throws {
        let config = try loadTestConfig(action(#""outbox": { "body": { "ip": "{{ip}}" } }, "batch": { "max": 10 }"#))
        let ban = try #require(config.actions["ban-ip"])
        let members = try ["203.0.113.1", "203.0.113.2"].enumerated().map { i, ip in
            let context = TemplateContext(
                action: ban, target: ip, signalID: nil, ruleName: nil, ruleID: nil, severity: nil, remediationID: String(i + 1),
                idempotencyKey: "k\(i + 1)", decidedBy: "alice")
            return BatchMember(remediationID: Int64(i + 1), target: ip, idempotencyKey: "k\(i + 1)", request: try ban.render(context))
        }
        guard case .outbox(let o) = try RenderedRequest.batch(of: members, action: "ban-ip", body: ban.batch!.body, key: "KEY") else {
            Issue.record("not outbox")
            return
        }
        let line = try JSONValue.parse(o.line)
        #expect(line["batch"] == .string("KEY") && line["idempotency_key"] == .string("KEY"))
        #expect(line["remediation_ids"] == .array([.string("1"), .string("2")]))
        #expect(line["headers"]?["Idempotency-Key"] == .string("KEY"))
        #expect(line["body"] == .array([.object([JSONMember("ip", .string("203.0.113.1"))]), .object([JSONMember("ip", .string("203.0.113.2"))])]))
    }
}
