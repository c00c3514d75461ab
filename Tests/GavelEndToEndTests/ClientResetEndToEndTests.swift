import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Clients that reset the connection (RST) mid-request or while the real `gavel serve` is
/// still writing pipelined answers never kill the process (checklist R9: SIGPIPE ignored,
/// MSG_NOSIGNAL): same PID afterwards, still answering, and a clean exit on SIGTERM.
@Suite(.serialized) struct ClientResetEndToEndTests {
    @Test func resetsMidRequestAndMidResponseLeaveServeRunning() throws {
        let folder = NSTemporaryDirectory() + "gavel-reset-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let serve = try KillableServe(folder: folder, cycle: 0)
        let pid = serve.process.processIdentifier
        let delivery =
            "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 36\r\n\r\n{\"SECURITY_SIGNAL_ID\":\"reset-signal\"}"
        let pipelined = String(repeating: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", count: 2000)
        for i in 0..<80 {
            let fd = try connectLoopback(serve.port)
            let bytes: String
            switch i % 4 {
            case 0: bytes = String(delivery.prefix(40))
            case 1: bytes = String(delivery.dropLast(5))
            case 2: bytes = delivery
            default: bytes = pipelined
            }
            _ = Array(bytes.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if i % 4 == 3 {
                var some = [UInt8](repeating: 0, count: 512)
                _ = recv(fd, &some, some.count, 0)
            }
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(fd)
        }
        usleep(200_000)
        #expect(serve.process.isRunning)
        #expect(serve.process.processIdentifier == pid)
        #expect(RawHTTP.post(port: serve.port, body: #"{"SECURITY_SIGNAL_ID":"after-resets"}"#))
        serve.terminate()
        #expect(serve.process.terminationStatus == 0)
        #expect(serve.process.terminationReason == .exit)
        #expect(try sql(folder + "/gavel.db", "SELECT count(*) FROM signals WHERE signal_id = 'after-resets'") == ["1"])
    }

    func connectLoopback(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr)
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        return fd
    }
}
