/// Usage text for every verb; `gavel help VERB` prints these (DESIGN.md "Command line").
enum Help {
    static let version = "gavel 0.1.0"

    static let common = """
        Every verb also takes:
          --db PATH       database (default $GAVEL_DB or ./gavel.db)
          --config PATH   configuration (default $GAVEL_CONFIG, or ./gavel.json when present, else built-in defaults)
        """

    static let verbs: [(name: String, usage: String, summary: String)] = [
        (
            "console", "gavel [console]  [--listen HOST:PORT] [--no-receiver] [--read-only]",
            "Run the console with its embedded receiver and dispatcher (the default verb)."
        ),
        (
            "serve", "gavel serve      [--listen HOST:PORT] [--insecure]",
            "Run the receiver and the dispatcher without a console."
        ),
        (
            "dispatch", "gavel dispatch   [--once]",
            "Run the dispatcher alone (--once: send what is approved, then exit)."
        ),
        (
            "signals", "gavel signals    [--json] [--limit N]",
            "List received signals, newest first."
        ),
        (
            "list", "gavel list       [--state STATE] [--rule RULE] [--json] [--limit N]",
            "List remediations, newest first."
        ),
        (
            "show", "gavel show ID    [--json]",
            "Show one remediation with its signals, attempts and audit trail."
        ),
        (
            "approve", "gavel approve ID... [--by NAME]",
            "Approve pending remediations (a running serve/console dispatches them)."
        ),
        (
            "reject", "gavel reject  ID... --reason TEXT [--by NAME]",
            "Reject pending remediations with a reason."
        ),
        (
            "retry", "gavel retry   ID... [--by NAME]",
            "Send failed remediations again."
        ),
        (
            "rules", "gavel rules      [--json]",
            "List detection rules with their mode and counts."
        ),
        (
            "auto", "gavel auto (RULE | --all) (on|off|dry-run)",
            "Set a detection rule's mode (on = auto, off = manual); --all off is the kill switch."
        ),
        (
            "audit", "gavel audit      [--json] [--limit N]",
            "Show the audit log, newest first."
        ),
        (
            "demo", "gavel demo       [--to BASE_URL]",
            "Post a realistic set of signals to a running receiver (default http://127.0.0.1:8787)."
        ),
        (
            "help", "gavel --version | gavel help [VERB]",
            "Show the version, or help for a verb."
        ),
    ]

    static var overview: String {
        var lines = ["gavel — a terminal console for security remediation", "", "Usage:"]
        for v in verbs { lines.append("  " + v.usage) }
        lines += ["", common, "", "Run 'gavel help VERB' for one verb."]
        return lines.joined(separator: "\n")
    }

    /// Options beyond the contract's usage line, per verb.
    static let extraOptions: [String: String] = [
        "console": """
        Options:
          --listen HOST:PORT  receiver address (default 127.0.0.1:8787; port 0 picks a free one)
          --no-receiver       attach to a database another gavel fills (the dispatcher still runs)
          --read-only         show everything, decide nothing (no receiver, no dispatcher)
          --by NAME           the analyst named in the audit log (default: the OS user)
          --insecure          allow a non-loopback --listen without a shared secret
          --script KEYS       replay keys (e.g. "j j a"), then exit; with --dump FILE, save the screen
        """,
        "serve": """
        Options:
          --listen HOST:PORT  receiver address (default 127.0.0.1:8787; port 0 picks a free one)
          --insecure          allow a non-loopback --listen without a shared secret ($GAVEL_TOKEN)
        """,
        "auto": """
        Options:
          --by NAME           who is named in the audit log (default: the OS user)
          --new               set the mode of a rule that has not sent a signal yet and is not configured
        Automatic approvals not yet sent go back to pending when --all off is given.
        """,
        "dispatch": """
        Exit status with --once: 1 when a remediation attempted in this run ended failed.
        """,
    ]

    static func text(for verb: String) -> String? {
        guard let v = verbs.first(where: { $0.name == verb }) else { return nil }
        let extra = extraOptions[verb].map { "\n" + $0 + "\n" } ?? ""
        return "Usage: \(v.usage)\n\n\(v.summary)\n\(extra)\n\(common)"
    }
}
