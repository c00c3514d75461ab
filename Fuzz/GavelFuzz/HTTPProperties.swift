import GavelReceiver

/// Properties of the receiver's HTTP/1.1 parsing (RFC 9112), checked on arbitrary bytes.
enum HTTPProperties {
    /// The default limits and small ones, so the fuzzer reaches every limit with short inputs.
    static let limitSets = [
        HTTPLimits(),
        HTTPLimits(
            maxRequestLine: 64, maxHeaderBytes: 200, maxHeaderFields: 5, maxBodyBytes: 100,
            maxFieldLine: 64, maxChunkExtensionBytes: 16, maxTrailerBytes: 40),
    ]
    /// The only statuses a head may be refused with: bad input is never a 5xx, except
    /// 501 (transfer coding or method not implemented) and 505 (HTTP version).
    static let headStatuses: Set<Int> = [400, 413, 414, 431, 501, 505]
    static let bodyStatuses: Set<Int> = [400, 413, 431]
    /// RFC 9110 §9.3 methods and PATCH: any other method is refused with 501.
    static let recognizedMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    typealias HeadResult = Result<(head: HTTPRequestHead, consumed: Int)?, HTTPError>

    static func parseHead(_ bytes: ArraySlice<UInt8>, _ limits: HTTPLimits) -> HeadResult {
        Result { () throws(HTTPError) in try HTTPHeadParser.parse(bytes, limits: limits) }
    }

    static func same(_ a: HeadResult, _ b: HeadResult) -> Bool {
        switch (a, b) {
        case (.success(nil), .success(nil)): return true
        case (.success(let x?), .success(let y?)): return x.head == y.head && x.consumed == y.consumed
        case (.failure(let x), .failure(let y)): return x == y
        default: return false
        }
    }

    /// Head parser: allowed statuses only; a head ends at its CRLFCRLF within the input, parses
    /// the same from exactly its own bytes, needs more one byte earlier, holds only valid fields,
    /// and frames its body safely; the bytes after it then go through the body reader.
    static func head(_ input: [UInt8]) {
        for limits in limitSets {
            let result = parseHead(input[...], limits)
            switch result {
            case .failure(let error):
                check(headStatuses.contains(error.status), "head refused with \(error)")
                check(!error.message.unicodeScalars.contains { $0.value < 0x20 }, "error message has a control character")
            case .success(nil):
                break
            case .success(let (head, consumed)?):
                check(consumed >= 4 && consumed <= input.count, "consumed \(consumed) of \(input.count)")
                check(Array(input[(consumed - 4)..<consumed]) == [13, 10, 13, 10], "head does not end in CRLFCRLF")
                check(same(parseHead(input[..<consumed], limits), result), "head parses differently from its own bytes")
                check(same(parseHead(input[..<(consumed - 1)], limits), .success(nil)), "a head one byte short is not 'need more'")
                checkHead(head, limits)
                if head.framing != .none { body(input[consumed...], head.framing, limits) }
            }
        }
    }

