import GavelTestSupport
import Testing

@testable import GavelReceiver

@Suite struct HTTPBodyReaderTests {
    typealias T = HTTPTestSupport

    enum Outcome: Equatable {
        case incomplete
        case complete(body: [UInt8], trailers: [HTTPField], consumed: Int)
        case error(HTTPError)
    }

    /// Feeds `bytes` to a reader in pieces ending at each of `cuts` (then the rest), the way a
    /// server does: each call gets the bytes not yet consumed up to the cut.
    static func read(_ bytes: [UInt8], _ framing: HTTPBodyFraming, _ limits: HTTPLimits, cuts: [Int] = []) -> Outcome {
        do throws(HTTPError) {
            var reader = try HTTPBodyReader(framing: framing, limits: limits)
            var offset = 0
            for cut in cuts + [bytes.count] where cut >= offset {
                offset += try reader.consume(bytes[offset..<cut])
                if reader.isComplete { break }
                #expect(offset == cut, "an incomplete reader must take every byte it is given")
            }
            return reader.isComplete ? .complete(body: reader.body, trailers: reader.trailers, consumed: offset) : .incomplete
        } catch {
            return .error(error)
        }
    }

    /// Every error status seen while feeding `bytes` split at every offset and byte by byte.
    static func statusesFeedingEverySplit(_ bytes: [UInt8], _ limits: HTTPLimits) -> [Int] {
        var statuses: [Int] = []
        for k in 0...bytes.count {
            if case .error(let e) = read(bytes, .chunked, limits, cuts: [k]) { statuses.append(e.status) }
        }
        if case .error(let e) = read(bytes, .chunked, limits, cuts: Array(0..<bytes.count)) { statuses.append(e.status) }
        return statuses
    }

