import Foundation
import GavelConsole
import GavelCore
import GavelReceiver
import GavelStore
import Synchronization

/// `gavel [console]`: the console, with the embedded receiver and dispatcher running in the same
/// process (the receiver keeps accepting while the analyst works). While curses owns the terminal
/// nothing goes to stderr; the log is `gavel.log` beside the database.
public enum ConsoleRunner {
    /// How the console runs (from the command line).
    public struct Options: Sendable {
        public var listen: String?
        /// `--no-receiver`: attach to a store another gavel fills (the dispatcher still runs).
        public var noReceiver = false
        /// `--read-only`: show everything, decide nothing (no receiver, no dispatcher).
        public var readOnly = false
        public var insecure = false
        /// Who decisions are attributed to.
        public var analyst: String
        /// Keys to replay, then exit (with `dump`, the final screen is saved there).
        public var script: [Key]?
        public var dump: String?

        public init(analyst: String) { self.analyst = analyst }
    }

    /// How the analyst runs `gavel demo` from the same shell: `gavel demo` when gavel was found on
    /// `PATH` (argv[0] without a slash), else argv[0] as typed (`.build/debug/gavel demo` after
    /// `make run`, which is what a newcomer has), shell-quoted when it needs quoting.
    public static func demoCommand(argv0: String) -> String {
        guard argv0.contains("/") else { return "gavel demo" }
        let plain = argv0.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "/._-+".unicodeScalars.contains($0) }
        return (plain ? argv0 : "'" + argv0.replacingOccurrences(of: "'", with: "'\\''") + "'") + " demo"
    }

    /// Runs the console until the analyst quits (or SIGINT/SIGTERM/SIGHUP).
    /// - Returns: the exit code (1 when the port is taken or the terminal cannot be opened).
    /// - Throws: `UsageFailure`, `ConfigFailure`, `StoreError` (exit 2 for the first two and for
    ///   `StoreError.location`).
    public static func run(setup: Setup, options: Options) throws -> Int32 {
        let engine = try setup.location.engine()
        let withReceiver = !options.noReceiver && !options.readOnly
        let store = try engine.open(options.readOnly ? .readOnly : .create)
        let configuration = try setup.configuration(store: store, receiving: withReceiver, adoptAs: options.readOnly ? nil : options.analyst)
        let log = LogFile(path: setup.dataFile("gavel.log"))
        let runtime = options.readOnly ? nil : Runtime(engine: engine, configuration: configuration, log: { log.write($0) })
        defer { runtime?.close() }
        var receiver: Receiver?
        if withReceiver, let runtime {
            let receiverOptions = try runtime.receiverOptions(listen: options.listen, insecure: options.insecure)
            do {
                receiver = try Receiver(options: receiverOptions, intake: try runtime.intake())
            } catch let error as SocketError {
                if error.errno == EADDRINUSE {
                    printError("gavel console: \(receiverOptions.listen) is already in use (is another gavel serve or console running?).")
                    printError("To work on the same queue, attach to its database instead:")
                    printError("  gavel console --no-receiver --db \(setup.location.displayName)")
                } else {
                    printError("gavel console: cannot listen on \(receiverOptions.listen): \(error)")
                }
                return 1
            }
        }
        if let receiver {
            receiver.start()
            let line = "listening on http://\(receiver.boundAddress)"
            printError(line)
            log.write(line)
        }
        defer { receiver?.stop() }
        printError(configuration.description)
        log.write(configuration.description)
        if let held = configuration.heldBecause { log.write(held) }
        runtime?.start()

        let quit = Atomic<Bool>(false)
        let signals = SignalWatch { quit.store(true, ordering: .releasing) }
        defer { signals.cancel() }
        // Changes other processes announce (PostgreSQL: LISTEN/NOTIFY) reload the screen at once.
        let changed = ChangeFlag()
        let watch = engine.watchChanges { changed.raise() }
        defer { watch?.cancel() }

        // The header adds READ-ONLY itself; the address slot says only whether a receiver runs.
        let listen = receiver.map { "http://\($0.boundAddress)" } ?? "no receiver"
        let dispatcher = runtime?.dispatcher
        let source = StoreDataSource(
            store: store, config: { configuration.config }, listenAddress: listen, analyst: options.analyst,
            problems: { dispatcher?.problem ?? configuration.heldBecause }, circuits: { dispatcher?.openCircuits() ?? [:] },
            demoCommand: Self.demoCommand(argv0: CommandLine.arguments.first ?? "gavel"))
        let consoleOptions = ConsoleOptions(
            analyst: options.analyst, readOnly: options.readOnly, term: nil,
            ttyPath: options.script != nil && options.dump != nil && isatty(0) == 0 ? "/dev/null" : "/dev/tty", script: options.script,
            dumpPath: options.dump)
        log.write("console started by \(options.analyst) on \(setup.location.displayName)")
        do {
            try ConsoleApp.run(
                dataSource: source, options: consoleOptions,
                perform: { effect in source.perform(effect, wake: { dispatcher?.wake() }, log: { log.write($0) }) },
                shouldQuit: { quit.load(ordering: .acquiring) }, changed: { changed.take() })
        } catch {
            log.write("console error: \(error)")
            printError("gavel console: \(error)")
            return 1
        }
        log.write("console stopped")
        return 0
    }
}

/// A flag other threads raise and the UI thread takes (clears) when it looks.
final class ChangeFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    func raise() { raised.store(true, ordering: .releasing) }
    /// True when raised since the last look.
    func take() -> Bool { raised.exchange(false, ordering: .acquiringAndReleasing) }
}
