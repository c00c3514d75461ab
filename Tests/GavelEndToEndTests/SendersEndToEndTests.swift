import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 13 end to end: the built binary, each sender's sample posted with curl the way that
/// sender posts (its route, headers and authentication), `gavel signals`/`list`/`show`, and the
/// word back to Datadog reaching a loopback stand-in.
@Suite(.serialized) struct SendersEndToEndTests {
    static let secret = "e2e-s3cret-token"

    static let config = """
        { "senders": \(SenderSamples.elasticSenderConfig) }
        """

    /// POSTs `body` with exactly `headers`; returns the status and the answer.
    static func send(_ url: String, body: [UInt8], headers: [String]) throws -> (status: Int, body: String) {
        let file = NSTemporaryDirectory() + "gavel-e2e-body-" + UUID().uuidString
        try Data(body).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-sS", "-X", "POST", "-w", "\n%{http_code}"] + headers.flatMap { ["-H", $0] } + ["--data-binary", "@" + file, url]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let newline = text.lastIndex(of: "\n") ?? text.startIndex
        return (Int(text[text.index(after: newline)...]) ?? 0, String(text[..<newline]))
    }

    /// How each sender posts (its setup in docs/senders.md): route, headers, authentication.
    static func postAsSender(_ name: String, base: String, body: [UInt8]) throws -> (status: Int, body: String) {
        switch name {
        case "alertmanager":
            // webhook_configs with http_config.authorization (type Bearer).
            return try send(
                base + "/webhook/alertmanager", body: body,
                headers: ["Content-Type: application/json", "User-Agent: Alertmanager/0.27.0", "Authorization: Bearer \(secret)"])
        case "grafana":
            // A webhook contact point with Authorization Header – Scheme Bearer.
            return try send(
                base + "/webhook/grafana", body: body,
                headers: ["Content-Type: application/json", "User-Agent: Grafana", "Authorization: Bearer \(secret)"])
        case "guardduty":
            // An EventBridge API destination whose connection is API_KEY auth named X-Gavel-Token.
            return try send(
                base + "/webhook/guardduty", body: body,
                headers: [
                    "Content-Type: application/json; charset=utf-8", "User-Agent: Amazon/EventBridge/ApiDestinations",
                    "X-Gavel-Token: \(secret)",
                ])
        case "crowdsec":
            // The http notification plugin with `Authorization: Bearer ${GAVEL_TOKEN}` in headers.
            return try send(
                base + "/webhook/crowdsec", body: body, headers: ["Content-Type: application/json", "Authorization: Bearer \(secret)"])
        default:
            // Kibana's webhook connector with Basic authentication (any user, the secret as password).
            let basic = Data("gavel:\(secret)".utf8).base64EncodedString()
            return try send(
                base + "/webhook/generic/\(name)", body: body, headers: ["Content-Type: application/json", "Authorization: Basic \(basic)"])
        }
    }

    static func json(_ args: [String]) throws -> JSONValue {
        let r = try GavelBinary.run(args)
        return try JSONValue.parse(r.out)
    }

    /// The first entry of `gavel show --json`'s `datadog_triage`.
    static func firstTriage(_ shown: JSONValue) -> JSONValue? {
        guard case .array(let items)? = shown["datadog_triage"] else { return nil }
        return items.first
    }

    static func strings(_ value: JSONValue?) -> [String] {
        guard case .array(let items)? = value else { return [] }
        return items.compactMap(\.scalarText)
    }

