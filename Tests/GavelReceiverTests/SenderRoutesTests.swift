import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore
@testable import GavelReceiver
@testable import GavelStore
@testable import GavelStoreSQLite

/// Every sender's route on a real receiver and store: what is stored, what is answered, what is
/// refused and counted.
@Suite(.serialized) struct SenderRoutesTests {
    static let elastic = #"{"senders": \#(SenderSamples.elasticSenderConfig)}"#

    @Test func eachSampleOnItsRouteIsStoredWithItsSourceAndAnsweredWithEverySignal() throws {
        let r = try RunningReceiver(configJSON: Self.elastic)
        defer { r.stop() }
        for name in SenderSamples.names {
            let response = try r.exchange(post("/webhook/\(name)", body: SenderSamples.text(name)))
            #expect(response.status == 202, "\(name): \(response.body)")
            let answer = try JSONValue.parse(response.body)
            guard case .array(let listed)? = answer["signals"] else {
                Issue.record("\(name): no signals array in \(response.body)")
                continue
            }
            #expect(listed.allSatisfy { $0["source"] == .string(name) && $0["duplicate"] == .bool(false) }, "\(name)")
            if listed.count == 1 {
                // One signal: its fields at the top level too, as gavel always answered.
                #expect(answer["signal"] == listed[0]["signal"] && answer["remediations"] != nil, "\(name)")
            } else {
                #expect(answer["count"] == .number(String(listed.count)) && answer["stored"] == .number(String(listed.count)), "\(name)")
            }
        }
        let alertmanager = try JSONValue.parse(try r.exchange(post("/webhook/alertmanager", body: SenderSamples.text("alertmanager"))).body)
        #expect(alertmanager["duplicates"] == .number("2"))
        let signals = try SQLiteStore(db: r.database()).signals(limit: 0, before: nil)
        #expect(Set(signals.map(\.source)) == Set(SenderSamples.names))
        #expect(signals.count == 5)
        // The multi-alert post is kept once, byte for byte.
        let posts = try r.database().query("SELECT body FROM posts").map { $0.bytes(0) ?? [] }
        #expect(posts == [SenderSamples.body("alertmanager"), SenderSamples.body("alertmanager")])
        let metrics = r.receiver.metrics.exposition()
        #expect(metrics.contains(#"gavel_deliveries_total{source="alertmanager"} 4"#))
        #expect(metrics.contains(#"gavel_deliveries_total{source="guardduty"} 1"#))
        #expect(metrics.contains(#"gavel_deliveries_total{source="crowdsec"} 1"#))
        #expect(metrics.contains(#"gavel_deliveries_total{source="grafana"} 1"#))
    }

