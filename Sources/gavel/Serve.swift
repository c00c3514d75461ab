import Foundation
import GavelCore
import GavelReceiver
import GavelStore

/// `gavel serve [--listen HOST:PORT] [--insecure]`: the receiver and the dispatcher, no console.
enum Serve {
    static func run(_ raw: [String]) throws -> Int32 {
        let args = try Arguments(raw, verb: "serve", valued: ["listen", "db", "config"], flags: ["insecure"])
        guard args.positional.isEmpty else { throw UsageError(message: "gavel serve: unexpected argument '\(args.positional[0])'") }
        let env = Environment(args)
        let config = try env.loadConfig(receiving: true)
        try env.checkDatabasePath(mustExist: false)
        let options = try receiverOptions(args, config: config, verb: "serve", databasePath: env.databasePath)
        let runtime = try Runtime(databasePath: env.databasePath, config: config, log: { printError(safe($0)) })
        let listen = options.listen
        let receiver: Receiver
        do {
            receiver = try Receiver(options: options, writer: runtime.writer, ingest: runtime.ingest)
        } catch {
            runtime.close()
            printError("gavel serve: cannot listen on \(listen): \(error)")
            return 1
        }
        receiver.start()
        runtime.dispatcher.start()
        printError("listening on http://\(receiver.boundAddress)")
        Shutdown.waitForSignal()
        receiver.stop()
        runtime.close()
        return 0
    }
}

/// The receiver's options from `--listen`, the config and the environment. Refuses a
/// non-loopback address without a secret unless `--insecure` was given.
func receiverOptions(_ args: Arguments, config: GavelConfig, verb: String, databasePath: String) throws -> ReceiverOptions {
    let listenText = args.value("listen") ?? config.listen ?? "127.0.0.1:8787"
    guard let listen = ListenAddress(parsing: listenText) else {
        throw UsageError(message: "gavel \(verb): --listen must be HOST:PORT (e.g. 127.0.0.1:8787 or [::1]:8787), got '\(listenText)'")
    }
    if config.secret == nil && !listen.isLoopback && !args.flag("insecure") {
        throw UsageError(
            message:
                "gavel \(verb): refusing to listen on \(listen) without a shared secret; set GAVEL_TOKEN (or \"secret\" in the config) or pass --insecure"
        )
    }
    var limits = HTTPLimits()
    limits.maxBodyBytes = config.maxBodyBytes
    var options = ReceiverOptions(listen: listen, secret: config.secret, secretHeader: config.secretHeader, limits: limits)
    options.extraMetrics = { [databasePath] in QueueMetrics.lines(databasePath: databasePath) }
    return options
}

/// Blocks the calling thread until SIGINT or SIGTERM.
enum Shutdown {
    static func waitForSignal() {
        signal(SIGPIPE, SIG_IGN)
        let done = DispatchSemaphore(value: 0)
        let queue = DispatchQueue(label: "gavel-signals")
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { done.signal() }
            source.resume()
            sources.append(source)
        }
        done.wait()
        sources.forEach { $0.cancel() }
    }
}

/// Queue gauges for `/metrics`: remediations per state and rules in auto, read from the store
/// on a short-lived connection at each scrape.
enum QueueMetrics {
    static func lines(databasePath: String) -> [String] {
        guard let db = try? Database(path: databasePath, readOnly: true), let counts = try? db.stateCounts() else {
            return ["# gavel: store unavailable for queue metrics"]
        }
        var lines = ["# HELP gavel_remediations Remediations by state.", "# TYPE gavel_remediations gauge"]
        for state in RemediationState.allCases {
            lines.append("gavel_remediations{state=\"\(state.rawValue)\"} \(counts[state] ?? 0)")
        }
        let auto = (try? db.query("SELECT count(*) FROM rules WHERE mode = 'auto'").first?.int(0)) ?? 0
        let off = (try? db.automaticDispatchDisabled()) ?? false
        lines += [
            "# HELP gavel_rules_auto Detection rules in auto mode.", "# TYPE gavel_rules_auto gauge", "gavel_rules_auto \(auto)",
            "# HELP gavel_auto_dispatch_enabled 0 when the kill switch stops automatic dispatch.",
            "# TYPE gavel_auto_dispatch_enabled gauge", "gavel_auto_dispatch_enabled \(off ? 0 : 1)",
        ]
        return lines
    }
}
