import Dispatch
import Foundation
import GavelCore
import Glibc
import Synchronization

/// One HTTP/1.1 exchange over a plain TCP connection, gavel's own client for `http://` action
/// URLs: it writes exactly `HTTPWireRequest.bytes` — the bytes the request preview shows — and
/// reads the answer (RFC 9112), so nothing is added, dropped or reordered on the way (issue 16:
/// the platform client sent the configured fields in its own order and added `Accept`,
/// `Accept-Encoding`, `Accept-Language` and `Connection`).
///
/// - Connecting: the host is resolved (`getaddrinfo`, on a helper thread so the deadline holds)
///   and each address tried in turn with a non-blocking `connect`; no proxy is used.
/// - The answer: interim 1xx heads are skipped; the body is framed by `Transfer-Encoding:
///   chunked` (decoded), `Content-Length`, or the end of the connection; a HEAD answer, 204 and
///   304 have none. At most `DispatchOutcome.captureLimit` bytes of it are kept and reading stops
///   there. Once the status line is in, it decides, even if the body then breaks off or
///   outlasts the deadline.
/// - The connection is closed after the one exchange.
///
/// Not `Sendable` state: one call on the dispatcher's thread.
struct PlainHTTPExchange {
    /// What came back.
    struct Answer {
        var status: Int?
        var body = CappedBytes()
        /// Why the exchange ended early (connect failure, reset, bad answer), nil when complete.
        var error: String?
        /// The deadline passed before the answer was complete.
        var timedOut = false
    }

    /// Most bytes of one response head (status line and fields).
    static let maxHeadBytes = 64 * 1024

    let wire: HTTPWireRequest
    /// Monotonic deadline in nanoseconds (`monotonicNanoseconds()`).
    let deadline: UInt64

    /// Connects, sends, reads the answer; never throws: every failure is in the `Answer`.
    func run() -> Answer {
        var answer = Answer()
        let fd: Int32
        switch connect() {
        case .success(let connected): fd = connected
        case .failure(let failure):
            answer.error = failure.text
            answer.timedOut = failure.timedOut
            return answer
        }
        defer { close(fd) }
        if let failure = send(fd, wire.bytes) {
            answer.error = failure.text
            answer.timedOut = failure.timedOut
            // The peer may have answered before it stopped reading (e.g. 413): read what is there.
        }
        read(fd, into: &answer)
        return answer
    }

    // MARK: - Connecting

    struct Failure: Error {
        var text: String
        var timedOut = false
    }

    private func remainingMs() -> Int32 {
        let now = monotonicNanoseconds()
        guard now < deadline else { return 0 }
        return Int32(min(UInt64(Int32.max), (deadline - now + 999_999) / 1_000_000))
    }

