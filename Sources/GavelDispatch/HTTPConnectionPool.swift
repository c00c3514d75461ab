import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// gavel's own HTTP/1.1 client for plain `http://` action URLs: POSIX sockets with persistent
/// connections kept per host and port (RFC 9112 §9.3), so a storm of requests to one endpoint
/// reuses a few connections instead of a TCP handshake and a `URLSession` per request
/// (BENCHMARKS.md: `URLSession` costs about 1–2.6 ms of CPU per request on Linux).
///
/// One exchange per call, blocking the calling thread until the answer or the deadline; calls from
/// many threads share the idle connections. A connection goes back to the pool only when its answer
/// was read to the end under HTTP/1.1 without `Connection: close`; an idle one that became readable
/// (the server closed it) or waited more than `idleSeconds` is closed instead of reused. A request
/// that fails on a reused connection before any byte of an answer arrived (the server closed it as
/// it was taken) is sent once more on a new connection: every gavel request carries an
/// `Idempotency-Key`, which makes it safe to repeat (RFC 9110 §9.2.2; Go's net/http does the same).
///
/// Thread-safety: `Sendable`; the pool is behind a `Mutex`, a connection is used by one call at a time.
final class HTTPConnectionPool: Sendable {
    /// An open connection and when it was last used.
    private struct Idle {
        var fd: Int32
        var since: ContinuousClock.Instant
    }

    private let idle = Mutex<[String: [Idle]]>([:])
    /// How long an unused connection is kept, in seconds (4: below the 5 s most servers keep one).
    let idleSeconds: Double
    /// Most idle connections kept per host and port.
    let maxIdlePerHost: Int

    init(idleSeconds: Double = 4, maxIdlePerHost: Int = 256) {
        self.idleSeconds = idleSeconds
        self.maxIdlePerHost = maxIdlePerHost
    }

    deinit {
        idle.withLock { pools in
            for connections in pools.values { for c in connections { Glibc.close(c.fd) } }
            pools.removeAll()
        }
    }

    /// What one exchange produced.
    struct Answer {
        var status: Int?
        var body = CappedBytes()
        var retryAfter: String?
        var error: String?
        var timedOut = false
    }

    /// Sends one request and reads its answer, all within `timeoutSeconds`.
    /// - Parameters:
    ///   - host: the host name or address (an IPv6 address without brackets).
    ///   - method: the request's method (a `HEAD` answer has no body).
    ///   - request: the request's bytes (`HTTPWireRequest.bytes`).
    func exchange(host: String, port: Int, method: String, request: [UInt8], timeoutSeconds: Double) -> Answer {
        let deadline = ContinuousClock.now + .nanoseconds(Int64(min(timeoutSeconds, 1e6) * 1e9))
        let key = "\(host)|\(port)"
        var reused = true
        var fd = takeIdle(key)
        if fd == nil {
            reused = false
            switch Self.connect(host: host, port: port, deadline: deadline) {
            case .opened(let opened): fd = opened
            case .failed(let failure): return failure
            }
        }
        while true {
            let connection = fd!
            var parser = HTTPResponseParser(method: method)
            let outcome = Self.run(connection, request: request, parser: &parser, deadline: deadline)
            switch outcome {
            case .stale where reused:
                Glibc.close(connection)
                reused = false
                switch Self.connect(host: host, port: port, deadline: deadline) {
                case .opened(let opened): fd = opened
                case .failed(let failure): return failure
                }
                continue
            case .stale:
                Glibc.close(connection)
                return Answer(error: "connection lost before an answer")
            case .failed(let error, let timedOut):
                Glibc.close(connection)
                var answer = Answer(status: parser.status, body: parser.body, error: error, timedOut: timedOut)
                answer.retryAfter = parser.header("retry-after")
                return answer
            case .answered:
                if parser.isComplete && parser.keepAlive { putIdle(key, connection) } else { Glibc.close(connection) }
                return Answer(status: parser.status, body: parser.body, retryAfter: parser.header("retry-after"))
            }
        }
    }

