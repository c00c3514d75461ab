import GavelCore

/// Something that sends one rendered remediation request and reports how it went.
///
/// Calls are synchronous and may block for up to the request's timeout; the dispatcher calls
/// them from its own threads (plain `Thread`s, not Swift concurrency). Implementations must
/// be safe to call from several threads at once. Tests substitute a fake.
public protocol DispatchExecuting: Sendable {
    /// Sends `request` once.
    /// - Parameters:
    ///   - request: what to send, as rendered for the remediation's target.
    ///   - idempotencyKey: the remediation's key, identical on every attempt, so a target
    ///     can recognize a re-send (HTTP `Idempotency-Key` header, `GAVEL_IDEMPOTENCY_KEY`
    ///     for commands).
    /// - Returns: the outcome of this one attempt; retrying is the caller's decision
    ///   (see `RetryPolicy`).
    func execute(_ request: RenderedRequest, idempotencyKey: String) -> DispatchOutcome
}

/// The production executor: sends each kind of `RenderedRequest` with its executor.
public struct Executor: DispatchExecuting {
    /// Sends `.http` requests.
    public var http: HTTPExecutor
    /// Runs `.command` requests.
    public var command: CommandExecutor
    /// Appends `.outbox` lines.
    public var outbox: OutboxWriter

    /// Creates an executor with the default HTTP, command and outbox executors.
    public init() {
        self.init(http: HTTPExecutor(), command: CommandExecutor(), outbox: OutboxWriter())
    }

    /// Creates an executor from its three parts.
    public init(http: HTTPExecutor, command: CommandExecutor, outbox: OutboxWriter) {
        self.http = http
        self.command = command
        self.outbox = outbox
    }

    /// Sends `request` once with the executor for its kind. The outbox line carries no key of
    /// its own here: the renderer puts what the line needs into it.
    public func execute(_ request: RenderedRequest, idempotencyKey: String) -> DispatchOutcome {
        switch request {
        case .http(let http): self.http.execute(http, idempotencyKey: idempotencyKey)
        case .command(let command): self.command.execute(command, idempotencyKey: idempotencyKey)
        case .outbox(let outbox): self.outbox.execute(outbox)
        }
    }
}