    private func connect() -> Result<Int32, Failure> {
        let addresses: [Address]
        switch resolve() {
        case .success(let found): addresses = found
        case .failure(let failure): return .failure(failure)
        }
        var last = Failure(text: "no address for \(wire.host)")
        for address in addresses {
            let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else {
                last = Failure(text: "socket: \(String(cString: strerror(errno)))")
                continue
            }
            let rc = address.storage.withUnsafeBytes { raw in
                Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), address.length)
            }
            if rc == 0 || errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = retryingEINTR { poll(&pfd, 1, remainingMs()) }
                if ready == 0 {
                    close(fd)
                    return .failure(Failure(text: "timeout connecting to \(wire.origin)", timedOut: true))
                }
                var error: Int32 = 0
                var size = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
                if ready > 0 && error == 0 {
                    var one: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return .success(fd)
                }
                last = Failure(text: Self.describe(error == 0 ? errno : error, connecting: true))
            } else {
                last = Failure(text: Self.describe(errno, connecting: true))
            }
            close(fd)
        }
        return .failure(last)
    }

    /// A socket address from `getaddrinfo`.
    struct Address: Sendable {
        var family: Int32
        var storage: [UInt8]
        var length: socklen_t
    }

    /// The host's addresses; a literal address without a lookup, a name on a helper thread
    /// (`getaddrinfo` has no timeout of its own; a lookup that outlasts the deadline is abandoned).
    private func resolve() -> Result<[Address], Failure> {
        let host = wire.host
        let port = String(wire.port)
        if let literal = Self.lookUp(host, port, numericOnly: true), !literal.isEmpty { return .success(literal) }
        let box = Mutex<Result<[Address], Failure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let found = Self.lookUp(host, port, numericOnly: false)
            box.withLock { $0 = found.map { .success($0) } ?? .failure(Failure(text: "host not found: \(host)")) }
            done.signal()
        }
        thread.start()
        guard done.wait(timeout: .now() + .milliseconds(Int(remainingMs()))) == .success, let result = box.withLock({ $0 }) else {
            return .failure(Failure(text: "timeout resolving \(host)", timedOut: true))
        }
        return result
    }

    private static func lookUp(_ host: String, _ port: String, numericOnly: Bool) -> [Address]? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | (numericOnly ? AI_NUMERICHOST : AI_ADDRCONFIG)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        var out: [Address] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let current = node {
            let info = current.pointee
            if let addr = info.ai_addr {
                let bytes = Array(UnsafeRawBufferPointer(start: addr, count: Int(info.ai_addrlen)))
                out.append(Address(family: info.ai_family, storage: bytes, length: info.ai_addrlen))
            }
            node = info.ai_next
        }
        return out
    }

    // MARK: - Sending and reading

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Failure? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                retryingEINTR { Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) }
            }
            if n > 0 {
                offset += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if retryingEINTR({ poll(&pfd, 1, remainingMs()) }) == 0 {
                    return Failure(text: "timeout sending to \(wire.origin)", timedOut: true)
                }
                continue
            }
            return Failure(text: Self.describe(errno, connecting: false))
        }
        return nil
    }

    /// Reads into `buffer` what is available, waiting until the deadline.
    /// - Returns: bytes read, 0 at the end of the stream, nil on timeout or error (noted in `answer`).
    private func receive(_ fd: Int32, into buffer: inout [UInt8], _ answer: inout Answer) -> Int? {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { raw in retryingEINTR { recv(fd, raw.baseAddress, raw.count, 0) } }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return n
            }
            if n == 0 { return 0 }
            guard errno == EAGAIN || errno == EWOULDBLOCK else {
                if answer.error == nil { answer.error = Self.describe(errno, connecting: false) }
                return nil
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if retryingEINTR({ poll(&pfd, 1, remainingMs()) }) == 0 {
                answer.timedOut = true
                return nil
            }
        }
    }

    private func read(_ fd: Int32, into answer: inout Answer) {
        var buffer: [UInt8] = []
        // The head (skipping interim 1xx answers).
        var head: ResponseHead
        while true {
            if let end = buffer.firstRange(of: [13, 10, 13, 10]) {
                guard let parsed = ResponseHead(Array(buffer[..<end.lowerBound])) else {
                    answer.error = "bad response: not an HTTP/1.x status line and fields"
                    return
                }
                buffer.removeFirst(end.upperBound)
                if (100...199).contains(parsed.status) && parsed.status != 101 { continue }
                head = parsed
                break
            }
            guard buffer.count <= Self.maxHeadBytes else {
                answer.error = "bad response: head over \(Self.maxHeadBytes) bytes"
                return
            }
            guard let n = receive(fd, into: &buffer, &answer) else { return }
            if n == 0 {
                if answer.error == nil {
                    answer.error = buffer.isEmpty ? "connection closed without an answer" : "bad response: connection closed in the head"
                }
                return
            }
        }
        answer.status = head.status
        // The body (RFC 9112 §6.3).
        if wire.headLines.first?.hasPrefix("HEAD ") == true || head.status == 204 || head.status == 304 { return }
        if head.chunked {
            var decoder = ChunkedBody()
            decoder.feed(&buffer, into: &answer.body)
            while !decoder.finished && !decoder.failed && !answer.body.isFull {
                guard let n = receive(fd, into: &buffer, &answer), n > 0 else { return }
                decoder.feed(&buffer, into: &answer.body)
            }
            if decoder.failed { answer.error = "bad response: malformed chunked body" }
            return
        }
        var remaining = head.contentLength ?? Int.max
        func take() {
            let n = min(remaining, buffer.count)
            answer.body.append(buffer.prefix(n))
            buffer.removeFirst(n)
            if remaining != Int.max { remaining -= n }
        }
        take()
        while remaining > 0 && !answer.body.isFull {
            guard let n = receive(fd, into: &buffer, &answer) else { return }
            if n == 0 {
                if head.contentLength != nil { answer.error = "connection closed before the end of the body" }
                return
            }
            take()
        }
    }

    /// `ECONNREFUSED` → `connection refused (ECONNREFUSED)`.
    static func describe(_ code: Int32, connecting: Bool) -> String {
        let names: [Int32: String] = [
            ECONNREFUSED: "connection refused", ECONNRESET: "connection reset", EPIPE: "connection closed by the peer",
            ENETUNREACH: "network unreachable", EHOSTUNREACH: "host unreachable", ETIMEDOUT: "connection timed out",
        ]
        let symbols: [Int32: String] = [
            ECONNREFUSED: "ECONNREFUSED", ECONNRESET: "ECONNRESET", EPIPE: "EPIPE", ENETUNREACH: "ENETUNREACH", EHOSTUNREACH: "EHOSTUNREACH",
            ETIMEDOUT: "ETIMEDOUT",
        ]
        let what = names[code] ?? "\(connecting ? "connect" : "network") error: \(String(cString: strerror(code)))"
        return symbols[code].map { "\(what) (\($0))" } ?? what
    }
}

