/// Renders `action` for one remediation: the exact request the dispatcher will send.
///
/// Same as `action.render(context)`; see there.
public func render(_ action: ActionConfig, context: TemplateContext) throws(DispatchRefusal) -> RenderedRequest {
    try action.render(context)
}

extension ActionConfig {
    /// Renders this action for one remediation.
    ///
    /// The target is validated again first (`TargetValidator`, with `targetPattern`), so a
    /// value that was never a valid target cannot reach any template. Then each value is
    /// escaped for where it lands (hardening checklist D6):
    /// - URL: percent-encoded, RFC 3986 unreserved characters only;
    /// - header: raw, refused if it would contain CR, LF, NUL or another control character (RFC 9110 §5.5);
    /// - JSON body: substituted inside string values, then serialized (RFC 8259 escaping);
    /// - argv: one element per template element, never re-split; refused if it holds NUL, or
    ///   if an element that starts with a placeholder would start with `-` and no literal
    ///   `--` element comes before it (it would be read as an option).
    ///
    /// An `outbox` action renders one JSON line:
    /// `{"action","remediation_id","idempotency_key","target","method":"POST","url":"outbox:ACTION","headers":{…},"body":…}`.
    /// - Throws: `DispatchRefusal` naming the target or the field that cannot be sent safely.
    public func render(_ context: TemplateContext) throws(DispatchRefusal) -> RenderedRequest {
        if case .failure(let refusal) = TargetValidator.validate(context.target, kind: target, pattern: targetPattern) {
            throw refusal
        }
        switch kind {
        case .http(let http):
            let url = http.url.render(context, escape: Template.percentEncoded)
            let headers = try ActionConfig.renderHeaders(http.headers, context)
            let body = http.body.map { Array($0.render(context).utf8) } ?? []
            return .http(
                HTTPDispatchRequest(
                    method: http.method, url: url, headers: headers, body: body,
                    timeoutSeconds: http.timeoutSeconds, maxRetries: http.retries))
        case .command(let command):
            return .command(
                CommandDispatchRequest(
                    argv: try ActionConfig.renderArgv(command.argv, context),
                    timeoutSeconds: command.timeoutSeconds, maxRetries: command.retries))
        case .outbox(let outbox):
            let headers = try ActionConfig.renderHeaders(outbox.headers, context)
            let line = JSONValue.object([
                JSONMember("action", .string(name)),
                JSONMember("remediation_id", .string(context.remediationID)),
                JSONMember("idempotency_key", .string(context.idempotencyKey)),
                JSONMember("target", .string(context.target)),
                JSONMember("method", .string("POST")),
                JSONMember("url", .string("outbox:\(name)")),
                JSONMember("headers", .object(headers.map { JSONMember($0.name, .string($0.value)) })),
                JSONMember("body", outbox.body?.rendered(context) ?? .null),
            ])
            return .outbox(OutboxDispatchRequest(path: outbox.path, line: line.compactText))
        }
    }

    static func renderHeaders(_ headers: [HeaderTemplate], _ context: TemplateContext) throws(DispatchRefusal) -> [HTTPHeaderField] {
        var fields: [HTTPHeaderField] = []
        for header in headers {
            let value = header.value.render(context)
            if value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
                throw DispatchRefusal("header \(header.name): rendered value contains CR, LF, NUL or another control character")
            }
            fields.append(HTTPHeaderField(header.name, value))
        }
        return fields
    }

    static func renderArgv(_ argv: [Template], _ context: TemplateContext) throws(DispatchRefusal) -> [String] {
        var out: [String] = []
        var afterDoubleDash = false
        for (i, element) in argv.enumerated() {
            let value = element.render(context)
            if value.utf8.contains(0) {
                throw DispatchRefusal("argv[\(i)]: rendered value contains NUL")
            }
            if !afterDoubleDash, value.hasPrefix("-"), !element.literalPrefix.hasPrefix("-") {
                throw DispatchRefusal(
                    "argv[\(i)]: rendered value \(value.quotedForMessage) would be read as an option (put a literal \"--\" before it)")
            }
            if !element.hasPlaceholders && element.text == "--" { afterDoubleDash = true }
            out.append(value)
        }
        return out
    }
}
