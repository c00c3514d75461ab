/// Reads one request body framed by Content-Length or by the chunked transfer coding
/// (RFC 9112 §6.2, §7.1), from bytes the server feeds it as they arrive.
///
/// Chunked bodies are parsed strictly: `chunk-size` is 1–8 hex digits; chunk extensions must
/// follow RFC 9112 §7.1.1 (`;name`, `;name=token`, `;name="quoted"`, BWS around `;` and `=`)
/// and take at most `maxChunkExtensionBytes` per chunk line; every chunk's data ends in
/// exactly CRLF; the trailer section after the last chunk uses the header field-line rules
/// and takes at most `maxTrailerBytes`. Trailer fields are kept in `trailers` but never merged
/// into the head. The reader stops at the body's end, so pipelined bytes stay with the caller.
///
/// Errors: 413 when Content-Length or the running sum of chunk sizes exceeds `maxBodyBytes`
/// (as soon as the digits show it); 431 for a trailer section too large; 400 for anything
/// malformed, including a bare LF or CR. After a throw every call throws the same error.
public struct HTTPBodyReader: Sendable {
    private enum State: Sendable, Equatable {
        case fixed(remaining: Int)
        case size  // reading chunk-size hex digits
        case extBeforeSemicolon  // BWS after the size or an extension, before ";"
        case extBeforeName  // after ";" (BWS allowed)
        case extName
        case extAfterName  // BWS after a name, before "=" or ";"
        case extBeforeValue  // after "=" (BWS allowed)
        case extToken
        case extQuoted
        case extQuotedEscape
        case extAfterQuoted
        case sizeLF  // saw CR ending the chunk-size line
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerLine  // inside a trailer field line (or at its start)
        case trailerLF
        case done
        case failed(HTTPError)
    }

    private let limits: HTTPLimits
    private var state: State
    private var chunkSize = 0
    private var sizeDigits = 0
    private var extensionBytes = 0
    private var trailerBytes = 0
    private var trailerLine: [UInt8] = []
    /// The body bytes read so far (the whole body once `isComplete`).
    public private(set) var body: [UInt8] = []
    /// Trailer fields of a chunked body (RFC 9112 §7.1.2), validated like header fields.
    public private(set) var trailers: [HTTPField] = []

    /// Creates a reader for a body with `framing`.
    ///
    /// - Throws: 413 when `framing` is `.contentLength(n)` with `n > limits.maxBodyBytes`
    ///   (before any body byte is read); 400 for a negative length.
    public init(framing: HTTPBodyFraming, limits: HTTPLimits = HTTPLimits()) throws(HTTPError) {
        self.limits = limits
        switch framing {
        case .none:
            state = .done
        case .contentLength(let n):
            guard n >= 0 else { throw .badRequest("Content-Length: negative") }
            guard n <= limits.maxBodyBytes else {
                throw .contentTooLarge("Content-Length: larger than the \(limits.maxBodyBytes)-byte limit")
            }
            state = n == 0 ? .done : .fixed(remaining: n)
            body.reserveCapacity(min(n, 64 * 1024))
        case .chunked:
            state = .size
        }
    }

    /// True once the whole body (and, for chunked, the trailer section) has been read.
    public var isComplete: Bool { state == .done }

    /// Consumes body bytes from the front of `buffer`.
    ///
    /// - Returns: how many bytes of `buffer` belong to the body; fewer than `buffer.count` only
    ///   when the body ended (the rest is the next request). 0 once complete.
    /// - Throws: `HTTPError` (see the type); the connection must then be closed.
    public mutating func consume(_ buffer: UnsafeRawBufferPointer) throws(HTTPError) -> Int {
        do {
            return try step(buffer)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step(_ buffer: UnsafeRawBufferPointer) throws(HTTPError) -> Int {
        let n = buffer.count
        var i = 0
        while i < n {
            switch state {
            case .failed(let error):
                throw error
            case .done:
                return i
            case .fixed(let remaining), .data(let remaining):
                let take = min(remaining, n - i)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[i..<(i + take)]))
                i += take
                if case .fixed = state {
                    state = remaining == take ? .done : .fixed(remaining: remaining - take)
                } else {
                    state = remaining == take ? .dataCR : .data(remaining: remaining - take)
                }
            case .dataCR:
                guard buffer[i] == HTTPSyntax.cr else { throw .badRequest("chunk data not followed by CRLF") }
                state = .dataLF
                i += 1
            case .dataLF:
                guard buffer[i] == HTTPSyntax.lf else { throw .badRequest("chunk data not followed by CRLF") }
                state = .size
                chunkSize = 0
                sizeDigits = 0
                extensionBytes = 0
                i += 1
            case .trailerLine, .trailerLF:
                try trailerByte(buffer[i])
                i += 1
            default:
                try sizeLineByte(buffer[i])
                i += 1
            }
        }
        if case .failed(let error) = state { throw error }
        return n
    }