/// A response's status line and the fields that frame its body (RFC 9112 §4, §6).
struct ResponseHead {
    var status: Int
    var contentLength: Int?
    var chunked = false

    /// Parses the head (without its final empty line); nil when it is not an HTTP/1.x answer.
    init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        guard !lines.isEmpty else { return nil }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HTTP/1.1" || parts[0] == "HTTP/1.0", parts[1].count == 3, let status = Int(parts[1]),
            (100...999).contains(status)
        else { return nil }
        self.status = status
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t"])
            if name == "transfer-encoding" {
                chunked = value.lowercased().split(separator: ",").last.map { $0.trimmingCharacters(in: [" ", "\t"]) == "chunked" } ?? false
            } else if name == "content-length", let n = Int(value), n >= 0 {
                contentLength = n
            }
        }
        if chunked { contentLength = nil }
    }
}

/// A chunked body decoder (RFC 9112 §7.1) fed as bytes arrive; extensions and trailers are read
/// and dropped.
struct ChunkedBody {
    private enum Phase {
        case size
        case data(Int)
        case dataEnd, trailers
    }
    private var phase = Phase.size
    private(set) var finished = false
    private(set) var failed = false

    /// Consumes what it can from `buffer`, appending data to `body`.
    mutating func feed(_ buffer: inout [UInt8], into body: inout CappedBytes) {
        while !finished && !failed {
            switch phase {
            case .size:
                guard let end = buffer.firstRange(of: [13, 10]) else {
                    if buffer.count > 4096 { failed = true }
                    return
                }
                let line = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                buffer.removeFirst(end.upperBound)
                let digits = line.prefix { $0 != ";" }.trimmingCharacters(in: [" ", "\t"])
                guard !digits.isEmpty, digits.count <= 8, let size = Int(digits, radix: 16) else {
                    failed = true
                    return
                }
                phase = size == 0 ? .trailers : .data(size)
            case .data(let left):
                guard !buffer.isEmpty else { return }
                let n = min(left, buffer.count)
                body.append(buffer.prefix(n))
                buffer.removeFirst(n)
                phase = n == left ? .dataEnd : .data(left - n)
            case .dataEnd:
                guard buffer.count >= 2 else { return }
                guard buffer[0] == 13, buffer[1] == 10 else {
                    failed = true
                    return
                }
                buffer.removeFirst(2)
                phase = .size
            case .trailers:
                guard let end = buffer.firstRange(of: [13, 10]) else {
                    if buffer.count > 4096 { failed = true }
                    return
                }
                let empty = end.lowerBound == buffer.startIndex
                buffer.removeFirst(end.upperBound)
                if empty { finished = true }
            }
        }
    }
}
