import Foundation
import GavelCore
import GavelStore

/// How the console runs.
public struct ConsoleOptions: Sendable {
    /// The analyst name decisions are attributed to.
    public var analyst: String
    /// `--read-only`: decision keys only flash "read-only".
    public var readOnly: Bool
    /// Seconds between reloads from the data source (at most 1 s is expected).
    public var refreshInterval: TimeInterval
    /// The terminal type; nil uses `$TERM`.
    public var term: String?
    /// The terminal device (`/dev/tty`); `/dev/null` gives a headless run (with `script`).
    public var ttyPath: String
    /// Keys to replay instead of reading the keyboard (tig's `TIG_SCRIPT`); the run ends when
    /// they are used up. Parse with ``Key/parseScript(_:)``.
    public var script: [Key]?
    /// Where to write the final screen as text (tig's `:save-display`), if anywhere.
    public var dumpPath: String?
    /// Forced screen size (headless runs).
    public var size: (rows: Int, cols: Int)?

    public init(
        analyst: String, readOnly: Bool = false, refreshInterval: TimeInterval = 1, term: String? = nil,
        ttyPath: String = "/dev/tty", script: [Key]? = nil, dumpPath: String? = nil, size: (rows: Int, cols: Int)? = nil
    ) {
        self.analyst = analyst
        self.readOnly = readOnly
        self.refreshInterval = refreshInterval
        self.term = term
        self.ttyPath = ttyPath
        self.script = script
        self.dumpPath = dumpPath
        self.size = size
    }
}

/// The console's main loop on the UI thread: the only code that calls curses.
///
/// Each turn drains the inbox (events other threads posted), reloads from the data source when
/// the refresh interval passed, draws one frame, and waits up to 100 ms for a key
/// (`wtimeout`), which it hands to the model. Effects go to `perform`, which the executable
/// provides (it records decisions in the store; the console never dispatches).
public enum ConsoleApp {
    /// Runs until `q`/Ctrl-C, `shouldQuit()` (SIGTERM) or the end of a script, then ends curses.
    /// - Parameters:
    ///   - inbox: drains events posted by other threads (receiver, dispatcher); called every turn.
    ///   - perform: performs one decision or rule effect and says how it went.
    ///   - shouldQuit: polled every turn (a signal handler's flag).
    ///   - changed: polled every turn; true when the store announced a change (another console's
    ///     decision, a dispatch), which reloads at once (at most every 200 ms) instead of at the
    ///     next refresh interval. The default never does (the SQLite engine has no change feed).
    /// - Throws: ``CursesScreen/OpenError`` when the terminal cannot be opened; the dump's
    ///   write error.
    public static func run(
        dataSource: any ConsoleDataSource, options: ConsoleOptions,
        inbox: () -> [ConsoleEvent] = { [] },
        perform: @escaping (ConsoleEffect) -> DecisionOutcome?,
        shouldQuit: () -> Bool = { false },
        changed: () -> Bool = { false }
    ) throws {
        let headless = options.ttyPath == "/dev/null"
        let screen = try CursesScreen(
            term: options.term, outputPath: options.ttyPath, inputPath: options.ttyPath,
            size: options.size, timeoutMilliseconds: headless ? 0 : 100)
        defer { screen.close() }
        let size = screen.size
        let session = ConsoleSession(
            model: ConsoleModel(analyst: options.analyst, readOnly: options.readOnly, size: size),
            dataSource: dataSource, perform: perform)
        session.tick()
        var lastRefresh = Date()
        var script = options.script.map { ArraySlice($0) }
        var immediateEmptyReads = 0
        while !session.isFinished && !shouldQuit() {
            let events = inbox()
            if !events.isEmpty { session.apply(events) }
            let sinceRefresh = Date().timeIntervalSince(lastRefresh)
            if sinceRefresh >= options.refreshInterval || (sinceRefresh >= 0.2 && changed()) {
                session.tick()
                lastRefresh = Date()
            }
            screen.draw(session.frame(width: CursesScreen.width))
            let key: Key?
            if script != nil {
                guard let next = script?.popFirst() else { break }
                key = next
            } else {
                let asked = Date()
                key = screen.readKey()
                // wget_wch waits up to its timeout for a key; when it keeps returning at once with
                // nothing, the terminal is gone (hung up, pty closed): stop instead of spinning.
                if key == nil && !headless && Date().timeIntervalSince(asked) < 0.005 {
                    immediateEmptyReads += 1
                    if immediateEmptyReads >= 50 { break }
                } else {
                    immediateEmptyReads = 0
                }
            }
            guard let key else { continue }
            if key == .resize {
                let s = screen.size
                session.apply([.resized(rows: s.rows, cols: s.cols)])
            } else {
                session.press(key)
            }
        }
        if let path = options.dumpPath {
            screen.draw(session.frame(width: CursesScreen.width))
            let text = (0..<screen.size.rows).map { screen.text(row: $0) }.joined(separator: "\n") + "\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}
