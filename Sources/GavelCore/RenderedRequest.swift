/// Exactly what dispatching one remediation sends: the output of rendering an action's
/// template for a target, and the input of the dispatcher's executors.
///
/// It is also what the console shows before approval (with secrets masked) and what a
/// dry-run rule records as `simulated`.
public enum RenderedRequest: Sendable, Equatable {
    /// An HTTP request. `headers` keep their configured order; `body` is the rendered
    /// JSON body (empty for none). `timeoutSeconds` bounds the whole exchange.
    case http(HTTPDispatchRequest)
    /// A local command, run without a shell: `argv[0]` is the program path.
    case command(CommandDispatchRequest)
    /// One JSON line appended to the outbox file at `path`: the request an HTTP action would send.
    case outbox(OutboxDispatchRequest)
}

/// An HTTP request to send (see `RenderedRequest.http`).
public struct HTTPDispatchRequest: Sendable, Equatable {
    public var method: String
    public var url: String
    /// (name, value) pairs; values never contain CR, LF or NUL (rendering refuses them).
    public var headers: [HTTPHeaderField]
    public var body: [UInt8]
    /// Deadline for the whole exchange, in seconds (default 10).
    public var timeoutSeconds: Double
    /// How many times a retryable failure (network error, 408, 429, 5xx) is retried at least (default 5).
    public var maxRetries: Int
    /// How long after the first attempt retryable failures are still retried, in seconds, however
    /// many retries that takes (`retry_for`; 0: by count only). Default 0 here; 900 (15 min) from
    /// a configuration's `http` action.
    public var retryForSeconds: Double
    public init(
        method: String, url: String, headers: [HTTPHeaderField], body: [UInt8], timeoutSeconds: Double = 10, maxRetries: Int = 5,
        retryForSeconds: Double = 0
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
        self.maxRetries = maxRetries
        self.retryForSeconds = retryForSeconds
    }
}

/// One HTTP header field (name, value).
public struct HTTPHeaderField: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A command to run (see `RenderedRequest.command`).
public struct CommandDispatchRequest: Sendable, Equatable {
    /// Program path and arguments; each element is passed as one argv element, never re-split.
    public var argv: [String]
    /// Seconds before the command's process group is killed (default 30).
    public var timeoutSeconds: Double
    /// How many times a failed run (non-zero exit, timeout) is retried at least (default 0).
    public var maxRetries: Int
    /// How long after the first attempt failed runs are still retried, in seconds (`retry_for`;
    /// default 0: by count only).
    public var retryForSeconds: Double
    /// The child's `PATH` (default `CommandDispatchRequest.defaultPath`).
    public var path: String
    /// Variables passed from the dispatching process's environment: exact names, or a prefix
    /// ending in `*` (`AWS_*`); their values are read when the command runs, never stored.
    /// Default none.
    public var passEnvironment: [String]
    public init(
        argv: [String], timeoutSeconds: Double = 30, maxRetries: Int = 0, retryForSeconds: Double = 0,
        path: String = CommandDispatchRequest.defaultPath, passEnvironment: [String] = []
    ) {
        self.argv = argv
        self.timeoutSeconds = timeoutSeconds
        self.maxRetries = maxRetries
        self.retryForSeconds = retryForSeconds
        self.path = path
        self.passEnvironment = passEnvironment
    }

    /// The `PATH` a command gets unless its action sets `path`: `/usr/bin:/bin`.
    public static let defaultPath = "/usr/bin:/bin"

    /// The child's environment, `NAME=value` strings in this order: `PATH`, the passed variables
    /// found in `environment` (sorted by name; a name or prefix that matches none is skipped),
    /// then `GAVEL_IDEMPOTENCY_KEY`. Nothing else of the dispatching process reaches the child.
    public func childEnvironment(from environment: [String: String], idempotencyKey: String) -> [String] {
        var passed: [String] = []
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name != "PATH" && name != "GAVEL_IDEMPOTENCY_KEY" {
            let matches = passEnvironment.contains { pattern in
                pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : name == pattern
            }
            if matches { passed.append("\(name)=\(value)") }
        }
        return ["PATH=\(path)"] + passed + ["GAVEL_IDEMPOTENCY_KEY=\(idempotencyKey)"]
    }
}

/// A line to append to the outbox file (see `RenderedRequest.outbox`).
public struct OutboxDispatchRequest: Sendable, Equatable {
    /// The outbox file's path (default `gavel-outbox.jsonl` beside the database).
    public var path: String
    /// One compact JSON object, no newline: `{"method","url","headers","body",…}`.
    public var line: String
    public init(path: String, line: String) {
        self.path = path
        self.line = line
    }
}