    private enum RunOutcome {
        /// The final status line arrived (the body may be cut at the cap or by the deadline).
        case answered
        /// Nothing came back on the connection: it was closed or reset before any byte of an answer.
        case stale
        /// Timed out, or the answer broke off.
        case failed(String, timedOut: Bool)
    }

    private static func run(_ fd: Int32, request: [UInt8], parser: inout HTTPResponseParser, deadline: ContinuousClock.Instant) -> RunOutcome {
        var sent = 0
        var received = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                guard wait(fd, events: Int16(POLLOUT), until: deadline) else { return .failed("timeout", timedOut: true) }
                continue
            }
            return errno == EPIPE || errno == ECONNRESET ? .stale : .failed("connection lost: \(String(cString: strerror(errno)))", timedOut: false)
        }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        // The answer cannot be there yet: wait for it rather than try a read first.
        guard wait(fd, events: Int16(POLLIN), until: deadline) else { return .failed("timeout", timedOut: true) }
        while true {
            if parser.isComplete || parser.body.isFull { return parser.status == nil ? .failed("no answer", timedOut: false) : .answered }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                received += n
                do {
                    try parser.feed(buffer[0..<n])
                } catch {
                    return .failed(error.description, timedOut: false)
                }
                continue
            }
            if n == 0 {
                if received == 0 { return .stale }
                do {
                    try parser.endOfStream()
                    return .answered
                } catch {
                    return parser.status != nil ? .answered : .failed(error.description, timedOut: false)
                }
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                guard wait(fd, events: Int16(POLLIN), until: deadline) else {
                    return parser.status != nil ? .answered : .failed("timeout", timedOut: true)
                }
                continue
            }
            if received == 0 && errno == ECONNRESET { return .stale }
            return parser.status != nil ? .answered : .failed("connection lost: \(String(cString: strerror(errno)))", timedOut: false)
        }
    }

    /// Polls `fd` for `events` until `deadline`; false at the deadline.
    private static func wait(_ fd: Int32, events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return false }
            let ms = Int32(clamping: max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            var p = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&p, 1, ms)
            if rc > 0 { return true }
            if rc < 0 && errno != EINTR { return true }  // let the next call report the error
        }
    }

    private enum Connected {
        case opened(Int32)
        case failed(Answer)
    }

    /// Opens a non-blocking TCP connection to the first address of `host` that accepts before the deadline.
    private static func connect(host: String, port: Int, deadline: ContinuousClock.Instant) -> Connected {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, list != nil else { return .failed(Answer(error: "host not found (\(String(cString: gai_strerror(rc))))")) }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var node = list
        while let ai = node {
            node = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return .opened(fd) }
            guard errno == EINPROGRESS else {
                lastError = errno
                Glibc.close(fd)
                continue
            }
            guard wait(fd, events: Int16(POLLOUT), until: deadline) else {
                Glibc.close(fd)
                return .failed(Answer(error: "timeout", timedOut: true))
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError == 0 { return .opened(fd) }
            lastError = soError
            Glibc.close(fd)
        }
        let name = lastError == ECONNREFUSED ? "connection refused" : String(cString: strerror(lastError))
        return .failed(Answer(error: name))
    }

    /// An idle connection to `key` still fit for use, or nil.
    private func takeIdle(_ key: String) -> Int32? {
        while true {
            guard let candidate = idle.withLock({ $0[key]?.popLast() }) else { return nil }
            // Readable while idle means the server closed it (or sent something unasked): not reusable.
            var p = pollfd(fd: candidate.fd, events: Int16(POLLIN), revents: 0)
            let fresh = ContinuousClock.now - candidate.since < .nanoseconds(Int64(idleSeconds * 1e9))
            if fresh && poll(&p, 1, 0) == 0 { return candidate.fd }
            Glibc.close(candidate.fd)
        }
    }

    private func putIdle(_ key: String, _ fd: Int32) {
        let kept = idle.withLock { pools -> Bool in
            guard pools[key, default: []].count < maxIdlePerHost else { return false }
            pools[key, default: []].append(Idle(fd: fd, since: .now))
            return true
        }
        if !kept { Glibc.close(fd) }
    }
}
