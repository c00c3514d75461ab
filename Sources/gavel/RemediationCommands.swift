import Foundation
import GavelCore
import GavelDispatch
import GavelStore

/// `gavel list`, `gavel show`: remediations.
enum ListCommand {
    static func run(_ raw: [String]) throws -> Int32 {
        let args = try Arguments(raw, verb: "list", valued: ["state", "rule", "limit", "db", "config"], flags: ["json"])
        guard args.positional.isEmpty else { throw UsageError(message: "gavel list: unexpected argument '\(args.positional[0])'") }
        var filter = RemediationFilter()
        if let s = args.value("state") {
            filter.states = try s.split(separator: ",").map { name throws(UsageError) -> RemediationState in
                guard let state = RemediationState(rawValue: String(name)) else {
                    throw UsageError(
                        message:
                            "gavel list: --state must be one of \(RemediationState.allCases.map(\.rawValue).joined(separator: ", ")); got '\(name)'")
                }
                return state
            }
        }
        filter.rule = args.value("rule")
        let limit = try args.count("limit", verb: "list", default: 1000)
        let db = try Environment(args).openDatabase()
        let rows = try db.remediations(filter, limit: limit)
        if args.flag("json") {
            print(JSONValue.array(rows.map(\.json)).compactText)
        } else {
            for r in rows {
                let who = r.decidedBy.map { " by \($0)" } ?? ""
                print(
                    row([
                        String(r.id), r.state.rawValue + who, r.severity?.rawValue ?? "-", "\(r.action) \(r.target)", r.rule,
                        "\(r.signals) signal(s)",
                    ]))
            }
        }
        return 0
    }
}

enum ShowCommand {
    static func run(_ raw: [String]) throws -> Int32 {
        let args = try Arguments(raw, verb: "show", valued: ["db", "config"], flags: ["json"])
        guard args.positional.count == 1 else { throw UsageError(message: "gavel show: give exactly one remediation ID") }
        let id = try remediationID(args.positional[0], verb: "show")
        let db = try Environment(args).openDatabase()
        guard let r = try db.remediation(id: id) else {
            printError("gavel show: remediation \(id) does not exist")
            return 1
        }
        let attempts = try db.attempts(remediation: id)
        let audit = try db.auditLog(limit: 0, subject: "remediation \(id)").reversed()
        if args.flag("json") {
            guard case .object(var members) = r.json else { return 1 }
            members.append(JSONMember("request", r.request.map { .string($0) } ?? .null))
            members.append(
                JSONMember(
                    "attempts",
                    .array(
                        attempts.map { a in
                            .object([
                                JSONMember("started_at", .string(Timestamp.rfc3339(ms: a.startedMs))),
                                JSONMember("duration_ms", a.durationMs.map { .number(String($0)) } ?? .null),
                                JSONMember("status", a.status.map { .number(String($0)) } ?? .null),
                                JSONMember("outcome", a.outcome.map { .string($0) } ?? .null),
                                JSONMember("error", a.error.map { .string($0) } ?? .null),
                            ])
                        })))
            members.append(JSONMember("audit", .array(audit.map(\.json))))
            print(JSONValue.object(members).compactText)
            return 0
        }
        var lines = [
            "remediation \(r.id): \(r.action) \(r.target) (\(r.targetKind.rawValue))",
            "state:     \(r.state.rawValue)" + (r.decidedBy.map { " by \($0)" } ?? ""),
            "rule:      \(r.rule)", "severity:  \(r.severity?.rawValue ?? "-")",
            "signals:   \(r.signals) — \(r.signalIDs.joined(separator: ", "))",
            "ips:       \(r.ips.joined(separator: ", "))", "users:     \(r.users.joined(separator: ", "))",
        ]
        if let reason = r.reason { lines.append("reason:    \(reason)") }
        if let e = r.lastError { lines.append("error:     \(e)") }
        if let request = r.request, !request.isEmpty {
            lines.append("request (dry-run):")
            lines += request.split(separator: "\n").map { "  " + $0 }
        }
        for a in attempts {
            lines.append(
                "attempt at \(Timestamp.rfc3339(ms: a.startedMs)): \(a.outcome ?? "in progress") \(a.status.map(String.init) ?? "") \(a.error ?? "")")
        }
        for a in audit {
            lines.append("\(Timestamp.rfc3339(ms: a.atMs))  \(a.actor)  \(a.action)  \(a.before ?? "") → \(a.after ?? "")  \(a.detail ?? "")")
        }
        lines.forEach { print(safe($0)) }
        return 0
    }
}

