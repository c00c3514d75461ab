import Foundation
import GavelCore
import GavelTestSupport
import Testing

@testable import GavelDispatch

@Suite("HTTPExecutor")
struct HTTPExecutorTests {
    let executor = HTTPExecutor()

    func post(
        _ url: String, headers: [HTTPHeaderField] = [], body: [UInt8] = Array(#"{"ip":"203.0.113.7"}"#.utf8),
        timeout: Double = 5
    ) -> HTTPDispatchRequest {
        HTTPDispatchRequest(method: "POST", url: url, headers: headers, body: body, timeoutSeconds: timeout)
    }

    @Test("one request arrives with method, path, headers, Idempotency-Key and the exact body")
    func sendsOneExactRequest() throws {
        let sink = try LoopbackSink([.status(200, body: Array("accepted".utf8))])
        defer { sink.stop() }
        // Hostile but legal bytes: quotes, braces, NUL, invalid UTF-8, CRLF inside the body.
        let body: [UInt8] = Array(#"{"target":"a\"b","note":"x\r\ny"}"#.utf8) + [0x00, 0xFF, 0xFE, 0x0D, 0x0A]
        let request = post(
            sink.url("/v1/ban?ttl=3600&src=gavel"),
            headers: [
                HTTPHeaderField("Content-Type", "application/json"),
                HTTPHeaderField("X-Api-Key", "s3cr3t value; with=chars"),
                HTTPHeaderField("X-Empty-Not", "\t tab ok"),
            ],
            body: body)

        let outcome = executor.execute(request, idempotencyKey: "rem-42-0f3a")

        #expect(outcome.kind == .success)
        #expect(outcome.status == 200)
        #expect(outcome.error == nil)
        #expect(outcome.responseExcerpt == "accepted")
        #expect(sink.requests.count == 1)
        #expect(sink.connections == 1)
        let sent = RecordedRequest(try #require(sink.requests.first))
        #expect(sent.method == "POST")
        #expect(sent.target == "/v1/ban?ttl=3600&src=gavel")
        #expect(sent.values("Idempotency-Key") == ["rem-42-0f3a"])
        #expect(sent.values("Content-Type") == ["application/json"])
        #expect(sent.values("X-Api-Key") == ["s3cr3t value; with=chars"])
        #expect(sent.values("User-Agent").isEmpty)  // not in this request: nothing is added over http
        #expect(sent.values("Content-Length") == ["\(body.count)"])
        #expect(sent.values("Transfer-Encoding").isEmpty)
        #expect(sent.body == body)
    }

    @Test("a configured User-Agent is sent; an Idempotency-Key always carries the remediation's key")
    func idempotencyKeyIsTheRemediations() throws {
        let sink = try LoopbackSink()
        defer { sink.stop() }
        let request = post(
            sink.url("/"),
            headers: [
                HTTPHeaderField("idempotency-key", "forged"),
                HTTPHeaderField("User-Agent", "curl/8"),
            ])
        let outcome = executor.execute(request, idempotencyKey: "real-key")
        #expect(outcome.kind == .success)
        let sent = RecordedRequest(try #require(sink.requests.first))
        #expect(sent.values("Idempotency-Key") == ["real-key"])
        #expect(sent.values("User-Agent") == ["curl/8"])
        #expect(sent.headers.map(\.name) == ["Host", "idempotency-key", "User-Agent", "Content-Length"])
    }

    @Test(
        "the status decides the outcome",
        arguments: [
            (200, DispatchOutcome.Kind.success), (201, .success), (204, .success),
            (400, .permanent), (401, .permanent), (404, .permanent), (409, .permanent), (422, .permanent),
            (408, .retryable), (429, .retryable), (500, .retryable), (502, .retryable), (503, .retryable),
        ])
    func statusClassification(status: Int, kind: DispatchOutcome.Kind) throws {
        let sink = try LoopbackSink([.status(status, body: Array("{\"error\":\"nope\"}".utf8))])
        defer { sink.stop() }
        let outcome = executor.execute(post(sink.url("/hook")), idempotencyKey: "k")
        #expect(outcome.kind == kind)
        #expect(outcome.status == status)
        #expect(outcome.error == (kind == .success ? nil : "HTTP \(status)"))
        #expect(sink.requests.count == 1)
    }

    @Test("a 302 is permanent and its Location is never requested")
    func redirectNotFollowed() throws {
        let elsewhere = try LoopbackSink()
        defer { elsewhere.stop() }
        let sink = try LoopbackSink([.redirect(to: elsewhere.url("/stolen"))])
        defer { sink.stop() }

        let outcome = executor.execute(post(sink.url("/hook")), idempotencyKey: "k")

        #expect(outcome.kind == .permanent)
        #expect(outcome.status == 302)
        #expect(outcome.error?.contains("redirect not followed") == true)
        #expect(sink.requests.count == 1)
        #expect(elsewhere.connections == 0)
    }

    @Test("a relative redirect to the same host is not followed either")
    func relativeRedirectNotFollowed() throws {
        let sink = try LoopbackSink([.redirect(to: "/elsewhere"), .status(200)])
        defer { sink.stop() }
        let outcome = executor.execute(post(sink.url("/hook")), idempotencyKey: "k")
        #expect(outcome.kind == .permanent)
        #expect(sink.requests.count == 1)
        #expect(sink.requests.map { RecordedRequest($0).target } == ["/hook"])
    }

    @Test("a target that never answers is abandoned at the deadline, retryable")
    func hangingTargetTimesOut() throws {
        let sink = try LoopbackSink([.hang])
        defer { sink.stop() }
        let outcome = executor.execute(post(sink.url("/slow"), timeout: 0.5), idempotencyKey: "k")
        #expect(outcome.kind == .retryable)
        #expect(outcome.status == nil)
        #expect(outcome.error == "timeout after 0.5 s")
        #expect(sink.requests.count == 1)
    }

    @Test(
        "once the status line arrived it decides, even if the body never ends",
        arguments: [
            (200, DispatchOutcome.Kind.success), (503, .retryable), (403, .permanent),
        ])
    func statusThenHang(status: Int, kind: DispatchOutcome.Kind) throws {
        let sink = try LoopbackSink([.headThenHang(status, bodyLength: 100)])
        defer { sink.stop() }
        // Long enough for the status line to arrive on a loaded machine; the body never does.
        let outcome = executor.execute(post(sink.url("/"), timeout: 3), idempotencyKey: "k")
        #expect(outcome.kind == kind)
        #expect(outcome.status == status)
    }

    @Test("a 10 MiB body is cut at the cap and the excerpt holds at most 4096 bytes")
    func floodIsCapped() throws {
        let sink = try LoopbackSink([.flood(bytes: 10 << 20)])
        defer { sink.stop() }
        let outcome = executor.execute(post(sink.url("/flood"), timeout: 10), idempotencyKey: "k")
        #expect(outcome.kind == .success)
        #expect(outcome.status == 200)
        #expect(outcome.responseExcerpt.utf8.count == DispatchOutcome.excerptLimit)
        #expect(outcome.responseExcerpt == String(repeating: "a", count: 4096))
    }

    @Test("an invalid UTF-8 answer becomes a lossy excerpt within the limit")
    func invalidUTF8Excerpt() throws {
        let sink = try LoopbackSink([.status(500, body: [UInt8](repeating: 0xFF, count: 5000))])
        defer { sink.stop() }
        let outcome = executor.execute(post(sink.url("/")), idempotencyKey: "k")
        #expect(outcome.kind == .retryable)
        #expect(outcome.responseExcerpt.utf8.count <= DispatchOutcome.excerptLimit)
        #expect(outcome.responseExcerpt.unicodeScalars.allSatisfy { $0 == "\u{FFFD}" })
    }

    @Test("connection refused is retryable with no status")
    func connectionRefused() {
        let outcome = executor.execute(post("http://127.0.0.1:\(LoopbackSink.closedPort())/", timeout: 2), idempotencyKey: "k")
        #expect(outcome.kind == .retryable)
        #expect(outcome.status == nil)
        #expect(outcome.error != nil)
    }

    @Test(
        "CR, LF, NUL or other controls in a header refuse the request before connecting",
        arguments: [
            [HTTPHeaderField("X-Target", "1.2.3.4\r\nX-Injected: yes")],
            [HTTPHeaderField("X-Target", "1.2.3.4\nX-Injected: yes")],
            [HTTPHeaderField("X-Target", "1.2.3.4\r")],
            [HTTPHeaderField("X-Target", "a\u{0}b")],
            [HTTPHeaderField("X-Target", "a\u{1B}[2Jb")],
            [HTTPHeaderField("X-Bad Name", "v")],
            [HTTPHeaderField("X-Bad:Name", "v")],
            [HTTPHeaderField("", "v")],
            [HTTPHeaderField("Content-Length", "0")],
            [HTTPHeaderField("Transfer-Encoding", "chunked")],
            [HTTPHeaderField("Host", "evil.example")],
        ])
    func hostileHeadersRefused(headers: [HTTPHeaderField]) throws {
        let sink = try LoopbackSink()
        defer { sink.stop() }
        let outcome = executor.execute(post(sink.url("/"), headers: headers), idempotencyKey: "k")
        #expect(outcome.kind == .permanent)
        #expect(outcome.status == nil)
        #expect(sink.connections == 0)
    }

    @Test("an idempotency key with CR/LF is refused too")
    func hostileIdempotencyKey() throws {
        let sink = try LoopbackSink()
        defer { sink.stop() }
        let outcome = executor.execute(post(sink.url("/")), idempotencyKey: "k\r\nX-Injected: 1")
        #expect(outcome.kind == .permanent)
        #expect(sink.connections == 0)
    }

    @Test(
        "bad URLs, methods, GET bodies and timeouts are permanent",
        arguments: [
            HTTPDispatchRequest(method: "POST", url: "file:///etc/passwd", headers: [], body: []),
            HTTPDispatchRequest(method: "POST", url: "ftp://127.0.0.1/x", headers: [], body: []),
            HTTPDispatchRequest(method: "POST", url: "not a url", headers: [], body: []),
            HTTPDispatchRequest(method: "POST", url: "http:///nohost", headers: [], body: []),
            HTTPDispatchRequest(method: "PO ST", url: "http://127.0.0.1:1/", headers: [], body: []),
            HTTPDispatchRequest(method: "GET\r\n", url: "http://127.0.0.1:1/", headers: [], body: []),
            HTTPDispatchRequest(method: "GET", url: "http://127.0.0.1:1/", headers: [], body: [1]),
            HTTPDispatchRequest(method: "POST", url: "http://127.0.0.1:1/", headers: [], body: [], timeoutSeconds: 0),
            HTTPDispatchRequest(method: "POST", url: "http://127.0.0.1:1/", headers: [], body: [], timeoutSeconds: .nan),
        ])
    func invalidRequestsRefused(request: HTTPDispatchRequest) {
        let outcome = executor.execute(request, idempotencyKey: "k")
        #expect(outcome.kind == .permanent)
        #expect(outcome.error != nil)
    }

    @Test("DELETE with no body is sent as such")
    func deleteWithoutBody() throws {
        let sink = try LoopbackSink([.status(204)])
        defer { sink.stop() }
        let request = HTTPDispatchRequest(method: "DELETE", url: sink.url("/groups/sg-0123"), headers: [], body: [])
        let outcome = executor.execute(request, idempotencyKey: "k")
        #expect(outcome.kind == .success)
        let sent = RecordedRequest(try #require(sink.requests.first))
        #expect(sent.method == "DELETE")
        #expect(sent.target == "/groups/sg-0123")
        #expect(sent.body.isEmpty)
    }

    /// Issue 16 item 14: configured headers were not sent in file order, and `Accept`,
    /// `Accept-Encoding`, `Accept-Language`, `User-Agent` and `Connection` were added. The
    /// preview (`displayText`, the text `gavel show` and the console print) is now the request's
    /// bytes: its lines after the first, joined by CR LF, are what the endpoint receives.
    @Test("the request preview is the bytes the endpoint receives", arguments: ["POST", "DELETE"])
    func thePreviewIsTheBytesOnTheWire(method: String) throws {
        let sink = try LoopbackSink([.status(200)])
        defer { sink.stop() }
        let body = method == "POST" ? #"{"ip": "{{ip}}", "rule": "{{rule_name}}"}"# : "null"
        let json = #"""
            {"allow_internal_action_urls": true, "actions": {"ban-ip": {"target": "ip", "http": {"method": "\#(method)",
              "url": "\#(sink.url("/v1/ip-sets/{{rule_id}}/addresses"))?ip={{ip}}#fragment-not-sent",
              "headers": {"Zeta-Last": "z", "Accept": "application/json", "M-Middle": "{{decided_by}}", "X-Empty": ""},
              "body": \#(body)}}}}
            """#
        let config = try GavelConfig.load(text: json, origin: "test", environment: [:], databasePath: "/tmp/gavel-wire.db")
        let action = try #require(config.actions["ban-ip"])
        var signal = Signal(signalID: "AQAAAYxk1-wire")
        signal.ruleName = "Sign-in from \"unexpected\" IP"
        signal.ruleID = "def-000-wire"
        let rendered = try action.render(
            TemplateContext(
                action: action, target: "203.0.113.7", signal: signal, remediationID: "7", idempotencyKey: "gavel-7-key", decidedBy: "alice"))
        guard case .http(let request) = rendered else {
            Issue.record("not http")
            return
        }
        let outcome = executor.execute(request, idempotencyKey: "gavel-7-key")
        #expect(outcome.kind == .success)
        let preview = rendered.displayText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(preview[0] == "to http://127.0.0.1:\(sink.port) (exactly these bytes)")
        var expected = preview.dropFirst().joined(separator: "\r\n")
        if request.body.isEmpty { expected += "\r\n\r\n" }
        #expect(String(decoding: try #require(sink.requests.first), as: UTF8.self) == expected)
        let sent = RecordedRequest(try #require(sink.requests.first))
        #expect(sent.target == "/v1/ip-sets/def-000-wire/addresses?ip=203.0.113.7")
        let names =
            ["Host", "Zeta-Last", "Accept", "M-Middle", "X-Empty"] + (method == "POST" ? ["Content-Type"] : []) + ["Idempotency-Key", "User-Agent"]
        #expect(sent.headers.map(\.name) == names + (method == "POST" ? ["Content-Length"] : []))
        for added in ["Accept-Encoding", "Accept-Language", "Connection", "Transfer-Encoding", "Expect"] { #expect(sent.values(added).isEmpty) }
    }

    @Test("credentials in the URL are sent as Basic authorization and never shown")
    func userinfoIsBasicAuthorization() throws {
        let sink = try LoopbackSink([.status(204)])
        defer { sink.stop() }
        let url = sink.url("/ban").replacingOccurrences(of: "http://", with: "http://ops:hunter%212@")
        let rendered = RenderedRequest.http(HTTPDispatchRequest(method: "POST", url: url, headers: [HTTPHeaderField("X-A", "1")], body: []))
        guard case .http(let request) = rendered else { return }
        #expect(executor.execute(request, idempotencyKey: "k").kind == .success)
        let sent = RecordedRequest(try #require(sink.requests.first))
        #expect(sent.values("Authorization") == ["Basic b3BzOmh1bnRlciEy"])  // "ops:hunter!2", the %21 decoded
        for text in [rendered.displayText, rendered.masked().displayText] {
            #expect(text.contains("Authorization: Basic ****") && !text.contains("b3Bz") && !text.contains("hunter"), "\(text)")
        }
    }

    @Test("a chunked, a close-delimited and an interim-1xx answer are read; the status decides")
    func answersInEveryFraming() throws {
        for (reply, status, body) in [
            ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 201, "ok"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n", 200, "abcde"),
            ("HTTP/1.0 503 Service Unavailable\r\n\r\ndown for maintenance", 503, "down for maintenance"),
        ] {
            let server = try LoopbackSink([.raw(Array(reply.utf8))])
            defer { server.stop() }
            let outcome = executor.execute(post(server.url("/")), idempotencyKey: "k")
            #expect(outcome.status == status && outcome.responseExcerpt == body, "\(reply.debugDescription) → \(outcome)")
        }
    }
}
