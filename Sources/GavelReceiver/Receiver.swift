import Foundation
import GavelCore
import GavelStore
import Synchronization

/// The embedded HTTP/1.1 receiver: accepts the senders' webhooks (Datadog, Alertmanager, Grafana,
/// GuardDuty, CrowdSec, generic JSON senders; `WebhookRoute`) and stores every signal of a post
/// through the store's `SignalIntake` before it answers.
///
/// Threads: one accept thread polling the listening socket; one thread per connection up to
/// `ReceiverOptions.maxConnections` in all and `maxConnectionsPerPeer` per peer address. A
/// connection over either cap is answered 503 with `Retry-After` and closed by the accept
/// thread without waiting (see `refuse`). Each connection answers pipelined requests in order;
/// an error response always closes it. Every string from a payload reaches the store only as a
/// value (never SQL text).
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
    /// Open connections per peer (`peerKey`; entries removed at zero).
    private let peers = Mutex<[String: Int]>([:])

    /// How long `accept` is left alone after it failed for want of descriptors (EMFILE,
    /// ENFILE) or memory, instead of retrying at once and spinning a core: 100 ms.
    static let acceptBackoff = Duration.milliseconds(100)
    /// How long a refused connection is kept (its input read and discarded) after its 503, so
    /// that the request it sends meanwhile does not turn the close into a reset that destroys
    /// the 503 before the client reads it: 1 s. At most `maxRefusedLingering` at once.
    static let refusedLinger = Duration.seconds(1)
    static let maxRefusedLingering = 128

    /// Binds the listening socket (so a taken port fails here, before anything else starts).
    /// - Throws: `SocketError` when the address cannot be bound.
    public init(options: ReceiverOptions, intake: any SignalIntake) throws(SocketError) {
        self.options = options
        self.intake = intake
        self.authenticator = Authenticator(secret: options.secret, headerName: options.secretHeader)
        self.listener = try Socket.listen(host: options.listen.host, port: options.listen.port)
        self.boundAddress = ListenAddress(host: options.listen.host, port: listener.localPort)
    }

    /// True once `stop()` began: `/readyz` then answers 503, so a load balancer stops sending.
    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Starts the accept thread.
    public func start() {
        let thread = Thread { [self] in
            ThreadName.set("gavel-accept")
            acceptLoop()
        }
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

    /// A refused connection waiting to be closed: its 503 is sent, its input is discarded.
    private struct Refused {
        let socket: Socket
        let until: ContinuousClock.Instant
    }

    private func acceptLoop() {
        defer { acceptDone.signal() }
        var refused: [Refused] = []
        defer { refused.forEach { $0.socket.close() } }
        var resumeAccepting = ContinuousClock.now
        while !stopping.load(ordering: .acquiring) {
            let now = ContinuousClock.now
            let listening = now >= resumeAccepting
            var fds = refused.map { pollfd(fd: $0.socket.fd, events: Int16(POLLIN), revents: 0) }
            if listening { fds.append(pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)) }
            let rc = fds.isEmpty ? Int32(usleep(50_000)) : poll(&fds, nfds_t(fds.count), listening ? 100 : 50)
            if rc < 0 { continue }  // EINTR
            // Refused connections: drop them at end of stream, on error, or after the linger.
            let after = ContinuousClock.now
            var kept: [Refused] = []
            for (k, r) in refused.enumerated() {
                let readable = fds[k].revents != 0
                if (readable && !r.socket.discardAvailable()) || after >= r.until {
                    r.socket.close()
                } else {
                    kept.append(r)
                }
            }
            refused = kept
            guard listening, let last = fds.last, last.fd == listener.fd, last.revents != 0 else { continue }
            do {
                // Take what is queued now (bounded, so the refused list is looked after too).
                for _ in 0..<64 {
                    guard let (socket, peer, host) = try listener.accept() else { break }
                    admit(socket, peer: peer, host: Self.peerKey(host), refused: &refused)
                }
            } catch {
                // EMFILE / ENFILE / ENOBUFS / ENOMEM: the connection stays in the backlog; poll
                // would report it at once, so stop listening briefly instead of spinning.
                metrics.acceptErrors.add(1, ordering: .relaxed)
                resumeAccepting = ContinuousClock.now + Self.acceptBackoff
            }
        }
    }

    /// What the per-peer cap counts by: an IPv4 address, or the /64 of an IPv6 address (one
    /// host, or one customer's network, usually holds a whole /64, RFC 7421).
    static func peerKey(_ host: String) -> String {
        guard let address = IPAddress(parsing: host), !address.isIPv4 else { return host }
        return CIDR(network: address, prefixLength: 64).description
    }

    /// Starts a connection thread, or refuses the connection when a cap is reached.
    private func admit(_ socket: Socket, peer: String, host: String, refused: inout [Refused]) {
        let verdict = peers.withLock { counts -> String? in
            if metrics.openConnections.load(ordering: .relaxed) >= options.maxConnections {
                return "too many connections, retry later"
            }
            if counts[host, default: 0] >= options.maxConnectionsPerPeer {
                return "too many connections from your address (limit \(options.maxConnectionsPerPeer)), retry later"
            }
            counts[host, default: 0] += 1
            metrics.openConnections.add(1, ordering: .relaxed)
            return nil
        }
        if let reason = verdict {
            refuse(socket, reason: reason, refused: &refused)
            return
        }
        connections.withLock { $0[socket.fd] = socket }
        let thread = Thread { [self] in
            ThreadName.set("gavel-conn")
            Connection(socket: socket, peer: peer, receiver: self).run()
            connections.withLock { _ = $0.removeValue(forKey: socket.fd) }
            socket.close()
            peers.withLock { counts in
                let left = counts[host, default: 1] - 1
                counts[host] = left > 0 ? left : nil
                metrics.openConnections.subtract(1, ordering: .relaxed)
            }
        }
        thread.name = "gavel-conn"
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Answers 503 with `Retry-After: 1` and `{"error": reason}` in one non-blocking write (an
    /// empty socket buffer always takes it), shuts down the sending side, and keeps the socket
    /// for `refusedLinger` reading and discarding the request, so the client reads a 503 and
    /// an end of stream rather than a reset. Past `maxRefusedLingering` it is closed at once.
    private func refuse(_ socket: Socket, reason: String, refused: inout [Refused]) {
        metrics.refusedConnections.add(1, ordering: .relaxed)
        metrics.count(status: 503)
        let response = HTTPResponse.json(
            503, JSONValue.object([JSONMember("error", .string(reason))]).compactText, close: true,
            extraHeaders: [HTTPField(name: "Retry-After", value: "1")])
        socket.sendWithoutWaiting(response.serialized())
        socket.shutdownWrite()
        if refused.count < Self.maxRefusedLingering && socket.discardAvailable() {
            refused.append(Refused(socket: socket, until: ContinuousClock.now + Self.refusedLinger))
        } else {
            socket.close()
        }
    }
}

/// The receiver's settings. Defaults follow DESIGN.md, the receiver issue and issue 16.
public struct ReceiverOptions: Sendable {
    /// Where to listen (default 127.0.0.1:8787).
    public var listen: ListenAddress
    /// Shared secret (nil: no authentication; only allowed on loopback unless `--insecure`).
    public var secret: String?
    /// Custom header that may carry the secret (default `X-Gavel-Token`).
    public var secretHeader: String
    /// HTTP limits (request line 8 KiB, header section 16 KiB / 100 fields, body 1 MiB).
    public var limits: HTTPLimits
    /// Total time allowed for a request's body once its head is in, for a request's head once
    /// its first byte is in (but see `headSeconds`), and for the client to take an answer, in
    /// seconds (default 10). Past it: 408 for a head or body, and the connection is closed.
    public var readDeadlineSeconds: Double
    /// How long a connection may wait for the first byte of a request — its first one after
    /// being accepted, or the next one on a keep-alive connection — before it is closed without
    /// an answer (RFC 9112 §9.5), in seconds (default 5).
    public var idleSeconds: Double
    /// The most time from a connection's acceptance, or from its previous answer, until a
    /// complete request head has arrived, in seconds (default 5): until then the connection
    /// holds a slot without having shown credentials. A partial head at that point gets 408.
    public var headSeconds: Double
    /// Most connections served at once (default 512); more are answered 503 and closed.
    public var maxConnections: Int
    /// Most connections served at once for one peer — one IPv4 address, or one IPv6 /64
    /// (default 64), so that one host cannot take every slot; more are answered 503 and closed.
    public var maxConnectionsPerPeer: Int
    /// More lines for `/metrics` (already in the exposition format), read at each scrape
    /// on the connection's thread — e.g. remediation counts per state from the store.
    public var extraMetrics: @Sendable () -> [String] = { [] }
    /// What `GET /healthz` reports, each part sound or why not (the store, the dispatcher), read
    /// at each request on the connection's thread: 200 when all are sound, else 503. None: 200.
    public var health: @Sendable () -> [HealthCheck] = { [] }
    /// What `GET /readyz` requires (the store can acknowledge deliveries), read the same way:
    /// 200 when all are sound and the receiver is not stopping, else 503. None: 200.
    public var readiness: @Sendable () -> [HealthCheck] = { [] }
    /// The senders' settings (label names, generic senders), read at each webhook request so a
    /// configuration applied while running takes effect. Default: `SenderSettings()` (no
    /// generic sender).
    public var senders: @Sendable () -> SenderSettings = { SenderSettings() }

    /// Creates options; every parameter defaults to the value documented on its property.
    public init(
        listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8787), secret: String? = nil,
        secretHeader: String = "X-Gavel-Token", limits: HTTPLimits = HTTPLimits(),
        readDeadlineSeconds: Double = 10, idleSeconds: Double = 5, maxConnections: Int = 512,
        headSeconds: Double = 5, maxConnectionsPerPeer: Int = 64
    ) {
        self.listen = listen
        self.secret = secret
        self.secretHeader = secretHeader
        self.limits = limits
        self.readDeadlineSeconds = readDeadlineSeconds
        self.idleSeconds = idleSeconds
        self.headSeconds = headSeconds
        self.maxConnections = maxConnections
        self.maxConnectionsPerPeer = maxConnectionsPerPeer
    }
}