    static func checkHead(_ head: HTTPRequestHead, _ limits: HTTPLimits) {
        check(!head.method.isEmpty && head.method.utf8.allSatisfy(isTchar), "method is not a token")
        check(recognizedMethods.contains(head.method), "unrecognised method \(head.method) not refused with 501")
        check(head.path.hasPrefix("/"), "path \(head.path) does not start with /")
        if !head.target.hasPrefix("/") {
            // Absolute-form (RFC 9112 §3.2.2): an http(s) URI whose authority stands in for Host.
            let lowered = head.target.lowercased()
            check(lowered.hasPrefix("http://") || lowered.hasPrefix("https://"), "target \(head.target) is neither origin- nor absolute-form")
            let authority = head.target.drop { $0 != "/" }.dropFirst(2).prefix { $0 != "/" && $0 != "?" }
            check(!authority.isEmpty && !authority.contains("@"), "absolute-form authority \(authority)")
            if let host = head.field("Host") { check(host == authority, "Host \(host) is not the target's authority \(authority)") }
        }
        check(head.versionMinor == 0 || head.versionMinor == 1, "version 1.\(head.versionMinor)")
        check(head.fields.count <= limits.maxHeaderFields, "\(head.fields.count) fields")
        check(head.target.utf8.count <= limits.maxRequestLine, "target longer than the request line limit")
        for field in head.fields {
            check(!field.name.isEmpty && field.name.utf8.allSatisfy(isTchar), "field name is not a token")
            check(
                !field.value.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F },
                "field value holds a control character")
            check(
                field.value.first != " " && field.value.last != " " && field.value.first != "\t" && field.value.last != "\t",
                "field value not trimmed")
        }
        let hosts = head.fields(named: "Host").count
        check(head.versionMinor == 1 ? hosts == 1 : hosts <= 1, "\(hosts) Host fields")
        let lengths = head.fields(named: "Content-Length").count
        let codings = head.fields(named: "Transfer-Encoding").count
        check(!(lengths > 0 && codings > 0), "Content-Length together with Transfer-Encoding")
        switch head.framing {
        case .none: check(lengths == 0 && codings == 0, "a framing field was ignored")
        case .contentLength(let n): check(lengths == 1 && n >= 0 && n <= limits.maxBodyBytes, "Content-Length \(n)")
        case .chunked: check(codings == 1 && head.versionMinor == 1, "chunked without exactly one Transfer-Encoding in 1.1")
        }
    }

    /// Body reader over the bytes after a head: consumes at most what it was given, never more
    /// than the body cap, exactly the Content-Length, and refuses only with 400/413/431.
    static func body(_ bytes: ArraySlice<UInt8>, _ framing: HTTPBodyFraming, _ limits: HTTPLimits) {
        var reader: HTTPBodyReader
        do throws(HTTPError) {
            reader = try HTTPBodyReader(framing: framing, limits: limits)
        } catch {
            check(bodyStatuses.contains(error.status), "body reader refused with \(error)")
            return
        }
        do throws(HTTPError) {
            let consumed = try reader.consume(bytes)
            check(consumed <= bytes.count, "consumed \(consumed) of \(bytes.count)")
            check(reader.isComplete || consumed == bytes.count, "stopped early without completing")
            check(reader.body.count <= limits.maxBodyBytes, "body of \(reader.body.count) bytes")
            if reader.isComplete, case .contentLength(let n) = framing { check(reader.body.count == n, "body \(reader.body.count) ≠ \(n)") }
        } catch {
            check(bodyStatuses.contains(error.status), "body refused with \(error)")
        }
    }

    /// Chunked decoder: the first byte picks a split point; the rest is fed whole, in two
    /// pieces, and (when short) byte by byte — every way gives the same outcome; the body never
    /// exceeds the cap; errors are 400/413/431 and repeat on the next call.
    static func chunked(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let data = Array(input.dropFirst())
        let split = Int(first) % (data.count + 1)
        for limits in limitSets {
            let whole = feed([data[...]], limits)
            check(whole == feed([data[..<split], data[split...]], limits), "outcome depends on the split at \(split)")
            if data.count <= 512 {
                check(whole == feed(data.indices.map { data[$0...$0] }, limits), "outcome depends on byte-by-byte feeding")
            }
        }
    }

    struct ChunkedOutcome: Equatable {
        var complete = false
        var consumed = 0
        var body: [UInt8] = []
        var trailers: [HTTPField] = []
        var error: HTTPError?
    }

    static func feed(_ pieces: [ArraySlice<UInt8>], _ limits: HTTPLimits) -> ChunkedOutcome {
        var reader = try! HTTPBodyReader(framing: .chunked, limits: limits)
        var outcome = ChunkedOutcome()
        for piece in pieces {
            do throws(HTTPError) {
                let n = try reader.consume(piece)
                check(n <= piece.count, "consumed \(n) of \(piece.count)")
                check(reader.body.count <= limits.maxBodyBytes, "body of \(reader.body.count) bytes over the cap")
                outcome.consumed += n
                if reader.isComplete { break }
                check(n == piece.count, "stopped early without completing")
            } catch {
                check(bodyStatuses.contains(error.status), "chunked refused with \(error)")
                let again = Result { () throws(HTTPError) in try reader.consume([0x30]) }
                check(again == .failure(error), "a failed reader accepted more bytes")
                return ChunkedOutcome(error: error)  // the connection closes: only the error matters
            }
        }
        outcome.complete = reader.isComplete
        outcome.body = reader.body
        outcome.trailers = reader.trailers
        return outcome
    }

    /// Content-Length values: the head parser accepts exactly `1*DIGIT` (RFC 9110 §8.6) after
    /// OWS trimming, reads its decimal value without overflow, gives 413 above the cap and 400
    /// for anything else. JSON numbers keep their text.
    static func number(_ input: [UInt8]) {
        if !input.contains(13) && !input.contains(10) && input.count < 8000 {
            // Default field-line limits (8 KiB), so only the value decides; three body caps.
            for limits in [HTTPLimits(), HTTPLimits(maxBodyBytes: 100), HTTPLimits(maxBodyBytes: 64 << 20)] {
                let request = Array("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: ".utf8) + input + Array("\r\n\r\n".utf8)
                let result = parseHead(request[...], limits)
                var trimmed = input[...]
                while let b = trimmed.first, b == 0x20 || b == 0x09 { trimmed.removeFirst() }
                while let b = trimmed.last, b == 0x20 || b == 0x09 { trimmed.removeLast() }
                let digits = !trimmed.isEmpty && trimmed.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
                let significant = trimmed.drop { $0 == 0x30 }
                let value = !digits ? -1 : significant.count <= 18 ? significant.reduce(0) { $0 * 10 + Int($1 - 0x30) } : Int.max
                switch result {
                case .success(let parsed?):
                    check(
                        digits && value <= limits.maxBodyBytes && parsed.head.framing == .contentLength(value),
                        "Content-Length \(String(decoding: input, as: UTF8.self).debugDescription) accepted as \(parsed.head.framing)")
                case .failure(let error):
                    check(
                        digits ? (value > limits.maxBodyBytes && error.status == 413) : error.status == 400,
                        "Content-Length \(String(decoding: input, as: UTF8.self).debugDescription) refused with \(error)")
                case .success(nil):
                    check(false, "a complete head needs more bytes")
                }
            }
        }
        CoreProperties.jsonRoundTrip(input)
    }

    static func isTchar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }
}
