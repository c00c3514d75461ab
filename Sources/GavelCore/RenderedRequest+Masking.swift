import Foundation

extension RenderedRequest {
    /// The request with secrets masked as `****`, for display in the console, the CLI and
    /// logs (never for sending).
    ///
    /// Masked: values of headers, JSON body members and URL query parameters whose name
    /// contains `authorization`, `token`, `secret`, `password`, `passwd`, `key`, `cookie`,
    /// `signature`, `credential` or `session` (except `Idempotency-Key` /
    /// `idempotency_key`, which is shown); URL userinfo (`https://user:pass@host` →
    /// `https://****@host`); argv values of such `--name=value` / `--name value` options.
    /// An auth scheme word stays visible (`Bearer ****`).
    public func masked() -> RenderedRequest {
        switch self {
        case .http(var request):
            request.url = Masking.url(request.url)
            request.headers = request.headers.map { HTTPHeaderField($0.name, Masking.isSensitive($0.name) ? Masking.value($0.value) : $0.value) }
            if let body = try? JSONValue.parse(request.body) {
                let masked = Masking.json(body)
                if masked != body { request.body = Array(masked.compactText.utf8) }
            }
            return .http(request)
        case .command(var request):
            request.argv = Masking.argv(request.argv)
            return .command(request)
        case .outbox(var request):
            guard case .object(let members)? = try? JSONValue.parse(request.line) else {
                return self
            }
            let order = ["action", "remediation_id", "idempotency_key", "target", "method", "url", "headers", "body"]
            let sorted = members.sorted {
                (order.firstIndex(of: $0.key) ?? order.count, $0.key) < (order.firstIndex(of: $1.key) ?? order.count, $1.key)
            }
            let masked = sorted.map { member -> JSONMember in
                switch member.key {
                case "url": return JSONMember("url", member.value.scalarText.map { .string(Masking.url($0)) } ?? member.value)
                case "headers", "body": return JSONMember(member.key, Masking.json(member.value))
                default: return member
                }
            }
            request.line = JSONValue.object(masked).compactText
            return .outbox(request)
        }
    }
}

/// The rules behind `RenderedRequest.masked()`.
enum Masking {
    static let mask = "****"
    static let sensitiveWords = ["authorization", "token", "secret", "password", "passwd", "key", "cookie", "signature", "credential", "session"]

    static func isSensitive(_ name: String) -> Bool {
        let lowered = name.lowercased()
        if lowered == "idempotency-key" || lowered == "idempotency_key" { return false }
        return sensitiveWords.contains { lowered.contains($0) }
    }

    /// `****`, keeping a leading auth scheme (`Bearer ****`); empty stays empty.
    static func value(_ value: String) -> String {
        if value.isEmpty { return value }
        if let space = value.firstIndex(of: " "), ["bearer", "basic", "token", "digest"].contains(value[..<space].lowercased()) {
            return "\(value[..<space]) \(mask)"
        }
        return mask
    }

    static func json(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(
                members.map { member in
                    if isSensitive(member.key), let text = member.value.scalarText {
                        return JSONMember(member.key, .string(self.value(text)))
                    }
                    return JSONMember(member.key, json(member.value))
                })
        case .array(let items): return .array(items.map(json))
        default: return value
        }
    }

    static func url(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let afterScheme = url[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        var authority = String(afterScheme[..<authorityEnd])
        if let at = authority.lastIndex(of: "@") { authority = mask + authority[at...] }
        var rest = String(afterScheme[authorityEnd...])
        if let question = rest.firstIndex(of: "?") {
            let fragmentStart = rest[question...].firstIndex(of: "#") ?? rest.endIndex
            let query = rest[rest.index(after: question)..<fragmentStart]
            let maskedQuery = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
                guard let eq = pair.firstIndex(of: "="), isSensitive(String(pair[..<eq])) else { return String(pair) }
                return pair[...eq] + mask
            }.joined(separator: "&")
            rest = rest[...question] + maskedQuery + rest[fragmentStart...]
        }
        return url[..<schemeEnd.upperBound] + authority + rest
    }

    static func argv(_ argv: [String]) -> [String] {
        var out: [String] = []
        var maskNext = false
        for element in argv {
            if maskNext {
                out.append(mask)
                maskNext = false
                continue
            }
            if element.hasPrefix("-"), let eq = element.firstIndex(of: "="), isSensitive(String(element[..<eq])) {
                out.append(element[...eq] + mask)
            } else if element.hasPrefix("-"), element != "--", isSensitive(element) {
                out.append(element)
                maskNext = true
            } else if let colon = element.firstIndex(of: ":"), !element.hasPrefix("/"), isSensitive(String(element[..<colon])) {
                let secret = String(element[element.index(after: colon)...]).trimmingASCIIWhitespace()
                out.append(String(element[...colon]) + " " + Masking.value(secret))
            } else {
                out.append(element)
            }
        }
        return out
    }
}
