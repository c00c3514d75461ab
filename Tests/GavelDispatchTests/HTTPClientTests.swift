import Foundation
import GavelCore
import GavelTestSupport
import Testing

@testable import GavelDispatch

/// gavel's own HTTP/1.1 client (plain http) beside `URLSession` (what https and proxied http use):
/// the same outcomes on the wire from both, persistent connections, chunked answers, Retry-After.
@Suite("HTTP client")
struct HTTPClientTests {
    /// Both transports: gavel's client, and URLSession (chosen when a proxy is configured; libcurl
    /// itself reads this process's real environment, which has none, so it connects directly).
    static let transports: [(String, HTTPExecutor)] = [
        ("own client", HTTPExecutor(environment: [:])), ("URLSession", HTTPExecutor(environment: ["http_proxy": "http://unused.invalid:1"])),
    ]

    func post(_ url: String, timeout: Double = 5) -> HTTPDispatchRequest {
        HTTPDispatchRequest(
            method: "POST", url: url, headers: [HTTPHeaderField("Content-Type", "application/json"), HTTPHeaderField("User-Agent", "gavel-test")],
            body: Array("{}".utf8), timeoutSeconds: timeout)
    }

    @Test(arguments: [0, 1])
    func bothTransportsSendTheSameRequestAndReadTheSameAnswer(_ which: Int) throws {
        let (name, executor) = Self.transports[which]
        #expect(executor.ownClientForPlainHTTP == (which == 0))
        let sink = try LoopbackSink([.answer(503, headers: ["Retry-After: 7"], body: Array("busy".utf8)), .chunked(200, chunks: ["ok ", "done"])])
        defer { sink.stop() }
        let first = executor.execute(post(sink.url("/v1/ban?x=1")), idempotencyKey: "k-1")
        #expect(first.kind == .retryable && first.status == 503 && first.responseExcerpt == "busy", "\(name)")
        #expect(first.retryAfterSeconds == 7, "\(name)")
        let second = executor.execute(post(sink.url("/v1/ban?x=1")), idempotencyKey: "k-1")
        #expect(second.kind == .success && second.status == 200 && second.responseExcerpt == "ok done", "\(name)")
        #expect(second.retryAfterSeconds == nil)
        for raw in sink.requests {
            let sent = RecordedRequest(raw)
            #expect(sent.method == "POST" && sent.target == "/v1/ban?x=1")
            #expect(sent.values("Idempotency-Key") == ["k-1"] && sent.values("User-Agent") == ["gavel-test"])
            #expect(sent.values("Content-Type") == ["application/json"] && sent.body == Array("{}".utf8))
            #expect(sent.values("Host") == ["127.0.0.1:\(sink.port)"])
        }
    }

    @Test func ownClientReusesOneConnectionForManyRequests() throws {
        let sink = try LoopbackSink([.status(200, body: Array("ok".utf8))], keepAlive: true)
        defer { sink.stop() }
        let executor = HTTPExecutor(environment: [:])
        for i in 0..<20 {
            let outcome = executor.execute(post(sink.url("/b")), idempotencyKey: "k\(i)")
            #expect(outcome.kind == .success && outcome.responseExcerpt == "ok")
        }
        #expect(sink.requests.count == 20)
        #expect(sink.connections == 1)
        let keys = sink.requests.map { RecordedRequest($0).values("Idempotency-Key").first ?? "" }
        #expect(keys == (0..<20).map { "k\($0)" })
    }

    @Test func ownClientOpensANewConnectionWhenTheServerClosesEach() throws {
        let sink = try LoopbackSink([.status(200)], keepAlive: false)
        defer { sink.stop() }
        let executor = HTTPExecutor(environment: [:])
        for i in 0..<5 { #expect(executor.execute(post(sink.url("/b")), idempotencyKey: "k\(i)").kind == .success) }
        #expect(sink.requests.count == 5 && sink.connections == 5)
    }

    @Test func ownClientSendsARequestOnceMoreOnlyWhenItsReusedConnectionWasClosedUnanswered() throws {
        // The second request goes on the reused connection, which the server closes without an
        // answer: it is sent once more on a new connection (its Idempotency-Key makes that safe).
        let sink = try LoopbackSink([.status(200), .closeUnanswered, .status(200)], keepAlive: true)
        defer { sink.stop() }
        let executor = HTTPExecutor(environment: [:])
        #expect(executor.execute(post(sink.url("/b")), idempotencyKey: "a").kind == .success)
        #expect(executor.execute(post(sink.url("/b")), idempotencyKey: "b").kind == .success)
        #expect(sink.connections == 2)
        #expect(sink.requests.map { RecordedRequest($0).values("Idempotency-Key").first ?? "" } == ["a", "b", "b"])
        // On a new connection the same close is a failure for the dispatcher to retry, not re-sent here.
        let fresh = try LoopbackSink([.closeUnanswered])
        defer { fresh.stop() }
        let lost = executor.execute(post(fresh.url("/b")), idempotencyKey: "c")
        #expect(lost.kind == .retryable && lost.status == nil && lost.error == "connection lost before an answer")
        #expect(fresh.requests.count == 1)
        let refused = executor.execute(post("http://127.0.0.1:\(LoopbackSink.closedPort())/b"), idempotencyKey: "d")
        #expect(refused.kind == .retryable && refused.error == "connection refused")
    }

    @Test(arguments: [
        ("120", 120.0), (" 0 ", 0.0), ("99999999999999", 3600.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 30.0), ("Sunday, 06-Nov-94 08:49:37 GMT", 30.0), ("Sun Nov  6 08:49:37 1994", 30.0),
        ("Sun, 06 Nov 1994 08:48:37 GMT", 0.0),
    ])
    func retryAfterReadsDelaySecondsAndAllThreeHTTPDateForms(_ value: String, _ seconds: Double) {
        // 1994-11-06T08:49:07Z: 30 s before the dates above.
        #expect(RetryAfter.seconds(value, now: 784_111_747) == seconds)
    }

    @Test(arguments: ["", "soon", "-5", "1.5", "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT"])
    func retryAfterRefusesWhatIsNeitherForm(_ value: String) {
        #expect(RetryAfter.seconds(value, now: 0) == nil)
    }

    @Test func httpDateIsSecondsSince1970() {
        #expect(RetryAfter.httpDate("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(RetryAfter.httpDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(RetryAfter.httpDate("Tue, 29 Feb 2028 12:00:00 GMT") == 1_835_438_400)
    }

    @Test func responseParserReadsChunksLengthsAndClose() throws {
        var chunked = HTTPResponseParser(method: "POST")
        for byte in Array(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n".utf8)
        {
            try chunked.feed([byte])
        }
        #expect(chunked.status == 201 && chunked.isComplete && chunked.keepAlive && chunked.body.excerpt == "abc")
        var closing = HTTPResponseParser(method: "POST")
        try closing.feed(Array("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial".utf8))
        #expect(!closing.isComplete && closing.readsUntilClose)
        try closing.endOfStream()
        #expect(closing.isComplete && !closing.keepAlive && closing.body.excerpt == "partial")
        var head = HTTPResponseParser(method: "HEAD")
        try head.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n".utf8))
        #expect(head.isComplete && head.keepAlive)
        var bad = HTTPResponseParser(method: "POST")
        #expect(throws: HTTPWireError.self) { try bad.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".utf8)) }
        var garbage = HTTPResponseParser(method: "POST")
        #expect(throws: HTTPWireError.self) { try garbage.feed(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)) }
    }
}