    @Test func everySampleFromItsSenderIsStoredWithItsSourceAndTargetsAndProposesOnThemOnly() throws {
        let serve = try ServeProcess(environment: ["GAVEL_TOKEN": Self.secret], config: Self.config)
        defer { serve.cleanup() }
        for name in SenderSamples.names {
            let r = try Self.postAsSender(name, base: serve.baseURL, body: SenderSamples.body(name))
            #expect(r.status == 202, "\(name): \(r.body)")
        }
        let elastic = try Self.postAsSender("elastic", base: serve.baseURL, body: Array(SenderSamples.elasticBody.utf8))
        #expect(elastic.status == 202 && elastic.body.contains(#""count":2"#), "\(elastic.body)")
        // Without the secret: refused.
        #expect(try Self.send(serve.baseURL + "/webhook/crowdsec", body: SenderSamples.body("crowdsec"), headers: []).status == 401)

        guard case .array(let signals) = try Self.json(["signals", "--json", "--db", serve.dbPath]) else {
            Issue.record("gavel signals --json is not an array")
            return
        }
        #expect(signals.count == 7)
        func signal(_ source: String, _ where: (JSONValue) -> Bool = { _ in true }) -> JSONValue? {
            signals.first { $0["source"] == .string(source) && `where`($0) }
        }
        let firing = signal("alertmanager") { $0["status"] == .string("firing") }
        #expect(Self.strings(firing?["ips"]) == ["203.0.113.131"] && Self.strings(firing?["users"]) == ["deploy"])
        #expect(firing?["rule"] == .string("SSHBruteForce") && firing?["severity"] == .string("critical"))
        #expect(Self.strings(firing?["context_hosts"]) == ["bastion-1.example.com"])
        let resolved = signal("alertmanager") { $0["status"] == .string("resolved") }
        #expect(Self.strings(resolved?["context_ips"]) == ["10.0.4.17"])
        #expect(Self.strings(signal("grafana")?["ips"]) == ["2001:db8:77::9"])
        let guardduty = signal("guardduty")
        #expect(Self.strings(guardduty?["ips"]) == ["198.51.100.203"] && guardduty?["severity"] == .string("medium"))
        #expect(Set(Self.strings(guardduty?["context_ips"])) == ["10.0.2.15", "192.0.2.80"])
        #expect(Self.strings(guardduty?["context_security_groups"]) == ["sg-0fedcba9876543210"])
        #expect(Self.strings(guardduty?["resources"]) == [])
        let crowdsec = signal("crowdsec")
        #expect(Self.strings(crowdsec?["ips"]) == ["192.0.2.161"] && crowdsec?["suggested_duration_s"] == .number("14400"))
        #expect(Set(signals.filter { $0["source"] == .string("elastic") }.flatMap { Self.strings($0["ips"]) }) == ["203.0.113.55", "2001:db8:5::66"])
        // Context never appears among any signal's targets.
        let targets = Set(signals.flatMap { Self.strings($0["ips"]) })
        #expect(targets.isDisjoint(with: ["10.0.4.17", "10.0.2.15", "192.0.2.80", "10.1.2.3", "10.1.2.4"]))

        guard case .array(let proposals) = try Self.json(["list", "--json", "--db", serve.dbPath]) else {
            Issue.record("gavel list --json is not an array")
            return
        }
        let proposed = Set(proposals.compactMap { r in r["action"]?.scalarText.map { "\($0) \(r["target"]?.scalarText ?? "")" } })
        #expect(
            proposed == [
                "ban-ip 203.0.113.131", "disable-user deploy", "ban-ip 2001:db8:77::9", "ban-ip 198.51.100.203", "ban-ip 192.0.2.161",
                "ban-ip 203.0.113.55", "disable-user root", "ban-ip 2001:db8:5::66", "disable-user admin",
            ])
        // The resolved alert's address proposed nothing.
        #expect(!proposed.contains("ban-ip 198.51.100.140"))
        #expect(proposals.allSatisfy { $0["state"] == .string("pending") })

        // The text listing names each source; /metrics counts deliveries per source.
        let text = try GavelBinary.run(["signals", "--db", serve.dbPath]).out
        for source in SenderSamples.names + ["elastic"] { #expect(text.contains(" \(source) "), "\(source) in: \(text)") }
        let metrics = try Self.metrics(serve)
        #expect(
            metrics.contains(#"gavel_deliveries_total{source="alertmanager"} 2"#) && metrics.contains(#"gavel_deliveries_total{source="elastic"} 2"#))
    }

    static func metrics(_ serve: ServeProcess) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-sS", "-H", "Authorization: Bearer \(secret)", serve.baseURL + "/metrics"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func theSameGuardDutyFindingTwiceWithAGrowingCountIsOneSignalWithTwoDeliveries() throws {
        let serve = try ServeProcess(environment: ["GAVEL_TOKEN": Self.secret])
        defer { serve.cleanup() }
        let first = try Self.postAsSender("guardduty", base: serve.baseURL, body: Array(SenderSamples.guardDuty(count: 7).utf8))
        let second = try Self.postAsSender("guardduty", base: serve.baseURL, body: Array(SenderSamples.guardDuty(count: 31).utf8))
        #expect(first.status == 202 && first.body.contains(#""duplicate":false"#))
        #expect(second.status == 202 && second.body.contains(#""duplicate":true"#) && second.body.contains(#""remediations":[]"#))
        guard case .array(let signals) = try Self.json(["signals", "--json", "--db", serve.dbPath]) else { return }
        #expect(signals.count == 1)
        #expect(signals.first?["deliveries"] == .number("2") && signals.first?["event_count"] == .number("31"))
        #expect(signals.first?["signal_id"] == .string("8ac6e5f1b2d34c7f9e0a1b2c3d4e5f60"))
        guard case .array(let proposals) = try Self.json(["list", "--json", "--db", serve.dbPath]) else { return }
        #expect(proposals.count == 1 && proposals.first?["target"] == .string("198.51.100.203"))
    }

