import Foundation
import Glibc
import Synchronization

/// A tiny HTTP/1.1 target on 127.0.0.1 for executor tests: records every request byte for
/// byte (head and `Content-Length` body) and answers each connection with the next scripted
/// reply (the last one repeats). One thread per connection; `stop()` joins them all.
public final class LoopbackSink: Sendable {
    public enum Reply: Sendable {
        /// A complete answer with this status and body.
        case status(Int, body: [UInt8] = [])
        /// Read the request, then answer nothing until the client leaves or the sink stops.
        case hang
        /// A 200 that announces and sends `bytes` bytes of `a` as fast as the client reads.
        case flood(bytes: Int)
        /// A head announcing a body of `bodyLength` bytes, then silence until the client leaves.
        case headThenHang(Int, bodyLength: Int)
        /// A 302 to `location`.
        case redirect(to: String)
        /// A complete answer with extra header lines (`"Retry-After: 2"`).
        case answer(Int, headers: [String], body: [UInt8] = [])
        /// A chunked answer (`Transfer-Encoding: chunked`) with these chunks.
        case chunked(Int, chunks: [String])
        /// Read the request, then close the connection without answering.
        case closeUnanswered
        /// Exactly these bytes (a head and body of any framing), then the connection is closed.
        case raw([UInt8])
    }

    private struct State {
        var script: [Reply]
        public var requests: [[UInt8]] = []
        /// When each request arrived (monotonic seconds, `LoopbackSink.clock()`).
        var arrivals: [Double] = []
        var connections = 0
        var floodBytesSent = 0
        var stopping = false
        var threads = 0
    }

    public let port: UInt16
    private let listener: Int32
    private let state: Mutex<State>

    /// Whether a connection carries several requests (HTTP/1.1 persistent connections); when false,
    /// every answer says `Connection: close` and the connection ends.
    public let keepAlive: Bool

