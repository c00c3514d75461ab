import Testing

@testable import GavelReceiver

@Suite struct HTTPResponseTests {
    static func text(_ response: HTTPResponse) -> String { String(decoding: response.serialized(), as: UTF8.self) }

    @Test func serializesAJSONResponse() {
        let response = HTTPResponse.json(202, "{\"signal\":7,\"duplicate\":false,\"remediations\":[12]}")
        #expect(
            Self.text(response) == "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n"
                + "{\"signal\":7,\"duplicate\":false,\"remediations\":[12]}")
        #expect(!response.close)
    }

    @Test func serializesAnErrorThatCloses() {
        let response = HTTPResponse.error(HTTPError(status: 400, message: "Content-Length: not a decimal number"))
        #expect(response.close)
        #expect(response.status == 400)
        #expect(
            Self.text(response) == "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 48\r\n"
                + "Connection: close\r\n\r\n{\"error\":\"Content-Length: not a decimal number\"}")
    }

    @Test func escapesTheErrorMessage() {
        let response = HTTPResponse.error(HTTPError(status: 431, message: "a \"b\" \\ c\n\u{1}\u{1B}[2J\u{7F} é 😀"))
        #expect(
            String(decoding: response.body, as: UTF8.self)
                == "{\"error\":\"a \\\"b\\\" \\\\ c\\n\\u0001\\u001b[2J\\u007f \\u00e9 \\ud83d\\ude00\"}")
        #expect(response.body.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
    }

    @Test func writesExtraHeadersInOrder() {
        let r405 = HTTPResponse.json(405, "{\"error\":\"method not allowed\"}", extraHeaders: [HTTPField(name: "Allow", value: "POST")])
        #expect(
            Self.text(r405) == "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nAllow: POST\r\n"
                + "Content-Length: 30\r\n\r\n{\"error\":\"method not allowed\"}")
        let r503 = HTTPResponse.json(503, "{}", close: true, extraHeaders: [HTTPField(name: "Retry-After", value: "5")])
        #expect(
            Self.text(r503) == "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
                + "Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    }

    @Test func plainAndBodylessResponses() {
        #expect(Self.text(HTTPResponse(status: 200, body: Array("ok\n".utf8))) == "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        #expect(Self.text(HTTPResponse(status: 204, body: Array("ignored".utf8))) == "HTTP/1.1 204 No Content\r\n\r\n")
        #expect(Self.text(HTTPResponse(status: 599)) == "HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n")
    }

    @Test func headersCannotSplitTheResponse() {
        let response = HTTPResponse(
            status: 200,
            headers: [
                HTTPField(name: "X-Echo", value: "a\r\nSet-Cookie: x=1\u{0}"),
                HTTPField(name: "Bad Name", value: "v"),
                HTTPField(name: "X-Bad\r\nInjected", value: "v"),
                HTTPField(name: "", value: "v"),
                HTTPField(name: "content-length", value: "999"),
                HTTPField(name: "Transfer-Encoding", value: "chunked"),
                HTTPField(name: "Connection", value: "keep-alive"),
                HTTPField(name: "X-Tab", value: "a\tb"),
            ], body: Array("hi".utf8), close: true)
        #expect(
            Self.text(response) == "HTTP/1.1 200 OK\r\nX-Echo: a  Set-Cookie: x=1 \r\nX-Tab: a\tb\r\n"
                + "Content-Length: 2\r\nConnection: close\r\n\r\nhi")
    }

    @Test(arguments: [
        (200, "OK"), (202, "Accepted"), (400, "Bad Request"), (401, "Unauthorized"), (404, "Not Found"),
        (405, "Method Not Allowed"), (408, "Request Timeout"), (411, "Length Required"),
        (413, "Content Too Large"), (414, "URI Too Long"), (415, "Unsupported Media Type"),
        (431, "Request Header Fields Too Large"), (500, "Internal Server Error"), (501, "Not Implemented"),
        (503, "Service Unavailable"), (505, "HTTP Version Not Supported"), (299, ""),
    ])
    func reasonPhrases(_ status: Int, _ phrase: String) {
        #expect(HTTPResponse.reasonPhrase(status) == phrase)
    }

    @Test func errorsFromTheParserRoundTrip() throws {
        do throws(HTTPError) {
            _ = try HTTPHeadParser.parse(Array("GET / HTTP/2.0\r\nHost: x\r\n\r\n".utf8))
            Issue.record("accepted HTTP/2.0")
        } catch {
            let text = Self.text(.error(error))
            #expect(text.hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"))
            #expect(text.hasSuffix("Connection: close\r\n\r\n{\"error\":\"HTTP version not supported (only HTTP/1.0 and HTTP/1.1)\"}"))
        }
    }
}
