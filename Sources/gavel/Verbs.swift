import GavelCore
import GavelRuntime

/// Every verb of the command line (DESIGN.md "Command line"), in the order `gavel help` lists them.
enum Verbs {
    /// What `gavel --version` prints (`GavelVersion.number`, the same as the default `User-Agent`).
    static let version = "gavel \(GavelVersion.number)"

    static let all: [Verb] = [
        Verb(
            name: "console", usage: "gavel [console]  [--listen HOST:PORT] [--no-receiver] [--read-only] [--by NAME] [--insecure]",
            positionals: .none,
            summary: "Run the console with its embedded receiver and dispatcher (the default verb).",
            options: [
                Option("listen", "HOST:PORT", "receiver address (default 127.0.0.1:8787; port 0 picks a free one)"),
                Option("no-receiver", nil, "attach to a database another gavel fills (the dispatcher still runs)"),
                Option("read-only", nil, "show everything, decide nothing (no receiver, no dispatcher)"), .by,
                Option("insecure", nil, "allow a non-loopback --listen without a shared secret"),
                Option("script", "KEYS", "replay keys (e.g. \"j j a\"), then exit"),
                Option("dump", "FILE", "with --script: save the final screen as text"),
            ], store: .create, run: Running.console),
        Verb(
            name: "serve", usage: "gavel serve      [--listen HOST:PORT] [--insecure]", positionals: .none,
            summary: "Run the receiver and the dispatcher without a console.",
            options: [
                Option("listen", "HOST:PORT", "receiver address (default 127.0.0.1:8787; port 0 picks a free one)"),
                Option("insecure", nil, "allow a non-loopback --listen without a shared secret ($GAVEL_TOKEN)"),
            ], store: .create, run: Running.serve),
        Verb(
            name: "dispatch", usage: "gavel dispatch   [--once]", positionals: .none,
            summary: "Run the dispatcher alone (--once: send what is approved, then exit).",
            options: [Option("once", nil, "send what is approved and due, then exit")], store: .existing,
            notes: """
                Exit status with --once: 1 when a remediation attempted in this run ended failed. With a datadog section, --once then
                sends the Datadog triage updates that are due (their failures do not change the exit status).
                """, run: Running.dispatch),
        Verb(
            name: "signals", usage: "gavel signals    [--json] [--limit N]", positionals: .none,
            summary: "List received signals, newest first, with their sender (source), targets and context.",
            options: [.json, .limit], store: .existing,
            notes: """
                Context (the monitored host, an attacked instance and its security groups) is shown after the targets and is never
                remediated; a resolved alert is marked resolved. --json adds source, status, context_*, ip_ranges, suggested_duration_s.
                """, run: Reading.signals),
        Verb(
            name: "list", usage: "gavel list       [--state STATE] [--rule RULE] [--json] [--limit N]", positionals: .none,
            summary: "List remediations, newest first.",
            options: [
                Option("state", "STATE", "only these states, comma-separated (\(RemediationState.allCases.map(\.rawValue).joined(separator: ", ")))"),
                Option("rule", "RULE", "only this detection rule (its id or name)"), .json, .limit,
            ], store: .existing, run: Reading.list),
        Verb(
            name: "show", usage: "gavel show ID    [--json]", positionals: Positionals(synopsis: "ID", min: 1, max: 1),
            summary: "Show one remediation: its signals, the exact request approving it sends (secrets masked), attempts and audit trail.",
            options: [
                .json, Option("by", "NAME", "whose approval the request preview shows (default: $GAVEL_ANALYST, else $SUDO_USER, else the OS user)"),
            ], store: .existing,
            run: Reading.show),
        Verb(
            name: "approve", usage: "gavel approve ID... [--by NAME] [--yes]", positionals: Positionals(synopsis: "ID...", min: 1, max: nil),
            summary: "Approve pending remediations (a running serve/console dispatches them).",
            options: [.by, Option("yes", nil, "confirm an action marked confirm without a terminal (delete-security-group)")], store: .existing,
            notes: """
                Decisions on several IDs apply all or none. An action marked confirm asks y/N on a terminal (showing the
                canonical target and the request) and needs --yes without one. An action that needs several approvals
                (the two-person rule) stays pending until different analysts approved it; the last approval binds the request.
                """, run: { try Deciding.decide($0, .approve) }),
        Verb(
            name: "reject", usage: "gavel reject  ID... --reason TEXT [--false-positive] [--by NAME]",
            positionals: Positionals(synopsis: "ID...", min: 1, max: nil), summary: "Reject pending remediations with a reason.",
            options: [
                Option("reason", "TEXT", "why (required; recorded in the audit log)"),
                Option("false-positive", nil, "the signals behind it are a false positive (with the word back to Datadog: archived as such)"), .by,
            ], store: .existing,
            notes: """
                Decisions on several IDs apply all or none. With a datadog section in the configuration, each Datadog signal of
                a rejection marked --false-positive is archived in Datadog with reason false_positive (docs/datadog.md).
                """, run: { try Deciding.decide($0, nil) }),
        Verb(
            name: "retry", usage: "gavel retry   ID... [--by NAME]", positionals: Positionals(synopsis: "ID...", min: 1, max: nil),
            summary: "Send failed remediations again (the request bound at approval).", options: [.by], store: .existing,
            notes: "Decisions on several IDs apply all or none.", run: { try Deciding.decide($0, .retry) }),
        Verb(
            name: "withdraw", usage: "gavel withdraw ID... [--by NAME]", positionals: Positionals(synopsis: "ID...", min: 1, max: nil),
            summary: "Take back approvals no dispatcher has claimed yet (back to pending).", options: [.by], store: .existing,
            notes: "Decisions on several IDs apply all or none.", run: { try Deciding.decide($0, .withdraw) }),
        Verb(
            name: "active", usage: "gavel active     [--json] [--limit N]", positionals: .none,
            summary: "List every remediation in force: target, action, since, expires_at and time left.", options: [.json, .limit],
            store: .existing, run: Lifecycle.active),
        Verb(
            name: "revert", usage: "gavel revert ID... --reason TEXT [--by NAME]", positionals: Positionals(synopsis: "ID...", min: 1, max: nil),
            summary: "Undo remediations in force now (or retry a failed revert); the revert request is bound and sent at once.",
            options: [Option("reason", "TEXT", "why (required; recorded in the audit log)"), .by], store: .existing,
            notes: "An irreversible action, or one with no revert configured, is refused with the reason. Several IDs: all or none.",
            run: Lifecycle.revert),
        Verb(
            name: "extend", usage: "gavel extend ID... DURATION [--by NAME]", positionals: Positionals(synopsis: "ID... DURATION", min: 2, max: nil),
            summary: "Move the expiry of remediations in force later by DURATION (30m, 4h, 7d), or make them permanent.", options: [.by],
            store: .existing, run: Lifecycle.extend),
        Verb(
            name: "allowlist", usage: "gavel allowlist [list | add TARGET --reason TEXT] [--kind KIND] [--by NAME] [--json]",
            positionals: Positionals(synopsis: "[list | add TARGET]", min: 0, max: 2),
            summary: "List run-time allowlist entries, or add one: what is in force on it gets a revert proposed.",
            options: [
                Option("reason", "TEXT", "why (required for add)"),
                Option("kind", "KIND", "ip, user or security_group (default: guessed from TARGET)"),
                .by, .json,
            ], store: .existing,
            notes: "A revert is proposed for an analyst, and started at once when the remediation's rule is in auto.",
            run: Lifecycle.allowlist),
        Verb(
            name: "rules", usage: "gavel rules      [--json]", positionals: .none, summary: "List detection rules with their mode and counts.",
            options: [.json], store: .existing, run: Reading.rules),
        Verb(
            name: "auto", usage: "gavel auto (RULE | --all) (on|off|dry-run)",
            positionals: Positionals(synopsis: "(RULE | --all) (on|off|dry-run)", min: 1, max: 2),
            summary: "Set a detection rule's mode (on = auto, off = manual); --all off is the kill switch.",
            options: [
                Option("all", nil, "every rule: the kill switch (--all off) and its release (--all on)"), .by,
                Option("new", nil, "set the mode of a rule that has not sent a signal yet and is not configured"),
            ], store: .existing,
            notes: """
                --all takes on or off only (the kill switch and its release); dry-run is set per rule. Leaving auto (and
                --all off) returns the rule's automatic approvals not yet sent to pending.
                """,
            run: Deciding.auto),
        Verb(
            name: "note", usage: "gavel note ID TEXT [--by NAME]", positionals: Positionals(synopsis: "ID TEXT", min: 2, max: nil),
            summary: "Leave a note on a remediation (shown in the console's detail pane and gavel show).", options: [.by], store: .existing,
            run: Deciding.note),
        Verb(
            name: "audit", usage: "gavel audit      [--json] [--limit N] [--verify] [--export]", positionals: .none,
            summary: "Show the audit log, newest first; verify its hash chain, or export it for an auditor.",
            options: [
                .json, .limit, Option("verify", nil, "walk the hash chain and name the first entry that does not match (exit 1)"),
                Option("export", nil, "print every entry oldest first as JSON lines with its hashes (docs/operations.md: verifying an export)"),
            ], store: .existing, run: Reading.audit),
        Verb(
            name: "config", usage: "gavel config (show | apply FILE) [--json] [--by NAME]",
            positionals: Positionals(synopsis: "(show | apply FILE)", min: 1, max: 2),
            summary: "Show the configuration in force in the database, or apply a configuration file (a new version, audited).",
            options: [.by, .json], store: .existing,
            notes: """
                Every process sharing a database decides and dispatches under the configuration in force.
                A database with none adopts the first file a process brings; a process whose file differs
                says so and holds its dispatch until the file is applied with 'gavel config apply FILE'.
                """,
            run: Configuring.config),
        Verb(
            name: "migrate", usage: "gavel migrate --from PATH --to URI", positionals: .none,
            summary: "Copy an SQLite database (signals, remediations, rules, audit, …, ids kept) into an empty PostgreSQL database.",
            options: [
                Option("from", "PATH", "the SQLite database file to copy (it is only read)"),
                Option("to", "URI", "an empty PostgreSQL database: postgres://USER@HOST/DB (password: PGPASSWORD or ~/.pgpass)"),
            ], store: .none,
            notes: """
                Prints how many rows of each table were copied. The copy is one transaction: a failure leaves
                the PostgreSQL database as it was. Stop every gavel using the SQLite file first, then point
                them all at the URI (--db or $GAVEL_DB); see docs/scale-out.md.
                """,
            run: Migrating.migrate),
        Verb(
            name: "demo", usage: "gavel demo       [--to BASE_URL]", positionals: .none,
            summary: "Post a realistic set of signals to a running receiver (default http://127.0.0.1:8787).",
            options: [Option("to", "BASE_URL", "the receiver's base URL (default http://127.0.0.1:8787)")], store: .none,
            run: DemoCommand.run),
        Verb(
            name: "help", usage: "gavel --version | gavel help [VERB]", positionals: Positionals(synopsis: "[VERB]", min: 0, max: 1),
            summary: "Show the version, or help for a verb.", options: [], store: .none,
            run: { invocation in
                guard let name = invocation.positional.first else {
                    print(overview)
                    return 0
                }
                guard let verb = named(name) else { throw UsageFailure("gavel help: unknown verb '\(name)'") }
                print(verb.help)
                return 0
            }),
    ]

    /// The verb with this name.
    static func named(_ name: String) -> Verb? { all.first { $0.name == name } }

    /// `gavel help`: every usage line, the common options, the states.
    static var overview: String {
        var lines = ["gavel — a terminal console for security remediation", "", "Usage:"]
        lines += all.map { "  " + $0.usage }
        lines += ["", "Every verb also takes:"]
        lines += Option.common.map { "  \($0.synopsis)  \($0.help)" }
        lines += [
            "", "Remediation states: " + RemediationState.allCases.map(\.rawValue).joined(separator: ", "),
            "Rule modes: " + RuleMode.allCases.map(\.rawValue).joined(separator: ", "),
            "", "Run 'gavel help VERB' for one verb.",
        ]
        return lines.joined(separator: "\n")
    }
}
