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
    /// - URL: percent-encoded, RFC 3986 unreserved characters only; a path segment that is a dot
    ///   segment (`.`, `..`, also percent-encoded, once or more: `URLDotSegments`) is refused;
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
        try render(kind, context, revert: false)
    }

    /// Renders this action's revert for one remediation in force: the same escaping rules as
    /// `render`, with `context.response` holding the dispatch's response for
    /// `{{response.json.PATH}}` values.
    /// - Throws: `DispatchRefusal` when the action has no revert, is irreversible, a response value
    ///   the template needs is missing, or a value cannot be sent safely.
    public func renderRevert(_ context: TemplateContext) throws(DispatchRefusal) -> RenderedRequest {
        if irreversible { throw DispatchRefusal("\(name) is irreversible: it cannot be reverted") }
        guard let revert else { throw DispatchRefusal("no revert configured for \(name): gavel cannot undo it by itself") }
        for path in ActionConfig.responsePaths(of: revert) where Template.value(at: path, in: context.response) == nil {
            throw DispatchRefusal(
                "the revert of \(name) needs response.json.\(path.joined(separator: ".")), which the dispatch's response did not have")
        }
        return try render(revert, context, revert: true)
    }

    /// Every `{{response.json.PATH}}` a kind's templates use.
    static func responsePaths(of kind: ActionKind) -> [[String]] {
        switch kind {
        case .http(let h): h.url.responsePaths + h.headers.flatMap(\.value.responsePaths) + (h.body?.responsePaths ?? [])
        case .command(let c): c.argv.flatMap(\.responsePaths)
        case .outbox(let o): o.headers.flatMap(\.value.responsePaths) + (o.body?.responsePaths ?? [])
        }
    }

    private func render(_ kind: ActionKind, _ context: TemplateContext, revert: Bool) throws(DispatchRefusal) -> RenderedRequest {
        if case .failure(let refusal) = TargetValidator.validate(context.target, kind: target, pattern: targetPattern) {
            throw refusal
        }
        switch kind {
        case .http(let http):
            let url = http.url.render(context, escape: Template.percentEncoded)
            if let dot = URLDotSegments.offendingSegment(in: url) {
                throw DispatchRefusal(
                    "URL path segment \(dot.segment.quotedForMessage) (from \(http.url.text.quotedForMessage)) is the dot segment "
                        + "\(dot.decoded.quotedForMessage) once decoded: the HTTP client, proxies and servers remove it with the segment "
                        + "before it, so the request would reach another path than the one approved")
            }
            let headers = try ActionConfig.renderHeaders(http.headers, context)
            let body = http.body.map { Array($0.render(context).utf8) } ?? []
            return .http(
                HTTPDispatchRequest(
                    method: http.method, url: url, headers: headers, body: body,
                    timeoutSeconds: http.timeoutSeconds, maxRetries: http.retries, retryForSeconds: http.retryForSeconds))
        case .command(let command):
            return .command(
                CommandDispatchRequest(
                    argv: try ActionConfig.renderArgv(command.argv, context),
                    timeoutSeconds: command.timeoutSeconds, maxRetries: command.retries, retryForSeconds: command.retryForSeconds,
                    path: command.path, passEnvironment: command.passEnvironment))
        case .outbox(let outbox):
            let headers = try ActionConfig.renderHeaders(outbox.headers, context, environment: { "{{env.\($0)}}" })
            let line = JSONValue.object([
                JSONMember("action", .string(name)),
                JSONMember("remediation_id", .string(context.remediationID)),
                JSONMember("idempotency_key", .string(context.idempotencyKey)),
                JSONMember("target", .string(context.target)),
                JSONMember("method", .string("POST")),
                JSONMember("url", .string(revert ? "outbox:\(name)/revert" : "outbox:\(name)")),
                JSONMember("headers", .object(headers.map { JSONMember($0.name, .string($0.value)) })),
                JSONMember("body", outbox.body?.rendered(context) ?? .null),
            ])
            return .outbox(OutboxDispatchRequest(path: outbox.path, line: line.compactText))
        }
    }

    /// Renders header values. A substituted value holding CR, LF, NUL or another control
    /// character is refused (RFC 9110 §5.5); literals were checked when the config loaded. An
    /// `{{env.NAME}}` reference renders as `environment(NAME)`: an unsendable marker resolved when
    /// the request is sent (HTTP), or the reference's text (an outbox line, kept at rest).
    static func renderHeaders(
        _ headers: [HeaderTemplate], _ context: TemplateContext, environment: (String) -> String = Template.environmentMarker
    ) throws(DispatchRefusal) -> [HTTPHeaderField] {
        var fields: [HTTPHeaderField] = []
        for header in headers {
            // A configured Idempotency-Key keeps its place but always carries the remediation's
            // key, here already, so the preview and the outbox line show what is sent.
            if header.name.lowercased() == "idempotency-key" {
                fields.append(HTTPHeaderField(header.name, context.idempotencyKey))
                continue
            }
            var hostile = false
            let value = header.value.render(
                context,
                escape: { v in
                    // C0 but HTAB, DEL, and the C1 controls (U+0085 NEL, U+009B CSI…) — RFC 9110 §5.5.
                    if v.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || (0x7F...0x9F).contains($0.value) }) { hostile = true }
                    return v
                }, environment: environment)
            if hostile {
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
