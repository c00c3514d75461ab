import Foundation
import GavelCore
import GavelStore

/// The sender threads: each takes the next request whose action may send now (a free place in
/// flight, a token of its rate limit, a closed circuit or its probe), sends it with the executor,
/// and hands the outcome to the loop. Threads are started as work needs them, up to the actions'
/// concurrency in all, and wait for work between requests.
extension Dispatcher {
    /// Queues requests for the senders and makes sure enough senders run (`senders` wanted in all).
    func enqueue(_ units: [WorkUnit], senders: Int) {
        var start = 0
        var wake = 0
        shared.withLock { s in
            for unit in units { s.queues[unit.action, default: []].append(unit) }
            wake = min(s.idle, units.count)
            start = max(0, min(senders, 1024) - s.threads)
            s.threads += start
            s.stopWorkers = false
        }
        for _ in 0..<wake { workAvailable.signal() }
        for _ in 0..<start {
            let thread = Thread { [self] in
                ThreadName.set("gavel-sender")
                senderLoop()
            }
            thread.name = "gavel-sender"
            thread.stackSize = 512 * 1024
            thread.start()
        }
    }

    /// Ends the sender threads once nothing is queued and nothing is in flight (they finish what they
    /// sent first), and waits for them.
    func stopWorkers() {
        let threads = shared.withLock { s -> Int in
            s.stopWorkers = true
            return s.threads
        }
        for _ in 0..<threads { workAvailable.signal() }
        while shared.withLock({ $0.threads }) > 0 {
            workAvailable.signal()
            usleep(1000)
        }
    }

    private enum Step {
        case send(WorkUnit)
        case wait(until: Double?)
        case exit
    }

    private func senderLoop() {
        while true {
            switch nextStep() {
            case .exit:
                shared.withLock { $0.threads -= 1 }
                return
            case .wait(let until):
                let seconds = until.map { max(0.001, min(1, $0 - Dispatcher.clock())) } ?? 1
                _ = workAvailable.wait(timeout: .now() + .nanoseconds(Int(seconds * 1e9)))
                shared.withLock { $0.idle -= 1 }
            case .send(var unit):
                let outcome: DispatchOutcome
                switch unit.assembled() {
                case .success(let request):
                    unit.request = request
                    let what = unit.batchKey.map { "batch \($0) \(unit.action)" } ?? "remediation \(unit.claims.first?.id ?? 0) \(unit.action)"
                    let token = metrics.sending(what, forSeconds: request.deadlineSeconds)
                    outcome = executor.execute(request, idempotencyKey: unit.key)
                    metrics.sent(token)
                case .failure(let refusal):
                    outcome = DispatchOutcome(kind: .permanent, error: refusal.description)
                }
                let now = Dispatcher.clock()
                // The loop is woken when it has something to do: outcomes to record in one go, a queue
                // to fill before its senders run dry, or nothing left in flight; not for every answer.
                let (wakeLoop, wakeRecorder) = shared.withLock { s -> (Bool, Bool) in
                    s.gates[unit.action]?.finish(outcome, now: now)
                    s.inFlight -= 1
                    s.finished.append(SentUnit(unit: unit, outcome: outcome, at: .now))
                    let queued = s.queues[unit.action]?.count ?? 0
                    let concurrency = s.gates[unit.action]?.concurrency ?? 1
                    let last = s.inFlight == 0
                    return (queued <= concurrency / 2 || last || outcome.kind != .success, s.finished.count >= 32 || last || unit.batchKey != nil)
                }
                if wakeRecorder { recordSignal.signal() }
                if wakeLoop { wakeSignal.signal() }
            }
        }
    }

    /// Under the lock: the next request that may go now (its action's gate counts it), or how long to wait.
    private func nextStep() -> Step {
        shared.withLock { s -> Step in
            let now = Dispatcher.clock()
            var earliest: Double?
            let names = s.queues.keys.sorted()
            if !names.isEmpty {
                for offset in 0..<names.count {
                    let name = names[(s.nextActionIndex + offset) % names.count]
                    guard var queue = s.queues[name], !queue.isEmpty, var gate = s.gates[name] else { continue }
                    switch gate.start(now: now, waitingSince: queue[0].waitingSince) {
                    case .go:
                        let unit = queue.removeFirst()
                        s.queues[name] = queue
                        s.gates[name] = gate
                        s.inFlight += 1
                        s.nextActionIndex = (s.nextActionIndex + offset + 1) % names.count
                        return .send(unit)
                    case .full:
                        s.gates[name] = gate
                    case .waitForToken(let until):
                        if queue[0].waitingSince == nil {
                            queue[0].waitingSince = now
                            s.queues[name] = queue
                        }
                        s.gates[name] = gate
                        earliest = min(earliest ?? until, until)
                    case .blocked(let until):
                        s.gates[name] = gate
                        if until.isFinite { earliest = min(earliest ?? until, until) }
                    }
                }
            }
            if s.stopWorkers && s.queues.values.allSatisfy(\.isEmpty) { return .exit }
            s.idle += 1
            return .wait(until: earliest)
        }
    }
}

extension WorkUnit {
    /// The request to send: the one already made, or the batch assembled from the members' bound
    /// requests (`RenderedRequest.batch`) with environment references resolved.
    func assembled() -> Result<RenderedRequest, DispatchRefusal> {
        if let request { return .success(request) }
        do throws(DispatchRefusal) {
            var members: [BatchMember] = []
            members.reserveCapacity(claims.count)
            for claim in claims {
                members.append(
                    BatchMember(
                        remediationID: claim.id, target: claim.remediation.target, idempotencyKey: claim.idempotencyKey,
                        request: try claim.request.get()))
            }
            let batch = try RenderedRequest.batch(of: members, action: action, body: batchBody ?? BatchSettings.defaultBody, key: key)
            return .success(try batch.resolvingEnvironment(ProcessInfo.processInfo.environment))
        } catch {
            return .failure(error)
        }
    }
}
