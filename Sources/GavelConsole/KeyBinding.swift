/// One row of the key table: which keys run which command, where, and how it is explained.
///
/// The loop dispatches on these, and the footer hints and the `?` overlay are generated from the
/// same values, so they cannot drift (k9s `KeyActions`, lazygit `Binding`).
public struct KeyBinding: Sendable, Equatable {
    /// How the keys are written in help and the footer: `j/↓`, `Space`, `1-5`.
    public var label: String
    public var keys: [Key]
    public var command: Command
    /// One line for the `?` overlay.
    public var help: String
    /// A word or two for the footer; nil keeps the binding out of the footer.
    public var hint: String?
    /// True when the command asks for a `y` before it acts (always, not only for some rows).
    public var dangerous: Bool

    public init(_ label: String, _ keys: [Key], _ command: Command, help: String, hint: String? = nil, dangerous: Bool = false) {
        self.label = label
        self.keys = keys
        self.command = command
        self.help = help
        self.hint = hint
        self.dangerous = dangerous
    }

    /// Why the binding does nothing right now, or nil when it is enabled.
    public func disabledReason(readOnly: Bool) -> String? {
        readOnly && command.changesState ? "read-only" : nil
    }
}

/// The key table: one global keymap plus one per view. A key is looked up in the view's keymap
/// first, then the global one; the tests check that no key appears twice within a view.
public struct Keymap: Sendable {
    public var global: [KeyBinding]
    public var perView: [ConsoleView: [KeyBinding]]

    public init(global: [KeyBinding], perView: [ConsoleView: [KeyBinding]]) {
        self.global = global
        self.perView = perView
    }

    /// The bindings active in `view`: the view's own first, then the global ones.
    public func bindings(in view: ConsoleView) -> [KeyBinding] {
        (perView[view] ?? []) + global
    }

    /// The binding `key` triggers in `view`, if any.
    public func binding(for key: Key, in view: ConsoleView) -> KeyBinding? {
        bindings(in: view).first { $0.keys.contains(key) }
    }

    /// Footer hints for `view` in display order as `(label, hint)`; bindings disabled by
    /// read-only mode are left out.
    public func footerHints(in view: ConsoleView, readOnly: Bool) -> [(label: String, hint: String)] {
        bindings(in: view).compactMap { b in
            guard let hint = b.hint, b.disabledReason(readOnly: readOnly) == nil else { return nil }
            return (b.label, hint)
        }
    }

    /// The section titles of the `?` overlay for `view` (its own keys, then the global ones), so
    /// the renderer draws both in one heading style.
    public func helpHeadings(in view: ConsoleView) -> [String] { ["\(view.title) view", "Everywhere"] }

    /// The `?` overlay for `view`: a title line per section (``helpHeadings(in:)``), then
    /// `label  help` lines, with `(asks to confirm)` and `(disabled: read-only)` notes.
    public func helpLines(in view: ConsoleView, readOnly: Bool) -> [String] {
        func lines(_ bs: [KeyBinding]) -> [String] {
            bs.map { b in
                var line = b.label.padding(toLength: max(12, b.label.count + 2), withPad: " ", startingAt: 0) + b.help
                if b.dangerous { line += " (asks to confirm)" }
                if let why = b.disabledReason(readOnly: readOnly) { line += " (disabled: \(why))" }
                return line
            }
        }
        let headings = helpHeadings(in: view)
        var out = [headings[0]] + lines(perView[view] ?? [])
        out += ["", headings[1]] + lines(global)
        out += ["", "In prompts: Enter accepts, Esc cancels; confirmations: y confirms, n or Esc cancels."]
        return out
    }

