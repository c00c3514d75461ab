import GavelCore
import GavelStore
import Testing

@testable import GavelConsole

@Suite struct KeymapTests {
    let keymap = Keymap.standard

    @Test(arguments: ConsoleView.allCases)
    func noKeyIsBoundTwiceInAView(_ view: ConsoleView) {
        var seen: [Key: String] = [:]
        for b in keymap.bindings(in: view) {
            for k in b.keys {
                #expect(seen[k] == nil, "\(k) bound to \(seen[k] ?? "") and \(b.command) in \(view)")
                seen[k] = b.command.description
            }
        }
    }

    @Test func everyBindingIsExplained() {
        let all = keymap.global + keymap.perView.values.flatMap { $0 }
        for b in all {
            #expect(!b.help.isEmpty)
            #expect(!b.label.isEmpty)
            #expect(!b.keys.isEmpty)
        }
    }

    @Test(arguments: Command.allCases)
    func everyCommandHasAKey(_ command: Command) {
        let all = keymap.global + keymap.perView.values.flatMap { $0 }
        #expect(all.contains { $0.command == command })
    }

    @Test func requiredKeys() {
        let expectations: [(Key, ConsoleView, Command)] = [
            (.c("j"), .pending, .moveDown), (.down, .pending, .moveDown), (.c("k"), .pending, .moveUp),
            (.pageDown, .pending, .pageDown), (.pageUp, .pending, .pageUp), (.c("g"), .pending, .top),
            (.c("G"), .pending, .bottom), (.enter, .pending, .focusDetail), (.escape, .pending, .back),
            (.tab, .pending, .nextView), (.c("3"), .pending, .view(.rules)), (.c("/"), .pending, .filter),
            (.c("n"), .pending, .nextMatch), (.c("N"), .pending, .prevMatch), (.c("a"), .pending, .approve),
            (.c("r"), .pending, .reject), (.c(" "), .pending, .toggleTag), (.c("A"), .pending, .toggleAuto),
            (.c("d"), .pending, .dryRun), (.c("R"), .history, .retry), (.c("?"), .pending, .help),
            (.c("q"), .pending, .quit), (.ctrlC, .audit, .quit), (.c("b"), .rules, .toggleAction("ban-ip")),
            (.c("u"), .rules, .toggleAction("disable-user")), (.c("s"), .rules, .toggleAction("delete-security-group")),
            (.c("m"), .rules, .setMode(.manual)), (.c("A"), .rules, .toggleAuto),
        ]
        for (key, view, command) in expectations {
            #expect(keymap.binding(for: key, in: view)?.command == command, "\(key) in \(view)")
        }
        #expect(keymap.binding(for: .c("a"), in: .audit) == nil)
        #expect(keymap.binding(for: .c("A"), in: .pending)?.dangerous == true)
    }

    @Test func footerAndHelpComeFromTheTable() {
        let hints = keymap.footerHints(in: .pending, readOnly: false)
        let withHints = keymap.bindings(in: .pending).filter { $0.hint != nil }
        #expect(hints.map(\.label) == withHints.map(\.label))
        #expect(!keymap.footerHints(in: .pending, readOnly: true).contains { $0.hint == "approve" })
        let help = keymap.helpLines(in: .history, readOnly: true)
        for b in keymap.bindings(in: .history) {
            #expect(help.contains { $0.hasPrefix(b.label) && $0.contains(b.help) })
        }
        #expect(help.contains { $0.hasPrefix("a ") && $0.hasSuffix("(disabled: read-only)") })
        // The rendered footer is made of those hints.
        let (s, _) = Fixture.session(Fixture.data(), size: (24, 200))
        let footer = s.frame().text.components(separatedBy: "\n")[23]
        #expect(footer == hints.map { "\($0.label) \($0.hint)" }.joined(separator: "  "))
    }

    /// At 80 columns the History and Rules views have more keys than fit: the ones that do not fit
    /// are still named (`w c f more`), in table order, rather than skipped from the middle; the
    /// global Enter and Tab hints give way first.
    @Test(arguments: [ConsoleView.history, .rules, .pending, .inForce])
    func aNarrowFooterNamesEveryKeyOfTheView(_ view: ConsoleView) {
        let (s, _) = Fixture.session(Fixture.data(), size: (24, 80))
        s.press(Key.parseScript(view == .pending ? "" : "\(ConsoleView.allCases.firstIndex(of: view)! + 1)")!)
        let footer = s.frame().text.components(separatedBy: "\n")[23]
        #expect(DisplayText.columns(footer, width: { _ in 1 }) <= 80)
        let words = Set(footer.split(separator: " ").map(String.init))
        for hint in (keymap.perView[view] ?? []).filter({ $0.hint != nil }) {
            #expect(hint.label.split(separator: " ").allSatisfy { words.contains(String($0)) }, "\(hint.label) in \(footer)")
        }
        #expect(footer.hasSuffix("/ filter  ? help  q quit"))
    }

    @Test func scriptParsing() {
        #expect(
            Key.parseScript("j <Enter> /ab <Esc> <Space> <PgDn> <Ctrl-C> <F1> <lt>") == [
                .c("j"), .enter, .c("/"), .c("a"), .c("b"), .escape, .c(" "), .pageDown, .ctrlC, .function(1), .c("<"),
            ])
        #expect(Key.parseScript("<Nope>") == nil)
    }
}
