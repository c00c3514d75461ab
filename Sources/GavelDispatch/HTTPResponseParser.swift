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

    /// The status line and header fields; decides the body's framing (RFC 9112 §6.3). Read as bytes:
    /// only field names and values become strings.
    private mutating func readHead(_ head: ArraySlice<UInt8>) throws(HTTPWireError) {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        var i = head.startIndex
        while i < head.endIndex {
            if head[i] == 13, i + 1 < head.endIndex, head[i + 1] == 10 {
                lines.append(head[start..<i])
                i += 2
                start = i
            } else {
                i += 1
            }
        }
        lines.append(head[start..<head.endIndex])
        let statusLine = lines[0]
        // HTTP/1.x SP 3DIGIT [SP reason]
        guard statusLine.count >= 12, statusLine.starts(with: Array("HTTP/1.".utf8)), statusLine[statusLine.startIndex + 8] == 32 else {
            throw HTTPWireError("bad server response: malformed status line")
        }
        let minor = statusLine[statusLine.startIndex + 7]
        var code = 0
        for k in 9..<12 {
            let digit = statusLine[statusLine.startIndex + k]
            guard digit >= 48 && digit <= 57 else { throw HTTPWireError("bad server response: malformed status line") }
            code = code * 10 + Int(digit - 48)
        }
        guard code >= 100, statusLine.count == 12 || statusLine[statusLine.startIndex + 12] == 32 else {
            throw HTTPWireError("bad server response: malformed status line")
        }
        var fields: [(name: String, value: String)] = []
        var close = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw HTTPWireError("bad server response: malformed header field") }
            let name = String(decoding: line[line.startIndex..<colon].map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
            var valueStart = colon + 1
            var valueEnd = line.endIndex
            while valueStart < valueEnd, line[valueStart] == 32 || line[valueStart] == 9 { valueStart += 1 }
            while valueEnd > valueStart, line[valueEnd - 1] == 32 || line[valueEnd - 1] == 9 { valueEnd -= 1 }
            let value = String(decoding: line[valueStart..<valueEnd], as: UTF8.self)
            if name == "connection" && value.lowercased().split(separator: ",").contains(where: { $0.trimmingCharacters(in: [" "]) == "close" }) {
                close = true
            }
            fields.append((name, value))
        }
        if code < 200 {
            return  // an interim answer (100 Continue, 103 Early Hints): the final one follows
        }
        status = code
        headers = fields
        let persistent = minor == UInt8(ascii: "1") && !close
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
        var length: String?
        for field in fields where field.name == "content-length" {
            guard length == nil || length == field.value else { throw HTTPWireError("bad server response: invalid Content-Length") }
            length = field.value
        }
        if let text = length {
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), text.count <= 15, let n = Int(text) else {
                throw HTTPWireError("bad server response: invalid Content-Length")
            }
            phase = n == 0 ? .done : .length(remaining: n)
            keepAlive = persistent
            return
        }
        phase = .untilClose
    }
}
