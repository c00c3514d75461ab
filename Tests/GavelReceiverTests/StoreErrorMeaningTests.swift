import Foundation
import GavelTestSupport
import Synchronization
import Testing

@testable import GavelCore
@testable import GavelReceiver
@testable import GavelStore
@testable import GavelStoreSQLite

/// Errors keep their meaning at the seam between store and receiver: a fault that may pass
/// answers 503 with Retry-After (the sender retries); a deterministic one answers 500 and the
/// body is kept as an intake error (the sender must not retry it forever).
@Suite(.serialized) struct StoreErrorMeaningTests {
    @Test func aDeterministicStoreFailureAnswers500AndKeepsTheBody() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        // A rule in the database that refuses one signal id: the same delivery fails the same way every time.
        try r.database().execute(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON signals WHEN new.signal_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END")
        let body = #"{"SECURITY_SIGNAL_ID":"poison","SECURITY_RULE_NAME":"r"}"#
        for _ in 0..<2 {
            let response = try r.exchange(post(body: body))
            #expect(response.status == 500)
            #expect(!response.head.contains("Retry-After"))
            #expect(response.body.contains("poisoned row"))
        }
        let kept = try r.database().query("SELECT status, body FROM intake_errors ORDER BY id")
        #expect(kept.count == 2 && kept.allSatisfy { $0.int(0) == 500 && $0.bytes(1) == Array(body.utf8) })
        // Other deliveries are unaffected.
        #expect(try r.exchange(post(body: #"{"SECURITY_SIGNAL_ID":"fine","SECURITY_RULE_NAME":"r"}"#)).status == 202)
    }

    @Test func aLockedStoreAnswers503WithRetryAfter() throws {
        let r = try RunningReceiver(busyTimeoutMs: 200)
        defer { r.stop() }
        let holder = try Database(path: r.dbPath, busyTimeoutMs: 10)
        try holder.execute("BEGIN IMMEDIATE")
        let response = try r.exchange(post(body: #"{"SECURITY_SIGNAL_ID":"held"}"#))
        try holder.execute("ROLLBACK")
        #expect(response.status == 503)
        #expect(response.head.contains("Retry-After:"))
        #expect(try r.count("intake_errors") == 0)
    }

    /// Many senders at once, every seventh delivery one the store refuses, so that group-commit
    /// batches mix refused and good deliveries (the first batch surely: the writer is held until
    /// every sender's first delivery waits). The refusal aborts its statement (RAISE(ABORT)) or
    /// rolls the whole transaction back (RAISE(ROLLBACK)). Either way: each good delivery is
    /// answered 202 and stored exactly once, each refused one is answered 500 and kept as an
    /// intake error, nothing else is stored, and the audit chain is intact. With ROLLBACK, the
    /// good deliveries of a refused one's batch were answered its 500 and lost.
    @Test(arguments: ["ABORT", "ROLLBACK"])
    func refusedDeliveriesAmongManySendersFailAlone(raise: String) throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        try r.database().execute(
            """
            CREATE TRIGGER refuse_poison BEFORE INSERT ON signals WHEN new.signal_id LIKE 'poison-%'
            BEGIN SELECT RAISE(\(raise), 'poisoned row'); END
            """)
        let senders = 8
        let each = 24
        @Sendable func body(_ n: Int) -> String {
            let id = n % 7 == 3 ? "poison-\(n)" : "good-\(n)"
            return #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_NAME":"rule \#(n % 3)","#
                + #""SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.\#(n % 40)"]}}}}"#
        }
        let writer = r.writer
        let release = hold { block in _ = try? writer.withConnection { _ in block() } }  // the batches below queue up
        let answers = Mutex<[Int: (status: Int, body: String)]>([:])
        let done = DispatchSemaphore(value: 0)
        let port = r.port
        for s in 0..<senders {
            Thread {
                for k in 0..<each {
                    let n = s * each + k
                    var answer = (status: -1, body: "")
                    if let c = try? LoopbackClient(port: port) {
                        c.send(post(body: body(n)))
                        if let response = c.readResponse() { answer = (response.status, response.body) }
                        c.close()
                    }
                    answers.withLock { $0[n] = answer }
                }
                done.signal()
            }.start()
        }
        let waitUntil = DispatchTime.now() + .seconds(5)  // bounded, should a sender's first delivery never reach the writer
        while writer.queuedJobs < senders && DispatchTime.now() < waitUntil { usleep(1000) }
        #expect(writer.queuedJobs >= senders)
        release.signal()
        for _ in 0..<senders { done.wait() }
        #expect(writer.retriedBatches >= 1)
        let all = answers.withLock { $0 }
        let poisoned = Set((0..<senders * each).filter { $0 % 7 == 3 })
        for n in 0..<senders * each {
            let answer = all[n]
            if poisoned.contains(n) {
                #expect(answer?.status == 500 && answer?.body.contains("poisoned row") == true, "\(n): \(String(describing: answer))")
            } else {
                #expect(answer?.status == 202, "\(n): \(String(describing: answer))")
            }
        }
        let db = try r.database()
        let stored = try db.query("SELECT s.signal_id, count(d.id) FROM signals s JOIN deliveries d ON d.signal = s.id GROUP BY s.id")
        #expect(Set(stored.compactMap { $0.string(0) }) == Set((0..<senders * each).filter { !poisoned.contains($0) }.map { "good-\($0)" }))
        #expect(stored.allSatisfy { $0.int(1) == 1 })
        let kept = try db.query("SELECT status, body FROM intake_errors")
        #expect(kept.allSatisfy { $0.int(0) == 500 })
        #expect(Set(kept.compactMap { $0.bytes(1) }) == Set(poisoned.map { Array(body($0).utf8) }))
        #expect(kept.count == poisoned.count)
        let chain = try SQLiteStore(db: db).auditChain(after: 0, limit: 0)
        #expect(!chain.isEmpty)
        #expect(AuditChain.verify(chain) == .intact(count: chain.count, head: chain.last?.hash))
    }
}
