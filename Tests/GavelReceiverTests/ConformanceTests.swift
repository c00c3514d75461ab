import Foundation
import GavelTestSupport
import Testing

@testable import GavelReceiver
@testable import GavelStoreSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// HTTP/1.1 conformance over raw sockets against a real receiver: the framing attacks of the
/// request-smuggling and slow-client literature (RFC 9112 §6.3, §7.1, §11.2; hardening
/// checklist R5–R7, R10, R11). Every hostile request is followed, in the same write, by a valid
/// webhook delivery: the bad one must get its 4xx (501/505 for an unsupported coding or version,
/// never another 5xx), `Connection: close`, and a closed connection — the delivery behind it is
/// neither answered nor stored.
@Suite(.serialized) struct ConformanceTests {
    static func request(_ head: String, body: String = "") -> String {
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\(head)\r\n\(body)"
    }

    static let bigHeader = "X-Pad: " + String(repeating: "a", count: 8200) + "\r\n"
    static let manyHeaders = (0..<101).map { "X-F\($0): v\r\n" }.joined()
    static let wideSection = (0..<3).map { "X-W\($0): " + String(repeating: "b", count: 6000) + "\r\n" }.joined()

    /// (what, raw request, expected status)
    static let hostile: [(String, String, Int)] = [
        // Content-Length (RFC 9110 §8.6): 1*DIGIT only, one field.
        ("CL signed +", request("Content-Length: +5\r\n", body: "{}..."), 400),
        ("CL negative", request("Content-Length: -1\r\n"), 400),
        ("CL two numbers", request("Content-Length: 5 5\r\n", body: "{}..."), 400),
        ("CL empty", request("Content-Length: \r\n"), 400),
        ("CL hex", request("Content-Length: 0x10\r\n"), 400),
        ("CL exponent", request("Content-Length: 1e3\r\n"), 400),
        ("CL list", request("Content-Length: 5, 6\r\n", body: "{}..."), 400),
        ("CL duplicate equal", request("Content-Length: 2\r\nContent-Length: 2\r\n", body: "{}"), 400),
        ("CL conflicting", request("Content-Length: 2\r\nContent-Length: 40\r\n", body: "{}"), 400),
        ("CL 25 digits", request("Content-Length: 1000000000000000000000000\r\n"), 413),
        ("CL over the cap", request("Content-Length: 1048577\r\n"), 413),
        // Transfer-Encoding (RFC 9112 §6.1, §6.3).
        ("CL + TE", request("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", body: "0\r\n\r\n"), 400),
        ("TE + CL", request("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", body: "0\r\n\r\n"), 400),
        ("TE tab + CL", request("Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n", body: "0\r\n\r\n"), 400),
        ("TE gzip", request("Transfer-Encoding: gzip\r\n"), 501),
        ("TE gzip, chunked", request("Transfer-Encoding: gzip, chunked\r\n", body: "0\r\n\r\n"), 501),
        ("TE xchunked", request("Transfer-Encoding: xchunked\r\n", body: "0\r\n\r\n"), 501),
        ("TE twice", request("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", body: "0\r\n\r\n"), 501),
        ("TE empty", request("Transfer-Encoding: \r\n", body: "0\r\n\r\n"), 400),
        ("TE space before colon", request("Transfer-Encoding : chunked\r\n", body: "0\r\n\r\n"), 400),
        ("TE in HTTP/1.0", "POST /webhook HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        // RFC 9112 §6.1: a coding gavel cannot decode is 501 whatever else is wrong (llhttp's cases carry no Host).
        ("TE gzip, chunked without Host", "POST /webhook HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        // Chunked bodies (RFC 9112 §7.1).
        ("chunk size 0x", request("Transfer-Encoding: chunked\r\n", body: "0x2\r\n{}\r\n0\r\n\r\n"), 400),
        ("chunk size signed", request("Transfer-Encoding: chunked\r\n", body: "-2\r\n{}\r\n0\r\n\r\n"), 400),
        ("chunk size empty", request("Transfer-Encoding: chunked\r\n", body: "\r\n{}\r\n0\r\n\r\n"), 400),
        ("chunk size 9 digits", request("Transfer-Encoding: chunked\r\n", body: "000000002\r\n{}\r\n0\r\n\r\n"), 400),
        ("chunk size over the cap", request("Transfer-Encoding: chunked\r\n", body: "200000\r\n{}"), 413),
        ("chunk size overflow", request("Transfer-Encoding: chunked\r\n", body: "ffffffffffffffffff\r\n{}"), 413),
        ("chunk ext without name", request("Transfer-Encoding: chunked\r\n", body: "2;=x\r\n{}\r\n0\r\n\r\n"), 400),
        ("chunk ext unterminated quote", request("Transfer-Encoding: chunked\r\n", body: "2;a=\"x\r\n{}\r\n0\r\n\r\n"), 400),
        (
            "chunk ext too long", request("Transfer-Encoding: chunked\r\n", body: "2;" + String(repeating: "a", count: 300) + "\r\n{}\r\n0\r\n\r\n"),
            400
        ),
        ("chunk data too long", request("Transfer-Encoding: chunked\r\n", body: "2\r\n{}xx\r\n0\r\n\r\n"), 400),
        ("chunk bare LF", request("Transfer-Encoding: chunked\r\n", body: "2\n{}\n0\n\n"), 400),
        ("chunk bare CR", request("Transfer-Encoding: chunked\r\n", body: "2\r{}\r\n0\r\n\r\n"), 400),
        ("trailer obs-fold", request("Transfer-Encoding: chunked\r\n", body: "2\r\n{}\r\n0\r\nX-T: 1\r\n folded\r\n\r\n"), 400),
        (
            "trailer too large",
            request("Transfer-Encoding: chunked\r\n", body: "2\r\n{}\r\n0\r\nX-T: " + String(repeating: "t", count: 5000) + "\r\n\r\n"), 431
        ),
        // Field syntax (RFC 9112 §5, RFC 9110 §5.5).
        ("obs-fold", request("X-A: 1\r\n  folded\r\nContent-Length: 2\r\n", body: "{}"), 400),
        ("bare CR in a value", request("X-A: a\rb\r\nContent-Length: 2\r\n", body: "{}"), 400),
        ("bare LF line end", "POST /webhook HTTP/1.1\nHost: x\nContent-Length: 2\n\n{}", 400),
        ("bare LF in headers", request("X-A: 1\nContent-Length: 2\r\n", body: "{}"), 400),
        ("NUL in a value", request("X-A: a\u{0}b\r\nContent-Length: 2\r\n", body: "{}"), 400),
        ("NUL in a name", request("X-\u{0}A: 1\r\nContent-Length: 2\r\n", body: "{}"), 400),
        ("space before colon", request("Content-Length : 2\r\n", body: "{}"), 400),
        ("tab before colon", request("Content-Length\t: 2\r\n", body: "{}"), 400),
        ("bad name character", request("X(A): 1\r\nContent-Length: 2\r\n", body: "{}"), 400),
        ("no colon", request("X-A 1\r\nContent-Length: 2\r\n", body: "{}"), 400),
        ("DEL in a value", request("X-A: a\u{7F}\r\nContent-Length: 2\r\n", body: "{}"), 400),
        ("ESC in a value", request("X-A: \u{1B}[2J\r\nContent-Length: 2\r\n", body: "{}"), 400),
        // Host (RFC 9112 §3.2).
        ("missing Host", "POST /webhook HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 400),
        ("duplicate Host", request("Host: evil.example\r\nContent-Length: 2\r\n", body: "{}"), 400),
        ("Host with a space", "POST /webhook HTTP/1.1\r\nHost: a b\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 400),
        ("Host with a slash", "POST /webhook HTTP/1.1\r\nHost: a/b\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 400),
        // Request line (RFC 9112 §3). Absolute-form is accepted (RFC 9112 §3.2.2), but only
        // for http(s), with a host, without userinfo, and with a Host field in HTTP/1.1.
        (
            "absolute-form with userinfo",
            "POST http://user:pw@127.0.0.1/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 400
        ),
        (
            "absolute-form, other scheme",
            "POST ftp://127.0.0.1/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 400
        ),
        (
            "absolute-form without a host",
            "POST http:///webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 400
        ),
        (
            "absolute-form without Host", "POST http://127.0.0.1/webhook HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            400
        ),
        ("absolute-form, unknown path", "POST http://127.0.0.1/admin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}", 404),
        ("authority-form", "CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
        ("asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
        ("double space", "POST  /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400),
        ("fragment in target", "POST /webhook#x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400),
        ("lowercase version", "POST /webhook http/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400),
        ("HTTP/2.0", "POST /webhook HTTP/2.0\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 505),
        ("HTTP/0.9 style", "GET /healthz\r\n\r\n", 400),
        ("too many empty lines", String(repeating: "\r\n", count: 5) + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        // Sizes (checklist R7).
        ("target too long", "POST /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ("header line too long", request(bigHeader + "Content-Length: 2\r\n", body: "{}"), 431),
        ("header section too large", request(wideSection + "Content-Length: 2\r\n", body: "{}"), 431),
        ("too many fields", request(manyHeaders + "Content-Length: 2\r\n", body: "{}"), 431),
        // Refused before the body is read (the body must not be taken for the next request).
        ("no length", "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n", 411),
        ("media type", "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", 415),
        ("wrong method", "PUT /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 405),
        // RFC 9110 §9.1, §15.6.2: an unrecognised method is 501 (methods are case-sensitive).
        ("lowercase method", "post /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 501),
        ("unknown method", "M-SEARCH / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("unknown method, asterisk-form", "M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n\r\n", 501),
        ("unknown method on the webhook", "PROPFIND /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 501),
        ("known method, not allowed", "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("unknown path", "POST /webhook/../admin HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404),
        ("body on healthz", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400),
        // The body itself (read completely, then refused; kept in the intake-error table).
        ("malformed JSON", request("Content-Length: 5\r\n", body: "{oops"), 400),
        ("JSON array", request("Content-Length: 2\r\n", body: "[]"), 400),
        ("invalid UTF-8", request("Content-Length: 4\r\n", body: "{\"\u{FF}"), 400),
    ]

    @Test func hostileFramingGetsItsStatusClosesAndStoresNothingBehindIt() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        for (index, (what, raw, expected)) in Self.hostile.enumerated() {
            let c = try LoopbackClient(port: r.port)
            defer { c.close() }
            c.send(Array(raw.utf8) + Array(post(body: #"{"SECURITY_SIGNAL_ID":"smuggled-\#(index)"}"#).utf8))
            guard let response = c.readResponse() else {
                Issue.record("\(what): no response")
                continue
            }
            #expect(response.status == expected, "\(what): \(response.status) \(response.body)")
            #expect(response.status < 500 || response.status == 501 || response.status == 505, "\(what): a 5xx for bad input")
            #expect(response.head.contains("Connection: close"), "\(what): no Connection: close")
            #expect(c.closedByPeer(), "\(what): connection left open or a second response was sent")
        }
        #expect(try r.count("signals") == 0)
        // Still serving after every one of them.
        #expect(try r.exchange(post(body: #"{"SECURITY_SIGNAL_ID":"after"}"#)).status == 202)
        #expect(try r.database().query("SELECT signal_id FROM signals").map { $0.string(0) } == ["after"])
    }

    /// The legal corner cases next to the hostile ones are accepted (so the refusals above are
    /// for the right reason): leading zeros, chunk extensions, trailers, OWS, HTTP/1.0 without Host.
    @Test func legalCornerCasesAreAccepted() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        let body = #"{"SECURITY_SIGNAL_ID":"corner-0"}"#
        let part1 = #"{"SECURITY_SIGNAL_ID":"corn"#
        let part2 = #"er-1"}"#
        let chunked =
            String(part1.utf8.count, radix: 16) + ";name=value;q=\"a b\"\r\n" + part1 + "\r\n"
            + String(part2.utf8.count, radix: 16) + " ; last\r\n" + part2 + "\r\n0\r\nX-Trailer: t\r\n\r\n"
        let cases = [
            Self.request("Content-Length: 000\(body.utf8.count)\r\n", body: body),
            Self.request("Transfer-Encoding: Chunked\r\n", body: chunked),
            "\r\nPOST /webhook?source=dd HTTP/1.1\r\nHOST:127.0.0.1\r\ncontent-type:  Application/JSON; charset=utf-8 \r\nContent-Length:\t\(#"{"SECURITY_SIGNAL_ID":"corner-2"}"#.utf8.count)\t\r\n\r\n{\"SECURITY_SIGNAL_ID\":\"corner-2\"}",
            "POST /webhook/datadog HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 33\r\n\r\n{\"SECURITY_SIGNAL_ID\":\"corner-3\"}",
            // RFC 9112 §3.2.2: a server MUST accept absolute-form; it routes by the path.
            "POST http://127.0.0.1:8787/webhook?source=dd HTTP/1.1\r\nHost: elsewhere.example\r\nContent-Type: application/json\r\nContent-Length: 33\r\n\r\n{\"SECURITY_SIGNAL_ID\":\"corner-4\"}",
            "POST HTTPS://[::1]/webhook/datadog HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 33\r\n\r\n{\"SECURITY_SIGNAL_ID\":\"corner-5\"}",
        ]
        for raw in cases {
            let response = try r.exchange(raw)
            #expect(response.status == 202, "\(raw.debugDescription): \(response.body)")
        }
        let ids = try r.database().query("SELECT signal_id FROM signals ORDER BY id").map { $0.string(0) }
        #expect(ids == ["corner-0", "corner-1", "corner-2", "corner-3", "corner-4", "corner-5"])
    }

    /// An absolute-form target is routed by its path (an empty path is `/`), its authority
    /// stands in for Host (RFC 9112 §3.2.2), and the connection stays open as for origin-form.
    @Test func absoluteFormTargetsAreRoutedByTheirPath() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        let c = try LoopbackClient(port: r.port)
        defer { c.close() }
        c.send("GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n\r\nGET http://127.0.0.1?x HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(c.readResponse()?.status == 200)
        #expect(c.readResponse()?.status == 404)
        let raw = Array("POST http://gavel.example:8787/webhook HTTP/1.1\r\nHost: other.example\r\nContent-Length: 0\r\n\r\n".utf8)
        let (head, _) = try #require(try HTTPHeadParser.parse(raw))
        #expect(head.path == "/webhook")
        #expect(head.target == "http://gavel.example:8787/webhook")
        #expect(head.field("Host") == "gavel.example:8787")
    }

    /// `GET /healthz` (and `/metrics`) with `Content-Length: 0` is an empty body, not a body:
    /// 200, and the connection stays open (it was 400, which failed load-balancer probes).
    @Test func healthChecksWithAnEmptyBodyAreAnswered200() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        let c = try LoopbackClient(port: r.port)
        defer { c.close() }
        c.send(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + "HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                + "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 00\r\n\r\n")
        let get = try #require(c.readResponse())
        #expect(get.status == 200)
        #expect(!get.head.contains("Connection: close"))
        #expect(c.readResponse()?.status == 200)
        #expect(c.readResponse()?.status == 200)
        // A body that is not empty is still refused, before it is read.
        #expect(try r.exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").status == 400)
    }

    /// Requests pipelined in one write are answered in order; the one after an error is not.
    @Test func pipelinedRequestsStopAtTheFirstError() throws {
        let r = try RunningReceiver()
        defer { r.stop() }
        let c = try LoopbackClient(port: r.port)
        defer { c.close() }
        let smuggle = "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        c.send(
            post(body: #"{"SECURITY_SIGNAL_ID":"pipe-1"}"#) + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + smuggle
                + post(body: #"{"SECURITY_SIGNAL_ID":"pipe-2"}"#))
        #expect(c.readResponse()?.status == 202)
        #expect(c.readResponse()?.status == 200)
        #expect(c.readResponse()?.status == 400)
        #expect(c.closedByPeer())
        #expect(try r.database().query("SELECT signal_id FROM signals").map { $0.string(0) } == ["pipe-1"])
    }

    /// Seeded random mutations of a valid delivery, each on its own connection: any answer is
    /// 202 or an allowed refusal (never another 5xx), and the receiver keeps serving.
    @Test func mutatedDeliveriesNeverGetAServerError() throws {
        let r = try RunningReceiver(readDeadline: 1)
        defer { r.stop() }
        var rng = SeededGenerator(seed: 0x6A7E1)
        let base = Array(
            post(body: #"{"SECURITY_SIGNAL_ID":"mutant","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":"203.0.113.9"}}}}"#, close: true).utf8
        )
        let allowed: Set<Int> = [202, 400, 404, 405, 408, 411, 413, 414, 415, 431, 501, 505]
        for _ in 0..<150 {
            let c = try LoopbackClient(port: r.port)
            defer { c.close() }
            c.send(HTTPTestSupport.mutate(base, &rng))
            shutdown(c.fd, Int32(SHUT_WR))  // the end of the request: a truncated one must not wait for the deadline
            if let response = c.readResponse() {
                #expect(allowed.contains(response.status), "status \(response.status): \(response.body)")
            }
        }
        #expect(try r.exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200)
    }
}

extension LoopbackClient {
    /// True when the server closed the connection (end of stream or reset) within `seconds`
    /// without sending anything more; false when it stayed open or sent another response.
    func closedByPeer(within seconds: Int = 3) -> Bool {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        if n == 0 { return true }
        return n < 0 && (errno == ECONNRESET || errno == EPIPE)
    }
}
