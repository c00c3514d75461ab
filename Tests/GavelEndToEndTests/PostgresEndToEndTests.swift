import Foundation
import GavelTestSupport
import Synchronization
import Testing

@testable import GavelCore

/// Issue 11 end to end: several `gavel serve` processes and consoles on one PostgreSQL (a
/// database of its own per test on the run's throwaway cluster), with the built binary.
@Suite(.serialized, .enabled(if: PostgresCluster.unavailableReason == nil, "needs PostgreSQL server binaries"))
struct PostgresEndToEndTests {
    /// A new database: the cluster, its URI and its name (for `psql`).
    static func database() throws -> (cluster: PostgresCluster, uri: String, name: String) {
        let cluster = try PostgresCluster.shared.get()
        let uri = try cluster.createDatabase()
        return (cluster, uri, String(uri.split(separator: "/").last ?? ""))
    }

    /// A Datadog signal naming one IP of a pool (250 by default) (so receivers race for the same targets).
    static func signal(_ n: Int, prefix: String = "pg", pool: Int = 250) -> String {
        let m = n % pool
        return
            #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ID":"\#(prefix)-\#(n)","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["198.51.\#(100 + m / 250).\#(m % 250 + 1)"]}}}}"#
    }

    static func httpConfig(_ sink: LoopbackSink, timeoutSeconds: Int = 10) -> String {
        """
        { "allow_internal_action_urls": true,
          "actions": { "ban-ip": { "target": "ip", "http": { "url": "\(sink.url("/ban"))", "timeout_seconds": \(timeoutSeconds),
                                                               "body": { "ip": "{{ip}}" } } } } }
        """
    }

    func waitFor(seconds: Double, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() && Date() < deadline { usleep(20_000) }
    }

