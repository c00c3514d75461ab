import Foundation
import Synchronization
import Testing

@testable import GavelCore
@testable import GavelReceiver
@testable import GavelStore
@testable import GavelStoreSQLite

/// Issue 16 item 15: `/healthz` always answered ok. It reports each part (the store, the
/// dispatcher) and answers 503 with a JSON body naming what is wrong; `/readyz` answers for load
/// balancers (the store, and 503 once the receiver is stopping). Neither needs the secret.
@Suite(.serialized) struct HealthEndpointTests {
    @Test func healthzNamesTheFailingPartAndReadyzFollowsTheStore() throws {
        let dispatcher = Mutex<String?>(nil)
        let store = Mutex<String?>(nil)
        let r = try RunningReceiver(secret: "s3cret") { options, _ in
            options.health = {
                [HealthCheck("store", problem: store.withLock { $0 }), HealthCheck("dispatcher", problem: dispatcher.withLock { $0 })]
            }
            options.readiness = { [HealthCheck("store", problem: store.withLock { $0 })] }
        }
        defer { r.stop() }
        func get(_ path: String) throws -> (status: Int, head: String, body: String) {
            try r.exchange("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        #expect(try get("/healthz").body == #"{"status":"ok","store":"ok","dispatcher":"ok"}"#)
        #expect(try get("/readyz").body == #"{"status":"ready","store":"ok"}"#)

        dispatcher.withLock { $0 = "stalled: remediation 7 ban-ip has run 31 s past its deadline" }
        let stalled = try get("/healthz")
        #expect(stalled.status == 503)
        #expect(stalled.head.contains("Retry-After: 5"))
        #expect(
            stalled.body
                == #"{"status":"unavailable","error":"dispatcher: stalled: remediation 7 ban-ip has run 31 s past its deadline","store":"ok","dispatcher":"stalled: remediation 7 ban-ip has run 31 s past its deadline"}"#
        )
        #expect(try get("/readyz").status == 200)  // a stalled dispatcher does not stop deliveries

        store.withLock { $0 = "store unavailable: the write-ahead log … was deleted" }
        let notReady = try get("/readyz")
        #expect(notReady.status == 503)
        #expect(
            notReady.body
                == #"{"status":"not ready","error":"store: store unavailable: the write-ahead log … was deleted","store":"store unavailable: the write-ahead log … was deleted"}"#
        )
        let head = try r.exchange("HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(head.status == 503 && head.body.isEmpty)
        #expect(try r.exchange("POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").status == 405)
    }

    /// The real SQLite intake behind `/readyz`: a delivery refused for a store fault (the writer's
    /// connection made read-only) makes it 503 naming the fault even once the fault is gone, until
    /// a delivery is stored — or until the fault is older than its memory, so that a receiver a
    /// load balancer took out of rotation (and so gets no deliveries) comes back.
    @Test func aDeliveryStoreFaultFailsReadinessUntilADeliveryIsStoredOrTheFaultIsOld() throws {
        let r = try RunningReceiver(faultMemorySeconds: 1) { options, intake in
            options.readiness = {
                do throws(StoreError) {
                    try intake.checkHealth()
                    return [HealthCheck("store", problem: nil)]
                } catch {
                    return [HealthCheck("store", problem: error.description)]
                }
            }
        }
        defer { r.stop() }
        func delivery(_ id: String) -> String {
            post(body: #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["203.0.113.7"]}}}}"#)
        }
        func ready() throws -> (status: Int, head: String, body: String) { try r.exchange("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n") }
        #expect(try ready().status == 200)

        try r.writer.withConnection { store in try store.db.execute("PRAGMA query_only=ON") }
        #expect(try r.exchange(delivery("during")).status == 503)
        try r.writer.withConnection { store in try store.db.execute("PRAGMA query_only=OFF") }
        let afterFault = try ready()
        #expect(afterFault.status == 503)
        #expect(afterFault.body.contains("could not be stored: store unavailable"), "\(afterFault.body)")
        #expect(try r.exchange(delivery("during")).status == 202)
        #expect(try ready().status == 200)  // stored again: sound

        try r.writer.withConnection { store in try store.db.execute("PRAGMA query_only=ON") }
        #expect(try r.exchange(delivery("second")).status == 503)
        try r.writer.withConnection { store in try store.db.execute("PRAGMA query_only=OFF") }
        #expect(try ready().status == 503)
        var answer = try ready()
        for _ in 0..<40 where answer.status != 200 {  // no delivery: the fault is forgotten after 1 s
            usleep(100_000)
            answer = try ready()
        }
        #expect(answer.status == 200, "\(answer.body)")
    }

    @Test func readyzIsNotReadyOnceTheReceiverIsStopping() throws {
        let r = try RunningReceiver()
        let c = try LoopbackClient(port: r.port)
        defer { c.close() }
        c.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try #require(c.readResponse()).status == 200)
        let receiver = r.receiver
        let stopper = Thread { receiver.stop(graceSeconds: 3) }
        stopper.start()
        for _ in 0..<200 where !r.receiver.isStopping { usleep(5_000) }
        // The kept-alive connection asks again while the receiver drains.
        c.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        let draining = try #require(c.readResponse())
        #expect(draining.status == 503)
        #expect(draining.body.contains(#""receiver":"shutting down""#))
        r.stop()
    }
}
