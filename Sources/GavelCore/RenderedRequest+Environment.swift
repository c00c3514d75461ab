extension RenderedRequest {
    /// The request with every `{{env.NAME}}` reference of its headers replaced by the variable's
    /// value in `environment`: done by the dispatcher just before sending, so a secret a team keeps
    /// out of the configuration is never stored (not in the configuration in force, not in the
    /// request bound at approval).
    /// - Throws: `DispatchRefusal` naming the header and variable when the variable is unset or
    ///   empty, or holds CR, LF, NUL or another control character (RFC 9110 §5.5).
    public func resolvingEnvironment(_ environment: [String: String]) throws(DispatchRefusal) -> RenderedRequest {
        guard case .http(var request) = self else { return self }
        for (i, header) in request.headers.enumerated() where header.value.contains("\u{0}") {
            var out = ""
            var rest = Substring(header.value)
            while let start = rest.firstIndex(of: "\u{0}") {
                out += rest[..<start]
                let after = rest[rest.index(after: start)...]
                guard let end = after.firstIndex(of: "\u{0}"), after.hasPrefix("env.") else {
                    throw DispatchRefusal("header \(header.name): malformed environment reference")
                }
                let name = String(after[after.index(after.startIndex, offsetBy: 4)..<end])
                guard let value = environment[name], !value.isEmpty else {
                    throw DispatchRefusal("header \(header.name): environment variable \(name) is not set in the dispatching process")
                }
                if value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
                    throw DispatchRefusal("header \(header.name): environment variable \(name) contains a control character")
                }
                out += value
                rest = after[after.index(after: end)...]
            }
            out += rest
            request.headers[i] = HTTPHeaderField(header.name, out)
        }
        return .http(request)
    }

    /// `text` with environment references shown as `{{env.NAME}}` (for display).
    static func showingEnvironmentReferences(_ text: String) -> String {
        guard text.contains("\u{0}env.") else { return text }
        var out = ""
        var rest = Substring(text)
        while let start = rest.firstIndex(of: "\u{0}") {
            out += rest[..<start]
            let after = rest[rest.index(after: start)...]
            guard let end = after.firstIndex(of: "\u{0}") else {
                out += after
                return out
            }
            out += "{{" + after[..<end] + "}}"
            rest = after[after.index(after: end)...]
        }
        return out + rest
    }
}
