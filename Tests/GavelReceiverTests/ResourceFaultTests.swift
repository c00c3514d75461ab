import Foundation
import Synchronization
import Testing

@testable import GavelReceiver
@testable import GavelStore
@testable import GavelStoreSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// Resource faults (hardening checklist R3, R8, R9): while the store cannot write — read-only,
/// full, or locked past the busy timeout — a valid delivery gets 503 with `Retry-After` (so
/// Datadog retries), never a 2xx and never a 4xx, and the same delivery is stored as soon as
/// the fault clears, with nothing restarted. Slow clients do not starve a real delivery, and
/// clients that reset mid-request or mid-response do not disturb the receiver.
@Suite(.serialized) struct ResourceFaultTests {
    static func delivery(_ id: String, padding: Int = 0) -> String {
        let pad = String(repeating: "p", count: padding)
        return post(
            body:
                #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_SIGNAL_MSG":"\#(pad)","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.7"]}}}}"#
        )
    }

    /// Sends `deliveries` while the fault holds: each must be 503 + Retry-After.
    static func expectUnavailable(_ r: RunningReceiver, _ deliveries: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for raw in deliveries {
            let response = try r.exchange(raw)
            #expect(response.status == 503, "\(response.status) \(response.body)", sourceLocation: sourceLocation)
            #expect(response.head.contains("Retry-After: "), sourceLocation: sourceLocation)
            #expect(response.head.contains("Connection: close"), sourceLocation: sourceLocation)
        }
    }