/// `gavel approve|reject|retry ID... [--by NAME]`: record decisions (compare-and-set).
enum DecisionCommand {
    static func run(_ raw: [String], verb: String) throws -> Int32 {
        let args = try Arguments(raw, verb: verb, valued: verb == "reject" ? ["by", "reason", "db", "config"] : ["by", "db", "config"], flags: [])
        guard !args.positional.isEmpty else { throw UsageError(message: "gavel \(verb): give at least one remediation ID") }
        let ids = try args.positional.map { s throws(UsageError) in try remediationID(s, verb: verb) }
        let decision: Decision
        switch verb {
        case "approve": decision = .approve
        case "retry": decision = .retry
        default:
            guard let reason = args.value("reason")?.trimmingASCIIWhitespace(), !reason.isEmpty else {
                throw UsageError(message: "gavel reject: --reason TEXT is required (say why, for the audit log)")
            }
            decision = .reject(reason)
        }
        let actor = try analystName(args, verb: verb)
        let db = try Environment(args).openDatabase()
        do {
            try db.decide(ids, decision, by: actor)
        } catch let error as StoreError {
            let nothing = ids.count > 1 ? "nothing was changed (decisions on several IDs apply all or none): " : ""
            printError(safe("gavel \(verb): \(nothing)\(error)"))
            return 1
        }
        let done = ["approve": "approved", "reject": "rejected", "retry": "queued for retry"][verb]!
        print("\(done): \(ids.map(String.init).joined(separator: ", ")) (by \(actor))")
        return 0
    }
}

/// `gavel rules [--json]`, `gavel auto (RULE | --all) (on|off|dry-run)`.
enum RulesCommand {
    static func run(_ raw: [String]) throws -> Int32 {
        let args = try Arguments(raw, verb: "rules", valued: ["db", "config"], flags: ["json"])
        guard args.positional.isEmpty else { throw UsageError(message: "gavel rules: unexpected argument '\(args.positional[0])'") }
        let env = Environment(args)
        let config = try env.loadConfig()
        let db = try Database(path: env.databasePath)
        let counts = try db.ruleCounts()
        let rules = try db.rules()
        let autoOff = try db.automaticDispatchDisabled()
        if args.flag("json") {
            print(
                JSONValue.array(
                    rules.map { rule in
                        let actions = db.enabledActions(for: rule, config: config)
                        return .object([
                            JSONMember("rule", .string(rule.name ?? rule.key)), JSONMember("rule_id", rule.ruleID.map { .string($0) } ?? .null),
                            JSONMember("mode", .string(rule.mode.rawValue)), JSONMember("actions", .array(actions.map { .string($0) })),
                            JSONMember("throttled", .bool(rule.throttledMs != nil)),
                            JSONMember("pending", .number(String(counts[rule.key]?.pending ?? 0))),
                            JSONMember("dispatched", .number(String(counts[rule.key]?.dispatched ?? 0))),
                            JSONMember("last_seen", rule.lastSeenMs.map { .string(Timestamp.rfc3339(ms: $0)) } ?? .null),
                        ])
                    }
                ).compactText)
        } else {
            if autoOff { print("automatic dispatch is OFF for all rules (gavel auto --all on to resume)") }
            for rule in rules {
                let c = counts[rule.key]
                print(
                    row([
                        rule.mode.rawValue + (rule.throttledMs != nil ? " (throttled)" : ""), rule.name ?? rule.key,
                        "pending \(c?.pending ?? 0)", "dispatched \(c?.dispatched ?? 0)",
                        "actions " + db.enabledActions(for: rule, config: config).joined(separator: ","),
                    ]))
            }
        }
        return 0
    }
}