    @Test func plainWebhookRecognisesEachSenderByShape() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        for name in SenderSamples.names {
            let response = try r.exchange(post("/webhook", body: SenderSamples.text(name)))
            #expect(response.status == 202 && response.body.contains(#""source":"\#(name)""#), "\(name): \(response.body)")
        }
        let ban =
            #"{"SECURITY_SIGNAL_ID":"AQAA-shape","SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.5"]}}}}"#
        #expect(try r.exchange(post("/webhook", body: ban)).body.contains(#""source":"datadog""#))
    }

    @Test func aGenericSenderWorksAndAnUnknownOneIs404NamingIt() throws {
        let r = try RunningReceiver(secret: "s3cret", configJSON: Self.elastic)
        defer { r.stop() }
        let auth = "Authorization: Bearer s3cret\r\n"
        let ok = try r.exchange(post("/webhook/generic/elastic", body: SenderSamples.elasticBody, extra: auth))
        #expect(ok.status == 202 && ok.body.contains(#""source":"elastic""#) && ok.body.contains(#""count":2"#))
        let unknown = try r.exchange(post("/webhook/generic/splunk", body: "{}", extra: auth))
        #expect(unknown.status == 404)
        #expect(unknown.body == #"{"error":"no generic sender named \"splunk\" is configured (senders.generic)"}"#)
        // Without credentials the configured names are not revealed.
        #expect(try r.exchange(post("/webhook/generic/splunk", body: "{}")).status == 401)
        let elsewhere = try r.exchange(post("/webhook/nagios", body: "{}", extra: auth))
        #expect(elsewhere.status == 404 && elsewhere.body.contains("/webhook/generic/NAME"))
        #expect(try r.exchange(post("/webhook/generic/bad%20name", body: "{}", extra: auth)).status == 404)
        #expect(try r.exchange(post("/webhook/alertmanager/", body: "{}", extra: auth)).status == 404)
        #expect(try r.count("signals") == 2)
    }

    @Test func tenThousandAlertsInOnePostAreRefusedNamingTheLimitAndKept() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        let alert = #"{"scenario":"s","source":{"scope":"Ip","value":"203.0.113.1"}}"#
        let body = "[" + Array(repeating: alert, count: 10_000).joined(separator: ",") + "]"
        #expect(body.utf8.count < 1 << 20)
        let response = try r.exchange(post("/webhook/crowdsec", body: body))
        #expect(response.status == 413)
        #expect(response.body == #"{"error":"body holds 10000 alerts; at most 1000 are accepted in one post"}"#)
        #expect(try r.count("signals") == 0)
        let kept = try r.database().query("SELECT status, reason, body_size FROM intake_errors").first
        #expect(kept?.int(0) == 413 && kept?.string(1)?.contains("at most 1000") == true && kept?.int(2) == body.utf8.count)
        // At the limit it is taken.
        let thousand =
            "["
            + (1...1000).map { #"{"scenario":"s","uuid":"u\#($0)","source":{"scope":"Ip","value":"203.0.113.1"}}"# }
            .joined(separator: ",") + "]"
        let taken = try r.exchange(post("/webhook/crowdsec", body: thousand))
        #expect(taken.status == 202 && taken.body.contains(#""count":1000"#))
        #expect(try r.count("signals") == 1000)
    }

    @Test func hostileValuesAreBoundedAndRefusedWithTheirReason() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        // 5,000 labels: the first 256 are read, flagged; the escapes stay data.
        var labels = (0..<5000).map { #""l\#($0)":"v\#($0)""# }
        labels.insert(#""alertname":"Esc\u001b[2J\u202e","src_ip":"203.0.113.77""#, at: 0)
        let huge = #"{"version":"4","alerts":[{"status":"firing","labels":{\#(labels.joined(separator: ","))},"fingerprint":"00000000000000ee"}]}"#
        let response = try r.exchange(post("/webhook/alertmanager", body: huge))
        #expect(response.status == 202, "\(response.body)")
        #expect(response.body.contains("entities_truncated"))
        let stored = try #require(try SQLiteStore(db: r.database()).signals(limit: 0, before: nil).first)
        #expect(stored.signal.ruleName == "Esc\u{1B}[2J\u{202E}" && stored.signal.ips.map(\.description) == ["203.0.113.77"])
        // A form body on a JSON-only sender, a JSON type the sender never sends, bad JSON.
        let form = try r.exchange(post("/webhook/grafana", body: "a=b", contentType: "application/x-www-form-urlencoded"))
        #expect(form.status == 400 && form.body.contains("grafana bodies must be JSON"))
        let wrongType = try r.exchange(post("/webhook/crowdsec", body: #""text""#))
        #expect(wrongType.status == 400 && wrongType.body.contains("expected a JSON array of CrowdSec alerts"))
        #expect(try r.exchange(post("/webhook/guardduty", body: "{")).status == 400)
        #expect(try r.count("intake_errors") == 3)
    }

    @Test func anUnrecognisedBodyIsKeptCountedAndListed() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        let response = try r.exchange(post("/webhook/guardduty", body: #"{"hello":"world"}"#))
        #expect(response.status == 202 && response.body.contains("unrecognised"))
        #expect(r.receiver.metrics.exposition().contains(#"gavel_signals_unrecognised_total{source="guardduty"} 1"#))
        let errors = try SQLiteStore(db: r.database()).intakeErrors(limit: 0, before: nil)
        #expect(errors.map(\.status) == [202] && errors.first?.reason.contains("unrecognised") == true)
    }
}
