import Foundation
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
}
