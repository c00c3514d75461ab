import Dispatch
import Foundation
import FoundationNetworking
import Synchronization

/// The `URLSession` delegate of one `HTTPExecutor` exchange: refuses redirects, keeps the
/// status and at most `DispatchOutcome.captureLimit` bytes of body, and signals `finished`
/// when the task completes or the body reaches the cap.
///
/// At the cap the task is cancelled from another queue: on Linux `URLSessionTask.cancel()`
/// waits for the session's work queue, which a fast sender keeps busy (measured: up to 2 s on
/// loopback while libcurl kept reading). Blocking the delegate queue that long would let the
/// chunks libcurl delivers meanwhile pile up in memory; this way they are dropped as they come.
final class ExchangeRecorder: NSObject, URLSessionDataDelegate, Sendable {
    /// What the exchange produced so far.
    struct Exchange {
        var status: Int?
        var body = CappedBytes()
        /// The body reached the cap and the task was cancelled on purpose.
        var truncated = false
        var errorText: String?
        /// The answer's `Retry-After` header, when it had one.
        var retryAfter: String?
    }

    /// Signalled when the task completes (successfully or not) or the body reaches the cap.
    let finished = DispatchSemaphore(value: 0)
    private let state = Mutex(Exchange())

    /// A copy of the exchange's state.
    func snapshot() -> Exchange { state.withLock { $0 } }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        // The 3xx becomes the final answer.
        state.withLock { $0.status = response.statusCode }
        completionHandler(nil)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        if let http = response as? HTTPURLResponse {
            state.withLock {
                $0.status = http.statusCode
                $0.retryAfter = http.value(forHTTPHeaderField: "Retry-After")
            }
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let reachedCap = state.withLock { exchange -> Bool in
            guard !exchange.truncated else { return false }
            exchange.body.append(data)
            if exchange.body.isFull {
                exchange.truncated = true
                return true
            }
            return false
        }
        if reachedCap {
            finished.signal()
            DispatchQueue.global().async { dataTask.cancel() }
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        state.withLock { exchange in
            if exchange.status == nil, let http = task.response as? HTTPURLResponse { exchange.status = http.statusCode }
            if let error { exchange.errorText = Self.describe(error) }
        }
        finished.signal()
    }

    /// A short text for a transport error: the `URLError` code's meaning and its number.
    static func describe(_ error: Error) -> String {
        guard let urlError = error as? URLError else { return String(describing: error) }
        let name: String
        switch urlError.code {
        case .timedOut: name = "timed out"
        case .cannotConnectToHost: name = "connection refused"
        case .cannotFindHost: name = "host not found"
        case .networkConnectionLost: name = "connection lost"
        case .notConnectedToInternet: name = "network unreachable"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            name = "TLS failure"
        case .badServerResponse: name = "bad server response"
        case .cancelled: name = "cancelled"
        default: name = "network error"
        }
        return "\(name) (URLError \(urlError.code.rawValue))"
    }
}