    @Test func hostileBodiesAreRefusedOrBoundedWithAClearError() throws {
        let serve = try ServeProcess(environment: ["GAVEL_TOKEN": Self.secret])
        defer { serve.cleanup() }
        let alert = #"{"scenario":"crowdsecurity/ssh-bf","source":{"scope":"Ip","value":"203.0.113.9"}}"#
        let many = Array(("[" + Array(repeating: alert, count: 10_000).joined(separator: ",") + "]").utf8)
        let refused = try Self.postAsSender("crowdsec", base: serve.baseURL, body: many)
        #expect(refused.status == 413 && refused.body == #"{"error":"body holds 10000 alerts; at most 1000 are accepted in one post"}"#)
        let unknown = try Self.postAsSender("splunk", base: serve.baseURL, body: Array("{}".utf8))
        #expect(unknown.status == 404 && unknown.body.contains(#"no generic sender named \"splunk\""#))
        // An escape sequence in a label is stored as data and shown escaped.
        let escape =
            #"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Esc\u001b]52;c;ZXZpbA==\u0007","src_ip":"203.0.113.10"},"fingerprint":"00000000000000e5"}]}"#
        #expect(try Self.postAsSender("alertmanager", base: serve.baseURL, body: Array(escape.utf8)).status == 202)
        let text = try GavelBinary.run(["signals", "--db", serve.dbPath]).out
        #expect(!text.contains("\u{1B}") && text.contains("Esc\\x1b]52;c;ZXZpbA==\\x07"))
        #expect(try GavelBinary.run(["signals", "--json", "--db", serve.dbPath]).out.contains(#"Esc\u001b]52;c;ZXZpbA==\u0007"#))
    }

    // MARK: - The word back to Datadog

    static let keys = ["DD_API_KEY": "e2e-api-key", "DD_APP_KEY": "e2e-app-key"]

    static func datadogConfig(apiURL: String) -> String {
        """
        { "datadog": { "site": "datadoghq.com", "api_url": "\(apiURL)" } }
        """
    }

    static func datadogSignal(_ id: String, ip: String) -> [UInt8] {
        Array(
            #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["\#(ip)"]}}}}"#
                .utf8)
    }

    static func postDatadog(_ serve: ServeProcess, _ id: String, ip: String) throws -> (status: Int, body: String) {
        try send(
            serve.baseURL + "/webhook", body: datadogSignal(id, ip: ip), headers: ["Content-Type: application/json", "X-Gavel-Token: \(secret)"])
    }

    func waitFor(_ standIn: LoopbackSink, _ count: Int, seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while standIn.requests.count < count && Date() < deadline { usleep(20_000) }
    }

    /// Checks one recorded request against Datadog's reference; returns its JSON body's attributes.
    func expectTriageRequest(_ raw: [UInt8], signalID: String) throws -> JSONValue? {
        let request = RecordedRequest(raw)
        #expect(request.method == "PATCH" && request.target == "/api/v2/security_monitoring/signals/\(signalID)/update")
        #expect(request.values("DD-API-KEY") == ["e2e-api-key"] && request.values("DD-APPLICATION-KEY") == ["e2e-app-key"])
        #expect(request.values("Content-Type") == ["application/json"] && request.values("Accept") == ["application/json"])
        let body = try JSONValue.parse(request.body)
        #expect(body["data"]?["type"] == .string("signal_metadata"))
        return body["data"]?["attributes"]
    }