    /// One byte of a `chunk-size [ chunk-ext ] CRLF` line (RFC 9112 §7.1, §7.1.1).
    private mutating func sizeLineByte(_ b: UInt8) throws(HTTPError) {
        if state == .size, let digit = Self.hexValue(b) {
            sizeDigits += 1
            chunkSize = chunkSize &* 16 &+ digit  // ≤ 9 digits, so no overflow
            if chunkSize > limits.maxBodyBytes - body.count {
                throw .contentTooLarge("chunked body larger than the \(limits.maxBodyBytes)-byte limit")
            }
            if sizeDigits > 8 { throw .badRequest("chunk size: more than 8 hex digits") }
            return
        }
        if state == .sizeLF {
            guard b == HTTPSyntax.lf else { throw .badRequest("bare CR in chunk-size line") }
            state = chunkSize == 0 ? .trailerLine : .data(remaining: chunkSize)
            return
        }
        if state == .size && sizeDigits == 0 { throw .badRequest("chunk size: not a hex number") }
        if b == HTTPSyntax.lf { throw .badRequest("bare LF line ending in chunked body") }
        if b != HTTPSyntax.cr {
            extensionBytes += 1
            if extensionBytes > limits.maxChunkExtensionBytes {
                throw .badRequest("chunk extensions longer than \(limits.maxChunkExtensionBytes) bytes")
            }
        }
        let ows = HTTPSyntax.isOWS(b)
        let semicolon = b == UInt8(ascii: ";")
        let tchar = HTTPSyntax.isTchar(b)
        let cr = b == HTTPSyntax.cr
        let equals = b == UInt8(ascii: "=")
        switch state {
        case .size, .extToken, .extAfterQuoted:
            if semicolon {
                state = .extBeforeName
            } else if ows {
                state = .extBeforeSemicolon
            } else if cr {
                state = .sizeLF
            } else if state == .extToken && tchar {
                return
            } else {
                throw Self.badExtension(state == .size ? "chunk size: not a hex number" : nil)
            }
        case .extBeforeSemicolon:
            if semicolon { state = .extBeforeName } else if !ows { throw Self.badExtension(nil) }
        case .extBeforeName:
            if tchar { state = .extName } else if !ows { throw Self.badExtension(nil) }
        case .extName:
            if tchar { return }
            if semicolon {
                state = .extBeforeName
            } else if equals {
                state = .extBeforeValue
            } else if ows {
                state = .extAfterName
            } else if cr {
                state = .sizeLF
            } else {
                throw Self.badExtension(nil)
            }
        case .extAfterName:
            if semicolon { state = .extBeforeName } else if equals { state = .extBeforeValue } else if !ows { throw Self.badExtension(nil) }
        case .extBeforeValue:
            if tchar { state = .extToken } else if b == UInt8(ascii: "\"") { state = .extQuoted } else if !ows { throw Self.badExtension(nil) }
        case .extQuoted:
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 §5.6.4)
            if b == UInt8(ascii: "\"") {
                state = .extAfterQuoted
            } else if b == UInt8(ascii: "\\") {
                state = .extQuotedEscape
            } else if !HTTPSyntax.isFieldValueByte(b) {
                throw Self.badExtension(nil)
            }
        case .extQuotedEscape:
            guard HTTPSyntax.isFieldValueByte(b) else { throw Self.badExtension(nil) }
            state = .extQuoted
        default:
            throw Self.badExtension(nil)
        }
    }

    /// One byte of the trailer section: `*( field-line CRLF ) CRLF` (RFC 9112 §7.1.2).
    private mutating func trailerByte(_ b: UInt8) throws(HTTPError) {
        trailerBytes += 1
        if trailerBytes > limits.maxTrailerBytes {
            throw .fieldsTooLarge("trailer section larger than \(limits.maxTrailerBytes) bytes")
        }
        if state == .trailerLF {
            guard b == HTTPSyntax.lf else { throw .badRequest("bare CR in trailer section") }
            if trailerLine.isEmpty {
                state = .done
                return
            }
            let line = trailerLine
            let field = try line.withUnsafeBytes { raw in
                Result { () throws(HTTPError) -> HTTPField in
                    let (name, value) = try HTTPSyntax.splitFieldLine(raw, 0..<raw.count, what: "trailer")
                    return HTTPField(name: HTTPSyntax.string(raw, name), value: HTTPSyntax.string(raw, value))
                }
            }.get()
            trailers.append(field)
            trailerLine.removeAll(keepingCapacity: true)
            state = .trailerLine
            return
        }
        if b == HTTPSyntax.lf { throw .badRequest("bare LF line ending in trailer section") }
        if b == HTTPSyntax.cr { state = .trailerLF } else { trailerLine.append(b) }
    }

    private static func badExtension(_ message: String?) -> HTTPError {
        .badRequest(message ?? "chunk extension: malformed")
    }

    @inline(__always)
    private static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b - 0x30)
        case 0x41...0x46: return Int(b - 0x41 + 10)
        case 0x61...0x66: return Int(b - 0x61 + 10)
        default: return nil
        }
    }
}

extension HTTPBodyReader {
    /// `consume(_:)` over an array's bytes.
    public mutating func consume(_ bytes: [UInt8]) throws(HTTPError) -> Int {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(HTTPError) in try consume(raw) }
        }.get()
    }

    /// `consume(_:)` over a slice's bytes.
    public mutating func consume(_ bytes: ArraySlice<UInt8>) throws(HTTPError) -> Int {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(HTTPError) in try consume(raw) }
        }.get()
    }
}
