import Dispatch
import Foundation
import FoundationNetworking
import GavelCore
import Synchronization

/// Sends an HTTP action's request and classifies the answer.
///
/// - What is sent is `HTTPDispatchRequest.wire(idempotencyKey:)`: the request line, `Host`, the
///   rendered header fields in the configured order (with `Idempotency-Key: <key>`, the IETF
///   httpapi draft's header, carrying the remediation's key — or its batch's — on every attempt),
///   `Content-Length` and the body — exactly what the request preview shows. For `http://` URLs
///   gavel's own HTTP/1.1 client writes those bytes and nothing else, over persistent connections
///   (`HTTPConnectionPool`, its answers read by `HTTPResponseParser`), unless a proxy is configured
///   in the environment (`http_proxy`, `HTTP_PROXY`, `all_proxy`, `ALL_PROXY`). For `https://`
///   URLs (and proxied plain http) the platform's client (`URLSession`, libcurl, one session per
///   executor) sends the same fields but orders them itself and adds `Accept`, `Accept-Encoding`,
///   `Accept-Language` and `Connection`; a request without a `User-Agent` gets `gavel/VERSION`
///   there (`HTTPDispatchRequest.userAgent`), so libcurl's own is never sent.
///   A header name that is not an RFC 9110 token, a value with CR, LF or NUL
///   (checklist D6: header injection), or a rendered `Content-Length`, `Transfer-Encoding`,
///   `Connection` or `Host` refuses the request: `.permanent`, nothing sent.
/// - Redirects are never followed (checklist D6): a 3xx answer is `.permanent`,
///   `"redirect not followed"`.
/// - `timeoutSeconds` bounds the whole exchange (connect, send, answer); at the deadline the
///   exchange is abandoned (checklist D4). Once the status line has arrived it decides the
///   outcome, even if the body then breaks off or outlasts the deadline.
/// - At most 64 KiB of the response body are kept; then the call returns and the connection is
///   closed; the first 4096 bytes become the excerpt.
/// - Classification: 2xx `.success`; 408, 429, 5xx, network errors and timeouts
///   `.retryable`; other 1xx/3xx/4xx and anything else `.permanent`. A `Retry-After` header
///   (`RetryAfter`) is reported in `retryAfterSeconds`.
///
/// Calls block the calling thread and may come from many threads at once.
public struct HTTPExecutor: Sendable {
    /// The `User-Agent` an `https` request without one gets (`HTTPDispatchRequest.userAgent`).
    public static let userAgent = HTTPDispatchRequest.userAgent

    /// Persistent connections for plain http.
    let pool: HTTPConnectionPool
    /// The `URLSession` for https.
    let session: SharedSession
    /// Whether plain `http://` goes through gavel's own client (false when a proxy is configured).
    let ownClientForPlainHTTP: Bool

    /// Creates an HTTP executor (its own connection pool and session), reading the proxy settings
    /// from this process's environment.
    public init() {
        self.init(environment: ProcessInfo.processInfo.environment)
    }

    /// Creates an HTTP executor for a process whose environment is `environment`.
    init(environment: [String: String]) {
        pool = HTTPConnectionPool()
        session = SharedSession()
        let proxies = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        ownClientForPlainHTTP = !proxies.contains { !(environment[$0] ?? "").isEmpty }
    }

    /// Sends `request` once and waits for the answer, at most `request.timeoutSeconds`.
    /// - Parameters:
    ///   - request: the rendered request.
    ///   - idempotencyKey: sent as the `Idempotency-Key` header; the same for every attempt of
    ///     one remediation (or one batch).
    /// - Returns: the outcome; `status` is the HTTP status when an answer arrived.
    public func execute(_ request: HTTPDispatchRequest, idempotencyKey: String) -> DispatchOutcome {
        let watch = Stopwatch()
        if ownClientForPlainHTTP, request.url.lowercased().hasPrefix("http://") {
            return plain(request, idempotencyKey: idempotencyKey, watch: watch)
        }
        let urlRequest: URLRequest
        switch Self.makeURLRequest(request, idempotencyKey: idempotencyKey) {
        case .success(let built): urlRequest = built
        case .failure(let refusal):
            return DispatchOutcome(kind: .permanent, error: refusal.reason, durationMs: watch.elapsedMs)
        }
        let exchange = session.exchange(urlRequest, timeoutSeconds: request.timeoutSeconds)
        let retryAfter = exchange.retryAfter.flatMap { RetryAfter.seconds($0, now: Date().timeIntervalSince1970) }
        return outcome(
            status: exchange.status, excerpt: exchange.body.excerpt, timedOut: exchange.timedOut, error: exchange.errorText,
            retryAfter: retryAfter, timeout: request.timeoutSeconds, ms: watch.elapsedMs)
    }

