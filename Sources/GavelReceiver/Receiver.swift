import Foundation
import GavelCore
import GavelStore
import Synchronization

/// The embedded HTTP/1.1 receiver: accepts Datadog security webhooks and stores each signal
/// through the store's `SignalIntake` before it answers.
///
/// Threads: one accept thread polling the listening socket; one thread per connection up to
/// `ReceiverOptions.maxConnections` (beyond it a connection gets 503 and is closed). Each
/// connection answers pipelined requests in order; an error response always closes it.
/// Every string from a payload reaches the store only as a value (never SQL text).
public final class Receiver: Sendable {
    let options: ReceiverOptions
    let authenticator: Authenticator
    /// Where deliveries go: stored (and their remediations proposed) in one transaction each.
    let intake: any SignalIntake
    /// Counters for `/metrics`.
    public let metrics = ReceiverMetrics()
    private let listener: Socket
    /// The address actually bound (the real port when 0 was asked).
    public let boundAddress: ListenAddress
    private let stopping = Atomic<Bool>(false)
    private let acceptDone = DispatchSemaphore(value: 0)
    private let connections = Mutex<[Int32: Socket]>([:])
    private let allClosed = DispatchSemaphore(value: 0)

    /// Binds the listening socket (so a taken port fails here, before anything else starts).
    /// - Throws: `SocketError` when the address cannot be bound.
    public init(options: ReceiverOptions, intake: any SignalIntake) throws(SocketError) {
        self.options = options
        self.intake = intake
        self.authenticator = Authenticator(secret: options.secret, headerName: options.secretHeader)
        self.listener = try Socket.listen(host: options.listen.host, port: options.listen.port)
        self.boundAddress = ListenAddress(host: options.listen.host, port: listener.localPort)
    }

    /// Starts the accept thread.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "gavel-accept"
        thread.start()
    }

    /// Stops accepting, lets in-flight requests finish (up to `graceSeconds`), then closes
    /// the remaining connections. The intake is not closed here.
    public func stop(graceSeconds: Double = 5) {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        acceptDone.wait()
        listener.close()
        let deadline = Date().addingTimeInterval(graceSeconds)
        while Date() < deadline && metrics.openConnections.load(ordering: .acquiring) > 0 {
            usleep(10_000)
        }
        connections.withLock { open in open.values.forEach { $0.shutdownBoth() } }
        let hardDeadline = Date().addingTimeInterval(2)
        while Date() < hardDeadline && metrics.openConnections.load(ordering: .acquiring) > 0 {
            usleep(10_000)
        }
    }

    private func acceptLoop() {
        defer { acceptDone.signal() }
        while !stopping.load(ordering: .acquiring) {
            guard listener.waitReadable(timeoutMs: 100) else { continue }
            guard let accepted = try? listener.accept() else { continue }
            let (socket, peer) = accepted
            if metrics.openConnections.load(ordering: .relaxed) >= options.maxConnections {
                metrics.refusedConnections.add(1, ordering: .relaxed)
                let response = HTTPResponse.json(
                    503, #"{"error":"too many connections"}"#, close: true,
                    extraHeaders: [HTTPField(name: "Retry-After", value: "1")])
                try? socket.sendAll(response.serialized(), timeoutMs: 100)
                socket.close()
                continue
            }
            metrics.openConnections.add(1, ordering: .relaxed)
            connections.withLock { $0[socket.fd] = socket }
            let thread = Thread { [self] in
                Connection(socket: socket, peer: peer, receiver: self).run()
                connections.withLock { _ = $0.removeValue(forKey: socket.fd) }
                socket.close()
                metrics.openConnections.subtract(1, ordering: .relaxed)
            }
            thread.name = "gavel-conn"
            thread.stackSize = 512 * 1024
            thread.start()
        }
    }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }
}

/// The receiver's settings. Defaults follow DESIGN.md and the receiver issue.
public struct ReceiverOptions: Sendable {
    /// Where to listen (default 127.0.0.1:8787).
    public var listen: ListenAddress
    /// Shared secret (nil: no authentication; only allowed on loopback unless `--insecure`).
    public var secret: String?
    /// Custom header that may carry the secret (default `X-Gavel-Token`).
    public var secretHeader: String
    /// HTTP limits (request line 8 KiB, header section 16 KiB / 100 fields, body 1 MiB).
    public var limits: HTTPLimits
    /// Total time allowed for a request's head, and separately for its body, in seconds (default 10).
    public var readDeadlineSeconds: Double
    /// How long an idle keep-alive connection is kept, in seconds (default 30).
    public var idleSeconds: Double
    /// Most connections served at once (default 512); more are answered 503 and closed.
    public var maxConnections: Int
    /// More lines for `/metrics` (already in the exposition format), read at each scrape
    /// on the connection's thread — e.g. remediation counts per state from the store.
    public var extraMetrics: @Sendable () -> [String] = { [] }

    public init(
        listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8787), secret: String? = nil,
        secretHeader: String = "X-Gavel-Token", limits: HTTPLimits = HTTPLimits(),
        readDeadlineSeconds: Double = 10, idleSeconds: Double = 30, maxConnections: Int = 512
    ) {
        self.listen = listen
        self.secret = secret
        self.secretHeader = secretHeader
        self.limits = limits
        self.readDeadlineSeconds = readDeadlineSeconds
        self.idleSeconds = idleSeconds
        self.maxConnections = maxConnections
    }
}
