import CNCursesW
import Foundation
import GavelCore
import GavelStore
import Testing

@testable import GavelConsole

/// Headless curses (shared notes 2.8): newterm on /dev/null, draw, read back with mvwinnwstr.
/// Serialized: ncurses keeps global state, so only one screen may exist at a time.
@Suite(.serialized) struct CursesScreenTests {
    @Test func drawsFramesAndReadsThemBackIntact() throws {
        let screen = try CursesScreen.headless(rows: 24, cols: 80)
        defer { screen.close() }
        #expect(screen.size.rows == 24 && screen.size.cols == 80)
        let data = Fixture.data()
        data.remediations[0].target = "日本語テスト"
        data.remediations[1].ruleName = "evil\u{1B}[2J\r\n[approved] fake\u{9B}\u{202E}"
        let (s, _) = Fixture.session(data)
        s.press(Key.parseScript("j")!)
        let frame = s.frame(width: CursesScreen.width)
        screen.draw(frame)
        for y in 0..<24 {
            #expect(screen.text(row: y) == frame.rows[y].text, "row \(y)")
        }
        #expect(screen.text(row: 0).hasPrefix("gavel  alice  127.0.0.1:8787"))
        #expect((0..<24).contains { screen.text(row: $0).contains("日本語テスト") })
        #expect((0..<24).contains { screen.text(row: $0).contains("evil\\x1b[2J\\x0d\\x0a[approved] fake\\x9b\\u{202E}") })
        #expect(!(0..<24).contains { screen.text(row: $0).hasPrefix("[approved]") })
        // Redrawing a smaller set of rows leaves nothing behind (werase).
        screen.draw(ConsoleRenderer.render(s.model, size: (24, 80)).withRows(1))
        #expect(screen.text(row: 5).trimmingCharacters(in: .whitespaces).isEmpty)
    }

    @Test func scriptedRunDumpsTheScreen() throws {
        let dump = FileManager.default.temporaryDirectory.appendingPathComponent("gavel-console-dump-\(getpid()).txt").path
        defer { try? FileManager.default.removeItem(atPath: dump) }
        let data = Fixture.data()
        var performed: [ConsoleEffect] = []
        try ConsoleApp.run(
            dataSource: data,
            options: ConsoleOptions(
                analyst: "bob", term: "xterm-256color", ttyPath: "/dev/null",
                script: Key.parseScript("j a 2")!, dumpPath: dump, size: (24, 80)),
            perform: { effect in
                performed.append(effect)
                return DecisionOutcome(message: "approved #\(2)")
            })
        #expect(performed == [.approve([2], by: "bob")])
        let text = try String(contentsOfFile: dump, encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        #expect(lines[0].hasPrefix("gavel  ") && lines[0].contains("  127.0.0.1:8787  "))
        #expect(lines[1].contains("2 History"))
        #expect(lines[2].contains("STATE"))
    }

    @Test func keyCodes() {
        let ok = Int32(OK)
        let fn = Int32(KEY_CODE_YES)
        #expect(CursesScreen.key(status: ok, code: 13) == .enter)
        #expect(CursesScreen.key(status: ok, code: 10) == .enter)
        #expect(CursesScreen.key(status: ok, code: 27) == .escape)
        #expect(CursesScreen.key(status: ok, code: 9) == .tab)
        #expect(CursesScreen.key(status: ok, code: 3) == .ctrlC)
        #expect(CursesScreen.key(status: ok, code: 127) == .backspace)
        #expect(CursesScreen.key(status: ok, code: 8) == .backspace)
        #expect(CursesScreen.key(status: ok, code: 21) == .control(21))
        #expect(CursesScreen.key(status: ok, code: 0x65E5) == .char("日"))
        #expect(CursesScreen.key(status: ok, code: 0xD800) == nil)
        #expect(CursesScreen.key(status: fn, code: UInt32(KEY_UP)) == .up)
        #expect(CursesScreen.key(status: fn, code: UInt32(KEY_NPAGE)) == .pageDown)
        #expect(CursesScreen.key(status: fn, code: UInt32(KEY_PPAGE)) == .pageUp)
        #expect(CursesScreen.key(status: fn, code: UInt32(KEY_BTAB)) == .backTab)
        #expect(CursesScreen.key(status: fn, code: UInt32(KEY_BACKSPACE)) == .backspace)
        #expect(CursesScreen.key(status: fn, code: UInt32(KEY_RESIZE)) == .resize)
        #expect(CursesScreen.key(status: fn, code: UInt32(gavel_key_f(1))) == .function(1))
        #expect(CursesScreen.key(status: Int32(ERR), code: 0) == nil)
    }
}

extension Frame {
    /// The frame with only its first `n` rows (the rest blank).
    func withRows(_ n: Int) -> Frame {
        Frame(rows: Array(rows.prefix(n)), cols: cols)
    }
}
