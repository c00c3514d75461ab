import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore
@testable import GavelDispatch
@testable import GavelStore
@testable import GavelStoreSQLite

/// The word back to Datadog against a loopback stand-in that records each request: the
/// documented request byte for byte, retries, permanent failures, and the remediation never held
/// back by any of it.
@Suite(.serialized) struct TriageReporterTests {
    static let keys = ["DD_API_KEY": "api-key-0123", "DD_APP_KEY": "app-key-4567"]

    static func config(apiURL: String, retries: Int = 3, extra: String = "") -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": { "ban-ip": { "target": "ip", "outbox": {} } },
          "datadog": { "site": "datadoghq.com", "api_url": "\(apiURL)", "timeout": 2, "max_retries": \(retries) \(extra) } }
        """
    }

    /// A ban of `ip` proposed by the Datadog signal `signalID`, approved by alice and dispatched
    /// (to the outbox) by a real dispatcher.
    func dispatchedBan(_ bench: DispatchBench, signalID: String, ip: String) throws -> Int64 {
        let id = try #require(try bench.signal(banSignal(signalID, ip: ip)).first)
        try bench.decide([id], .approve, by: "alice")
        try bench.dispatchUntilSettled(id)
        #expect(try bench.state(id).state == .dispatched)
        return id
    }

    func reporter(_ bench: DispatchBench, retry: RetryPolicy = RetryPolicy(base: 0, cap: 0), keys: [String: String] = keys) -> TriageReporter {
        let config = bench.config
        return TriageReporter(
            engine: SQLiteEngine(path: bench.dbPath), settings: { DispatchSettings(config: config) }, retryPolicy: retry,
            environment: { keys })
    }

    /// The head lines (lowercased names) and body of one recorded request.
    static func parse(_ raw: [UInt8]) -> (line: String, headers: [String: String], body: String) {
        let text = String(decoding: raw, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let lines = parts[0].components(separatedBy: "\r\n")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (lines[0], headers, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test func aDispatchArchivesTheSignalWithTheDocumentedRequest() throws {
        let standIn = try LoopbackSink([.status(200, body: Array(#"{"data":{"type":"signal_metadata"}}"#.utf8))])
        defer { standIn.stop() }
        let bench = try DispatchBench(configJSON: Self.config(apiURL: standIn.url("")))
        let id = try dispatchedBan(bench, signalID: "AQAAAYG1bl5K4HuUewAAAABBWUcxYmw1S0FBQmt2RmhRN0V4ZUVnQUE", ip: "203.0.113.42")
        #expect(try reporter(bench).runOnce() == 1)
        #expect(standIn.requests.count == 1)
        let request = Self.parse(try #require(standIn.requests.first))
        #expect(
            request.line == "PATCH /api/v2/security_monitoring/signals/AQAAAYG1bl5K4HuUewAAAABBWUcxYmw1S0FBQmt2RmhRN0V4ZUVnQUE/update HTTP/1.1")
        #expect(request.headers["dd-api-key"] == "api-key-0123" && request.headers["dd-application-key"] == "app-key-4567")
        #expect(request.headers["content-type"] == "application/json" && request.headers["accept"] == "application/json")
        let body = try JSONValue.parse(request.body)
        #expect(
            body
                == .object([
                    JSONMember(
                        "data",
                        .object([
                            JSONMember("type", .string("signal_metadata")),
                            JSONMember(
                                "attributes",
                                .object([
                                    JSONMember("state", .string("archived")), JSONMember("archive_reason", .string("remediated")),
                                    JSONMember(
                                        "archive_comment", .string("gavel remediation \(id) (ban-ip 203.0.113.42) dispatched, approved by alice")),
                                ])),
                        ]))
                ]))
        let updates = try bench.database().store.triageUpdates(ofRemediation: id)
        #expect(updates.map(\.state) == [.sent] && updates.map(\.lastStatus) == [200])
        let attempts = try bench.database().attempts(remediation: id)
        #expect(attempts.map(\.kind) == [.dispatch, .triage] && attempts.last?.outcome == .success)
        #expect(try bench.state(id).state == .dispatched)
    }

    @Test func withTheStandInDownTheRemediationStillGoesAndTheUpdateIsRetriedLater() throws {
        let port = LoopbackSink.closedPort()
        let bench = try DispatchBench(configJSON: Self.config(apiURL: "http://127.0.0.1:\(port)", retries: 20))
        let id = try dispatchedBan(bench, signalID: "AQAAAYxk1-down-0001", ip: "198.51.100.7")
        let reporter = reporter(bench, retry: RetryPolicy(base: 0.3, cap: 0.3))
        #expect(try reporter.runOnce() >= 1)  // refused, and queued again for later
        var update = try #require(try bench.database().store.triageUpdates(ofRemediation: id).first)
        #expect(update.state == .queued && update.nextAttemptAt != nil && update.lastError?.isEmpty == false)
        #expect(try bench.state(id).state == .dispatched)
        // The stand-in comes back on the same port; once a retry is due it goes through.
        let standIn = try LoopbackSink([.status(200)], port: port)
        defer { standIn.stop() }
        for _ in 0..<100 where update.state != .sent {
            usleep(50_000)
            try reporter.runOnce()
            update = try #require(try bench.database().store.triageUpdates(ofRemediation: id).first)
        }
        #expect(update.state == .sent && standIn.requests.count == 1)
        let outcomes = try bench.database().attempts(remediation: id).filter { $0.kind == .triage }.map(\.outcome)
        #expect(outcomes.count == update.attempts && outcomes.count >= 2)
        #expect(outcomes.last == .success && outcomes.dropLast().allSatisfy { $0 == .retry })
        #expect(try bench.state(id).state == .dispatched)
    }

    @Test func retriesAreBoundedAndA403IsFinal() throws {
        let standIn = try LoopbackSink([.status(503), .status(503), .status(503), .status(403)])
        defer { standIn.stop() }
        let bench = try DispatchBench(configJSON: Self.config(apiURL: standIn.url(""), retries: 2))
        let first = try dispatchedBan(bench, signalID: "AQAAAYxk1-retry-0001", ip: "198.51.100.8")
        #expect(try reporter(bench).runOnce() == 3)  // the first try and 2 retries, then given up
        let updates = try bench.database().store.triageUpdates(ofRemediation: first)
        #expect(updates.map(\.state) == [.failed] && updates.map(\.attempts) == [3] && updates.map(\.lastStatus) == [503])
        let second = try dispatchedBan(bench, signalID: "AQAAAYxk1-retry-0002", ip: "198.51.100.9")
        #expect(try reporter(bench).runOnce() == 1)  // 403: not retried
        #expect(try bench.database().store.triageUpdates(ofRemediation: second).map(\.lastStatus) == [403])
        #expect(try bench.state(first).state == .dispatched && bench.state(second).state == .dispatched)
        #expect(standIn.requests.count == 4)
    }

    @Test func aProcessWithoutTheKeysLeavesUpdatesToOneThatHasThemAndABadKeyFailsNamingIt() throws {
        let standIn = try LoopbackSink()
        defer { standIn.stop() }
        let bench = try DispatchBench(configJSON: Self.config(apiURL: standIn.url("")))
        let id = try dispatchedBan(bench, signalID: "AQAAAYxk1-nokey-0001", ip: "198.51.100.10")
        #expect(try reporter(bench, keys: ["DD_API_KEY": "api-key-0123"]).runOnce() == 0)
        #expect(try bench.database().store.triageUpdates(ofRemediation: id).map(\.state) == [.queued])
        #expect(standIn.requests.isEmpty)
        // A key holding a control character is refused before anything is sent, naming it.
        #expect(try reporter(bench, keys: ["DD_API_KEY": "api-key-0123", "DD_APP_KEY": "bad\r\nX-Injected: 1"]).runOnce() == 1)
        let update = try #require(try bench.database().store.triageUpdates(ofRemediation: id).first)
        #expect(update.state == .failed && update.lastError?.contains("DD_APP_KEY") == true)
        #expect(standIn.requests.isEmpty)
    }

    @Test func aHostileSignalIDStaysOnePathSegmentAndAFalsePositiveIsArchivedAsSuch() throws {
        let standIn = try LoopbackSink()
        defer { standIn.stop() }
        let bench = try DispatchBench(configJSON: Self.config(apiURL: standIn.url("/proxy/")))
        let id = try #require(try bench.signal(banSignal("../../v1/x?y=1#z %2F", ip: "198.51.100.11")).first)
        try bench.decide([id], .reject("known scanner \"ok\"", falsePositive: true), by: "bob")
        #expect(try reporter(bench).runOnce() == 1)
        let request = Self.parse(try #require(standIn.requests.first))
        #expect(request.line == "PATCH /proxy/api/v2/security_monitoring/signals/..%2F..%2Fv1%2Fx%3Fy%3D1%23z%20%252F/update HTTP/1.1")
        let attributes = try JSONValue.parse(request.body)["data"]?["attributes"]
        #expect(attributes?["archive_reason"] == .string("false_positive"))
        #expect(
            attributes?["archive_comment"]
                == .string("gavel remediation \(id) (ban-ip 198.51.100.11) rejected as a false positive by bob: known scanner \"ok\""))
    }
}
