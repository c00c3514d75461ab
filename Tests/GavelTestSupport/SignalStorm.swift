import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A storm of webhook deliveries to a receiver on 127.0.0.1: `connections` keep-alive
/// connections, each posting one JSON body after another as fast as the receiver answers,
/// until `seconds` have passed. Bounded in time and sent to loopback only.
public final class SignalStorm: Sendable {
    private let sent = Atomic<Int>(0)
    private let accepted = Atomic<Int>(0)
    private let stopFlag = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let connections: Int

    /// Starts the storm in the background.
    /// - Parameters:
    ///   - body: the JSON body of delivery `n` (unique per call: 0, 1, 2, … across connections).
    public init(port: Int, connections: Int = 4, seconds: Double, path: String = "/webhook", body: @escaping @Sendable (Int) -> String) {
        self.connections = connections
        let deadline = Date().addingTimeInterval(seconds)
        let counter = Atomic<Int>(0)
        for _ in 0..<connections {
            let thread = Thread { [self] in
                defer { done.signal() }
                var fd: Int32 = -1
                while Date() < deadline && !stopFlag.load(ordering: .relaxed) {
                    if fd < 0 { fd = Self.connect(port) }
                    if fd < 0 {
                        usleep(50_000)
                        continue
                    }
                    let n = counter.add(1, ordering: .relaxed).newValue
                    let payload = Array(body(n).utf8)
                    let head =
                        "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n"
                    sent.add(1, ordering: .relaxed)
                    guard Self.write(fd, Array(head.utf8) + payload), let status = Self.readResponse(fd) else {
                        close(fd)
                        fd = -1
                        continue
                    }
                    if status == 202 { accepted.add(1, ordering: .relaxed) }
                }
                if fd >= 0 { close(fd) }
            }
            thread.start()
        }
    }

    /// Waits for the storm to end (or ends it now with `stop`); returns deliveries sent and answered 202.
    public func wait(stop: Bool = false) -> (sent: Int, accepted: Int) {
        if stop { stopFlag.store(true, ordering: .relaxed) }
        for _ in 0..<connections { done.wait() }
        return (sent.load(ordering: .relaxed), accepted.load(ordering: .relaxed))
    }

    /// Deliveries answered 202 so far.
    public var acceptedSoFar: Int { accepted.load(ordering: .relaxed) }

    fileprivate static func connect(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr)
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            return -1
        }
        var tv = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    fileprivate static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// Reads one response (status line, headers, a Content-Length body); nil on error or close.
    fileprivate static func readResponse(_ fd: Int32) -> Int? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = find(buffer, [13, 10, 13, 10]) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                guard let statusLine = lines.first, statusLine.count >= 12, let status = Int(statusLine.dropFirst(9).prefix(3)) else { return nil }
                let length =
                    lines.dropFirst().compactMap { line -> Int? in
                        let parts = line.split(separator: ":", maxSplits: 1)
                        guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                        return Int(parts[1].trimmingCharacters(in: .whitespaces))
                    }.first ?? 0
                var have = buffer.count - (end + 4)
                while have < length {
                    let n = recv(fd, &chunk, chunk.count, 0)
                    if n <= 0 { return nil }
                    have += n
                }
                if lines.contains(where: { $0.lowercased() == "connection: close" }) { return nil }
                return status
            }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    private static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<i + needle.count].elementsEqual(needle) { return i }
        return nil
    }
}

/// One keep-alive connection to a receiver on 127.0.0.1 that posts JSON bodies one at a time
/// and reports each answer's status (nil when the connection failed; the next post reconnects).
/// Not `Sendable`: one per thread.
public final class WebhookConnection {
    private let port: Int
    private var fd: Int32 = -1

    public init(port: Int) { self.port = port }

    deinit { if fd >= 0 { close(fd) } }

    /// Posts `body` to `path`; returns the status, or nil when the receiver could not be reached
    /// or closed the connection before answering.
    public func post(_ body: String, path: String = "/webhook") -> Int? {
        if fd < 0 { fd = SignalStorm.connect(port) }
        guard fd >= 0 else { return nil }
        let payload = Array(body.utf8)
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n"
        guard SignalStorm.write(fd, Array(head.utf8) + payload), let status = SignalStorm.readResponse(fd) else {
            close(fd)
            fd = -1
            return nil
        }
        return status
    }
}
