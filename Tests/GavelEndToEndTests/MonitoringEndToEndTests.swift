import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

/// GETs with curl; returns the status and the body.
func curlStatus(_ url: String) throws -> (status: Int, body: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-sS", "-o", "-", "-w", "\n%{http_code}", url]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    let split = text.lastIndex(of: "\n") ?? text.endIndex
    return (Int(text[text.index(after: split)...]) ?? 0, String(text[..<split]))
}

/// Issue 16 item 15, end to end: `/metrics` has dispatch counters by action and outcome, a
/// latency histogram and the age of the oldest pending remediation; `/healthz` reports the store
/// and the dispatcher (503 with a JSON body saying which); `/readyz` answers for load balancers.
@Suite(.serialized) struct MonitoringEndToEndTests {
    static func config(_ sink: LoopbackSink) -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": { "ban-ip": { "target": "ip", "http": { "url": "\(sink.url("/ban"))" } } } }
        """
    }

    static func signal(_ id: String, ip: String) -> String {
        #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ID":"\#(id)","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["\#(ip)"]}}}}"#
    }

    /// The samples of an exposition: `name{labels}` → value; every line a comment or a sample.
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                Issue.record("not a sample line: \(line)")
                continue
            }
            out[String(line[..<space])] = value
        }
        return out
    }

    @Test func metricsCountDispatchesByActionAndOutcomeWithALatencyHistogramAndTheOldestPendingAge() throws {
        let sink = try LoopbackSink([.status(503), .status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink))
        defer { serve.cleanup() }
        // The first signal 1.5 s before the other two; the second is approved; the first and
        // the third stay pending, so the oldest's age tells the oldest from the newest.
        _ = try curl(serve.baseURL + "/webhook", body: Self.signal("m0", ip: "203.0.113.21"))
        usleep(1_500_000)
        _ = try curl(serve.baseURL + "/webhook", body: Self.signal("m1", ip: "203.0.113.22"))
        _ = try curl(serve.baseURL + "/webhook", body: Self.signal("m2", ip: "203.0.113.23"))
        #expect(try GavelBinary.run(["approve", "2", "--by", "alice", "--db", serve.dbPath]).status == 0)
        let success = #"gavel_dispatch_attempts_total{action="ban-ip",kind="dispatch",outcome="success"}"#
        var metrics: [String: Double] = [:]
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            metrics = Self.samples(try curlStatus(serve.baseURL + "/metrics").body)
            if metrics[success] == 1 { break }
            usleep(100_000)
        }
        #expect(metrics[success] == 1)
        #expect(metrics[#"gavel_dispatch_attempts_total{action="ban-ip",kind="dispatch",outcome="retry"}"#] == 1)
        #expect(metrics[#"gavel_dispatch_duration_seconds_count{action="ban-ip"}"#] == 2)
        #expect(metrics[#"gavel_dispatch_duration_seconds_bucket{action="ban-ip",le="+Inf"}"#] == 2)
        let sum = try #require(metrics[#"gavel_dispatch_duration_seconds_sum{action="ban-ip"}"#])
        #expect(sum > 0 && sum < 30)
        // Cumulative buckets: never decreasing, the last one the count.
        let buckets = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "300", "+Inf"].map {
            metrics["gavel_dispatch_duration_seconds_bucket{action=\"ban-ip\",le=\"\($0)\"}"] ?? -1
        }
        #expect(buckets == buckets.sorted() && buckets.allSatisfy { $0 >= 0 })
        #expect(metrics[#"gavel_remediations{state="pending"}"#] == 2)
        // The age reported is the first one's (created 1.5 s before the third), as of the scrape.
        let listed = try GavelBinary.run(["list", "--state", "pending", "--json", "--db", serve.dbPath])
        guard case .array(let pending) = try JSONValue.parse(listed.out) else {
            Issue.record("not a JSON array: \(listed.out)")
            return
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let created = try pending.map { try #require($0["created_at"]?.scalarText.flatMap { formatter.date(from: $0) }) }
        let oldest = try #require(created.min())
        #expect(try #require(created.max()).timeIntervalSince(oldest) >= 1.4)
        let before = Date()
        metrics = Self.samples(try curlStatus(serve.baseURL + "/metrics").body)
        let after = Date()
        let age = try #require(metrics["gavel_oldest_pending_seconds"])
        #expect(age >= before.timeIntervalSince(oldest) - 0.01 && age <= after.timeIntervalSince(oldest) + 0.01, "\(age)")
        #expect(metrics[#"gavel_health{part="store"}"#] == 1 && metrics[#"gavel_health{part="dispatcher"}"#] == 1)
    }

    @Test func healthzReportsTheStoreAndTheDispatcherAndReadyzTheStore() throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let serve = try ServeProcess(config: Self.config(sink))
        defer { serve.cleanup() }
        let healthy = try curlStatus(serve.baseURL + "/healthz")
        #expect(healthy.status == 200)
        #expect(healthy.body == #"{"status":"ok","store":"ok","dispatcher":"ok"}"#)
        let ready = try curlStatus(serve.baseURL + "/readyz")
        #expect(ready.status == 200 && ready.body == #"{"status":"ready","store":"ok"}"#)

        // A second serve on the same database whose file differs from the configuration in force:
        // its dispatcher is held, which /healthz reports; it can still take deliveries (/readyz).
        let other = Self.config(sink).replacingOccurrences(of: "/ban", with: "/other-ban")
        let held = try ServeProcess(config: other, database: serve.dbPath)
        defer { held.cleanup() }
        var answer = try curlStatus(held.baseURL + "/healthz")
        for _ in 0..<50 where answer.status == 200 {
            usleep(100_000)
            answer = try curlStatus(held.baseURL + "/healthz")
        }
        #expect(answer.status == 503)
        let report = try JSONValue.parse(answer.body)
        #expect(report["status"] == .string("unavailable") && report["store"] == .string("ok"))
        #expect(report["dispatcher"]?.scalarText?.contains("dispatch is held here") == true, "\(answer.body)")
        #expect(report["error"]?.scalarText?.hasPrefix("dispatcher: ") == true)
        #expect(try curlStatus(held.baseURL + "/readyz").status == 200)
        held.stop()

        // The store's files deleted: /healthz and /readyz say so, naming the store.
        try FileManager.default.removeItem(atPath: serve.dbPath + "-wal")
        let broken = try curlStatus(serve.baseURL + "/healthz")
        #expect(broken.status == 503)
        let why = try JSONValue.parse(broken.body)
        #expect(why["store"]?.scalarText?.contains("the write-ahead log \(serve.dbPath)-wal was deleted") == true, "\(broken.body)")
        #expect(why["dispatcher"] == .string("ok"))
        let notReady = try curlStatus(serve.baseURL + "/readyz")
        #expect(notReady.status == 503)
        #expect(try JSONValue.parse(notReady.body)["status"] == .string("not ready"))
        let scraped = Self.samples(try curlStatus(serve.baseURL + "/metrics").body)
        #expect(scraped[#"gavel_health{part="store"}"#] == 0)
    }
}
