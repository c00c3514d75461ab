import GavelTestSupport
import Testing

@testable import GavelReceiver

@Suite struct HTTPHeadParserTests {
    typealias T = HTTPTestSupport

    static let post =
        "POST /webhook?source=dd HTTP/1.1\r\nHost: gavel.example:8787\r\nContent-Type: application/json\r\nContent-Length: 13\r\nX-Gavel-Token: s3cret\r\n\r\n"

    // MARK: valid heads

    @Test func parsesATypicalPost() throws {
        let body = "{\"id\":\"abc\"}\n"
        let bytes = T.bytes(Self.post + body)
        let (head, consumed) = try #require(try HTTPHeadParser.parse(bytes))
        #expect(consumed == Self.post.utf8.count)
        #expect(head.method == "POST")
        #expect(head.target == "/webhook?source=dd")
        #expect(head.path == "/webhook")
        #expect(head.query == "source=dd")
        #expect(head.versionMinor == 1)
        #expect(head.framing == .contentLength(13))
        #expect(
            head.fields == [
                HTTPField(name: "Host", value: "gavel.example:8787"),
                HTTPField(name: "Content-Type", value: "application/json"),
                HTTPField(name: "Content-Length", value: "13"),
                HTTPField(name: "X-Gavel-Token", value: "s3cret"),
            ])
        #expect(head.field("x-gavel-token") == "s3cret")
        #expect(head.field("CONTENT-type") == "application/json")
        #expect(head.field("Authorization") == nil)
        #expect(head.keepAlive)
        #expect(head.mediaType == "application/json")
    }

    /// (request, expected framing, keepAlive, mediaType, path, query)
    static let valid: [(String, HTTPBodyFraming, Bool, String?, String, String?)] = [
        ("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", .none, true, nil, "/healthz", nil),
        ("GET /healthz? HTTP/1.1\r\nHost: x\r\n\r\n", .none, true, nil, "/healthz", ""),
        ("GET /a?b?c=/d HTTP/1.1\r\nHost: x\r\n\r\n", .none, true, nil, "/a", "b?c=/d"),
        ("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", .none, true, nil, "/", nil),
        ("GET / HTTP/1.0\r\n\r\n", .none, false, nil, "/", nil),
        ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", .none, true, nil, "/", nil),
        ("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", .none, false, nil, "/", nil),
        ("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, CLOSE\r\n\r\n", .none, false, nil, "/", nil),
        ("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", .none, true, nil, "/", nil),
        ("POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\n\r\n", .contentLength(5), true, nil, "/w", nil),
        ("POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", .contentLength(0), true, nil, "/w", nil),
        ("POST /w HTTP/1.1\r\nHost: x\r\nContent-Length:\t1048576 \r\n\r\n", .contentLength(1 << 20), true, nil, "/w", nil),
        ("POST /w HTTP/1.0\r\nContent-Length: 7\r\n\r\n", .contentLength(7), false, nil, "/w", nil),
        ("POST /w HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", .chunked, true, nil, "/w", nil),
        ("POST /w HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  ChUnKeD \t\r\n\r\n", .chunked, true, nil, "/w", nil),
        ("POST /w HTTP/1.1\r\nHost: x\r\nContent-Type: Application/JSON; charset=utf-8\r\n\r\n", .none, true, "application/json", "/w", nil),
        (
            "POST /w HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n", .none, true,
            "application/x-www-form-urlencoded", "/w", nil
        ),
        ("POST /w HTTP/1.1\r\nHost: x\r\nContent-Type: json\r\n\r\n", .none, true, nil, "/w", nil),
        ("POST /w HTTP/1.1\r\nHost: x\r\nContent-Type: a/b/c\r\n\r\n", .none, true, nil, "/w", nil),
        ("POST /w HTTP/1.1\r\nHost: x\r\nX-Note: caf\u{e9} \u{1F600}\r\n\r\n", .none, true, nil, "/w", nil),
        ("POST /w HTTP/1.1\r\nHost: [::1]:8787\r\nX-Empty:\r\nX-Tab: a\tb\r\n\r\n", .none, true, nil, "/w", nil),
        ("PATCH /%7e/a:b@c;d=e,f HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n", .none, true, nil, "/%7e/a:b@c;d=e,f", nil),
        // RFC 9112 §3.2.2 absolute-form: routed by the path after the authority (`/` when empty).
        ("GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n", .none, true, nil, "/", nil),
        ("POST HTTPS://h:1?q=/x HTTP/1.1\r\nHost: x\r\n\r\n", .none, true, nil, "/", "q=/x"),
        ("POST http://[::1]:8787/webhook/datadog?a HTTP/1.0\r\n\r\n", .none, false, nil, "/webhook/datadog", "a"),
        ("GET / HTTP/1.1\r\nHost:\r\n\r\n", .none, true, nil, "/", nil),
    ]

    @Test(arguments: valid)
    func parsesValidHeads(
        _ input: String, _ framing: HTTPBodyFraming, _ keepAlive: Bool, _ mediaType: String?,
        _ path: String, _ query: String?
    ) throws {
        let bytes = T.bytes(input)
        guard case .head(let head, let consumed) = T.head(bytes) else {
            Issue.record("not parsed: \(T.head(bytes))")
            return
        }
        #expect(consumed == bytes.count)
        #expect(head.framing == framing)
        #expect(head.keepAlive == keepAlive)
        #expect(head.mediaType == mediaType)
        #expect(head.path == path)
        #expect(head.query == query)
        T.expectSplitInvariant(bytes, HTTPLimits())
    }

    @Test func keepsObsTextAndFieldOrder() throws {
        var bytes = T.bytes("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nX-Raw: a")
        bytes += [0xFF, 0x80]
        bytes += T.bytes("\r\n\r\n")
        let (head, _) = try #require(try HTTPHeadParser.parse(bytes))
        #expect(head.fields(named: "X-A") == ["1", "2"])
        #expect(head.field("x-a") == "1")
        #expect(head.fields.map(\.name) == ["Host", "X-A", "x-a", "X-Raw"])
        #expect(head.field("X-Raw") == "a\u{FFFD}\u{FFFD}")
    }

    /// A GET whose header section (Host line, filler fields, final CRLF) is exactly `size` bytes.
    static func head(sectionBytes size: Int) -> String {
        var section = "Host: x\r\n"
        var i = 0
        while true {
            let remaining = size - section.utf8.count - 2
            let prefix = "X-\(i): "
            if remaining <= 1000 + prefix.utf8.count + 2 {
                section += prefix + String(repeating: "p", count: remaining - prefix.utf8.count - 2) + "\r\n"
                break
            }
            section += prefix + String(repeating: "p", count: 1000) + "\r\n"
            i += 1
        }
        return "GET / HTTP/1.1\r\n" + section + "\r\n"
    }

    @Test func acceptsExactlyTheLimits() throws {
        let limits = HTTPLimits()
        // A request line of exactly maxRequestLine bytes.
        let target = "/" + String(repeating: "a", count: limits.maxRequestLine - "GET  HTTP/1.1".utf8.count - 1)
        let line = "GET \(target) HTTP/1.1"
        #expect(line.utf8.count == limits.maxRequestLine)
        #expect(T.status(T.head(T.bytes(line + "\r\nHost: x\r\n\r\n"))) == nil)
        #expect(T.status(T.head(T.bytes("GET \(target)a HTTP/1.1\r\nHost: x\r\n\r\n"))) == 414)
        // 100 fields (Host + 99), then 101.
        let fields = (0..<99).map { "X-\($0): v\r\n" }.joined()
        #expect(T.status(T.head(T.bytes("GET / HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n"))) == nil)
        #expect(T.status(T.head(T.bytes("GET / HTTP/1.1\r\nHost: x\r\nX-Z: 1\r\n" + fields + "\r\n"))) == 431)
        // A header section of exactly maxHeaderBytes, then one byte more.
        let exact = Self.head(sectionBytes: limits.maxHeaderBytes)
        #expect(exact.utf8.count - "GET / HTTP/1.1\r\n".utf8.count == limits.maxHeaderBytes)
        #expect(T.status(T.head(T.bytes(exact))) == nil)
        #expect(T.status(T.head(T.bytes(Self.head(sectionBytes: limits.maxHeaderBytes + 1)))) == 431)
        // A field line of exactly maxFieldLine bytes, then one byte more.
        let field = "X-Long: " + String(repeating: "v", count: limits.maxFieldLine - 8)
        #expect(T.status(T.head(T.bytes("GET / HTTP/1.1\r\nHost: x\r\n" + field + "\r\n\r\n"))) == nil)
        #expect(T.status(T.head(T.bytes("GET / HTTP/1.1\r\nHost: x\r\n" + field + "v\r\n\r\n"))) == 431)
    }

    // MARK: hostile heads

    /// (request, expected status) — every one must be refused with exactly that status.
    static let hostile: [(String, Int)] = [
        // R5 Content-Length
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5,5\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999x\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \u{664}\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1234567890123456789012345\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999999999999999999\r\n\r\n", 413),
        // R6 Transfer-Encoding
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 501),
        // R10 field lines
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A\t: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tcontinued\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{1}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{7F}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{1B}[2Jb\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: x\n\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
        ("\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("\r\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX\u{e9}: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX\u{0}: 1\r\n\r\n", 400),
        // R10 Host
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nX-Host: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400),
        ("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: caf\u{e9}\r\n\r\n", 400),
        // R10 request line
        ("GET http://user@evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET ftp://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET http:/evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET http:// HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET http://a\"b/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET http://evil.example/ HTTP/1.1\r\n\r\n", 400),
        // RFC 9110 §9.1, §15.6.2: an unrecognised method (case-sensitive) is 501.
        ("M-SEARCH! / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("M-SEARCH * HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("get / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        // Framing is judged before Host: an unknown coding is 501 with or without Host.
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("CONNECT evil.example:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET webhook HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a\u{1}b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /caf\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        ("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /\tHTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (" GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\r\nHost: x\r\n\r\n", 400),
        ("GET /\r\nHost: x\r\n\r\n", 400),
        ("GET\r\nHost: x\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("G\u{0}T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / http/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/11\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/a.b\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTPS/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/3.0\r\n\r\n", 505),
        ("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{FC}\u{3}\u{3}\r\n\r\n", 400),
    ]

    @Test(arguments: hostile)
    func refusesHostileHeads(_ input: String, _ status: Int) {
        let bytes = T.bytes(input)
        let outcome = T.head(bytes)
        #expect(T.status(outcome) == status, "\(outcome)")
        if case .error(let e) = outcome { #expect(!e.message.isEmpty) }
        T.expectSplitInvariant(bytes, HTTPLimits())
    }

    @Test func namesWhatWasWrong() {
        func message(_ s: String) -> String? {
            if case .error(let e) = T.head(T.bytes(s)) { return e.message }
            return nil
        }
        #expect(message("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n") == "Content-Length: not a decimal number")
        #expect(
            message("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n")
                == "Content-Length: more than one Content-Length field")
        #expect(message("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == "header: whitespace before the colon")
        #expect(message("GET / HTTP/1.1\r\nHost: x\r\n y\r\n\r\n") == "header: line folding (obs-fold) is not accepted")
        #expect(message("GET / HTTP/1.1\r\n\r\n") == "Host: missing")
        #expect(message("GET / HTTP/1.1\nHost: x\n\n") == "bare LF line ending")
        #expect(message("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n") == "request target: asterisk-form is not accepted")
    }

    // MARK: limits (R7)

    /// (request, status) under `HTTPTestSupport.small` limits: request line 64, field line 64,
    /// header section 200, 5 fields, body 100.
    static let hostileSmall: [(String, Int)] = [
        ("GET /" + String(repeating: "a", count: 60) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ("GET /" + String(repeating: "a", count: 80), 414),
        (String(repeating: "G", count: 70) + " / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /" + String(repeating: "a", count: 40) + " HTTP/1.1" + String(repeating: "1", count: 20) + "\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: " + String(repeating: "v", count: 60) + "\r\n\r\n", 431),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: " + String(repeating: "v", count: 80), 431),
        ("GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-A: 0123456789012345678901234567890123456789\r\n", count: 5), 431),
        ("GET / HTTP/1.1\r\nHost: x\r\n" + (1...5).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431),
        ("GET / HTTP/1.1\r\n" + (1...6).map { "X-\($0): v\r\n" }.joined(), 431),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 00000000000000000000000000000000000000101\r\n\r\n", 413),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: " + String(repeating: "v", count: 60) + "\n\r\n", 431),
    ]

    @Test(arguments: hostileSmall)
    func enforcesLimits(_ input: String, _ status: Int) {
        let bytes = T.bytes(input)
        let outcome = T.head(bytes, T.small)
        #expect(T.status(outcome) == status, "\(outcome)")
        T.expectSplitInvariant(bytes, T.small)
    }

    @Test func limitsAtTheirEdges() {
        // Request line exactly 64 bytes: fine; 65: refused.
        let line64 = "GET /" + String(repeating: "a", count: 50) + " HTTP/1.1"
        #expect(line64.utf8.count == 64)
        #expect(T.status(T.head(T.bytes(line64 + "\r\nHost: x\r\n\r\n"), T.small)) == nil)
        #expect(T.status(T.head(T.bytes("GET /a" + String(repeating: "a", count: 50) + " HTTP/1.1\r\nHost: x\r\n\r\n"), T.small)) == 414)
        // Five fields and Content-Length exactly 100 are fine.
        let five = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0100\r\n" + (1...3).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        guard case .head(let head, _) = T.head(T.bytes(five), T.small) else {
            Issue.record("five fields refused")
            return
        }
        #expect(head.framing == .contentLength(100))
    }

    @Test func throwsAsSoonAsALimitIsExceeded() {
        let limits = HTTPLimits()
        // No CRLF yet, but already more than 8 KiB of target: 414 without waiting.
        let longTarget = T.bytes("POST /" + String(repeating: "a", count: limits.maxRequestLine + 10))
        #expect(T.status(T.head(longTarget)) == 414)
        let longMethod = T.bytes(String(repeating: "P", count: limits.maxRequestLine + 10))
        #expect(T.status(T.head(longMethod)) == 400)
        // A header section that never ends.
        let many = "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-Pad: " + String(repeating: "p", count: 1000) + "\r\n", count: 17)
        #expect(T.status(T.head(T.bytes(many))) == 431)
        let longLine = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + String(repeating: "p", count: limits.maxFieldLine)
        #expect(T.status(T.head(T.bytes(longLine))) == 431)
        let fields = "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<100).map { "X-\($0): v\r\n" }.joined()
        #expect(T.status(T.head(T.bytes(fields))) == 431)
        // A 16 KiB section made of short lines, and a 1000-field head, with the default limits.
        #expect(T.status(T.head(T.bytes("GET / HTTP/1.1\r\nHost: x\r\n" + (0..<1000).map { "X-\($0): v\r\n" }.joined() + "\r\n"))) == 431)
    }

    @Test func needsMoreBytesForPartialHeads() {
        for partial in [
            "", "\r", "\r\n", "\r\n\r\n", "G", "GET / HTTP/1.1", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: x\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n\r",
        ] {
            #expect(T.head(T.bytes(partial)) == .needMore, "\(partial)")
        }
    }

    // MARK: pipelining and buffer forms

    @Test func parsesPipelinedRequestsFromOneBuffer() throws {
        let first = "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        let second = "POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        let third = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let buffer = T.bytes(first + second + third)
        var offset = 0
        var bodies: [[UInt8]] = []
        var paths: [String] = []
        var keepAlive: [Bool] = []
        while offset < buffer.count {
            let (head, consumed) = try #require(try HTTPHeadParser.parse(buffer[offset...]))
            offset += consumed
            var reader = try HTTPBodyReader(framing: head.framing, limits: HTTPLimits())
            offset += try reader.consume(buffer[offset...])
            #expect(reader.isComplete)
            bodies.append(reader.body)
            paths.append(head.path)
            keepAlive.append(head.keepAlive)
        }
        #expect(offset == buffer.count)
        #expect(bodies == [T.bytes("hello"), T.bytes("abc"), []])
        #expect(paths == ["/webhook", "/webhook", "/healthz"])
        #expect(keepAlive == [true, true, false])
    }

    @Test func rawBufferAndArrayFormsAgree() throws {
        let bytes = T.bytes(Self.post)
        let fromArray = try #require(try HTTPHeadParser.parse(bytes))
        let fromRaw = try bytes.withUnsafeBytes { try HTTPHeadParser.parse($0) }
        #expect(fromRaw?.head == fromArray.head)
        #expect(fromRaw?.consumed == fromArray.consumed)
        let shifted = T.bytes("junk") + bytes
        let fromSlice = try #require(try HTTPHeadParser.parse(shifted[4...]))
        #expect(fromSlice.head == fromArray.head)
        #expect(fromSlice.consumed == bytes.count)
    }

    // MARK: the hostile tables never produce a server error

    @Test func mutatedRequestsAreAcceptedOrRefusedCleanly() {
        var rng = SeededGenerator(seed: 0x6A76_656C)
        let seeds = [
            Self.post + "{\"id\":\"abc\"}\n", "POST /w HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        ].map(T.bytes)
        for i in 0..<3000 {
            let bytes = T.mutate(seeds[i % seeds.count], &rng)
            let outcome = T.head(bytes)
            if let status = T.status(outcome) {
                #expect([400, 413, 414, 431, 501, 505].contains(status), "\(status) for \(bytes)")
            }
            let k = Int.random(in: 0...bytes.count, using: &rng)
            let partial = T.head(Array(bytes[..<k]))
            if partial != .needMore {
                #expect(partial == outcome, "split at \(k) of \(bytes)")
            }
        }
    }

    @Test func hostileInputNeverYieldsAServerError() {
        var inputs: [([UInt8], HTTPLimits)] = Self.hostile.map { (T.bytes($0.0), HTTPLimits()) }
        inputs += Self.hostileSmall.map { (T.bytes($0.0), T.small) }
        inputs.append((T.bytes("GET / HTTP/1.1\r\nHost: x\r\nX-A: a") + [0xC3, 0x28, 0xFF] + T.bytes("\r\n\r\n"), HTTPLimits()))
        for (bytes, limits) in inputs {
            for k in 0...bytes.count {
                if let status = T.status(T.head(Array(bytes[..<k]), limits)) {
                    #expect(status < 500 || status == 501 || status == 505, "\(status) for \(bytes[..<k])")
                }
            }
        }
        for (input, _) in HTTPBodyReaderTests.hostileChunked {
            for status in HTTPBodyReaderTests.statusesFeedingEverySplit(T.bytes(input), HTTPTestSupport.small) {
                #expect(status < 500, "\(status) for \(input)")
            }
        }
    }
}
