/// A request the receiver refuses: the HTTP status to answer with and what was wrong.
///
/// Every `HTTPError` closes the connection after its response (RFC 9112 §9.6: after a framing
/// error the rest of the stream cannot be trusted). `message` names the offending part of the
/// request, e.g. `"Content-Length: not a decimal number"`; it never echoes request bytes, so it
/// is safe to log and to send back in the `{"error": …}` body.
public struct HTTPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The response status: 400, 405, 411, 413, 414, 415, 431, 501, 505, …
    public var status: Int
    /// A short, fixed description of what was wrong.
    public var message: String

    /// Creates an error answering `status` with `message`.
    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    /// `"<status> <message>"`.
    public var description: String { "\(status) \(message)" }

    /// 400 Bad Request with `message`.
    public static func badRequest(_ message: String) -> HTTPError { HTTPError(status: 400, message: message) }
    /// 413 Content Too Large with `message`.
    public static func contentTooLarge(_ message: String) -> HTTPError { HTTPError(status: 413, message: message) }
    /// 431 Request Header Fields Too Large with `message`.
    public static func fieldsTooLarge(_ message: String) -> HTTPError { HTTPError(status: 431, message: message) }
}