    /// - Parameters:
    ///   - script: the answers, in order; the last one repeats.
    ///   - keepAlive: keep connections open between requests.
    ///   - port: the port to listen on (0: a free one) — a stand-in that was down can come back on
    ///     its old port.
    public init(_ script: [Reply] = [.status(200)], keepAlive: Bool = false, port: UInt16 = 0) throws {
        self.keepAlive = keepAlive
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw SinkError.socket(errno) }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 256) == 0 else {
            close(listener)
            throw SinkError.socket(errno)
        }
        self.listener = listener
        self.port = Self.localPort(of: listener)
        state = Mutex(State(script: script))
        startThread { [self] in acceptLoop() }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    public func url(_ path: String = "/") -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Every request received so far, raw.
    public var requests: [[UInt8]] { state.withLock { $0.requests } }
    /// When each request arrived, in the order of `requests` (monotonic seconds, `clock()`).
    public var arrivals: [Double] { state.withLock { $0.arrivals } }

    /// Seconds on a monotonic clock.
    public static func clock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    /// Body bytes the `.flood` replies got into the socket before the client went away.
    public var floodBytesSent: Int { state.withLock { $0.floodBytesSent } }
    /// How many connections were accepted.
    public var connections: Int { state.withLock { $0.connections } }

    /// Stops accepting, ends hanging and flooding connections, and waits for every thread.
    public func stop() {
        state.withLock { $0.stopping = true }
        for _ in 0..<500 where state.withLock({ $0.threads }) > 0 { usleep(10_000) }
        close(listener)
    }

    /// A port on 127.0.0.1 that nothing listens on (bound, then closed).
    public static func closedPort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopback(port: 0)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let port = localPort(of: fd)
        close(fd)
        return port
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    private func startThread(_ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.threads += 1 }
        let thread = Thread { [self] in
            body()
            state.withLock { $0.threads -= 1 }
        }
        thread.start()
    }

    private func acceptLoop() {
        while !isStopping {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            state.withLock { $0.connections += 1 }
            startThread { [self] in serve(connection) }
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var leftover: [UInt8] = []
        while !isStopping {
            guard let request = readRequest(fd, leftover: &leftover) else { return }
            guard answer(fd, request) else { return }
        }
    }

    /// Answers one request; true when the connection may carry another.
    private func answer(_ fd: Int32, _ request: [UInt8]) -> Bool {
        let reply = state.withLock { state -> Reply in
            state.requests.append(request)  // recorded before answering
            state.arrivals.append(Self.clock())
            return state.script.count > 1 ? state.script.removeFirst() : (state.script.first ?? .status(200))
        }
        let connection = keepAlive ? "" : "Connection: close\r\n"
        switch reply {
        case .status(let code, let body):
            return send(fd, Array("HTTP/1.1 \(code) Scripted\r\nContent-Length: \(body.count)\r\n\(connection)\r\n".utf8) + body) && keepAlive
        case .answer(let code, let headers, let body):
            let extra = headers.map { $0 + "\r\n" }.joined()
            return send(fd, Array("HTTP/1.1 \(code) Scripted\r\n\(extra)Content-Length: \(body.count)\r\n\(connection)\r\n".utf8) + body)
                && keepAlive
        case .chunked(let code, let chunks):
            var bytes = Array("HTTP/1.1 \(code) Scripted\r\nTransfer-Encoding: chunked\r\n\(connection)\r\n".utf8)
            for chunk in chunks where !chunk.isEmpty { bytes += Array("\(String(chunk.utf8.count, radix: 16))\r\n\(chunk)\r\n".utf8) }
            bytes += Array("0\r\n\r\n".utf8)
            return send(fd, bytes) && keepAlive
        case .closeUnanswered:
            return false
        case .raw(let bytes):
            send(fd, bytes)
            return false
        case .redirect(let location):
            send(fd, Array("HTTP/1.1 302 Found\r\nLocation: \(location)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
            return false
        case .hang, .headThenHang:
            if case .headThenHang(let code, let length) = reply {
                send(fd, Array("HTTP/1.1 \(code) Scripted\r\nContent-Length: \(length)\r\n\r\n".utf8))
            }
            while !isStopping {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&pfd, 1, 20) > 0 {
                    var byte: UInt8 = 0
                    if recv(fd, &byte, 1, 0) <= 0 { return false }
                }
            }
            return false
        case .flood(let total):
            guard send(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: \(total)\r\nConnection: close\r\n\r\n".utf8)) else { return false }
            let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
            var sent = 0
            while sent < total, !isStopping, send(fd, Array(chunk.prefix(total - sent))) {
                let count = min(chunk.count, total - sent)
                sent += count
                state.withLock { $0.floodBytesSent += count }
            }
            return false
        }
    }

    /// Reads one request: the head up to CRLFCRLF and a `Content-Length` body; bytes past it stay
    /// in `leftover` for the next request of a persistent connection.
    private func readRequest(_ fd: Int32, leftover: inout [UInt8]) -> [UInt8]? {
        var data = leftover
        leftover = []
        var headEnd: Int?
        var bodyLength = 0
        var buffer = [UInt8](repeating: 0, count: 8192)
        while !isStopping && data.count < 4 << 20 {
            if headEnd == nil { scanHead(data, fd: fd, headEnd: &headEnd, bodyLength: &bodyLength) }
            if let end = headEnd, data.count >= end + bodyLength {
                leftover = Array(data[(end + bodyLength)...])
                return Array(data[..<(end + bodyLength)])
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { return nil }
            data += buffer[0..<n]
        }
        return nil
    }

    private func scanHead(_ data: [UInt8], fd: Int32, headEnd: inout Int?, bodyLength: inout Int) {
        guard let range = data.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
        headEnd = range.upperBound
        let head = String(decoding: data[..<range.lowerBound], as: UTF8.self).lowercased()
        for line in head.split(separator: "\r\n") {
            if line.hasPrefix("content-length:") {
                bodyLength = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            }
            if line.hasPrefix("expect:"), line.contains("100-continue") {
                _ = send(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            }
        }
    }

    @discardableResult
    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private static func localPort(of fd: Int32) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }
}

public enum SinkError: Error { case socket(Int32) }

/// A request the sink recorded, split into its parts for assertions.
public struct RecordedRequest {
    public var method = ""
    public var target = ""
    /// Header fields in arrival order, names as sent.
    public var headers: [(name: String, value: String)] = []
    public var body: [UInt8] = []

    public init(_ raw: [UInt8]) {
        guard let range = raw.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
        body = Array(raw[range.upperBound...])
        let lines = String(decoding: raw[..<range.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        if requestLine.count == 3 {
            method = String(requestLine[0])
            target = String(requestLine[1])
        }
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
    }

    /// Every value of the header `name` (case-insensitive).
    public func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
}
