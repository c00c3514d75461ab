import Foundation
import GavelConsole
import GavelCore
import GavelDispatch
import GavelReceiver
import GavelRuntime
import GavelStore

/// The long-running verbs: `console`, `serve`, `dispatch`.
enum Running {
    static func console(_ i: Invocation) throws -> Int32 {
        var options = ConsoleRunner.Options(analyst: try i.analyst())
        options.listen = i.value("listen")
        options.noReceiver = i.flag("no-receiver")
        options.readOnly = i.flag("read-only")
        options.insecure = i.flag("insecure")
        options.dump = i.value("dump")
        if let s = i.value("script") {
            guard let keys = Key.parseScript(s) else { throw UsageFailure("gavel console: --script has an unknown key name") }
            options.script = keys
        }
        _ = try i.setup.configFile(receiving: !options.noReceiver && !options.readOnly)
        return try ConsoleRunner.run(setup: i.setup, options: options)
    }

    /// `gavel serve`: the receiver and the dispatcher, no console; logs go to stderr.
    static func serve(_ i: Invocation) throws -> Int32 {
        _ = try i.setup.configFile(receiving: true)
        let engine = try i.setup.location.engine()
        let store = try engine.open(.create)
        let configuration = try i.setup.configuration(store: store, receiving: true, adoptAs: "gavel")
        let runtime = Runtime(engine: engine, configuration: configuration, log: { printError(safe($0)) })
        defer { runtime.close() }
        let options: ReceiverOptions
        do {
            options = try runtime.receiverOptions(listen: i.value("listen"), insecure: i.flag("insecure"))
        } catch {
            throw UsageFailure("gavel serve: \(error.message)")
        }
        let termination = TerminationWait()  // before "listening on": a SIGTERM right after it is not lost
        let receiver: Receiver
        do {
            receiver = try Receiver(options: options, intake: try runtime.intake())
        } catch let error as SocketError {
            printError("gavel serve: cannot listen on \(options.listen): \(error)")
            return 1
        }
        receiver.start()
        runtime.start()
        printError("listening on http://\(receiver.boundAddress)")
        // One write: the configuration used, and why dispatch is held when it is.
        printError(safe(configuration.description) + (configuration.heldBecause.map { "\n" + safe("gavel serve: " + $0) } ?? ""))
        termination.wait()
        receiver.stop()
        return 0
    }

    /// `gavel dispatch [--once]`: the dispatcher alone.
    static func dispatch(_ i: Invocation) throws -> Int32 {
        let store = try i.openStore()
        let configuration = try i.configuration(store, adopt: true)
        printError(safe(configuration.description))
        if i.flag("once") {
            let dispatcher = Dispatcher(
                engine: try i.setup.location.engine(), settings: { configuration.dispatchSettings }, log: { printError(safe($0)) })
            let (attempted, failed) = try dispatcher.runOnce()
            // Then the word back to Datadog for what was decided or dispatched (its failures are its own).
            let triage = TriageReporter(
                engine: try i.setup.location.engine(), settings: { configuration.dispatchSettings }, log: { printError(safe($0)) })
            let told = try triage.runOnce()
            print("attempted \(attempted) remediation(s), \(failed) failed" + (told > 0 ? "; \(told) Datadog triage update(s) attempted" : ""))
            return failed > 0 ? 1 : 0
        }
        let runtime = Runtime(engine: try i.setup.location.engine(), configuration: configuration, log: { printError(safe($0)) })
        defer { runtime.close() }
        let termination = TerminationWait()
        runtime.start()
        printError(safe("dispatcher running on \(i.setup.location.displayName)"))
        if let held = configuration.heldBecause { printError(safe("gavel dispatch: " + held)) }
        termination.wait()
        return 0
    }
}
