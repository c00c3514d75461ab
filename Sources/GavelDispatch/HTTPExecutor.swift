import Dispatch
import Foundation
import FoundationNetworking
import GavelCore

/// Sends an HTTP action's request and classifies the answer.
///
/// - What is sent is `HTTPDispatchRequest.wire(idempotencyKey:)`: the request line, `Host`, the
///   rendered header fields in the configured order (with `Idempotency-Key: <key>`, the IETF
///   httpapi draft's header, carrying the remediation's key on every attempt), `Content-Length`
///   and the body — exactly what the request preview shows. For `http://` URLs gavel's own
///   HTTP/1.1 client (`PlainHTTPExchange`) writes those bytes and nothing else. For `https://`
///   URLs the platform's client (`URLSession`, libcurl) sends the same fields but orders them
///   itself and adds `Accept`, `Accept-Encoding`, `Accept-Language` and `Connection`; a request
///   without a `User-Agent` gets `gavel/VERSION` there (`HTTPDispatchRequest.userAgent`), so libcurl's own is never sent.
///   A header name that is not an RFC 9110 token, a value with CR, LF or NUL
///   (checklist D6: header injection), or a rendered `Content-Length`, `Transfer-Encoding`,
///   `Connection` or `Host` refuses the request: `.permanent`, nothing sent.
/// - Redirects are never followed (checklist D6): a 3xx answer is `.permanent`,
///   `"redirect not followed"`.
/// - `timeoutSeconds` bounds the whole exchange (resolve, connect, send, answer); at the deadline
///   the exchange is abandoned (checklist D4). Once the status line has arrived it decides the
///   outcome, even if the body then breaks off or outlasts the deadline.
/// - At most 64 KiB of the response body are kept, then reading stops; the first 4096 bytes
///   become the excerpt. (URLSession on Linux has no backpressure, so for `https` libcurl may
///   read — and drop — more until its cancel lands.)
/// - Classification: 2xx `.success`; 408, 429, 5xx, network errors and timeouts
///   `.retryable`; other 1xx/3xx/4xx and anything else `.permanent`.
///
/// Each call uses its own connection (for `https`, its own ephemeral session: no cookies, no
/// cache, no credential store) and blocks the calling thread.
public struct HTTPExecutor: Sendable {
    /// The `User-Agent` an `https` request without one gets (`HTTPDispatchRequest.userAgent`).
    public static let userAgent = HTTPDispatchRequest.userAgent

    /// Creates an HTTP executor.
    public init() {}

    /// Sends `request` once and waits for the answer, at most `request.timeoutSeconds`.
    /// - Parameters:
    ///   - request: the rendered request.
    ///   - idempotencyKey: sent as the `Idempotency-Key` header; the same for every attempt of
    ///     one remediation.
    /// - Returns: the outcome; `status` is the HTTP status when an answer arrived.
    public func execute(_ request: HTTPDispatchRequest, idempotencyKey: String) -> DispatchOutcome {
        let watch = Stopwatch()
        let urlRequest: URLRequest
        switch Self.makeURLRequest(request, idempotencyKey: idempotencyKey) {
        case .success(let built): urlRequest = built
        case .failure(let refusal):
            return DispatchOutcome(kind: .permanent, error: refusal.reason, durationMs: watch.elapsedMs)
        }
        if urlRequest.url?.scheme?.lowercased() == "http" {
            return plain(request, idempotencyKey: idempotencyKey, watch: watch)
        }

        let recorder = ExchangeRecorder()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.urlCredentialStorage = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        // URLSession's own timers only back ours up: on Linux they count whole seconds.
        configuration.timeoutIntervalForRequest = request.timeoutSeconds.rounded(.up) + 1
        configuration.timeoutIntervalForResource = request.timeoutSeconds.rounded(.up) + 1
        let delegateQueue = OperationQueue()
        delegateQueue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: recorder, delegateQueue: delegateQueue)
        let task = session.dataTask(with: urlRequest)
        // Cancelling can wait on the session's busy work queue (see ExchangeRecorder): do it
        // off the dispatcher thread, so the deadline holds.
        defer {
            DispatchQueue.global().async {
                task.cancel()
                session.invalidateAndCancel()
            }
        }

        task.resume()
        let answered = recorder.finished.wait(timeout: .now() + .nanoseconds(Int(min(request.timeoutSeconds, 1e6) * 1e9)))
        let exchange = recorder.snapshot()
        let ms = watch.elapsedMs
        let excerpt = exchange.body.excerpt

        if let status = exchange.status {
            // The status line decides, even if the body then broke off or never ended:
            // a target that answered 2xx has acted, and a 4xx stays a 4xx.
            let (kind, error) = Self.classify(status: status)
            return DispatchOutcome(kind: kind, status: status, error: error, responseExcerpt: excerpt, durationMs: ms)
        }
        if answered == .timedOut {
            return DispatchOutcome(
                kind: .retryable, error: "timeout after \(formatSeconds(request.timeoutSeconds)) s",
                responseExcerpt: excerpt, durationMs: ms)
        }
        return DispatchOutcome(
            kind: .retryable, error: exchange.errorText ?? "no response",
            responseExcerpt: excerpt, durationMs: ms)
    }

    /// Sends an `http://` request with gavel's own client: exactly its wire bytes.
    private func plain(_ request: HTTPDispatchRequest, idempotencyKey: String, watch: Stopwatch) -> DispatchOutcome {
        let wire: HTTPWireRequest
        do {
            wire = try request.wire(idempotencyKey: idempotencyKey)
        } catch {
            return DispatchOutcome(kind: .permanent, error: error.message, durationMs: watch.elapsedMs)
        }
        let deadline = monotonicNanoseconds() &+ UInt64(min(request.timeoutSeconds, 1e6) * 1e9)
        let answer = PlainHTTPExchange(wire: wire, deadline: deadline).run()
        let ms = watch.elapsedMs
        let excerpt = answer.body.excerpt
        if let status = answer.status {
            let (kind, error) = Self.classify(status: status)
            return DispatchOutcome(kind: kind, status: status, error: error, responseExcerpt: excerpt, durationMs: ms)
        }
        if answer.timedOut {
            return DispatchOutcome(
                kind: .retryable, error: "timeout after \(formatSeconds(request.timeoutSeconds)) s", responseExcerpt: excerpt, durationMs: ms)
        }
        return DispatchOutcome(kind: .retryable, error: answer.error ?? "no response", responseExcerpt: excerpt, durationMs: ms)
    }

    /// The outcome kind and error text for an HTTP status (RFC 9110 §15).
    static func classify(status: Int) -> (DispatchOutcome.Kind, String?) {
        switch status {
        case 200...299: return (.success, nil)
        case 300...399: return (.permanent, "HTTP \(status): redirect not followed")
        case 408, 429, 500...599: return (.retryable, "HTTP \(status)")
        default: return (.permanent, "HTTP \(status)")
        }
    }
}