    @Test func readOnlyStoreAnswers503AndResumes() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        #expect(try r.exchange(Self.delivery("before")).status == 202)
        try r.writer.withConnection { store in try store.db.execute("PRAGMA query_only=ON") }
        try Self.expectUnavailable(r, [Self.delivery("during-1"), Self.delivery("during-2"), Self.delivery("before")])
        // A malformed body is still the sender's fault (400), even though its quarantine write fails.
        #expect(try r.exchange(post(body: "{oops")).status == 400)
        try r.writer.withConnection { store in try store.db.execute("PRAGMA query_only=OFF") }
        #expect(try r.exchange(Self.delivery("during-1")).status == 202)
        #expect(try r.exchange(Self.delivery("during-2")).status == 202)
        let ids = try r.database().query("SELECT signal_id FROM signals ORDER BY id").map { $0.string(0) }
        #expect(ids == ["before", "during-1", "during-2"])
        #expect(r.receiver.metrics.storeErrors.load(ordering: .relaxed) >= 3)
    }

    @Test func fullStoreAnswers503AndResumes() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        #expect(try r.exchange(Self.delivery("before")).status == 202)
        // SQLite's max_page_count is per connection: cap the writer's at the current size.
        let pages = try r.writer.withConnection { store in try store.db.query("PRAGMA page_count").first?.int(0) ?? 0 }
        try r.writer.withConnection { store in _ = try store.db.query("PRAGMA max_page_count=\(pages)") }
        try Self.expectUnavailable(r, (0..<4).map { Self.delivery("full-\($0)", padding: 20_000) })
        try r.writer.withConnection { store in _ = try store.db.query("PRAGMA max_page_count=1073741823") }
        for i in 0..<4 { #expect(try r.exchange(Self.delivery("full-\(i)", padding: 20_000)).status == 202) }
        #expect(try r.count("signals") == 5)
        #expect(try r.database().query("PRAGMA integrity_check").first?.string(0) == "ok")
    }

    /// A full store where the write that does not fit is a dry run's request (a 20 KB body,
    /// bound at intake), and SQLite rolls the whole transaction back for it: the delivery gets
    /// 503 like any other, and is stored in full once there is room. The dry run's store work
    /// used to take the disk error for a refusal of the request and go on writing outside the
    /// transaction; the batch's COMMIT then failed ("no transaction is active") and the delivery
    /// was answered 500, which the sender does not retry: the signal was lost.
    @Test func fullStoreAnswers503ForADryRunWhoseRequestDoesNotFit() throws {
        let note = String(repeating: "n", count: 20_000)
        let r = try RunningReceiver(
            configJSON:
                #"{"actions": {"ban-ip": {"outbox": {"body": {"ip": "{{target}}", "note": "\#(note)"}}}}, "rules": {"sim": {"mode": "dry-run"}}}"#
        )
        defer { r.stop() }
        func dryRun(_ id: String, _ ip: String) -> String {
            post(
                body:
                    #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_NAME":"sim","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["\#(ip)"]}}}}"#
            )
        }
        #expect(try r.exchange(dryRun("before", "203.0.113.1")).status == 202)
        let pages = try r.writer.withConnection { store in try store.db.query("PRAGMA page_count").first?.int(0) ?? 0 }
        try r.writer.withConnection { store in _ = try store.db.query("PRAGMA max_page_count=\(pages)") }
        try Self.expectUnavailable(r, [dryRun("during", "203.0.113.2")])
        try r.writer.withConnection { store in _ = try store.db.query("PRAGMA max_page_count=1073741823") }
        #expect(try r.exchange(dryRun("during", "203.0.113.2")).status == 202)
        let db = try r.database()
        #expect(try db.query("SELECT signal_id FROM signals ORDER BY id").map { $0.string(0) } == ["before", "during"])
        let simulated = try db.query("SELECT state, length(bound_request) > 20000, request FROM remediations WHERE target = '203.0.113.2'")
        #expect(simulated.count == 1 && simulated.allSatisfy { $0.string(0) == "simulated" && $0.int(1) == 1 && $0.string(2) == nil })
        #expect(try r.count("intake_errors") == 0)
    }

    @Test func storeLockedPastTheBusyTimeoutAnswers503AndResumes() throws {
        let r = try RunningReceiver(busyTimeoutMs: 200)
        defer { r.stop() }
        let holder = try Database(path: r.dbPath, busyTimeoutMs: 10)
        try holder.execute("BEGIN IMMEDIATE")
        try Self.expectUnavailable(r, [Self.delivery("locked-1"), Self.delivery("locked-2")])
        try holder.execute("ROLLBACK")
        #expect(try r.exchange(Self.delivery("locked-1")).status == 202)
        #expect(try r.exchange(Self.delivery("locked-2")).status == 202)
        #expect(try r.count("signals") == 2)
    }

    /// 300 slowloris connections (partial heads and bodies, one byte at a time) from five peer
    /// addresses (60 each, under the per-peer cap) do not keep a real delivery from its 202
    /// within 2 s; they end with 408 at their deadline.
    @Test func slowClientsDoNotStarveADelivery() throws {
        let r = try RunningReceiver(readDeadline: 4)
        defer { r.stop() }
        var slow: [LoopbackClient] = []
        defer { slow.forEach { $0.close() } }
        for i in 0..<300 {
            let c = try LoopbackClient(port: r.port, source: "127.0.0.\(2 + i % 5)")
            c.send(
                i % 2 == 0
                    ? "POST /webhook HTTP/1.1\r\nHost: x\r\n"
                    : "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{")
            slow.append(c)
        }
        let stop = Atomic<Bool>(false)
        let fds = slow.map(\.fd)
        let trickler = Thread {
            var k = 0
            while !stop.load(ordering: .relaxed) {
                for fd in fds { _ = Glibc.send(fd, k % 2 == 0 ? "X" : "a", 1, Int32(MSG_NOSIGNAL)) }
                k += 1
                usleep(200_000)
            }
        }
        trickler.start()
        defer { stop.store(true, ordering: .relaxed) }
        let t0 = Date()
        while r.receiver.metrics.openConnections.load(ordering: .relaxed) < 300 && Date().timeIntervalSince(t0) < 3 { usleep(10_000) }
        #expect(r.receiver.metrics.openConnections.load(ordering: .relaxed) >= 300)
        for i in 0..<3 {
            let started = Date()
            let response = try r.exchange(Self.delivery("legit-\(i)"))
            let elapsed = Date().timeIntervalSince(started)
            #expect(response.status == 202)
            #expect(elapsed < 2, "a delivery took \(elapsed) s behind 300 slow clients")
        }
        stop.store(true, ordering: .relaxed)
        // Every slow connection ends at its total deadline however the bytes trickle.
        let answer = slow[1].readResponse()
        #expect(answer?.status == 408)
        #expect(try r.count("signals") == 3)
    }

    /// Clients that reset (RST) before, during and after their request, or while many pipelined
    /// responses are still being written, leave the receiver serving and the store consistent.
    @Test func clientResetsDoNotDisturbTheReceiver() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        let full = Self.delivery("reset-full")
        for i in 0..<60 {
            let c = try LoopbackClient(port: r.port)
            switch i % 4 {
            case 0: c.send(String(full.prefix(30)))  // mid-head
            case 1: c.send(String(full.prefix(full.count - 10)))  // mid-body
            case 2: c.send(full)  // before reading the answer
            default: c.send(String(repeating: "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", count: 400))  // mid-responses
            }
            if i % 4 == 3 {
                var one = [UInt8](repeating: 0, count: 100)
                _ = recv(c.fd, &one, one.count, 0)
            }
            c.reset()
        }
        #expect(try r.exchange(Self.delivery("after-resets")).status == 202)
        let rows = try r.database().query("SELECT signal_id, count(*) FROM signals GROUP BY signal_id ORDER BY signal_id")
        #expect(rows.map { $0.string(0) } == ["after-resets", "reset-full"])
        #expect(try r.database().query("PRAGMA integrity_check").first?.string(0) == "ok")
    }
}

extension LoopbackClient {
    /// Closes with an RST instead of a FIN (SO_LINGER with a zero timeout).
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }
}