    private func outcome(
        status: Int?, excerpt: String, timedOut: Bool, error: String?, retryAfter: Double?, timeout: Double, ms: Int
    ) -> DispatchOutcome {
        if let status {
            // The status line decides, even if the body then broke off or never ended:
            // a target that answered 2xx has acted, and a 4xx stays a 4xx.
            let (kind, error) = Self.classify(status: status)
            return DispatchOutcome(kind: kind, status: status, error: error, responseExcerpt: excerpt, durationMs: ms, retryAfterSeconds: retryAfter)
        }
        if timedOut {
            return DispatchOutcome(kind: .retryable, error: "timeout after \(formatSeconds(timeout)) s", responseExcerpt: excerpt, durationMs: ms)
        }
        return DispatchOutcome(kind: .retryable, error: error ?? "no response", responseExcerpt: excerpt, durationMs: ms)
    }

    /// Sends an `http://` request with gavel's own client over a pooled connection: exactly its
    /// wire bytes (`HTTPDispatchRequest.wire`, what the preview shows).
    private func plain(_ request: HTTPDispatchRequest, idempotencyKey: String, watch: Stopwatch) -> DispatchOutcome {
        if let refusal = Self.refusal(of: request, idempotencyKey: idempotencyKey) {
            return DispatchOutcome(kind: .permanent, error: refusal.reason, durationMs: watch.elapsedMs)
        }
        let wire: HTTPWireRequest
        do {
            wire = try request.wire(idempotencyKey: idempotencyKey)
        } catch {
            return DispatchOutcome(kind: .permanent, error: error.message, durationMs: watch.elapsedMs)
        }
        let answer = pool.exchange(
            host: wire.host, port: Int(wire.port), method: request.method, request: wire.bytes, timeoutSeconds: request.timeoutSeconds)
        let retryAfter = answer.retryAfter.flatMap { RetryAfter.seconds($0, now: Date().timeIntervalSince1970) }
        return outcome(
            status: answer.status, excerpt: answer.body.excerpt, timedOut: answer.timedOut, error: answer.error, retryAfter: retryAfter,
            timeout: request.timeoutSeconds, ms: watch.elapsedMs)
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

/// One `URLSession` shared by an executor's https requests (connections reused between them), its
/// delegate routing each task's callbacks to that exchange's `ExchangeRecorder`.
final class SharedSession: NSObject, URLSessionDataDelegate, Sendable {
    private let recorders = Mutex<[Int: ExchangeRecorder]>([:])
    private let lazySession = Mutex<URLSession?>(nil)

    /// What one exchange produced.
    struct Result {
        var status: Int?
        var body: CappedBytes
        var retryAfter: String?
        var errorText: String?
        var timedOut: Bool
    }

    private var urlSession: URLSession {
        lazySession.withLock { session in
            if let session { return session }
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpCookieStorage = nil
            configuration.httpShouldSetCookies = false
            configuration.urlCache = nil
            configuration.urlCredentialStorage = nil
            configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
            configuration.httpMaximumConnectionsPerHost = 256
            // Each request's own deadline is enforced by the caller; URLSession's timers only back it up.
            configuration.timeoutIntervalForResource = 302
            let queue = OperationQueue()
            queue.maxConcurrentOperationCount = 1
            let created = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
            session = created
            return created
        }
    }

    deinit { lazySession.withLock { $0 }?.invalidateAndCancel() }

    /// Runs one request and waits for its answer, at most `timeoutSeconds`.
    func exchange(_ request: URLRequest, timeoutSeconds: Double) -> Result {
        let recorder = ExchangeRecorder()
        let task = urlSession.dataTask(with: request)
        let id = task.taskIdentifier
        recorders.withLock { $0[id] = recorder }
        // Cancelling can wait on the session's busy work queue (see ExchangeRecorder): do it off
        // the calling thread, so the deadline holds.
        defer {
            recorders.withLock { _ = $0.removeValue(forKey: id) }
            DispatchQueue.global().async { task.cancel() }
        }
        task.resume()
        let answered = recorder.finished.wait(timeout: .now() + .nanoseconds(Int(min(timeoutSeconds, 1e6) * 1e9)))
        let exchange = recorder.snapshot()
        return Result(
            status: exchange.status, body: exchange.body, retryAfter: exchange.retryAfter, errorText: exchange.errorText,
            timedOut: answered == .timedOut && exchange.status == nil)
    }

    private func recorder(_ task: URLSessionTask) -> ExchangeRecorder? { recorders.withLock { $0[task.taskIdentifier] } }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        guard let recorder = recorder(task) else { return completionHandler(nil) }
        recorder.urlSession(session, task: task, willPerformHTTPRedirection: response, newRequest: request, completionHandler: completionHandler)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        guard let recorder = recorder(dataTask) else { return completionHandler(.cancel) }
        recorder.urlSession(session, dataTask: dataTask, didReceive: response, completionHandler: completionHandler)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        recorder(dataTask)?.urlSession(session, dataTask: dataTask, didReceive: data)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        recorder(task)?.urlSession(session, task: task, didCompleteWithError: error)
    }
}
