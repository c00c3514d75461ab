import Foundation
import FoundationNetworking
import GavelCore

extension HTTPExecutor {
    /// Why a rendered request was refused before anything was sent.
    struct Refusal: Error, Equatable {
        var reason: String
    }

    /// Header names the transport owns; a rendered one would fight libcurl over the framing.
    static let reservedHeaderNames: Set<String> = ["content-length", "transfer-encoding", "connection", "host"]

    /// The reason `request` must not be sent, checked without building anything: the method, the
    /// timeout, a body on GET or HEAD, and every header (the URL is checked where it is parsed).
    static func refusal(of request: HTTPDispatchRequest, idempotencyKey: String) -> Refusal? {
        guard isToken(request.method) else { return Refusal(reason: "invalid HTTP method") }
        guard request.timeoutSeconds.isFinite, request.timeoutSeconds > 0 else {
            return Refusal(reason: "timeout must be a positive number of seconds")
        }
        if (request.method == "GET" || request.method == "HEAD") && !request.body.isEmpty {
            return Refusal(reason: "\(request.method) request with a body")
        }
        for field in request.headers + [HTTPHeaderField("User-Agent", userAgent), HTTPHeaderField("Idempotency-Key", idempotencyKey)] {
            guard isToken(field.name) else { return Refusal(reason: "invalid header name") }
            guard isFieldValue(field.value) else {
                return Refusal(reason: "header \(field.name) value contains CR, LF, NUL or another control character")
            }
            guard !reservedHeaderNames.contains(field.name.lowercased()) else {
                return Refusal(reason: "header \(field.name) is set by the transport")
            }
        }
        return nil
    }

    /// An absolute http(s) URL with a host, or nil.
    static func actionURL(_ text: String) -> URL? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { return nil }
        return url
    }

    /// Builds the `URLRequest`, or the reason it must not be sent.
    static func makeURLRequest(_ request: HTTPDispatchRequest, idempotencyKey: String) -> Result<URLRequest, Refusal> {
        if let refusal = refusal(of: request, idempotencyKey: idempotencyKey) { return .failure(refusal) }
        guard let url = actionURL(request.url) else { return .failure(Refusal(reason: "invalid URL: not an absolute http(s) URL")) }
        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = request.method
        urlRequest.httpShouldHandleCookies = false
        urlRequest.timeoutInterval = request.timeoutSeconds.rounded(.up) + 1
        // The fields are the wire's (the configured order, Idempotency-Key carrying the key); over
        // https a User-Agent is added when none is configured, so libcurl's own is not sent.
        var fields = request.headers
        if let i = fields.firstIndex(where: { $0.name.lowercased() == "idempotency-key" }) {
            fields[i].value = idempotencyKey
            fields.removeAll { $0.name.lowercased() == "idempotency-key" && $0.value != idempotencyKey }
        } else {
            fields.append(HTTPHeaderField("Idempotency-Key", idempotencyKey))
        }
        if !fields.contains(where: { $0.name.lowercased() == "user-agent" }) { fields.append(HTTPHeaderField("User-Agent", userAgent)) }
        for field in fields {
            guard isToken(field.name) else { return .failure(Refusal(reason: "invalid header name")) }
            guard isFieldValue(field.value) else {
                return .failure(Refusal(reason: "header \(field.name) value contains CR, LF, NUL or another control character"))
            }
            guard !reservedHeaderNames.contains(field.name.lowercased()) else {
                return .failure(Refusal(reason: "header \(field.name) is set by the transport"))
            }
        }
        for field in fields { urlRequest.addValue(field.value, forHTTPHeaderField: field.name) }
        if !request.body.isEmpty { urlRequest.httpBody = Data(request.body) }
        return .success(urlRequest)
    }

    /// RFC 9110 §5.6.2 `token` (see `HTTPToken`).
    static func isToken(_ text: String) -> Bool { HTTPToken.isToken(text) }

    /// RFC 9110 §5.5 field value: no control characters except horizontal tab, so no CR, LF
    /// or NUL that could end the header early or smuggle another one in.
    static func isFieldValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }
}
