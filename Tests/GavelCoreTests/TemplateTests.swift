import Foundation
import Testing

@testable import GavelCore

@Suite struct TemplateTests {
    static let hostileRule = "Rule \"quoted\" \\ back\nnew line\ttab é ✓ \u{2028} \u{1}"

    func context(target: String = "203.0.113.42", ruleName: String = "r", action: ActionConfig) -> TemplateContext {
        var signal = Signal(signalID: "AQAAAYxk1-example-0001")
        signal.ruleName = ruleName
        signal.ruleID = "abc-123"
        signal.severity = .high
        return TemplateContext(action: action, target: target, signal: signal, remediationID: "42", idempotencyKey: "gavel-42", decidedBy: "alice")
    }

    func action(_ json: String, _ name: String = "ban-ip") throws -> ActionConfig {
        try #require(try loadTestConfig(#"{"actions": {"\#(name)": \#(json)}}"#).actions[name])
    }

    @Test func parsesPlaceholdersStrictly() throws {
        let t = try Template("a {b} {{target}}-{{rule_id}}}", field: "f")
        #expect(t.segments == [.literal("a {b} "), .placeholder(.target), .literal("-"), .placeholder(.ruleID), .literal("}")])
        for bad in ["{{ target }}", "{{target", "{{}}", "x}}", "{{{target}}}", "{{Target}}", "{{env:HOME}}"] {
            #expect(throws: ConfigError.self) { try Template(bad, field: "f") }
        }
        #expect(
            Placeholder.allCases.map(\.rawValue) == [
                "target", "ip", "user", "security_group", "signal_id", "rule_name", "rule_id",
                "severity", "remediation_id", "idempotency_key", "decided_by", "action",
            ])
    }

    @Test func jsonBodyEscapesValues() throws {
        let ban = try action(
            #"{"http": {"url": "https://waf.example.com/ban", "body": {"ip": "{{ip}}", "note": "rule: {{rule_name}}", "n": 3, "list": ["{{severity}}", true, null]}}}"#
        )
        let rendered = try ban.render(context(ruleName: TemplateTests.hostileRule, action: ban))
        guard case .http(let request) = rendered else {
            Issue.record("not http")
            return
        }
        let text = String(decoding: request.body, as: UTF8.self)
        #expect(
            text == #"{"ip":"203.0.113.42","note":"rule: Rule \"quoted\" \\ back\nnew line\ttab é ✓ \u2028 \u0001","n":3,"list":["high",true,null]}"#)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
        #expect(parsed["note"] as? String == "rule: " + TemplateTests.hostileRule)
        #expect(request.method == "POST" && request.timeoutSeconds == 10 && request.maxRetries == 5)
        #expect(
            request.headers == [
                HTTPHeaderField("Content-Type", "application/json"), HTTPHeaderField("Idempotency-Key", "gavel-42"),
                HTTPHeaderField("User-Agent", "gavel/" + GavelVersion.number),
            ])
    }

    @Test func urlValuesArePercentEncoded() throws {
        let ban = try action(#"{"http": {"url": "https://waf.example.com/ban/{{ip}}?rule={{rule_name}}&sig={{signal_id}}"}}"#)
        let rendered = try ban.render(context(target: "2001:db8::17", ruleName: "a/b?c#d&e f=é~._-", action: ban))
        guard case .http(let request) = rendered else {
            Issue.record("not http")
            return
        }
        #expect(request.url == "https://waf.example.com/ban/2001%3Adb8%3A%3A17?rule=a%2Fb%3Fc%23d%26e%20f%3D%C3%A9~._-&sig=AQAAAYxk1-example-0001")
        #expect(Template.percentEncoded("\r\n%") == "%0D%0A%25")
    }

    @Test(arguments: ["x\r\nX-Evil: 1", "x\nX-Evil: 1", "x\rY", "x\u{0}y", "x\u{1B}[2J", "x\u{7F}", "x\u{85}y", "x\u{9B}31m"])
    func headerValuesWithCRLFOrNULAreRefused(_ ruleName: String) throws {
        let ban = try action(#"{"http": {"url": "https://waf.example.com/ban", "headers": {"X-Rule": "{{rule_name}}"}}}"#)
        #expect(throws: DispatchRefusal.self) { try ban.render(context(ruleName: ruleName, action: ban)) }
        // The same value is fine in the body, escaped.
        #expect(throws: Never.self) { try ban.render(context(ruleName: "plain rule", action: ban)) }
    }

    /// The second attacker pass: a configured `Idempotency-Key` was previewed (and written to the
    /// outbox) with its configured value while the wire carried the remediation's key.
    @Test func aConfiguredIdempotencyKeyCarriesTheRemediationsKeyInPlace() throws {
        let ban = try action(
            #"{"http": {"url": "https://waf.example.com/ban", "headers": {"X-A": "1", "Idempotency-Key": "mine", "X-B": "2"}}}"#)
        guard case .http(let request) = try ban.render(context(action: ban)) else {
            Issue.record("not http")
            return
        }
        let key = try #require(request.headers.first { $0.name == "Idempotency-Key" }?.value)
        #expect(key == "gavel-42")
        #expect(request.headers.map(\.name) == ["X-A", "Idempotency-Key", "X-B", "Content-Type", "User-Agent"])
        #expect(try request.wire(idempotencyKey: key).headLines.filter { $0.hasPrefix("Idempotency-Key") } == ["Idempotency-Key: \(key)"])
    }

    @Test func argvElementsAreNeverResplit() throws {
        let disable = try action(
            #"{"command": {"argv": ["/usr/local/bin/disable-user", "--reason", "{{rule_name}}", "--note=gavel {{rule_name}}", "--", "{{user}}"]}}"#,
            "disable-user")
        let hostile = "$(touch pwned); rm -rf / `id` | cat > x"
        let rendered = try disable.render(context(target: "shopper.one@example.com", ruleName: hostile, action: disable))
        guard case .command(let command) = rendered else {
            Issue.record("not a command")
            return
        }
        #expect(command.argv == ["/usr/local/bin/disable-user", "--reason", hostile, "--note=gavel " + hostile, "--", "shopper.one@example.com"])
        #expect(command.timeoutSeconds == 30 && command.maxRetries == 0)
    }

    @Test func argvOptionInjectionAndNULAreRefused() throws {
        let disable = try action(#"{"command": {"argv": ["/usr/local/bin/disable-user", "{{rule_name}}", "--", "{{user}}"]}}"#, "disable-user")
        #expect(throws: DispatchRefusal.self) { try disable.render(context(target: "bob", ruleName: "-rf", action: disable)) }
        #expect(throws: DispatchRefusal.self) { try disable.render(context(target: "bob", ruleName: "a\u{0}b", action: disable)) }
        // After a literal "--", a leading '-' is an operand, not an option.
        let afterDashes = try action(#"{"command": {"argv": ["/bin/echo", "--", "{{rule_name}}"]}}"#, "disable-user")
        guard case .command(let command) = try afterDashes.render(context(target: "bob", ruleName: "-rf", action: afterDashes)) else { return }
        #expect(command.argv == ["/bin/echo", "--", "-rf"])
    }

    @Test(arguments: ["127.1", "1.2.3.4 ", "fe80::1%eth0", "$(id)", ""])
    func renderRevalidatesTheTarget(_ target: String) throws {
        let ban = try #require(GavelConfig.builtInDefaults(databasePath: "/db/gavel.db").actions["ban-ip"])
        #expect(throws: DispatchRefusal.self) { try render(ban, context: context(target: target, action: ban)) }
    }

    @Test func outboxLineHoldsWhatAnHTTPActionWouldSend() throws {
        let ban = try #require(GavelConfig.builtInDefaults(databasePath: "/db/gavel.db").actions["ban-ip"])
        let rendered = try render(ban, context: context(ruleName: "Request from \"unexpected\" IP", action: ban))
        guard case .outbox(let outbox) = rendered else {
            Issue.record("not outbox")
            return
        }
        #expect(outbox.path == "/db/gavel-outbox.jsonl")
        #expect(
            outbox.line
                == #"{"action":"ban-ip","remediation_id":"42","idempotency_key":"gavel-42","target":"203.0.113.42","method":"POST","url":"outbox:ban-ip","headers":{"Content-Type":"application/json","Idempotency-Key":"gavel-42"},"body":{"action":"ban-ip","target":"203.0.113.42","kind":"ip","signal_id":"AQAAAYxk1-example-0001","rule":"Request from \"unexpected\" IP","rule_id":"abc-123","severity":"high","decided_by":"alice","remediation_id":"42","idempotency_key":"gavel-42"}}"#
        )
        #expect(!outbox.line.contains("\n"))
    }

    @Test func contextFillsTheTargetKindsSlot() throws {
        let actions = GavelConfig.builtInDefaults(databasePath: "gavel.db").actions
        let user = context(target: "bob", action: try #require(actions["disable-user"]))
        #expect(user.user == "bob" && user.ip.isEmpty && user.securityGroup.isEmpty && user.action == "disable-user")
        let group = context(target: "sg-0a1b2c3d", action: try #require(actions["delete-security-group"]))
        #expect(group.securityGroup == "sg-0a1b2c3d" && group.user.isEmpty && group.severity == "high")
    }

    @Test func maskedHidesSecrets() throws {
        let ban = try action(
            #"{"http": {"url": "https://ops:hunter2@waf.example.com/ban?api_key=K123&ip={{ip}}#frag", "headers": {"Authorization": "Bearer abc.def", "X-Api-Key": "k-1", "X-Trace": "t"}, "body": {"ip": "{{ip}}", "auth": {"token": "tok-9"}}}}"#
        )
        let rendered = try ban.render(context(action: ban))
        guard case .http(let plain) = rendered, case .http(let masked) = rendered.masked() else {
            Issue.record("not http")
            return
        }
        #expect(plain.headers.first?.value == "Bearer abc.def")
        #expect(masked.url == "https://****@waf.example.com/ban?api_key=****&ip=203.0.113.42#frag")
        #expect(
            masked.headers == [
                HTTPHeaderField("Authorization", "Bearer ****"), HTTPHeaderField("X-Api-Key", "****"), HTTPHeaderField("X-Trace", "t"),
                HTTPHeaderField("Content-Type", "application/json"), HTTPHeaderField("Idempotency-Key", "gavel-42"),
                HTTPHeaderField("User-Agent", "gavel/" + GavelVersion.number),
            ])
        #expect(String(decoding: masked.body, as: UTF8.self) == #"{"ip":"203.0.113.42","auth":{"token":"****"}}"#)

        let command = RenderedRequest.command(
            CommandDispatchRequest(argv: ["/bin/x", "--token", "s1", "--api-key=s2", "-H", "Authorization: Bearer s3", "--", "bob"]))
        guard case .command(let maskedCommand) = command.masked() else { return }
        #expect(maskedCommand.argv == ["/bin/x", "--token", "****", "--api-key=****", "-H", "Authorization: Bearer ****", "--", "bob"])
    }

    @Test func maskedOutboxLine() throws {
        let ban = try action(#"{"outbox": {"path": "/tmp/o.jsonl", "headers": {"Authorization": "Basic dXNlcjpwdw=="}}}"#)
        guard case .outbox(let masked) = try ban.render(context(action: ban)).masked() else {
            Issue.record("not outbox")
            return
        }
        #expect(
            masked.line.hasPrefix(
                #"{"action":"ban-ip","remediation_id":"42","idempotency_key":"gavel-42","target":"203.0.113.42","method":"POST","url":"outbox:ban-ip","headers":{"Authorization":"Basic ****","Content-Type":"application/json","Idempotency-Key":"gavel-42"}"#
            ))
        #expect(!masked.line.contains("dXNlcjpwdw"))
    }

    /// Issue 16: `/v1/signals/{{signal_id}}/ban/{{ip}}` with the signal id `..` became
    /// `POST /v1/ban/203.0.125.1` (percent-encoding keeps `.`, and the client removes dot
    /// segments). A value that is a dot segment once decoded (one layer or several) is refused,
    /// naming the segment; dots that are not a whole segment, and dots in the query, are sent.
    @Test func dotSegmentValuesInAURLPathAreRefused() throws {
        let ban = try action(#"{"http": {"url": "https://waf.example.com/v1/signals/{{signal_id}}/ban/{{ip}}?from={{signal_id}}"}}"#)
        func rendered(signalID: String) throws(DispatchRefusal) -> RenderedRequest {
            var c = context(action: ban)
            c.signalID = signalID
            return try ban.render(c)
        }
        for hostile in [
            ".", "..", "%2e", "%2E%2e", "%2e.", ".%2E", "%252e%252e", "%25252E%25252E", "..;", "..;x=1", "a/../b", "../x", "..\\x", "%2e%2e%2fx",
            // Look-alikes found by the second attacker pass: trimmed by some servers, or `.` under NFKC.
            ".. ", "..\t", "\u{FF0E}\u{FF0E}", "\u{2024}\u{2024}", "%EF%BC%8E%EF%BC%8E",
        ] {
            do {
                let r = try rendered(signalID: hostile)
                Issue.record("\(hostile.quotedForMessage) rendered: \(r.displayText)")
            } catch {
                #expect(error.message.contains("dot segment"), "\(error.message)")
                #expect(error.message.contains("another path"))
            }
        }
        for fine in ["...", ".hidden", "a.b", "..a", "AQAAAYxk1-example-0001", "%2e%2e%2e", "%", "%zz"] {
            guard case .http(let r) = try rendered(signalID: fine) else {
                Issue.record("not http")
                continue
            }
            #expect(r.url.hasPrefix("https://waf.example.com/v1/signals/\(Template.percentEncoded(fine))/ban/203.0.113.42"))
        }
        // In the query a dot segment means nothing: only the path is judged.
        let query = try action(#"{"http": {"url": "https://waf.example.com/ban?signal={{signal_id}}"}}"#)
        var c = context(action: query)
        c.signalID = ".."
        guard case .http(let r) = try query.render(c) else { return }
        #expect(r.url == "https://waf.example.com/ban?signal=..")
        // A dot segment written in the configuration itself is a configuration error.
        #expect(throws: ConfigError.self) { try action(#"{"http": {"url": "https://waf.example.com/v1/../ban/{{ip}}"}}"#) }
        #expect(throws: ConfigError.self) { try action(#"{"http": {"url": "https://waf.example.com/v1/%2E/ban"}}"#) }
    }
}
