extension ActionLoader {
    /// How an action is sent in a storm (issue 15): `concurrency` (1…256, default 8), `rate`
    /// (`"COUNT/DURATION"`), `circuit` {`failures` 0…1000, `cool_down` duration ≤ 1h} and `batch`
    /// {`max` 1…10000, `window` duration ≤ 10s, `body`, `revert_body`}.
    func sending(_ node: ConfigObject, into action: inout ActionConfig) throws(ConfigError) {
        action.concurrency = try node.int("concurrency", in: 1...256) ?? action.concurrency
        if let text = try node.string("rate") {
            do {
                action.rate = try RateLimit(parsing: text)
            } catch {
                throw ConfigError(field: node.field("rate"), message: error.message)
            }
        }
        if let circuit = try node.object("circuit") {
            var settings = action.circuit
            settings.failures = try circuit.int("failures", in: 0...1000) ?? settings.failures
            if let text = try circuit.string("cool_down") {
                guard let ms = try ActionLoader.duration(text, field: circuit.field("cool_down")), ms <= DurationText.hour else {
                    throw ConfigError(field: circuit.field("cool_down"), message: "expected a duration of at most 1h, e.g. \"30s\"")
                }
                settings.coolDownMs = ms
            }
            try circuit.finish()
            action.circuit = settings
        }
        if let batch = try node.object("batch") {
            guard let max = try batch.int("max", in: 1...10_000) else {
                throw ConfigError(field: batch.field("max"), message: "required: the most remediations per request (1…10000), e.g. 500")
            }
            var windowMs: Int64 = 0
            if let text = try batch.string("window") {
                guard let ms = try ActionLoader.duration(text, field: batch.field("window")), ms <= 10_000 else {
                    throw ConfigError(field: batch.field("window"), message: "expected a duration of at most 10s, e.g. \"200ms\"")
                }
                windowMs = ms
            }
            var settings = BatchSettings(max: max, windowMs: windowMs)
            if let body = batch.raw("body"), body != .null {
                settings.body = try JSONTemplate(batchBody: body, field: batch.field("body"))
                settings.revertBody = settings.body
            }
            if let body = batch.raw("revert_body"), body != .null {
                settings.revertBody = try JSONTemplate(batchBody: body, field: batch.field("revert_body"))
            }
            try batch.finish()
            try ActionLoader.checkBatchable(action.kind, field: ActionLoader.kindField(action.kind, node), batchField: node.field("batch"))
            if let revert = action.revert {
                try ActionLoader.checkBatchable(
                    revert, field: ActionLoader.kindField(revert, node, under: "revert"), batchField: node.field("batch"))
            }
            action.batch = settings
        }
    }

    /// `actions.NAME.http` (or `.revert.http`, …): where a kind's templates are.
    static func kindField(_ kind: ActionKind, _ node: ConfigObject, under: String? = nil) -> String {
        let name: String
        switch kind {
        case .http: name = "http"
        case .command: name = "command"
        case .outbox: name = "outbox"
        }
        return under.map { ConfigPath.child(node.field($0), name) } ?? node.field(name)
    }

    /// A batch sends one request for many targets: its kind must be `http` or `outbox`, and its URL
    /// and headers may use only values that are the same for every target (`{{action}}`,
    /// `{{env.NAME}}`); the `Idempotency-Key` header carries the batch's key whatever it says.
    static func checkBatchable(_ kind: ActionKind, field: String, batchField: String) throws(ConfigError) {
        let headers: [HeaderTemplate]
        switch kind {
        case .command:
            throw ConfigError(field: batchField, message: "a batch needs an http or outbox action (a command is run for one target)")
        case .http(let h):
            try checkShared(h.url, field: ConfigPath.child(field, "url"))
            headers = h.headers
        case .outbox(let o):
            headers = o.headers
        }
        for header in headers where header.name.lowercased() != "idempotency-key" {
            try checkShared(header.value, field: ConfigPath.child(ConfigPath.child(field, "headers"), header.name))
        }
    }

    private static func checkShared(_ template: Template, field: String) throws(ConfigError) {
        for segment in template.segments {
            switch segment {
            case .placeholder(.action), .literal, .environment: continue
            case .placeholder(let p):
                throw ConfigError(
                    field: field,
                    message: "{{\(p.rawValue)}} differs per target, but a batch sends one request for many targets: "
                        + "use it in the body (each target's item)")
            case .response(let path):
                throw ConfigError(
                    field: field,
                    message: "{{response.json.\(path.joined(separator: "."))}} differs per target, but a batch sends one request for many targets")
            }
        }
    }
}