    /// gavel's keys.
    public static let standard: Keymap = {
        let global: [KeyBinding] = [
            KeyBinding("j/↓", [.c("j"), .down], .moveDown, help: "move down"),
            KeyBinding("k/↑", [.c("k"), .up], .moveUp, help: "move up"),
            KeyBinding("PgDn", [.pageDown, .c("J")], .pageDown, help: "page down"),
            KeyBinding("PgUp", [.pageUp, .c("K")], .pageUp, help: "page up"),
            KeyBinding("g", [.c("g"), .home], .top, help: "go to the top"),
            KeyBinding("G", [.c("G"), .end], .bottom, help: "go to the bottom"),
            KeyBinding("Enter", [.enter], .focusDetail, help: "focus the detail pane (j/k scroll it)", hint: "detail"),
            KeyBinding("Esc", [.escape], .back, help: "back to the list; clear an active filter"),
            KeyBinding("Tab", [.tab], .nextView, help: "next view", hint: "view"),
            KeyBinding("BackTab", [.backTab], .previousView, help: "previous view"),
            KeyBinding("1", [.c("1")], .view(.pending), help: "Pending view"),
            KeyBinding("2", [.c("2")], .view(.history), help: "History view"),
            KeyBinding("3", [.c("3")], .view(.rules), help: "Rules view"),
            KeyBinding("4", [.c("4")], .view(.audit), help: "Audit view"),
            KeyBinding("5", [.c("5")], .view(.intakeErrors), help: "Intake errors view"),
            KeyBinding("6", [.c("6")], .view(.inForce), help: "In force view (what is in force, soonest expiry first)"),
            KeyBinding("/", [.c("/")], .filter, help: "filter by rule, IP, user or target", hint: "filter"),
            KeyBinding("n", [.c("n")], .nextMatch, help: "next match of the filter"),
            KeyBinding("N", [.c("N")], .prevMatch, help: "previous match of the filter"),
            KeyBinding("?", [.c("?"), .function(1)], .help, help: "this help", hint: "help"),
            KeyBinding("q", [.c("q")], .quit, help: "quit", hint: "quit"),
            KeyBinding("Ctrl-C", [.ctrlC], .quit, help: "quit"),
        ]
        let decide: [KeyBinding] = [
            KeyBinding("a", [.c("a")], .approve, help: "approve the selected (or every tagged) remediation", hint: "approve"),
            KeyBinding("r", [.c("r")], .reject, help: "reject, with a reason", hint: "reject"),
            KeyBinding(
                "F", [.c("F")], .rejectFalsePositive,
                help: "reject as a false positive, with a reason (the word back archives its Datadog signals as false_positive)"),
            KeyBinding("Space", [.c(" ")], .toggleTag, help: "tag / untag the row (a and r then act on all tagged)", hint: "tag"),
            KeyBinding("A", [.c("A")], .toggleAuto, help: "switch the row's rule to auto / back to manual", hint: "auto", dangerous: true),
            KeyBinding("d", [.c("d")], .dryRun, help: "switch the row's rule to dry-run / back to manual"),
        ]
        let retry = KeyBinding("R", [.c("R")], .retry, help: "retry a failed remediation", hint: "retry")
        let state = KeyBinding("f", [.c("f")], .cycleStateFilter, help: "cycle the state filter", hint: "state")
        let withdraw = KeyBinding("w", [.c("w")], .withdraw, help: "take back an approval not yet sent (back to pending)", hint: "withdraw")
        let note = KeyBinding("c", [.c("c")], .note, help: "leave a note on the remediation (shown in the detail pane and gavel show)", hint: "note")
        let inForce: [KeyBinding] = [
            KeyBinding(
                "x", [.c("x")], .revert, help: "revert now: asks why, then shows the exact revert request", hint: "revert", dangerous: true),
            KeyBinding("e", [.c("e")], .extend, help: "extend: move the expiry by a duration (30m, 4h, 7d) or make it permanent", hint: "extend"),
            KeyBinding("a", [.c("a")], .approve, help: "approve a proposed revert (revert-pending)"),
            KeyBinding("r", [.c("r")], .reject, help: "reject a proposed revert: keep it in force, with a reason"),
            KeyBinding("R", [.c("R")], .retry, help: "retry a failed revert"),
            KeyBinding("c", [.c("c")], .note, help: "leave a note on the remediation"),
        ]
        let rules: [KeyBinding] = [
            KeyBinding("A", [.c("A")], .toggleAuto, help: "switch the rule to auto / back to manual", hint: "auto", dangerous: true),
            KeyBinding("d", [.c("d")], .dryRun, help: "switch the rule to dry-run / back to manual", hint: "dry-run"),
            KeyBinding("m", [.c("m")], .setMode(.manual), help: "switch the rule to manual", hint: "manual"),
            KeyBinding("b", [.c("b")], .toggleAction(ActionName.banIP), help: "enable / disable ban-ip for the rule", hint: "ban-ip"),
            KeyBinding(
                "u", [.c("u")], .toggleAction(ActionName.disableUser), help: "enable / disable disable-user for the rule", hint: "disable-user"),
            KeyBinding(
                "s", [.c("s")], .toggleAction(ActionName.deleteSecurityGroup),
                help: "enable / disable delete-security-group for the rule", hint: "delete-sg"),
        ]
        return Keymap(
            global: global,
            perView: [
                .pending: decide + [note],
                .history: decide + [retry, withdraw, note, state],
                .rules: rules,
                .audit: [],
                .intakeErrors: [],
                .inForce: inForce,
            ])
    }()
}
