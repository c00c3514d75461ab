/// Size limits the receiver enforces while reading one HTTP/1.1 request.
///
/// Every limit is in bytes unless named otherwise. The defaults follow the hardening
/// checklist (R5–R7): 8 KiB request line and field line, 16 KiB header section, 100 fields,
/// 1 MiB body, and for chunked bodies (RFC 9112 §7.1) 256 bytes of chunk extensions per chunk
/// line and 4 KiB of trailer section.
public struct HTTPLimits: Sendable, Equatable {
    /// Longest request line, without its CRLF. Longer → 414 when the target is what is long,
    /// else 400. Default 8192.
    public var maxRequestLine: Int
    /// Longest header section: every field line with its CRLF plus the final empty line,
    /// not counting the request line. Larger → 431. Default 16384.
    public var maxHeaderBytes: Int
    /// Most field lines in the header section. More → 431. Default 100.
    public var maxHeaderFields: Int
    /// Longest body (Content-Length value, or the sum of the chunk sizes). Larger → 413.
    /// Default 1 MiB.
    public var maxBodyBytes: Int
    /// Longest single header field line, without its CRLF. Longer → 431.
    /// Default 8192.
    public var maxFieldLine: Int
    /// Most chunk-extension bytes on one chunk-size line (everything after the hex digits,
    /// before the CRLF). More → 400. Default 256.
    public var maxChunkExtensionBytes: Int
    /// Longest trailer section of a chunked body, including its final CRLF. Larger → 431.
    /// Default 4096.
    public var maxTrailerBytes: Int

    /// Creates limits; every parameter defaults to the value documented on its property.
    public init(
        maxRequestLine: Int = 8192,
        maxHeaderBytes: Int = 16384,
        maxHeaderFields: Int = 100,
        maxBodyBytes: Int = 1 << 20,
        maxFieldLine: Int = 8192,
        maxChunkExtensionBytes: Int = 256,
        maxTrailerBytes: Int = 4096
    ) {
        self.maxRequestLine = maxRequestLine
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderFields = maxHeaderFields
        self.maxBodyBytes = maxBodyBytes
        self.maxFieldLine = maxFieldLine
        self.maxChunkExtensionBytes = maxChunkExtensionBytes
        self.maxTrailerBytes = maxTrailerBytes
    }
}
