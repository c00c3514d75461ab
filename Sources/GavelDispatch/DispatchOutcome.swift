import Dispatch

/// The result of one dispatch attempt: what the claim loop records on the remediation
/// (`attempts`, `last_status`, `last_error`) and in the audit log, and what decides a retry.
public struct DispatchOutcome: Sendable, Equatable {
    /// How the attempt ended, which decides what the claim loop does next.
    public enum Kind: Sendable, Equatable {
        /// The target accepted the remediation (HTTP 2xx, exit 0, outbox line written).
        case success
        /// A failure that may pass on its own (timeout, network error, HTTP 408/429/5xx,
        /// non-zero exit, I/O error): retry with `RetryPolicy` while the action's
        /// `maxRetries` allows.
        case retryable
        /// A failure that retrying cannot fix (HTTP 4xx other than 408/429, a redirect,
        /// a header value with CR/LF/NUL, a relative or missing program): never retried.
        case permanent
    }

    /// How the attempt ended.
    public var kind: Kind
    /// The HTTP status code, or the process exit code; `nil` when there was none
    /// (nothing sent, network error, timeout, killed by a signal, outbox write).
    public var status: Int?
    /// A short human-readable reason for a failure, e.g. `"timeout after 10 s"`, `"HTTP 400"`,
    /// `"exit 2"`, `"killed by signal 9"`; `nil` on success.
    public var error: String?
    /// The start of the response body (HTTP) or of the combined stdout and stderr (command),
    /// decoded as UTF-8 with invalid bytes replaced by U+FFFD, at most
    /// `DispatchOutcome.excerptLimit` bytes of UTF-8. Attacker-influenced: escape before display.
    public var responseExcerpt: String
    /// Wall time of the attempt in milliseconds, measured on a monotonic clock.
    public var durationMs: Int
    /// How long the endpoint asked to be left alone, in seconds, from its `Retry-After` header
    /// (`RetryAfter`); nil when it sent none. The dispatcher pauses the action for that long.
    public var retryAfterSeconds: Double?
    /// A command's standard error: its last `DispatchOutcome.stderrTailLimit` bytes, decoded as
    /// UTF-8 with invalid bytes replaced; nil for HTTP and outbox attempts and a command that
    /// wrote none. Attacker-influenced (it may echo the target): escape before display.
    public var stderrTail: String?

    /// Creates an outcome; see the properties for the meaning of each field.
    public init(
        kind: Kind, status: Int? = nil, error: String? = nil, responseExcerpt: String = "", durationMs: Int = 0, retryAfterSeconds: Double? = nil,
        stderrTail: String? = nil
    ) {
        self.kind = kind
        self.status = status
        self.error = error
        self.responseExcerpt = responseExcerpt
        self.durationMs = durationMs
        self.retryAfterSeconds = retryAfterSeconds
        self.stderrTail = stderrTail
    }

    /// Most bytes of a command's standard error kept, from its end (2048).
    public static let stderrTailLimit = 2048

    /// Most bytes of UTF-8 kept in `responseExcerpt` (4096).
    public static let excerptLimit = 4096

    /// Most bytes of a response body or command output read before the rest is discarded (64 KiB).
    public static let captureLimit = 64 * 1024

    /// Decodes `bytes` as lossy UTF-8 and keeps scalars up to `excerptLimit` bytes of UTF-8
    /// (a replacement character counts its 3 bytes, so the limit holds for invalid input too).
    static func excerpt(of bytes: some Collection<UInt8>) -> String {
        let decoded = String(decoding: bytes.prefix(excerptLimit), as: UTF8.self)
        if decoded.utf8.count <= excerptLimit { return decoded }
        var scalars = String.UnicodeScalarView()
        var used = 0
        for scalar in decoded.unicodeScalars {
            let size = UTF8.width(scalar)
            if used + size > excerptLimit { break }
            scalars.append(scalar)
            used += size
        }
        return String(scalars)
    }
}

/// Measures the wall time of one attempt on the monotonic clock.
struct Stopwatch {
    private let start = DispatchTime.now().uptimeNanoseconds
    /// Milliseconds since the stopwatch was created.
    var elapsedMs: Int { Int((DispatchTime.now().uptimeNanoseconds &- start) / 1_000_000) }
}

/// Formats a timeout in seconds for an error message: `10` → `"10"`, `0.5` → `"0.5"`.
func formatSeconds(_ seconds: Double) -> String {
    if seconds.isFinite, seconds == seconds.rounded(), abs(seconds) < 1e15 { return String(Int(seconds)) }
    return String(seconds)
}

/// The first `DispatchOutcome.captureLimit` bytes of a response body or command output;
/// later bytes are counted and dropped.
struct CappedBytes {
    private(set) var kept: [UInt8] = []
    /// Every byte offered, kept or not.
    private(set) var total = 0
    /// Whether the cap is reached (later bytes are dropped).
    var isFull: Bool { kept.count >= DispatchOutcome.captureLimit }

    mutating func append(_ bytes: some Collection<UInt8>) {
        total += bytes.count
        let room = DispatchOutcome.captureLimit - kept.count
        if room > 0 { kept.append(contentsOf: bytes.prefix(room)) }
    }

    /// `kept` as an excerpt for `DispatchOutcome.responseExcerpt`.
    var excerpt: String { DispatchOutcome.excerpt(of: kept) }
}

/// The last `DispatchOutcome.stderrTailLimit` bytes of a stream (a command's stderr: the end
/// says why it failed); earlier bytes are counted and dropped.
struct TailBytes {
    private(set) var kept: [UInt8] = []
    /// Every byte offered, kept or not.
    private(set) var total = 0

    mutating func append(_ bytes: some Collection<UInt8>) {
        total += bytes.count
        kept.append(contentsOf: bytes.suffix(DispatchOutcome.stderrTailLimit))
        if kept.count > DispatchOutcome.stderrTailLimit { kept.removeFirst(kept.count - DispatchOutcome.stderrTailLimit) }
    }

    /// The tail as text, nil when nothing was written: decoded from the first UTF-8 scalar
    /// boundary (continuation bytes cut off at the start are skipped); `…` first when bytes were dropped.
    var text: String? {
        guard !kept.isEmpty else { return nil }
        let start = total > kept.count ? (kept.firstIndex { $0 & 0xC0 != 0x80 } ?? kept.endIndex) : 0
        let decoded = String(decoding: kept[start...], as: UTF8.self)
        return total > kept.count ? "…" + decoded : decoded
    }

    /// The last non-empty line of the tail, cut to 160 characters (for the one-line error).
    var lastLine: String? {
        guard let text else { return nil }
        let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).last { !$0.allSatisfy(\.isWhitespace) }
        return line.map { $0.count > 160 ? String($0.prefix(160)) + "…" : String($0) }
    }
}
