import GavelCore

/// Properties of template parsing and action rendering with attacker-controlled values.
enum TemplateProperties {
    /// An HTTP action whose URL, header and default JSON body hold placeholders.
    static let http: ActionConfig = {
        let url = try! Template("https://203.0.113.5/ban/{{target}}?rule={{rule_name}}&sig={{signal_id}}", field: "url")
        let header = HeaderTemplate(name: "X-Rule", value: try! Template("rule {{rule_name}} by {{decided_by}}", field: "header"))
        let kind = ActionKind.http(HTTPTemplate(url: url, headers: [header], body: ActionConfig.defaultBody(target: .user)))
        return ActionConfig(name: "disable-user", target: .user, kind: kind)
    }()
    /// A command action with `--` before its values.
    static let command: ActionConfig = {
        let argv = try! ["/usr/bin/true", "--", "{{target}}", "{{rule_name}}"].map { try Template($0, field: "argv") }
        return ActionConfig(name: "ban-ip", target: .ip, kind: .command(CommandTemplate(argv: argv)))
    }()
    /// The built-in outbox action for users.
    static let outbox = ActionConfig.builtInActions(outboxPath: "/dev/null")["disable-user"]!

    /// Splits the input on 0xFF (never valid UTF-8) into the context's values; a first byte
    /// below 0x80 keeps a valid fixed target so the fuzzer reaches the rendering itself.
    /// Checks: a refusal's message holds no control character; a URL keeps its structure and
    /// holds only unreserved bytes and %HH escapes; headers hold no control character; a JSON
    /// body or outbox line parses back to exactly the values substituted; argv gets one element
    /// per template element. The input as a template parses back to its own text, and as a
    /// JSON template renders to JSON that parses to the rendered value.
    static func render(_ input: [UInt8]) {
        guard let first = input.first else { return }
        var values = Array(input.dropFirst()).pieces(separator: 0xFF, limit: 12).map { String(decoding: $0, as: UTF8.self) }
        values += Array(repeating: "", count: 12 - values.count)
        var context = TemplateContext()
        context.target = first < 0x80 ? "shopper.one@example.com" : values[0]
        context.user = context.target
        context.signalID = values[1]
        context.ruleName = values[2]
        context.ruleID = values[3]
        context.severity = values[4]
        context.remediationID = values[5]
        context.idempotencyKey = values[6]
        context.decidedBy = values[7]
        context.action = values[8]
        context.ip = values[9]
        context.securityGroup = values[10]

        renderHTTP(context)
        renderOutbox(context)
        var ipContext = context
        ipContext.target = first < 0x80 ? "203.0.113.42" : values[0]
        renderCommand(ipContext)
        parseTemplate(values[11], context)
        if let value = try? JSONValue.parse(Array(input.dropFirst())), let template = try? JSONTemplate(value, field: "body") {
            let rendered = template.rendered(context)
            check((try? JSONValue.parse(template.render(context))) == rendered, "a JSON template renders to other JSON")
        }
    }

    static func refused(_ refusal: DispatchRefusal) {
        check(!refusal.message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "refusal message holds a control character")
    }

    static func renderHTTP(_ context: TemplateContext) {
        let rendered: RenderedRequest
        do throws(DispatchRefusal) { rendered = try http.render(context) } catch { return refused(error) }
        guard case .http(let request) = rendered else { return check(false, "an HTTP action rendered something else") }
        let prefix = "https://203.0.113.5/ban/"
        check(request.url.hasPrefix(prefix), "URL prefix changed: \(request.url)")
        let rest = request.url.utf8.dropFirst(prefix.utf8.count)
        check(
            rest.filter { $0 == UInt8(ascii: "?") }.count == 1 && rest.filter { $0 == UInt8(ascii: "&") }.count == 1
                && !rest.contains(UInt8(ascii: "/")) && !rest.contains(UInt8(ascii: "#")), "URL structure changed: \(request.url)")
        check(
            rest.allSatisfy {
                isUnreserved($0) || $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "=")
            },
            "URL holds a byte that is neither unreserved nor escaped: \(request.url)")
        for header in request.headers {
            check(!header.value.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }, "header holds a control character")
        }
        guard let body = try? JSONValue.parse(request.body) else { return check(false, "body is not JSON") }
        check(
            body["target"] == .string(context.target) && body["rule"] == .string(context.ruleName)
                && body["signal_id"] == .string(context.signalID) && body["decided_by"] == .string(context.decidedBy),
            "body values differ from the context")
    }

    static func renderOutbox(_ context: TemplateContext) {
        let rendered: RenderedRequest
        do throws(DispatchRefusal) { rendered = try outbox.render(context) } catch { return refused(error) }
        guard case .outbox(let request) = rendered else { return check(false, "an outbox action rendered something else") }
        check(!request.line.unicodeScalars.contains { $0.value < 0x20 }, "outbox line holds a raw control character")
        guard let line = try? JSONValue.parse(request.line) else { return check(false, "outbox line is not JSON") }
        check(
            line["target"] == .string(context.target) && line["idempotency_key"] == .string(context.idempotencyKey)
                && line["body"]?["rule"] == .string(context.ruleName), "outbox values differ from the context")
    }

    static func renderCommand(_ context: TemplateContext) {
        let rendered: RenderedRequest
        do throws(DispatchRefusal) { rendered = try command.render(context) } catch { return refused(error) }
        guard case .command(let request) = rendered else { return check(false, "a command action rendered something else") }
        check(request.argv == ["/usr/bin/true", "--", context.target, context.ruleName], "argv differs from the context")
        check(IPAddress(parsing: context.target)?.description == context.target, "a non-canonical IP reached argv")
    }

    /// A template parses back to its own text: literals and `{{name}}` pieces concatenate to it.
    static func parseTemplate(_ text: String, _ context: TemplateContext) {
        guard let template = try? Template(text, field: "fuzz", allowing: [.response, .environment]) else { return }
        let printed = template.segments.map { segment -> String in
            switch segment {
            case .literal(let s): return s
            case .placeholder(let p): return "{{\(p.rawValue)}}"
            case .response(let path): return "{{response.json.\(path.joined(separator: "."))}}"
            case .environment(let name): return "{{env.\(name)}}"
            }
        }.joined()
        check(printed == text, "template pieces print as \(printed.debugDescription), not \(text.debugDescription)")
        let rendered = template.render(context)
        let expected = template.segments.map { segment -> String in
            switch segment {
            case .literal(let s): return s
            case .placeholder(let p): return context[p]
            case .response(let path): return Template.value(at: path, in: context.response) ?? ""
            case .environment(let name): return Template.environmentMarker(name)
            }
        }.joined()
        check(rendered == expected, "rendering differs from the substitution")
    }

    static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
    }
}
