import Foundation

/// Why an HTTP answer could not be read.
struct HTTPWireError: Error, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reads one HTTP/1.1 response as its bytes arrive (RFC 9112): the status line and header section
/// (interim 1xx answers skipped), then the body framed by `Transfer-Encoding: chunked`,
/// `Content-Length`, or the end of the connection (§6.3), keeping at most
/// `DispatchOutcome.captureLimit` bytes of it.
///
/// Limits: a header section of at most 64 KiB, a chunk-size line of at most 1 KiB.
struct HTTPResponseParser {
    private enum Phase {
        case head
        case length(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    /// The status code, once the final status line arrived.
    private(set) var status: Int?
    /// The final answer's header fields, names lowercased, in arrival order.
    private(set) var headers: [(name: String, value: String)] = []
    /// The body so far, capped.
    private(set) var body = CappedBytes()
    /// The connection may carry another request after this answer (HTTP/1.1, no `Connection: close`,
    /// a body framed by length or chunks and read to its end).
    private(set) var keepAlive = false
    private var phase = Phase.head
    private var pending: [UInt8] = []
    private var offset = 0
    /// The request was `HEAD` (its answer has no body whatever the headers say).
    private let headRequest: Bool

    static let maxHead = 64 * 1024
    static let maxChunkLine = 1024

    init(method: String) {
        headRequest = method == "HEAD"
    }

    /// True once the whole answer was read.
    var isComplete: Bool { if case .done = phase { true } else { false } }
    /// True while the body is read until the connection ends.
    var readsUntilClose: Bool { if case .untilClose = phase { true } else { false } }

    /// The value of the first header field named `name` (lowercase).
    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    /// Takes the next bytes of the stream.
    /// - Throws: `HTTPWireError` for a malformed answer.
    mutating func feed(_ bytes: some Collection<UInt8>) throws(HTTPWireError) {
        if case .untilClose = phase {
            body.append(bytes)
            return
        }
        pending.append(contentsOf: bytes)
        try advance()
        if offset > 0 && (offset == pending.count || offset > 1 << 16) {
            pending.removeFirst(offset)
            offset = 0
        }
    }

    /// The connection ended: completes an answer read until the close.
    /// - Throws: `HTTPWireError` when the answer was cut short.
    mutating func endOfStream() throws(HTTPWireError) {
        switch phase {
        case .untilClose:
            phase = .done
            keepAlive = false
        case .done: break
        case .head: throw HTTPWireError(status == nil && pending.isEmpty ? "connection closed before an answer" : "connection closed mid-answer")
        default: throw HTTPWireError("connection closed mid-answer")
        }
    }

    private var available: ArraySlice<UInt8> { pending[offset...] }

    private mutating func advance() throws(HTTPWireError) {
        while true {
            switch phase {
            case .head:
                guard let end = available.firstRange(of: [13, 10, 13, 10]) else {
                    if pending.count - offset > Self.maxHead { throw HTTPWireError("bad server response: header section over 64 KiB") }
                    return
                }
                let head = pending[offset..<end.lowerBound]
                offset = end.upperBound
                try readHead(head)
            case .length(let remaining):
                let n = min(remaining, pending.count - offset)
                body.append(pending[offset..<(offset + n)])
                offset += n
                phase = remaining - n == 0 ? .done : .length(remaining: remaining - n)
                if remaining - n > 0 { return }
            case .chunkSize:
                guard let end = available.firstRange(of: [13, 10]) else {
                    if pending.count - offset > Self.maxChunkLine { throw HTTPWireError("bad server response: chunk size line too long") }
                    return
                }
                let line = pending[offset..<end.lowerBound]
                offset = end.upperBound
                let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: " ") && $0 != 9 }
                guard !digits.isEmpty, digits.count <= 15, let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
                    throw HTTPWireError("bad server response: malformed chunk size")
                }
                phase = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let n = min(remaining, pending.count - offset)
                body.append(pending[offset..<(offset + n)])
                offset += n
                if remaining - n > 0 {
                    phase = .chunkData(remaining: remaining - n)
                    return
                }
                phase = .chunkDataEnd
            case .chunkDataEnd:
                guard pending.count - offset >= 2 else { return }
                guard pending[offset] == 13 && pending[offset + 1] == 10 else { throw HTTPWireError("bad server response: chunk not ended by CRLF") }
                offset += 2
                phase = .chunkSize
            case .trailers:
                guard let end = available.firstRange(of: [13, 10]) else {
                    if pending.count - offset > Self.maxHead { throw HTTPWireError("bad server response: trailer section over 64 KiB") }
                    return
                }
                let empty = end.lowerBound == offset
                offset = end.upperBound
                if empty { phase = .done }
            case .untilClose:
                body.append(available)
                offset = pending.count
                return
            case .done:
                return
            }
        }
    }

    /// The status line and header fields; decides the body's framing (RFC 9112 §6.3).
    private mutating func readHead(_ head: ArraySlice<UInt8>) throws(HTTPWireError) {
        let text = String(decoding: head, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { throw HTTPWireError("bad server response: no status line") }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let code = Int(parts[1]), (100...999).contains(code) else {
            throw HTTPWireError("bad server response: malformed status line")
        }
        var fields: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw HTTPWireError("bad server response: malformed header field") }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t"])
            fields.append((name, value))
        }
        if (100...199).contains(code) {
            return  // an interim answer (100 Continue, 103 Early Hints): the final one follows
        }
        status = code
        headers = fields
        let connection = fields.filter { $0.name == "connection" }.map { $0.value.lowercased() }.joined(separator: ",")
        let persistent = parts[0] == "HTTP/1.1" && !connection.split(separator: ",").contains { $0.trimmingCharacters(in: [" "]) == "close" }
        if headRequest || code == 204 || code == 304 {
            phase = .done
            keepAlive = persistent
            return
        }
        if let coding = fields.last(where: { $0.name == "transfer-encoding" })?.value.lowercased() {
            guard coding.split(separator: ",").last?.trimmingCharacters(in: [" ", "\t"]) == "chunked" else {
                phase = .untilClose
                return
            }
            phase = .chunkSize
            keepAlive = persistent
            return
        }
        let lengths = Set(fields.filter { $0.name == "content-length" }.map(\.value))
        if let text = lengths.first {
            guard lengths.count == 1, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), text.count <= 15, let n = Int(text) else {
                throw HTTPWireError("bad server response: invalid Content-Length")
            }
            phase = n == 0 ? .done : .length(remaining: n)
            keepAlive = persistent
            return
        }
        phase = .untilClose
    }
}

/// The bytes of an HTTP/1.1 request (RFC 9112 §3): the request line with the URL's path and query,
/// `Host`, the rendered headers in their order, then `User-Agent` and `Idempotency-Key` (gavel's,
/// replacing rendered ones of those names), `Content-Length` for a body (and `0` for an empty
/// POST, PUT or PATCH), and the body.
enum HTTPRequestBytes {
    static func make(
        method: String, target: String, authority: String, headers: [HTTPHeader], userAgent: String, idempotencyKey: String, body: [UInt8]
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + body.count)
        func line(_ text: String) {
            out.append(contentsOf: text.utf8)
            out.append(contentsOf: [13, 10])
        }
        line("\(method) \(target) HTTP/1.1")
        line("Host: \(authority)")
        for field in headers where !["user-agent", "idempotency-key"].contains(field.name.lowercased()) {
            line("\(field.name): \(field.value)")
        }
        line("User-Agent: \(userAgent)")
        line("Idempotency-Key: \(idempotencyKey)")
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) { line("Content-Length: \(body.count)") }
        out.append(contentsOf: [13, 10])
        out.append(contentsOf: body)
        return out
    }

    /// One header field to send.
    typealias HTTPHeader = (name: String, value: String)
}
