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
        let listenText = args.value("listen") ?? "127.0.0.1:8787"
        guard let listen = ListenAddress(parsing: listenText) else {
            throw UsageError(message: "gavel serve: --listen must be HOST:PORT (e.g. 127.0.0.1:8787 or [::1]:8787), got '\(listenText)'")
        }
        let secret = ProcessInfo.processInfo.environment["GAVEL_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if secret == nil && !listen.isLoopback && !args.flag("insecure") {
            throw UsageError(message: "gavel serve: refusing to listen on \(listen) without a shared secret; set GAVEL_TOKEN (or \"secret\" in the config) or pass --insecure")
        }
        let runtime = try Runtime(databasePath: env.databasePath)
        let options = ReceiverOptions(listen: listen, secret: secret)
        let receiver: Receiver
        do {
            receiver = try Receiver(options: options, writer: runtime.writer, ingest: runtime.ingest)
        } catch {
            runtime.close()
            printError("gavel serve: cannot listen on \(listen): \(error)")
            return 1
        }
        receiver.start()
        printError("listening on http://\(receiver.boundAddress)")
        Shutdown.waitForSignal()
        receiver.stop()
        runtime.close()
        return 0
    }
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
