import GavelCore

#if canImport(Glibc)
    import Glibc
#endif

/// An error from a socket system call: the errno and the call that failed.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public var errno: Int32
    public var call: String
    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// A TCP socket file descriptor with the few calls the receiver needs.
///
/// A plain value holding the descriptor; the owner closes it exactly once. Calls retry on
/// EINTR; `send` uses `MSG_NOSIGNAL` so a peer that went away never raises SIGPIPE.
public struct Socket: Sendable {
    public let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    /// Creates a listening TCP socket bound to `host:port` (numeric IPv4/IPv6 or a name that
    /// resolves), with SO_REUSEADDR and a backlog of 1024. Port 0 picks a free port. The socket
    /// is non-blocking, so `accept` returns nil when nothing is queued (accepted sockets are
    /// blocking: Linux does not pass O_NONBLOCK on).
    /// - Throws: `SocketError` naming the failing call.
    public static func listen(host: String, port: Int) throws(SocketError) -> Socket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw SocketError(errno: EINVAL, call: "getaddrinfo(\(host)): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(
            first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SocketError(errno: errno, call: "socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SocketError(errno: e, call: "bind \(host):\(port)")
        }
        guard Glibc.listen(fd, 1024) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SocketError(errno: e, call: "listen")
        }
        return Socket(fd: fd)
    }

    /// The local port the socket is bound to (`getsockname`).
    public var localPort: Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Socket.describe(storage).port
    }

    /// Accepts one connection; nil on EAGAIN/ECONNABORTED/EPROTO (nothing to accept after all).
    /// - Returns: the socket, the peer as `host:port` (`[v6]:port` for IPv6), and the peer's
    ///   host alone (canonical text, an IPv4-mapped IPv6 peer as IPv4).
    /// - Throws: `SocketError` for any other errno, notably EMFILE/ENFILE (out of descriptors),
    ///   after which the caller should back off: the connection stays queued in the backlog.
    public func accept() throws(SocketError) -> (socket: Socket, peer: String, host: String)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &length) }
            }
            if client >= 0 {
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                var one: Int32 = 1
                setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                let peer = Socket.describe(storage)
                let text = peer.host.contains(":") ? "[\(peer.host)]:\(peer.port)" : "\(peer.host):\(peer.port)"
                return (Socket(fd: client), text, peer.host)
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, ECONNABORTED, EPROTO: return nil
            default: throw SocketError(errno: errno, call: "accept")
            }
        }
    }

    /// Sets `SO_RCVTIMEO`, socket(7): a blocking `receive` then waits at most `timeoutMs` (at
    /// least 1 ms) and fails with `EAGAIN`. Returns false when the option could not be set.
    @discardableResult
    public func setReceiveTimeout(ms timeoutMs: Int32) -> Bool {
        let ms = max(1, Int(timeoutMs))
        var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0
    }

    /// Waits until the socket is readable or `timeoutMs` passes (-1: forever).
    /// - Returns: true when readable (or hung up), false on timeout.
    public func waitReadable(timeoutMs: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let rc = poll(&p, 1, timeoutMs)
            if rc < 0 && errno == EINTR { continue }
            return rc > 0
        }
    }

    /// Reads up to `count` bytes into `buffer` (appending). Returns the number read; 0 at end of stream.
    ///
    /// Reads into uninitialized scratch memory and appends only what arrived, so a peer that
    /// trickles one byte at a time costs one small copy per read, not a `count`-byte fill.
    public func receive(into buffer: inout [UInt8], count: Int = 16384) throws(SocketError) -> Int {
        var n = 0
        var failure: Int32 = 0
        withUnsafeTemporaryAllocation(byteCount: count, alignment: 16) { scratch in
            while true {
                n = recv(fd, scratch.baseAddress!, count, 0)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = errno }
                break
            }
            if n > 0 { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n])) }
        }
        if n < 0 { throw SocketError(errno: failure, call: "recv") }
        return n
    }

    /// Sends all of `bytes` (MSG_NOSIGNAL), waiting at most `timeoutMs` in total for the peer to
    /// take them, however slowly it reads.
    /// - Throws: `SocketError` with ETIMEDOUT when the deadline passed first, or the send's
    ///   errno (EPIPE, ECONNRESET, …); the connection should then be closed.
    public func sendAll(_ bytes: [UInt8], timeoutMs: Int32 = 10000) throws(SocketError) {
        var offset = 0
        var failure: Int32 = 0
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(timeoutMs)))
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                if n > 0 {
                    offset += n
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    let left = ContinuousClock.now.duration(to: deadline)
                    let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    let rc = ms > 0 ? poll(&p, 1, ms) : 0
                    if rc > 0 || (rc < 0 && errno == EINTR) { continue }
                    failure = ETIMEDOUT
                    return
                }
                failure = n < 0 ? errno : EPIPE
                return
            }
        }
        if failure != 0 { throw SocketError(errno: failure, call: "send") }
    }

    /// One non-blocking send of `bytes` (MSG_DONTWAIT, MSG_NOSIGNAL): as much as the socket's
    /// buffer takes now, never waiting. Returns the number of bytes sent (0 when none).
    @discardableResult
    public func sendWithoutWaiting(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { raw in
            while true {
                let n = send(fd, raw.baseAddress!, raw.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                if n < 0 && errno == EINTR { continue }
                return max(0, n)
            }
        }
    }

    /// Reads and discards whatever has arrived, without waiting.
    /// - Returns: false when the peer has closed (end of stream) or the socket failed; true
    ///   when it is still open (the data, if any, is gone).
    public func discardAvailable() -> Bool {
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 16) { scratch in
            while true {
                let n = recv(fd, scratch.baseAddress!, scratch.count, Int32(MSG_DONTWAIT))
                if n > 0 { continue }
                if n < 0 && errno == EINTR { continue }
                return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
            }
        }
    }

    /// Shuts down the sending direction: the peer reads what was sent, then end of stream.
    public func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Shuts down both directions (wakes a thread blocked on this socket).
    public func shutdownBoth() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    /// Closes the descriptor.
    public func close() { _ = Glibc.close(fd) }

    static func describe(_ storage: sockaddr_storage) -> (host: String, port: Int) {
        var s = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if Int32(s.ss_family) == AF_INET6 {
            return withUnsafePointer(to: &s) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    var a = p.pointee.sin6_addr
                    inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count))
                    let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    return (IPAddress(parsing: host)?.description ?? host, Int(UInt16(bigEndian: p.pointee.sin6_port)))
                }
            }
        }
        return withUnsafePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                var a = p.pointee.sin_addr
                inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count))
                let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return (host, Int(UInt16(bigEndian: p.pointee.sin_port)))
            }
        }
    }
}