    @Test func aDispatchAndAFalsePositiveRejectionReachTheStandInAsDocumented() throws {
        let standIn = try LoopbackSink([.status(200, body: Array(#"{"data":{}}"#.utf8))])
        defer { standIn.stop() }
        var environment = Self.keys
        environment["GAVEL_TOKEN"] = Self.secret
        let serve = try ServeProcess(environment: environment, config: Self.datadogConfig(apiURL: standIn.url("")))
        defer { serve.cleanup() }
        #expect(try Self.postDatadog(serve, "AQAAAYxk1-e2e-0001", ip: "203.0.113.80").status == 202)
        #expect(try Self.postDatadog(serve, "AQAAAYxk1-e2e-0002", ip: "203.0.113.81").status == 202)
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--db", serve.dbPath]).status == 0)
        waitFor(standIn, 1, seconds: 15)
        let firstRequest = try #require(standIn.requests.first)
        let dispatched = try #require(try expectTriageRequest(firstRequest, signalID: "AQAAAYxk1-e2e-0001"))
        #expect(dispatched["state"] == .string("archived") && dispatched["archive_reason"] == .string("remediated"))
        #expect(dispatched["archive_comment"] == .string("gavel remediation 1 (ban-ip 203.0.113.80) dispatched, approved by alice"))
        let rejected = try GavelBinary.run(["reject", "2", "--reason", "our VPN exit", "--false-positive", "--by", "bob", "--db", serve.dbPath])
        #expect(rejected.status == 0 && rejected.out.contains("rejected as a false positive: 2 (by bob)"))
        waitFor(standIn, 2, seconds: 15)
        #expect(standIn.requests.count == 2)
        let lastRequest = try #require(standIn.requests.last)
        let falsePositive = try #require(try expectTriageRequest(lastRequest, signalID: "AQAAAYxk1-e2e-0002"))
        #expect(falsePositive["state"] == .string("archived") && falsePositive["archive_reason"] == .string("false_positive"))
        #expect(
            falsePositive["archive_comment"] == .string("gavel remediation 2 (ban-ip 203.0.113.81) rejected as a false positive by bob: our VPN exit")
        )
        // gavel show lists the update and its attempt.
        var shown = try Self.json(["show", "1", "--json", "--db", serve.dbPath])
        for _ in 0..<50 where Self.firstTriage(shown)?["state"] != .string("sent") {
            usleep(50_000)
            shown = try Self.json(["show", "1", "--json", "--db", serve.dbPath])
        }
        #expect(shown["state"] == .string("dispatched") && Self.firstTriage(shown)?["state"] == .string("sent"))
        guard case .array(let attempts)? = shown["attempts"] else { return }
        #expect(attempts.compactMap { $0["kind"]?.scalarText } == ["dispatch", "triage"])
        let text = try GavelBinary.run(["show", "2", "--db", serve.dbPath]).out
        #expect(text.contains("(marked a false positive)") && text.contains("datadog:   signal AQAAAYxk1-e2e-0002 → archived (false_positive)"))
        // The keys were sent, never stored.
        let db = try Data(contentsOf: URL(fileURLWithPath: serve.dbPath))
        #expect(db.range(of: Data("e2e-api-key".utf8)) == nil && db.range(of: Data("e2e-app-key".utf8)) == nil)
    }

    @Test func withTheStandInDownTheRemediationStillDispatchesAndTheUpdateIsRetriedLater() throws {
        let port = LoopbackSink.closedPort()
        var environment = Self.keys
        environment["GAVEL_TOKEN"] = Self.secret
        let serve = try ServeProcess(environment: environment, config: Self.datadogConfig(apiURL: "http://127.0.0.1:\(port)"))
        defer { serve.cleanup() }
        #expect(try Self.postDatadog(serve, "AQAAAYxk1-e2e-down", ip: "203.0.113.90").status == 202)
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--db", serve.dbPath]).status == 0)
        // The ban goes out (to the outbox) whatever Datadog does; the update waits for a retry.
        var shown = try Self.json(["show", "1", "--json", "--db", serve.dbPath])
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && (shown["state"] != .string("dispatched") || Self.firstTriage(shown)?["last_error"]?.scalarText == nil) {
            usleep(100_000)
            shown = try Self.json(["show", "1", "--json", "--db", serve.dbPath])
        }
        #expect(shown["state"] == .string("dispatched"))
        #expect(Self.firstTriage(shown)?["state"] == .string("queued") && Self.firstTriage(shown)?["next_attempt_at"]?.scalarText != nil)
        let outbox = try String(contentsOfFile: serve.folder + "/gavel-outbox.jsonl", encoding: .utf8)
        #expect(outbox.contains("203.0.113.90"))
        // The stand-in comes up on that port: a later retry reaches it.
        let standIn = try LoopbackSink([.status(200)], port: port)
        defer { standIn.stop() }
        waitFor(standIn, 1, seconds: 30)
        #expect(standIn.requests.count == 1)
        if let raw = standIn.requests.first { _ = try expectTriageRequest(raw, signalID: "AQAAAYxk1-e2e-down") }
        for _ in 0..<50 where Self.firstTriage(shown)?["state"] != .string("sent") {
            usleep(50_000)
            shown = try Self.json(["show", "1", "--json", "--db", serve.dbPath])
        }
        #expect(Self.firstTriage(shown)?["state"] == .string("sent"))
        guard case .array(let attempts)? = shown["attempts"] else { return }
        let triage = attempts.filter { $0["kind"] == .string("triage") }
        #expect(triage.count >= 2 && triage.last?["outcome"] == .string("success"))
        #expect(triage.dropLast().allSatisfy { $0["outcome"] == .string("retry") })
    }
}
