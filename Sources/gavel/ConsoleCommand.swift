import Foundation
import GavelConsole
import GavelCore
import GavelReceiver
import GavelStore
import Synchronization

/// `gavel [console] [--listen HOST:PORT] [--no-receiver] [--read-only]`: the console, with the
/// embedded receiver and dispatcher running in the same process (the receiver keeps accepting
/// while the analyst works). While curses owns the terminal nothing goes to stderr; the log is
/// `gavel.log` beside the database.
enum ConsoleCommand {
    static func run(_ raw: [String]) throws -> Int32 {
        let args = try Arguments(
            raw, verb: "console", valued: ["listen", "db", "config", "by", "script", "dump"],
            flags: ["no-receiver", "read-only", "insecure"])
        guard args.positional.isEmpty else { throw UsageError(message: "gavel console: unexpected argument '\(args.positional[0])'") }
        let env = Environment(args)
        let readOnly = args.flag("read-only")
        let withReceiver = !args.flag("no-receiver") && !readOnly
        let config = try env.loadConfig(receiving: withReceiver)
        try env.checkDatabasePath(mustExist: readOnly)
        let analyst = try analystName(args, verb: "console")
        let options = try receiverOptions(args, config: config, verb: "console", databasePath: env.databasePath)
        var script: [Key]?
        if let s = args.value("script") {
            guard let keys = Key.parseScript(s) else { throw UsageError(message: "gavel console: --script has an unknown key name") }
            script = keys
        }
        let log = LogFile(path: URL(fileURLWithPath: env.databasePath).deletingLastPathComponent().appendingPathComponent("gavel.log").path)

        let runtime: Runtime? = readOnly ? nil : try Runtime(databasePath: env.databasePath, config: config, log: { log.write($0) })
        let receiver: Receiver?
        if withReceiver, let runtime {
            do {
                receiver = try Receiver(options: options, writer: runtime.writer, ingest: runtime.ingest)
            } catch {
                runtime.close()
                if error.errno == EADDRINUSE {
                    printError("gavel console: \(options.listen) is already in use (is another gavel serve or console running?).")
                    printError("To work on the same queue, attach to its database instead:")
                    printError("  gavel console --no-receiver --db \(env.databasePath)")
                } else {
                    printError("gavel console: cannot listen on \(options.listen): \(error)")
                }
                return 1
            }
        } else {
            receiver = nil
        }
        return try run(
            env: env, config: config, analyst: analyst, readOnly: readOnly, script: script, dump: args.value("dump"),
            runtime: runtime, receiver: receiver, log: log)
    }

    private static func run(
        env: Environment, config: GavelConfig, analyst: String, readOnly: Bool, script: [Key]?, dump: String?,
        runtime: Runtime?, receiver: Receiver?, log: LogFile
    ) throws -> Int32 {
        if let receiver {
            receiver.start()
            let line = "listening on http://\(receiver.boundAddress)"
            printError(line)
            log.write(line)
        }
        runtime?.dispatcher.start()
        defer {
            receiver?.stop()
            runtime?.close()
        }

        let quit = Atomic<Bool>(false)
        let signals = SignalWatch { quit.store(true, ordering: .releasing) }
        defer { signals.cancel() }

        let db = try Database(path: env.databasePath, readOnly: readOnly)
        let listen = receiver.map { "http://\($0.boundAddress)" } ?? (readOnly ? "read-only" : "no receiver")
        let dispatcher = runtime?.dispatcher
        let source = StoreDataSource(db: db, config: config, listenAddress: listen, analyst: analyst, problems: { dispatcher?.problem })
        let consoleOptions = ConsoleOptions(
            analyst: analyst, readOnly: readOnly, term: nil,
            ttyPath: script != nil && dump != nil && isatty(0) == 0 ? "/dev/null" : "/dev/tty",
            script: script, dumpPath: dump)
        log.write("console started by \(analyst) on \(env.databasePath)")
        do {
            try ConsoleApp.run(
                dataSource: source, options: consoleOptions,
                perform: { effect in Decisions.perform(effect, db: db, analyst: analyst, log: log, wake: { dispatcher?.wake() }) },
                shouldQuit: { quit.load(ordering: .acquiring) })
        } catch {
            log.write("console error: \(error)")
            printError("gavel console: \(error)")
            return 1
        }
        log.write("console stopped")
        return 0
    }
}

/// Records the console's decisions in the store, one remediation at a time, so one conflict
/// in a batch does not stop the others.
enum Decisions {
    static func perform(_ effect: ConsoleEffect, db: Database, analyst: String, log: LogFile, wake: () -> Void) -> DecisionOutcome? {
        func each(_ ids: [Int64], _ decision: Decision, by: String, verb: String) -> DecisionOutcome {
            var done: [Int64] = []
            var failures: [String] = []
            for id in ids {
                do {
                    try db.decide([id], decision, by: by)
                    done.append(id)
                } catch {
                    failures.append("\(error)")
                }
            }
            log.write(
                "\(by) \(verb) \(done.map { "#\($0)" }.joined(separator: " "))"
                    + (failures.isEmpty ? "" : "; failed: " + failures.joined(separator: "; ")))
            if !done.isEmpty { wake() }
            var message = done.isEmpty ? "" : "\(verb) " + done.map { "#\($0)" }.joined(separator: ", ")
            if !failures.isEmpty {
                message += (message.isEmpty ? "" : "; ") + (failures.count == 1 ? failures[0] : "\(failures.count) failed: \(failures[0]) …")
            }
            return DecisionOutcome(message: message, isError: !failures.isEmpty)
        }
        switch effect {
        case .approve(let ids, let by): return each(ids, .approve, by: by, verb: "approved")
        case .reject(let ids, let reason, let by): return each(ids, .reject(reason), by: by, verb: "rejected")
        case .retry(let ids, let by): return each(ids, .retry, by: by, verb: "queued for retry")
        case .setRuleMode(let rule, let mode):
            do {
                try db.setRuleMode(key: rule, to: mode, by: analyst)
                log.write("\(analyst) set rule \(rule) to \(mode.rawValue)")
                return DecisionOutcome(message: "rule \(rule): \(mode.rawValue)")
            } catch {
                return DecisionOutcome(message: "\(error)", isError: true)
            }
        case .setRuleAction(let rule, let action, let enabled):
            do {
                try db.setRuleAction(key: rule, action: action, enabled: enabled, by: analyst)
                return DecisionOutcome(message: "rule \(rule): \(action) \(enabled ? "enabled" : "disabled")")
            } catch {
                return DecisionOutcome(message: "\(error)", isError: true)
            }
        case .reload, .quit:
            return nil
        }
    }
}

/// SIGINT / SIGTERM set a flag that the console loop checks (so curses is always torn down).
final class SignalWatch {
    private var sources: [DispatchSourceSignal] = []

    init(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "gavel-signals")
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }

    func cancel() { sources.forEach { $0.cancel() } }
}

/// An append-only log file; every line is sanitized (no terminal escapes reach it) and stamped.
final class LogFile: Sendable {
    let path: String
    private let lock = Mutex(())

    init(path: String) { self.path = path }

    func write(_ text: String) {
        let line = Timestamp.rfc3339(ms: Timestamp.nowMs()) + " " + DisplayText.sanitize(text) + "\n"
        lock.withLock { _ in
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            _ = line.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
            close(fd)
        }
    }
}
