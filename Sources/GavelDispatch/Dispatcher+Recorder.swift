import Foundation
import GavelCore
import GavelStore

/// The recorder: a thread with its own store session that writes the senders' outcomes (many in
/// one transaction) while the loop goes on claiming, so neither waits for the other's work.
extension Dispatcher {
    /// Starts the recorder thread (once).
    func startRecorder() {
        let start = shared.withLock { s -> Bool in
            guard !s.recorderRunning else { return false }
            s.recorderRunning = true
            s.stopRecorder = false
            return true
        }
        guard start else { return }
        let thread = Thread { [self] in
            ThreadName.set("gavel-recorder")
            recorderLoop()
        }
        thread.name = "gavel-recorder"
        thread.start()
    }

    /// Records what is left, ends the recorder thread and waits for it.
    func stopRecorder() {
        shared.withLock { $0.stopRecorder = true }
        recordSignal.signal()
        while shared.withLock({ $0.recorderRunning }) {
            recordSignal.signal()
            usleep(1000)
        }
    }

    private func recorderLoop() {
        var store: (any Store)?
        defer { shared.withLock { $0.recorderRunning = false } }
        while true {
            let stopping = shared.withLock { $0.stopRecorder }
            do {
                if store == nil { store = try engine.open(.existing) }
                if let store, try recordFinished(store, config: currentSettings().config) {
                    wakeSignal.signal()  // the loop may be waiting for the last outcome (runOnce)
                    continue
                }
            } catch {
                setProblem("dispatcher: recording outcomes: \(error)")
                if case .location = error as? StoreError { store = nil }
                if stopping { return }  // what could not be recorded is recovered from the leases
                _ = recordSignal.wait(timeout: .now() + .milliseconds(250))
                continue
            }
            if stopping { return }
            _ = recordSignal.wait(timeout: .now() + .milliseconds(20))
        }
    }
}