    /// Asserts that splitting at every offset, and feeding byte by byte, gives the unsplit outcome.
    static func expectSplitInvariant(
        _ bytes: [UInt8], _ framing: HTTPBodyFraming, _ limits: HTTPLimits,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let whole = read(bytes, framing, limits)
        for k in 0...bytes.count {
            #expect(read(bytes, framing, limits, cuts: [k]) == whole, "split at \(k)", sourceLocation: sourceLocation)
        }
        #expect(
            read(bytes, framing, limits, cuts: Array(0..<bytes.count)) == whole, "byte by byte",
            sourceLocation: sourceLocation)
    }

    // MARK: Content-Length and none

    @Test func readsAContentLengthBodyAndLeavesTheRest() {
        let bytes = T.bytes("{\"a\":1}GET / HTTP/1.1\r\n")
        #expect(
            Self.read(bytes, .contentLength(7), HTTPLimits())
                == .complete(body: T.bytes("{\"a\":1}"), trailers: [], consumed: 7))
        Self.expectSplitInvariant(bytes, .contentLength(7), HTTPLimits())
        #expect(Self.read(T.bytes("{\"a\""), .contentLength(7), HTTPLimits()) == .incomplete)
    }

    @Test func emptyBodiesAreCompleteAtOnce() throws {
        for framing in [HTTPBodyFraming.none, .contentLength(0)] {
            var reader = try HTTPBodyReader(framing: framing, limits: HTTPLimits())
            #expect(reader.isComplete)
            #expect(try reader.consume(T.bytes("GET / HTTP/1.1\r\n")) == 0)
            #expect(reader.body.isEmpty)
        }
    }

    @Test func refusesAnOversizedContentLengthBeforeReading() {
        #expect(throws: HTTPError(status: 413, message: "Content-Length: larger than the 100-byte limit")) {
            _ = try HTTPBodyReader(framing: .contentLength(101), limits: T.small)
        }
        #expect(throws: HTTPError(status: 413, message: "Content-Length: larger than the 1048576-byte limit")) {
            _ = try HTTPBodyReader(framing: .contentLength(Int.max), limits: HTTPLimits())
        }
        #expect((try? HTTPBodyReader(framing: .contentLength(-1), limits: HTTPLimits())) == nil)
        #expect((try? HTTPBodyReader(framing: .contentLength(100), limits: T.small)) != nil)
    }

    // MARK: chunked, valid

    /// (chunked body followed by "NEXT", decoded body, trailers) under the default limits.
    static let validChunked: [(String, String, [HTTPField])] = [
        ("5\r\nhello\r\n0\r\n\r\n", "hello", []),
        ("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", []),
        ("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij", []),
        ("00000005\r\nhello\r\n000\r\n\r\n", "hello", []),
        ("5\r\nhe\r\nl\r\n0\r\n\r\n", "he\r\nl", []),
        ("0\r\n\r\n", "", []),
        ("5;name\r\nhello\r\n0\r\n\r\n", "hello", []),
        ("5;name=token\r\nhello\r\n0;last\r\n\r\n", "hello", []),
        ("5;a=\"quoted \\\" ;x\"\r\nhello\r\n0\r\n\r\n", "hello", []),
        ("5;a=\"\"\r\nhello\r\n0\r\n\r\n", "hello", []),
        ("5 ; a = b ;c\t;d=\"e\"\r\nhello\r\n0\r\n\r\n", "hello", []),
        ("5;a=b;c=d;e\r\nhello\r\n0;f=\"caf\u{e9}\"\r\n\r\n", "hello", []),
        (
            "5\r\nhello\r\n0\r\nX-Trailer: t1\r\nx-other:  two \r\n\r\n", "hello",
            [HTTPField(name: "X-Trailer", value: "t1"), HTTPField(name: "x-other", value: "two")]
        ),
    ]

    @Test(arguments: validChunked)
    func readsChunkedBodies(_ input: String, _ body: String, _ trailers: [HTTPField]) {
        let bytes = T.bytes(input + "NEXT")
        #expect(
            Self.read(bytes, .chunked, HTTPLimits())
                == .complete(body: T.bytes(body), trailers: trailers, consumed: bytes.count - 4))
        Self.expectSplitInvariant(bytes, .chunked, HTTPLimits())
    }

    @Test func waitsForTheEndOfAChunkedBody() {
        for partial in [
            "", "5", "5\r", "5\r\nhel", "5\r\nhello", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n",
            "5\r\nhello\r\n0\r\nX: 1\r\n", "5\r\nhello\r\n0\r\n\r", "5;a=\"x",
        ] {
            #expect(Self.read(T.bytes(partial), .chunked, HTTPLimits()) == .incomplete, "\(partial)")
        }
    }

    @Test func acceptsExactlyTheBodyCap() {
        let data = String(repeating: "x", count: 100)
        #expect(
            Self.read(T.bytes("64\r\n" + data + "\r\n0\r\n\r\n"), .chunked, T.small)
                == .complete(body: T.bytes(data), trailers: [], consumed: 4 + 100 + 7))
    }

    // MARK: chunked, hostile

    /// (chunked body, status) under `HTTPTestSupport.small`: body 100, extensions 16, trailers 40.
    static let hostileChunked: [(String, Int)] = [
        ("000000005\r\nhello\r\n0\r\n\r\n", 400),
        ("100000000\r\n", 413),
        ("fffffffff\r\n", 413),
        ("ffffffffffffffffffffffff\r\n", 413),
        ("65\r\n", 413),
        ("65", 413),
        ("33\r\n" + String(repeating: "x", count: 51) + "\r\n33\r\n", 413),
        ("33\r\n" + String(repeating: "x", count: 51) + "\r\n32\r\n" + String(repeating: "y", count: 50) + "\r\n1\r\n", 413),
        ("0x5\r\nhello\r\n0\r\n\r\n", 400),
        ("-5\r\nhello\r\n0\r\n\r\n", 400),
        ("+5\r\nhello\r\n0\r\n\r\n", 400),
        (" 5\r\nhello\r\n0\r\n\r\n", 400),
        ("\r\nhello\r\n0\r\n\r\n", 400),
        (";a\r\nhello\r\n0\r\n\r\n", 400),
        ("g\r\n", 400),
        ("5 \r\nhello\r\n0\r\n\r\n", 400),
        ("5\t\r\nhello\r\n0\r\n\r\n", 400),
        ("5\nhello\r\n0\r\n\r\n", 400),
        ("5\rhello\r\n0\r\n\r\n", 400),
        ("5\r\nhelloX\r\n0\r\n\r\n", 400),
        ("5\r\nhello\n0\r\n\r\n", 400),
        ("5\r\nhello\r\r\n0\r\n\r\n", 400),
        ("5\r\nhello0\r\n\r\n", 400),
        ("5;\r\nhello\r\n0\r\n\r\n", 400),
        ("5;=a\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a=\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a==b\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a=@\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a b\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a \r\nhello\r\n0\r\n\r\n", 400),
        ("5;a=b c\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a=\"x\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a=\"\u{1}\"\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a=\"x\\\r\"\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a\u{0}\r\nhello\r\n0\r\n\r\n", 400),
        ("5;a\nhello\r\n0\r\n\r\n", 400),
        ("5;" + String(repeating: "a", count: 20) + "\r\nhello\r\n0\r\n\r\n", 400),
        ("5" + String(repeating: " ", count: 20) + ";a\r\nhello\r\n0\r\n\r\n", 400),
        ("0\r\n X: 1\r\n\r\n", 400),
        ("0\r\nX : 1\r\n\r\n", 400),
        ("0\r\nX: 1\n\r\n", 400),
        ("0\r\nX: 1\r\n\n", 400),
        ("0\r\n\n", 400),
        ("0\r\n\rx", 400),
        ("0\r\nX: a\u{0}b\r\n\r\n", 400),
        ("0\r\nX: a\rb\r\n\r\n", 400),
        ("0\r\nX(: 1\r\n\r\n", 400),
        ("0\r\nhello\r\n\r\n", 400),
        ("0\r\nX: " + String(repeating: "v", count: 50) + "\r\n\r\n", 431),
        ("0\r\n" + String(repeating: "X: 1\r\n", count: 10) + "\r\n", 431),
    ]

    @Test(arguments: hostileChunked)
    func refusesHostileChunkedBodies(_ input: String, _ status: Int) {
        let bytes = T.bytes(input)
        let outcome = Self.read(bytes, .chunked, T.small)
        guard case .error(let e) = outcome else {
            Issue.record("accepted: \(outcome)")
            return
        }
        #expect(e.status == status, "\(e)")
        Self.expectSplitInvariant(bytes, .chunked, T.small)
    }

    @Test func refusesAnOversizedChunkAsSoonAsItsDigitsShowIt() throws {
        var reader = try HTTPBodyReader(framing: .chunked, limits: HTTPLimits())
        #expect(try reader.consume(T.bytes("100000")) == 6)  // exactly 1 MiB: fine so far
        #expect(throws: HTTPError(status: 413, message: "chunked body larger than the 1048576-byte limit")) {
            _ = try reader.consume(T.bytes("0"))  // one more digit: 16 MiB, refused before the CRLF
        }
        // Once failed, it stays failed.
        #expect(throws: HTTPError.self) { _ = try reader.consume(T.bytes("\r\n")) }
        #expect(throws: HTTPError.self) { _ = try reader.consume([UInt8]()) }
    }

    @Test func mutatedChunkedBodiesAreAcceptedOrRefusedCleanly() {
        var rng = SeededGenerator(seed: 0xC4_0F_FE_E5)
        let seed = T.bytes("5;a=\"b\"\r\nhello\r\n1A\r\n" + String(repeating: "z", count: 26) + "\r\n0\r\nX-T: 1\r\n\r\n")
        for _ in 0..<3000 {
            let bytes = T.mutate(seed, &rng)
            let whole = Self.read(bytes, .chunked, HTTPLimits())
            if case .error(let e) = whole {
                #expect([400, 413, 431].contains(e.status), "\(e) for \(bytes)")
            }
            if case .complete(let body, _, let consumed) = whole {
                #expect(consumed <= bytes.count && body.count <= consumed)
            }
            let k = Int.random(in: 0...bytes.count, using: &rng)
            #expect(Self.read(bytes, .chunked, HTTPLimits(), cuts: [k]) == whole, "split at \(k) of \(bytes)")
        }
    }

    @Test func namesWhatWasWrong() {
        func message(_ s: String) -> String? {
            if case .error(let e) = Self.read(T.bytes(s), .chunked, HTTPLimits()) { return e.message }
            return nil
        }
        #expect(message("0x5\r\n") == "chunk size: not a hex number")
        #expect(message("5\r\nhelloX") == "chunk data not followed by CRLF")
        #expect(message("000000005\r\n") == "chunk size: more than 8 hex digits")
        #expect(message("5\nhello") == "bare LF line ending in chunked body")
        #expect(message("5;a=@\r\n") == "chunk extension: malformed")
        #expect(message("0\r\nX : 1\r\n\r\n") == "trailer: whitespace before the colon")
    }
}