enum AutoCommand {
    static func run(_ raw: [String]) throws -> Int32 {
        let args = try Arguments(raw, verb: "auto", valued: ["by", "db", "config"], flags: ["all", "new"])
        let all = args.flag("all")
        guard args.positional.count == (all ? 1 : 2) else {
            throw UsageError(message: "gavel auto: usage: gavel auto (RULE | --all) (on|off|dry-run)")
        }
        let word = args.positional.last!
        let actor = try analystName(args, verb: "auto")
        if all {
            guard word == "on" || word == "off" else { throw UsageError(message: "gavel auto --all: say on or off (the kill switch), got '\(word)'") }
            let db = try Environment(args).openDatabase()
            try db.setAutomaticDispatch(enabled: word == "on", by: actor)
            print(word == "off" ? "automatic dispatch stopped for all rules" : "automatic dispatch allowed again (rules in auto resume)")
            return 0
        }
        let mode: RuleMode
        switch word {
        case "on", "auto": mode = .auto
        case "off", "manual": mode = .manual
        case "dry-run": mode = .dryRun
        default: throw UsageError(message: "gavel auto: mode must be on, off or dry-run, got '\(word)'")
        }
        let db = try Environment(args).openDatabase()
        let rule = args.positional[0]
        if try db.rule(key: rule) == nil && !args.flag("new") {
            var probe = Signal(signalID: "")
            probe.ruleName = rule
            probe.ruleID = rule
            if try Environment(args).loadConfig().ruleConfig(for: probe) == nil {
                let known = try db.rules().prefix(10).map { $0.name ?? $0.key }.joined(separator: "; ")
                printError(
                    safe(
                        "gavel auto: no detection rule '\(rule)' has sent a signal or is configured" + (known.isEmpty ? "" : " (known: \(known))")
                            + "; to set the mode of a rule before its first signal, add --new"))
                return 1
            }
        }
        let before = try db.setRuleMode(key: rule, to: mode, by: actor)
        print(safe("rule \(rule): \(before?.rawValue ?? "new") → \(mode.rawValue)"))
        return 0
    }
}

enum AuditCommand {
    static func run(_ raw: [String]) throws -> Int32 {
        let args = try Arguments(raw, verb: "audit", valued: ["limit", "db", "config"], flags: ["json"])
        guard args.positional.isEmpty else { throw UsageError(message: "gavel audit: unexpected argument '\(args.positional[0])'") }
        let limit = try args.count("limit", verb: "audit", default: 1000)
        let rows = try Environment(args).openDatabase().auditLog(limit: limit)
        if args.flag("json") {
            print(JSONValue.array(rows.map(\.json)).compactText)
        } else {
            for a in rows {
                print(
                    safe(
                        "\(Timestamp.rfc3339(ms: a.atMs))  \(a.actor)  \(a.action)  \(a.subject)  \(a.before ?? "") → \(a.after ?? "")  \(a.detail ?? "")"
                    ))
            }
        }
        return 0
    }
}

/// `gavel dispatch [--once]`: the dispatcher alone.
enum DispatchCommand {
    static func run(_ raw: [String]) throws -> Int32 {
        let args = try Arguments(raw, verb: "dispatch", valued: ["db", "config"], flags: ["once"])
        guard args.positional.isEmpty else { throw UsageError(message: "gavel dispatch: unexpected argument '\(args.positional[0])'") }
        let env = Environment(args)
        try env.checkDatabasePath(mustExist: true)
        let dispatcher = Dispatcher(databasePath: env.databasePath, config: try env.loadConfig(), log: { printError(safe($0)) })
        if args.flag("once") {
            let (attempted, failed) = try dispatcher.runOnce()
            print("attempted \(attempted) remediation(s), \(failed) failed")
            return failed > 0 ? 1 : 0
        }
        signal(SIGPIPE, SIG_IGN)
        dispatcher.start()
        printError("dispatcher running on \(env.databasePath)")
        Shutdown.waitForSignal()
        dispatcher.stop()
        return 0
    }
}

func remediationID(_ text: String, verb: String) throws(UsageError) -> Int64 {
    guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber }), let id = Int64(text), id > 0 else {
        throw UsageError(message: "gavel \(verb): '\(text)' is not a remediation ID (a positive number)")
    }
    return id
}

/// `--by NAME`, else the OS user; validated so the audit log holds a plain name.
func analystName(_ args: Arguments, verb: String) throws(UsageError) -> String {
    if let by = args.value("by") {
        let trimmed = by.trimmingASCIIWhitespace()
        guard !trimmed.isEmpty, trimmed.count <= 64, !trimmed.hasPrefix("auto:"),
            trimmed.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f })
        else {
            throw UsageError(message: "gavel \(verb): --by must be 1–64 printable characters and not start with auto:")
        }
        return trimmed
    }
    if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
    return ProcessInfo.processInfo.environment["USER"] ?? "unknown"
}

/// One output line of fields, each made safe for a terminal, separated by two spaces.
func row(_ fields: [String]) -> String { fields.map { DisplayText.sanitize($0) }.joined(separator: "  ") }

/// One line of text from the database made safe for a terminal: control characters (LF
/// included, so a payload cannot start a fake line) and bidi characters shown as escapes.
func safe(_ text: String) -> String { DisplayText.sanitize(text) }
