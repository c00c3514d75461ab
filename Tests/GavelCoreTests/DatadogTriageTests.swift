import Foundation
import Testing

@testable import GavelCore

/// The `datadog` section and the request it makes (Datadog API v2, "Update security signal
/// triage state or assignee").
@Suite struct DatadogTriageTests {
    func load(_ section: String) throws -> GavelConfig {
        try GavelConfig.load(text: #"{"datadog": \#(section)}"#, origin: "test", environment: [:], databasePath: "/tmp/x/gavel.db")
    }

    func error(_ section: String) -> String {
        do {
            _ = try load(section)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func defaultsArchiveDispatchesAndFalsePositivesOnly() throws {
        let c = try #require(try load(#"{"site": "https://app.datadoghq.eu/"}"#).datadogTriage)
        #expect(c.site == "datadoghq.eu" && c.baseURL == "https://api.datadoghq.eu")
        #expect(c.apiKeyEnv == "DD_API_KEY" && c.applicationKeyEnv == "DD_APP_KEY" && c.maxRetries == 10 && c.timeoutSeconds == 10)
        #expect(c.change(for: .dispatched)?.summary == "archived (remediated)")
        #expect(c.change(for: .falsePositive)?.summary == "archived (false_positive)")
        #expect(c.change(for: .rejected) == nil && c.change(for: .reverted) == nil)
        #expect(try load("{}").datadogTriage?.baseURL == "https://api.datadoghq.com")
        #expect(try GavelConfig.load(text: "{}", origin: "t", environment: [:], databasePath: "/tmp/gavel.db").datadogTriage == nil)
    }

    @Test func theMappingIsConfigurable() throws {
        let c = try #require(
            try load(
                #"""
                {"site": "us5.datadoghq.com", "api_key_env": "MY_DD_API", "application_key_env": "MY_DD_APP", "max_retries": 3, "timeout": 4,
                 "triage": {"dispatched": {"state": "archived", "archive_reason": "true_positive_malicious", "comment": "#{{remediation_id}} by {{ analyst }} on {{rule}}"},
                            "false_positive": null, "rejected": {"state": "under_review"}}}
                """#
            ).datadogTriage)
        #expect(c.baseURL == "https://api.us5.datadoghq.com" && c.apiKeyEnv == "MY_DD_API" && c.maxRetries == 3 && c.timeoutSeconds == 4)
        #expect(c.change(for: .falsePositive) == nil && c.change(for: .rejected)?.summary == "under_review")
        let body = try #require(c.change(for: .dispatched)).body(values: ["remediation_id": "7", "analyst": "auto:r1", "rule": "Brute force"])
        #expect(
            body.compactText
                == ##"{"data":{"type":"signal_metadata","attributes":{"state":"archived","archive_reason":"true_positive_malicious","archive_comment":"#7 by auto:r1 on Brute force"}}}"##
        )
    }

    @Test func mistakesNameTheirField() {
        #expect(error(#"{"site": "datadog hq"}"#).contains("datadog.site: not a Datadog site"))
        #expect(error(#"{"api_url": "http://api.example.com"}"#).contains("datadog.api_url: http:// only for a loopback host"))
        #expect(error(#"{"api_url": "https://user@api.example.com"}"#).contains("datadog.api_url: expected scheme://host"))
        #expect(error(#"{"api_url": "ftp://x"}"#).contains("datadog.api_url: expected an http(s):// URL"))
        #expect(error(#"{"api_key_env": "DD-KEY"}"#).contains("datadog.api_key_env: not an environment variable name"))
        #expect(error(#"{"triage": {"dispatch": null}}"#).contains("datadog.triage.dispatch: unknown event"))
        #expect(error(#"{"triage": {"dispatched": {"state": "closed"}}}"#).contains("datadog.triage.dispatched.state: expected open"))
        #expect(
            error(#"{"triage": {"rejected": {"state": "open", "archive_reason": "other"}}}"#)
                .contains("datadog.triage.rejected.archive_reason: only an archived signal"))
        #expect(
            error(#"{"triage": {"dispatched": {"state": "archived", "archive_reason": "fixed"}}}"#)
                .contains("datadog.triage.dispatched.archive_reason: expected one of none, false_positive"))
        #expect(
            error(#"{"triage": {"dispatched": {"state": "archived", "comment": "{{secret}}"}}}"#)
                .contains("datadog.triage.dispatched.comment: unknown placeholder {{secret}}"))
        #expect(error(#"{"max_retries": 1000}"#).contains("datadog.max_retries: 1000 is out of range"))
        #expect(error(#"{"sitee": "x"}"#).contains("datadog.sitee: unknown key"))
        #expect(error(#"{"api_url": "http://127.0.0.1:9"}"#).isEmpty && error(#"{"api_url": "http://[::1]:9/p"}"#).isEmpty)
    }

    @Test func theRequestIsDatadogsWithTheKeysLeftToTheEnvironment() throws {
        let c = DatadogTriageConfig(site: "datadoghq.com")
        guard case .http(let r) = c.request(signalID: "AQAAAYG1bl5K", body: "{}") else {
            Issue.record("not an HTTP request")
            return
        }
        #expect(r.method == "PATCH" && r.url == "https://api.datadoghq.com/api/v2/security_monitoring/signals/AQAAAYG1bl5K/update")
        #expect(r.headers.map(\.name) == ["Accept", "Content-Type", "DD-API-KEY", "DD-APPLICATION-KEY"])
        let resolved = try c.request(signalID: "x", body: "{}").resolvingEnvironment(["DD_API_KEY": "a", "DD_APP_KEY": "b"])
        guard case .http(let sent) = resolved else { return }
        #expect(sent.headers.map(\.value) == ["application/json", "application/json", "a", "b"])
        #expect(throws: DispatchRefusal.self) { try c.request(signalID: "x", body: "{}").resolvingEnvironment([:]) }
        // Shown masked.
        #expect(c.request(signalID: "x", body: "{}").masked().displayText.contains("DD-API-KEY: ****\nDD-APPLICATION-KEY: ****"))
    }

    @Test func aSignalIDIsOnePathSegmentWhateverItHolds() {
        #expect(DatadogTriageConfig.pathSegment("AQAAAYG1bl5K-_~.x") == "AQAAAYG1bl5K-_~.x")
        #expect(DatadogTriageConfig.pathSegment("../a/b?c#d%") == "..%2Fa%2Fb%3Fc%23d%25")
        #expect(DatadogTriageConfig.pathSegment("..") == "%2E%2E" && DatadogTriageConfig.pathSegment(".") == "%2E")
        #expect(DatadogTriageConfig.pathSegment("é\r\n\u{0}") == "%C3%A9%0D%0A%00")
    }

    @Test func onlySignalsDatadogKnowsAreTold() {
        #expect(DatadogTriageConfig.canUpdate(source: "datadog", flags: []))
        #expect(!DatadogTriageConfig.canUpdate(source: "datadog", flags: [.derivedID]))
        #expect(!DatadogTriageConfig.canUpdate(source: "alertmanager", flags: []))
    }

    @Test func aLongCommentIsCutAndUnknownValuesAreEmpty() {
        let change = TriageChange(state: .archived, archiveReason: .other, comment: "{{reason}}|{{analyst}}|{{ nope")
        let text = change.renderedComment(["reason": String(repeating: "r", count: 5000)]) ?? ""
        #expect(text.count == TriageChange.maxCommentLength && text.hasSuffix("…"))
        #expect(change.renderedComment(["reason": "x"]) == "x||{{ nope")
    }
}