    @Test func twoReceiversStoreEveryAcknowledgedSignalOnceAndOneRemediationPerTarget() throws {
        let (cluster, uri, name) = try Self.database()
        let a = try ServeProcess(database: uri)
        defer { a.cleanup() }
        let b = try ServeProcess(database: uri)
        defer { b.cleanup() }
        let acknowledged = Mutex<[String: Int]>([:])
        let failures = Atomic<Int>(0)
        let (portA, portB) = (a.port, b.port)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            let toA = WebhookConnection(port: portA)
            let toB = WebhookConnection(port: portB)
            for n in stride(from: t, to: 2000, by: 4) {
                let body = Self.signal(n)
                var statuses: [Int?] = []
                if n % 10 == 0 {
                    // One of the 200 sent to both receivers at once.
                    let both = Mutex<[Int?]>([])
                    DispatchQueue.concurrentPerform(iterations: 2) { side in
                        let status = WebhookConnection(port: side == 0 ? portA : portB).post(body)
                        both.withLock { $0.append(status) }
                    }
                    statuses = both.withLock { $0 }
                } else {
                    statuses = [(n % 2 == 0 ? toA : toB).post(body)]
                }
                for status in statuses {
                    if status == 202 {
                        acknowledged.withLock { $0["pg-\(n)", default: 0] += 1 }
                    } else {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        let acks = acknowledged.withLock { $0 }
        #expect(failures.load(ordering: .relaxed) == 0 && acks.count == 2000 && acks.values.reduce(0, +) == 2200)
        let stored = try cluster.psql(
            "SELECT count(*) || ' ' || count(DISTINCT signal_id) || ' ' || sum(deliveries) || ' ' || count(*) FILTER (WHERE deliveries = 2) FROM signals",
            database: name)
        #expect(stored.trimmingCharacters(in: .whitespacesAndNewlines) == "2000 2000 2200 200")
        let remediations = try cluster.psql(
            """
            SELECT count(*) || ' ' || count(DISTINCT (action, target)) || ' ' || sum(signals) FROM remediations
            """, database: name)
        #expect(remediations.trimmingCharacters(in: .whitespacesAndNewlines) == "250 250 2000")
        // Both receivers proposed at once: the audit log is still one hash chain.
        let verify = try GavelBinary.run(["audit", "--verify", "--db", uri])
        #expect(verify.status == 0 && verify.out.contains("audit log intact: 250 entries"), "\(verify.out) \(verify.err)")
    }

    @Test func fiveHundredApprovalsWithADispatcherInEachProcessArriveExactlyOnce() throws {
        let (cluster, uri, name) = try Self.database()
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let config = Self.httpConfig(sink)
        let a = try ServeProcess(config: config, database: uri)
        defer { a.cleanup() }
        let b = try ServeProcess(config: config, database: uri)
        defer { b.cleanup() }
        let toA = WebhookConnection(port: a.port)
        let toB = WebhookConnection(port: b.port)
        for n in 0..<500 { #expect((n % 2 == 0 ? toA : toB).post(Self.signal(n, prefix: "ap", pool: 500)) == 202) }
        let approve = try GavelBinary.run(["approve"] + (1...500).map(String.init) + ["--db", uri, "--by", "alice"])
        #expect(approve.status == 0, "\(approve.err)")
        waitFor(seconds: 60) { sink.requests.count >= 500 }
        usleep(1_000_000)  // anything sent twice would have arrived by now
        let requests = sink.requests.map(RecordedRequest.init)
        #expect(requests.count == 500)
        #expect(Set(requests.flatMap { $0.values("Idempotency-Key") }).count == 500)
        #expect(Set(requests.map { String(decoding: $0.body, as: UTF8.self) }).count == 500)
        let states = try cluster.psql("SELECT state || ' ' || count(*) FROM remediations GROUP BY state", database: name)
        #expect(states.trimmingCharacters(in: .whitespacesAndNewlines) == "dispatched 500")
    }

    /// Issue 15 on PostgreSQL: two serve processes batch 500 approvals of one action (50 per
    /// request, 4 in flight each); the first batch meets a 503 and goes again as the same batch
    /// (same members, same key). Every remediation arrives in exactly one successful batch, each
    /// records its own attempts with its batch's key, and no batch holds more than 50.
    @Test func twoDispatchersBatchFiveHundredApprovalsAndAFailedBatchGoesAgainWhole() throws {
        let (cluster, uri, name) = try Self.database()
        let sink = try LoopbackSink([.status(503), .status(200)], keepAlive: true)
        defer { sink.stop() }
        let config = """
            { "allow_internal_action_urls": true,
              "actions": { "ban-ip": { "target": "ip", "http": { "url": "\(sink.url("/ban"))", "body": { "ip": "{{ip}}" } },
                "concurrency": 4, "batch": { "max": 50, "window": "100ms", "body": { "items": "{{targets}}" } } } } }
            """
        let a = try ServeProcess(config: config, database: uri)
        defer { a.cleanup() }
        let b = try ServeProcess(config: config, database: uri)
        defer { b.cleanup() }
        let toA = WebhookConnection(port: a.port)
        let toB = WebhookConnection(port: b.port)
        for n in 0..<500 { #expect((n % 2 == 0 ? toA : toB).post(Self.signal(n, prefix: "batch", pool: 500)) == 202) }
        let approve = try GavelBinary.run(["approve"] + (1...500).map(String.init) + ["--db", uri, "--by", "alice"])
        #expect(approve.status == 0, "\(approve.err)")
        waitFor(seconds: 60) {
            (try? cluster.psql("SELECT count(*) FROM remediations WHERE state = 'dispatched'", database: name))?.hasPrefix("500") ?? false
        }
        usleep(1_000_000)  // anything sent twice would have arrived by now
        let requests = sink.requests.map(RecordedRequest.init)
        func members(_ r: RecordedRequest) -> [String] {
            guard case .array(let items)? = (try? JSONValue.parse(String(decoding: r.body, as: UTF8.self)))?["items"] else { return [] }
            return items.compactMap { $0["ip"]?.scalarText }
        }
        let failed = requests[0]
        let succeeded = Array(requests.dropFirst())
        let sent = succeeded.flatMap(members)
        #expect(sent.count == 500 && Set(sent).count == 500, "\(sent.count) sent, \(Set(sent).count) distinct")
        #expect(requests.allSatisfy { (1...50).contains(members($0).count) })
        // The failed batch went again whole, with its key.
        let failedKey = failed.values("Idempotency-Key").first ?? ""
        #expect(failedKey.hasPrefix("gavel-batch-"))
        let again = succeeded.filter { $0.values("Idempotency-Key").first == failedKey }
        #expect(again.count == 1 && again.first.map(members) == members(failed))
        // Every remediation: its own attempts with its batch's key, one success each.
        let attempts = try cluster.psql(
            "SELECT outcome || ' ' || count(*) || ' ' || count(batch_key) FROM attempts GROUP BY outcome ORDER BY outcome", database: name)
        let retried = members(failed).count
        #expect(attempts.split(separator: "\n") == ["retry \(retried) \(retried)", "success 500 500"])
        let keys = try cluster.psql("SELECT count(DISTINCT batch_key) FROM attempts WHERE outcome = 'success'", database: name)
        #expect(keys.hasPrefix("\(succeeded.count)"))
        #expect(try cluster.psql("SELECT count(*) FROM remediations WHERE batch_key IS NOT NULL", database: name).hasPrefix("0"))
    }

    @Test func aReceiverKilledMidLoadLosesNoAcknowledgedSignal() throws {
        let (cluster, uri, name) = try Self.database()
        let a = try ServeProcess(database: uri)
        defer { a.cleanup() }
        let b = try ServeProcess(database: uri)
        defer { b.cleanup() }
        let acknowledged = Mutex<Set<String>>([])
        let counter = Atomic<Int>(0)
        let group = DispatchGroup()
        let portA = a.port
        for _ in 0..<4 {
            DispatchQueue.global().async(group: group) {
                let connection = WebhookConnection(port: portA)
                while true {
                    let n = counter.add(1, ordering: .relaxed).newValue
                    guard let status = connection.post(Self.signal(n, prefix: "k9")) else { return }
                    if status == 202 { acknowledged.withLock { _ = $0.insert("k9-\(n)") } }
                }
            }
        }
        waitFor(seconds: 10) { acknowledged.withLock { $0.count } >= 300 }
        a.crash()
        group.wait()
        let acks = acknowledged.withLock { $0 }
        let stored = Set(try cluster.psql("SELECT signal_id FROM signals", database: name).split(separator: "\n").map(String.init))
        #expect(acks.count >= 300)
        #expect(acks.subtracting(stored).isEmpty, "lost: \(acks.subtracting(stored).sorted().prefix(5))")
        // The other receiver goes on.
        #expect(WebhookConnection(port: b.port).post(Self.signal(999_999, prefix: "after")) == 202)
    }

    @Test func aBanWithADurationIsRevertedAtExpiryExactlyOnceWhileTwoServesRun() throws {
        let (cluster, uri, name) = try Self.database()
        let created = Array(#"{"success":true,"result":{"id":"rule-42"}}"#.utf8)
        let sink = try LoopbackSink([.status(200, body: created)])
        defer { sink.stop() }
        let config = """
            { "allow_internal_action_urls": true,
              "actions": { "ban-ip": { "target": "ip",
                "http": { "url": "\(sink.url("/ban"))", "body": { "ip": "{{ip}}" } },
                "revert": { "http": { "method": "DELETE", "url": "\(sink.url("/ban/{{ip}}/{{response.json.result.id}}"))", "body": null } },
                "duration": "2s" } } }
            """
        let a = try ServeProcess(config: config, database: uri)
        defer { a.cleanup() }
        let b = try ServeProcess(config: config, database: uri)
        defer { b.cleanup() }
        let toA = WebhookConnection(port: a.port)
        let toB = WebhookConnection(port: b.port)
        let count = 20
        for n in 0..<count { #expect((n % 2 == 0 ? toA : toB).post(Self.signal(n, prefix: "ttl", pool: count)) == 202) }
        let approve = try GavelBinary.run(["approve"] + (1...count).map(String.init) + ["--db", uri, "--by", "alice"])
        #expect(approve.status == 0, "\(approve.err)")
        waitFor(seconds: 30) { sink.requests.count >= 2 * count }
        usleep(1_500_000)  // a revert sent twice would have arrived by now
        let requests = sink.requests.map(RecordedRequest.init)
        let bans = requests.filter { $0.method == "POST" }
        let reverts = requests.filter { $0.method == "DELETE" }
        #expect(bans.count == count && reverts.count == count, "\(requests.count) requests")
        // Each revert once, with the ban's idempotency key + "-revert" and the id its ban's response gave.
        let banKeys = Set(bans.flatMap { $0.values("Idempotency-Key") })
        #expect(Set(reverts.flatMap { $0.values("Idempotency-Key") }) == Set(banKeys.map { $0 + "-revert" }))
        #expect(Set(reverts.map(\.target)).count == count && reverts.allSatisfy { $0.target.hasSuffix("/rule-42") })
        waitFor(seconds: 5) {
            (try? cluster.psql("SELECT count(*) FROM remediations WHERE state = 'reverted'", database: name))?.hasPrefix("\(count)") ?? false
        }
        let states = try cluster.psql("SELECT state || ' ' || count(*) FROM remediations GROUP BY state", database: name)
        #expect(states.trimmingCharacters(in: .whitespacesAndNewlines) == "reverted \(count)")
        let attempts = try cluster.psql("SELECT kind || ' ' || count(*) FROM attempts GROUP BY kind ORDER BY kind", database: name)
        #expect(attempts.split(separator: "\n") == ["dispatch \(count)", "revert \(count)"])
        // Both processes wrote the audit log at once: still one chain.
        let verify = try GavelBinary.run(["audit", "--verify", "--db", uri])
        #expect(verify.status == 0 && verify.out.contains("audit log intact"), "\(verify.out) \(verify.err)")
    }

    static var canUseAnotherHostName: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") }

    @Test(.enabled(if: canUseAnotherHostName, "needs root and unshare (a dispatcher with another host name)"))
    func aClaimOfADispatcherKilledOnAnotherHostIsRecoveredAfterItsLease() throws {
        let (cluster, uri, name) = try Self.database()
        let sink = try LoopbackSink([.hang, .status(200)])
        defer { sink.stop() }
        let config = Self.httpConfig(sink, timeoutSeconds: 2)
        // Lease = 2 s (the action's timeout) + 1 s margin.
        let environment = ["GAVEL_LEASE_MARGIN_SECONDS": "1"]
        let elsewhere = try ServeProcess(
            environment: environment, config: config, database: uri,
            launcher: ["/usr/bin/unshare", "--uts", "/bin/sh", "-c", "hostname gavel-other-host && exec \"$0\" \"$@\""])
        defer { elsewhere.cleanup() }
        #expect(WebhookConnection(port: elsewhere.port).post(Self.signal(1, prefix: "lease")) == 202)
        #expect(try GavelBinary.run(["approve", "1", "--db", uri, "--by", "alice"]).status == 0)
        waitFor(seconds: 10) { sink.requests.count >= 1 }
        let claimedAt = Date()
        #expect(sink.requests.count == 1)
        elsewhere.crash()  // holding the claim, its request unanswered
        let here = try ServeProcess(environment: environment, config: config, database: uri)
        defer { here.cleanup() }
        waitFor(seconds: 20) { sink.requests.count >= 2 }
        let recoveredAfter = Date().timeIntervalSince(claimedAt)
        let requests = sink.requests.map(RecordedRequest.init)
        #expect(requests.count == 2)
        #expect(recoveredAfter >= 2.5, "recovered after \(recoveredAfter) s, before the lease ran out")
        #expect(Set(requests.flatMap { $0.values("Idempotency-Key") }).count == 1)
        waitFor(seconds: 5) { (try? cluster.psql("SELECT state FROM remediations WHERE id = 1", database: name))?.hasPrefix("dispatched") ?? false }
        #expect(try cluster.psql("SELECT state FROM remediations WHERE id = 1", database: name).hasPrefix("dispatched"))
        let audit = try cluster.psql("SELECT detail FROM audit WHERE action = 'recover'", database: name)
        #expect(audit.contains("the lease of gavel-other-host:"), "\(audit)")
    }

    @Test(.enabled(if: TmuxConsole.available, "needs tmux"))
    func aDecisionInOneConsoleShowsInAnotherWithinASecond() throws {
        let (_, uri, _) = try Self.database()
        let serve = try ServeProcess(database: uri)
        defer { serve.cleanup() }
        #expect(WebhookConnection(port: serve.port).post(RenovationEndToEndTests.banIP) == 202)
        let dirA = try TemporaryDirectory()
        let dirB = try TemporaryDirectory()
        let alice = try TmuxConsole(folder: dirA.path, args: ["--no-receiver", "--by", "alice"], cols: 120, rows: 30, database: uri)
        defer { alice.kill() }
        let bob = try TmuxConsole(folder: dirB.path, args: ["--no-receiver", "--by", "bob"], cols: 120, rows: 30, database: uri)
        defer { bob.kill() }
        alice.waitFor("203.0.113.42")
        let before = bob.waitFor("203.0.113.42")
        #expect(before.contains("203.0.113.42"), "\(before)")
        #expect(!bob.capture().contains("postgres://postgres:"), "no password shown")
        alice.send("a")
        alice.waitFor("approved #1")
        let decided = Date()
        let after = bob.waitFor(timeout: 5) { !$0.contains("203.0.113.42") }
        let elapsed = Date().timeIntervalSince(decided)
        #expect(!after.contains("203.0.113.42"), "\(after)")
        #expect(elapsed < 1.0, "shown after \(elapsed) s")
    }

    @Test(.enabled(if: TmuxConsole.available, "needs tmux"))
    func losingTheDatabaseAnswers503ShowsABannerAndBothReconnectByThemselves() throws {
        let (cluster, uri, name) = try Self.database()
        let serve = try ServeProcess(database: uri)
        defer { serve.cleanup() }
        #expect(WebhookConnection(port: serve.port).post(RenovationEndToEndTests.banIP) == 202)
        let dir = try TemporaryDirectory()
        let console = try TmuxConsole(folder: dir.path, args: ["--no-receiver", "--by", "alice"], cols: 120, rows: 30, database: uri)
        defer { console.kill() }
        console.waitFor("203.0.113.42")
        // The database goes away: every connection is cut and new ones are refused.
        try cluster.psql("ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
        try cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'")
        let refused = try curlHead(serve.baseURL + "/webhook", body: Self.signal(1, prefix: "down"))
        #expect(refused.hasPrefix("HTTP/1.1 503"), "\(refused)")
        #expect(refused.lowercased().contains("retry-after:"), "\(refused)")
        let banner = console.waitFor(timeout: 5) { $0.contains("unavailable") }
        #expect(banner.contains("data source: store unavailable"), "\(banner)")
        #expect(!banner.contains("postgres://postgres:"))
        // It comes back: both reconnect without a restart.
        try cluster.psql("ALTER DATABASE \(name) ALLOW_CONNECTIONS true")
        var status: Int?
        waitFor(seconds: 10) {
            status = WebhookConnection(port: serve.port).post(Self.signal(2, prefix: "back"))
            return status == 202
        }
        #expect(status == 202)
        let healed = console.waitFor(timeout: 5) { !$0.contains("unavailable") && $0.contains("198.51.100.3") }
        #expect(!healed.contains("unavailable") && healed.contains("198.51.100.3"), "\(healed)")
    }

    @Test func migrateCopiesADemoDatabaseSoListAndSignalsAreTheSameOnBothEngines() throws {
        // With the word back to Datadog configured (its API down: the updates stay queued) and
        // posts of several alerts, so every table has rows.
        let serve = try ServeProcess(
            environment: ["DD_API_KEY": "k", "DD_APP_KEY": "a"],
            config: #"{"datadog": {"api_url": "http://127.0.0.1:\#(LoopbackSink.closedPort())", "max_retries": 0}}"#)
        defer { serve.cleanup() }
        #expect(try GavelBinary.run(["demo", "--to", serve.baseURL]).status == 0)
        for name in ["alertmanager", "guardduty"] {
            #expect(try curl(serve.baseURL + "/webhook/\(name)", body: SenderSamples.text(name)).contains(#""source":"\#(name)""#))
        }
        let db = ["--db", serve.dbPath]
        // Remediation 1 (deleting a security group) is irreversible: two analysts approve it.
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--yes"] + db).status == 0)
        #expect(try GavelBinary.run(["approve", "1", "--by", "carol", "--yes"] + db).status == 0)
        #expect(try GavelBinary.run(["approve", "3", "--by", "alice", "--yes"] + db).status == 0)
        #expect(try GavelBinary.run(["reject", "2", "--reason", "known scanner", "--false-positive", "--by", "bob"] + db).status == 0)
        #expect(try GavelBinary.run(["note", "2", #"carrier NAT "range" \ ask Bob"#, "--by", "bob"] + db).status == 0)
        #expect(try GavelBinary.run(["allowlist", "add", "198.51.100.0/24", "--reason", "partner office", "--by", "carol"] + db).status == 0)
        waitFor(seconds: 10) { (try? GavelBinary.run(["list", "--state", "dispatched"] + db).out.isEmpty) == false }
        // The word back was tried (and failed: its API is down) for the Datadog signals of 2 and 3.
        waitFor(seconds: 10) { (try? GavelBinary.run(["show", "2", "--json"] + db).out.contains(#""state":"failed""#)) == true }
        serve.stop()
        let (_, uri, _) = try Self.database()
        let migrated = try GavelBinary.run(["migrate", "--from", serve.dbPath, "--to", uri])
        #expect(migrated.status == 0, "\(migrated.err)")
        #expect(migrated.out.contains("signals") && migrated.out.contains("audit"))
        let verbs = [
            ["list", "--json"], ["signals", "--json"], ["rules", "--json"], ["audit", "--json"], ["show", "1", "--json"], ["show", "2", "--json"],
            ["allowlist", "--json"], ["active", "--json"], ["audit", "--verify"], ["audit", "--export"],
        ]
        for verb in verbs {
            let sqlite = try GavelBinary.run(verb + db)
            let postgres = try GavelBinary.run(verb + ["--db", uri])
            #expect(sqlite.status == 0 && postgres.status == 0 && sqlite.out == postgres.out, "\(verb)")
            #expect(sqlite.out.count > 10, "\(verb)")
        }
        // The approvals, the note and the allowlist entry came along; the chain verifies with the same head.
        let shown = try JSONValue.parse(try GavelBinary.run(["show", "1", "--json", "--db", uri]).out)
        #expect(shown["approvals"].map { "\($0)" }?.contains("carol") == true, "\(shown)")
        #expect(try GavelBinary.run(["show", "2", "--json", "--db", uri]).out.contains("carrier NAT"))
        let rejected = try JSONValue.parse(try GavelBinary.run(["show", "2", "--json", "--db", uri]).out)
        #expect(rejected["false_positive"] == .bool(true) && "\(rejected["datadog_triage"] ?? .null)".contains("false_positive"))
        #expect(try GavelBinary.run(["signals", "--json", "--db", uri]).out.contains(#""context_ips":["10.0.2.15","192.0.2.80"]"#))
        #expect(try GavelBinary.run(["audit", "--verify", "--db", uri]).out.hasPrefix("audit log intact"))
        // Into a database that is not empty: refused, nothing changed.
        let again = try GavelBinary.run(["migrate", "--from", serve.dbPath, "--to", uri])
        #expect(again.status == 1 && again.err.contains("not empty"), "\(again.err)")
    }
}

/// POSTs with curl and returns the status line and headers (`curl -i`, body dropped).
func curlHead(_ url: String, body: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-sS", "-i", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body, url]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    return String(text[..<(text.range(of: "\r\n\r\n")?.lowerBound ?? text.endIndex)])
}
