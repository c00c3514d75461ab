import Foundation
import GavelCore
import GavelTestSupport
import Testing

@testable import GavelDispatch

@Suite("Executor")
struct ExecutorTests {
    let executor: any DispatchExecuting = Executor()

    @Test("an HTTP request goes to the HTTP executor with the idempotency key")
    func routesHTTP() throws {
        let sink = try LoopbackSink([.status(202)])
        defer { sink.stop() }
        let request = RenderedRequest.http(
            HTTPDispatchRequest(
                method: "POST", url: sink.url("/ban"), headers: [],
                body: Array("{}".utf8), timeoutSeconds: 5))
        let outcome = executor.execute(request, idempotencyKey: "rem-1")
        #expect(outcome.kind == .success)
        #expect(outcome.status == 202)
        #expect(RecordedRequest(try #require(sink.requests.first)).values("Idempotency-Key") == ["rem-1"])
    }

    @Test("a command runs with the idempotency key in its environment")
    func routesCommand() throws {
        let dir = try TemporaryDirectory()
        let script = try dir.script("key", "#!/bin/sh\nprintf '%s' \"$GAVEL_IDEMPOTENCY_KEY\"\n")
        let outcome = executor.execute(.command(CommandDispatchRequest(argv: [script], timeoutSeconds: 10)), idempotencyKey: "rem-2")
        #expect(outcome.kind == .success)
        #expect(outcome.responseExcerpt == "rem-2")
    }

    @Test("an outbox request appends its line")
    func routesOutbox() throws {
        let dir = try TemporaryDirectory()
        let outcome = executor.execute(
            .outbox(OutboxDispatchRequest(path: dir.file("o.jsonl"), line: "{\"a\":1}")),
            idempotencyKey: "rem-3")
        #expect(outcome.kind == .success)
        #expect(try dir.read("o.jsonl") == Array("{\"a\":1}\n".utf8))
    }
}

@Suite("DispatchOutcome")
struct DispatchOutcomeTests {
    @Test(
        "the excerpt never exceeds 4096 bytes of UTF-8, whatever the input",
        arguments: [
            [UInt8](repeating: 0xFF, count: 5000),  // each byte becomes U+FFFD (3 bytes)
            Array(String(repeating: "日", count: 2000).utf8),  // a 3-byte character cut at 4096
            Array(String(repeating: "a", count: 4095).utf8) + [0xE6, 0x97],  // a truncated sequence at the end
            Array("short".utf8),
        ])
    func excerptLimit(bytes: [UInt8]) {
        let excerpt = DispatchOutcome.excerpt(of: bytes)
        #expect(excerpt.utf8.count <= DispatchOutcome.excerptLimit)
        #expect(!excerpt.isEmpty)
    }

    @Test("valid UTF-8 under the limit is kept as is")
    func excerptKeepsValidText() {
        #expect(DispatchOutcome.excerpt(of: Array("{\"error\":\"é\"}".utf8)) == "{\"error\":\"é\"}")
        #expect(DispatchOutcome.excerpt(of: Array(String(repeating: "日", count: 2000).utf8)) == String(repeating: "日", count: 1365))
    }

    @Test("capture keeps 64 KiB and counts the rest")
    func cappedBytes() {
        var capture = CappedBytes()
        capture.append([UInt8](repeating: 1, count: 60_000))
        #expect(!capture.isFull)
        capture.append([UInt8](repeating: 2, count: 60_000))
        #expect(capture.isFull)
        #expect(capture.kept.count == DispatchOutcome.captureLimit)
        #expect(capture.total == 120_000)
    }

    @Test("timeouts are formatted without a needless fraction")
    func secondsFormatting() {
        #expect(formatSeconds(10) == "10")
        #expect(formatSeconds(0.5) == "0.5")
        #expect(formatSeconds(1.25) == "1.25")
    }
}
