import Foundation
import GavelCore
import GavelStore

/// One request a sender sends: a claim alone, or a batch of claims of one action.
struct WorkUnit: Sendable {
    var action: String
    var kind: Attempt.Kind
    /// The claims it carries, by remediation id.
    var claims: [DispatchClaim]
    /// Exactly what is sent (environment references resolved); for a batch, assembled by the sender
    /// from its members' bound requests (`assembled()`), off the loop thread.
    var request: RenderedRequest?
    /// The batch body (`BatchSettings.body` or `revertBody`) a batch is assembled with.
    var batchBody: JSONTemplate?
    /// The `Idempotency-Key` sent: the remediation's (or its revert's), or the batch's.
    var key: String
    /// The batch's key when it is a batch.
    var batchKey: String?
    /// When it first had to wait for its action's rate limit (monotonic seconds).
    var waitingSince: Double?
}

/// A request sent and how it went.
struct SentUnit: Sendable {
    var unit: WorkUnit
    var outcome: DispatchOutcome
    var at: Timestamp
}

/// What the loop and the senders share.
struct SendingState: Sendable {
    /// Per action, the sending state (`ActionGate`).
    var gates: [String: ActionGate] = [:]
    /// Per action, requests waiting for a sender, oldest first.
    var queues: [String: [WorkUnit]] = [:]
    /// Outcomes waiting to be recorded.
    var finished: [SentUnit] = []
    /// Requests in flight, all actions.
    var inFlight = 0
    /// Sender threads running, and how many wait for work.
    var threads = 0
    var idle = 0
    /// Senders end once nothing is left to send.
    var stopWorkers = false
    /// Where senders start looking next (so every action gets its turn).
    var nextActionIndex = 0
    /// Outcomes decided without sending (refusals, unknown actions), for the recorder.
    var decided: [FinishedAttempt] = []
    /// The recorder is writing outcomes now; it runs; it should finish what is left and end.
    var recording = false
    var recorderRunning = false
    var stopRecorder = false
    /// Attempts recorded since the recorder started, and those that ended `failed` (`runOnce`'s answer).
    var attempted = 0
    var failed = 0
}

/// Claims of one batch action gathered until the batch is full or its window ends.
struct OpenBatch {
    var claims: [DispatchClaim] = []
    /// When the first member was gathered (monotonic seconds).
    var openedAt: Double
}

/// The loop's own state between turns.
struct Run {
    /// Send an open batch as soon as nothing more is due (`runOnce`), instead of waiting its window.
    var flushBatches: Bool
    /// The last turn claimed something (look again at once).
    var claimedAny = false
    /// The last turn claimed nothing of an action only because its queue was full: more may be
    /// due, so `runOnce` must not end before the senders have drained it and looked again.
    var heldBack = false
    /// Open batches by action, kind and request shape.
    var openBatches: [String: OpenBatch] = [:]
    /// How long until the first open batch's window ends, in ms; nil when none is open.
    var nextBatchDeadlineMs: Int?
    /// Claim remediations of actions not in the configuration this turn (so they fail with a clear
    /// error): looked for at the start and with every recovery, not every turn (that query cannot
    /// use the per-action index).
    var othersDue = true
}

extension Dispatcher {
    /// One turn of the loop: hold back what is blocked, claim what can be sent soon, queue it
    /// (gathering batches), and wake the senders. (The recorder writes the outcomes meanwhile.)
    func turn(_ store: any Store, config: GavelConfig, run: inout Run) throws {
        let now = Dispatcher.clock()
        var blocked: Set<String> = []
        var quota = ClaimQuota(others: run.othersDue ? 8 : 0)
        var sendersWanted = 0
        var heldBack = false
        shared.withLock { s in
            for (name, action) in config.actions {
                if s.gates[name] == nil {
                    s.gates[name] = ActionGate(action, now: now)
                } else {
                    s.gates[name]!.configure(action, now: now)
                }
                var gate = s.gates[name]!
                if gate.isBlocked(now: now) {
                    blocked.insert(name)
                    quota.actions[name] = 0
                    continue
                }
                let queued = s.queues[name]?.count ?? 0
                let room = gate.room(now: now)
                // Every free place in flight filled and `concurrency` more waiting; under a rate limit no more
                // than about two seconds of its tokens; a batch action claims whole batches.
                var units = max(0, room + gate.concurrency - queued)
                if gate.circuit != .closed { units = max(0, 1 - queued - gate.inFlight) }  // the probe alone
                if let rate = action.rate {
                    let budget = Int(gate.availableTokens(now: now).rounded(.down)) + Int((rate.perSecond * 2).rounded(.up))
                    units = min(units, max(0, budget - queued))
                }
                s.gates[name] = gate
                if units == 0 && queued > 0 { heldBack = true }
                if let batch = action.batch {
                    // Two batches a turn at most, so the first goes out while the next are claimed.
                    let gathered = run.openBatches.filter { $0.key.hasPrefix(name + "\u{0}") }.values.reduce(0) { $0 + $1.claims.count }
                    quota.actions[name] = max(0, min(units, 2) * batch.max - gathered)
                } else {
                    quota.actions[name] = units
                }
                sendersWanted += min(gate.concurrency, queued + gate.inFlight + units)
            }
        }
        if !blocked.isEmpty { releaseQueued(store, only: blocked, run: &run) }
        let claims = try store.claimDue(worker: worker, quota: quota, leaseMs: leaseMs(config), config: config, at: .now)
        run.claimedAny = !claims.isEmpty
        run.heldBack = heldBack
        if run.othersDue {
            run.othersDue = claims.filter { config.actions[$0.remediation.action] == nil }.count >= quota.others
        }
        var decided: [FinishedAttempt] = []
        let units = try prepare(claims, store: store, config: config, run: &run, decided: &decided)
        let cut = cutBatches(config: config, run: &run, now: Dispatcher.clock(), force: run.flushBatches && claims.isEmpty)
        let ready = units + (try sealBatches(cut, store: store, config: config))
        if !decided.isEmpty {
            shared.withLock { $0.decided += decided }
            recordSignal.signal()
        }
        guard !ready.isEmpty else { return }
        enqueue(ready, senders: max(sendersWanted, 1))
    }

    /// Checks each claim (brakes, configuration, target, allowlist) and turns the good ones into
    /// requests: alone, or gathered into the open batch of their action, kind and request shape.
    private func prepare(_ claims: [DispatchClaim], store: any Store, config: GavelConfig, run: inout Run, decided: inout [FinishedAttempt]) throws
        -> [WorkUnit]
    {
        var units: [WorkUnit] = []
        var killSwitch: Bool?
        var modes: [String: RuleMode?] = [:]
        let environment = ProcessInfo.processInfo.environment
        func refuse(_ claim: DispatchClaim, _ error: String) {
            decided.append(FinishedAttempt(claim, AttemptReport(result: .failed, error: error)))
        }
        for claim in claims {
            let r = claim.remediation
            if claim.kind == .dispatch {
                // The brakes also hold back automatic approvals not yet sent (e.g. waiting to retry).
                if let decidedBy = r.decidedBy, decidedBy.hasPrefix("auto:") {
                    if killSwitch == nil { killSwitch = try store.automaticDispatchDisabled() }
                    if modes[r.ruleKey] == nil { modes[r.ruleKey] = .some(try store.rule(named: r.ruleKey)?.mode) }
                    var reason: String?
                    if killSwitch == true {
                        reason = "automatic dispatch switched off (gavel auto --all off) before it was sent"
                    } else if let mode = modes[r.ruleKey] ?? nil, mode != .auto {
                        reason = "rule \(r.ruleDisplayName) switched to \(mode.rawValue) before it was sent"
                    }
                    if let reason {
                        try store.withdrawClaim(claim, reason: reason, at: .now)
                        metrics.record(action: r.action, kind: claim.kind.rawValue, outcome: .withdrawn, seconds: nil)
                        log("remediation \(r.id): returned to pending: \(reason)")
                        continue
                    }
                }
                guard let action = config.actions[r.action] else {
                    refuse(claim, "action '\(r.action)' is not in the configuration")
                    continue
                }
                // The row's target is checked again, whatever was bound: a target that is not valid for
                // its kind never leaves gavel, even in a row written by an older version or by hand.
                if case .failure(let refusal) = TargetValidator.validate(r.target, kind: action.target, pattern: action.targetPattern) {
                    refuse(claim, refusal.description)
                    continue
                }
                if let reason = config.allowlist.match(kind: action.target, target: r.target) {
                    try store.suppressClaim(claim, reason: reason, at: .now)
                    metrics.record(action: r.action, kind: claim.kind.rawValue, outcome: .suppressed, seconds: nil)
                    continue
                }
            }
            let bound: RenderedRequest
            switch claim.request {
            case .success(let request): bound = request
            case .failure(let refusal):
                refuse(claim, refusal.description)
                continue
            }
            if let batch = config.actions[r.action]?.batch, let shape = bound.batchShape {
                let group = [r.action, claim.kind.rawValue, claim.batchKey ?? "", shape].joined(separator: "\u{0}")
                run.openBatches[group, default: OpenBatch(openedAt: Dispatcher.clock())].claims.append(claim)
                _ = batch
                continue
            }
            do {
                let request = try bound.resolvingEnvironment(environment)
                units.append(
                    WorkUnit(action: r.action, kind: claim.kind, claims: [claim], request: request, batchBody: nil, key: claim.idempotencyKey))
            } catch {
                refuse(claim, error.description)
            }
        }
        return units
    }

    /// Takes from the open batches what must go now: full batches, batches of members that went
    /// together before (their key kept by a retry or a recovery), batches whose window ended, and
    /// with `force` every open batch.
    private func cutBatches(config: GavelConfig, run: inout Run, now: Double, force: Bool) -> [[DispatchClaim]] {
        var out: [[DispatchClaim]] = []
        var deadline: Double?
        for group in run.openBatches.keys.sorted() {
            guard var open = run.openBatches[group] else { continue }
            let parts = group.split(separator: "\u{0}", omittingEmptySubsequences: false)
            let action = config.actions[String(parts[0])]
            let max = action?.batch?.max ?? 1
            let window = Double(action?.batch?.windowMs ?? 0) / 1000
            let keyed = parts.count > 2 && !parts[2].isEmpty
            if open.claims.count >= max {
                var start = 0
                while open.claims.count - start >= max {
                    out.append(Array(open.claims[start..<(start + max)]))
                    start += max
                }
                open.claims = Array(open.claims[start...])
            }
            if !open.claims.isEmpty && (force || keyed || action == nil || now - open.openedAt >= window) {
                out.append(open.claims)
                open.claims = []
            }
            if open.claims.isEmpty {
                run.openBatches[group] = nil
            } else {
                run.openBatches[group] = open
                deadline = min(deadline ?? .infinity, open.openedAt + window)
            }
        }
        run.nextBatchDeadlineMs = deadline.map { Int(max(1, (($0 - now) * 1000).rounded(.up))) }
        return out
    }

    /// Makes each batch one unit: members in id order and the key they name, recorded on them (one
    /// transaction for all) before anything is sent. The request itself is assembled by the sender.
    private func sealBatches(_ batches: [[DispatchClaim]], store: any Store, config: GavelConfig) throws -> [WorkUnit] {
        var units: [WorkUnit] = []
        for var members in batches {
            members.sort { $0.id < $1.id }
            guard let first = members.first, let action = config.actions[first.remediation.action], let batch = action.batch else { continue }
            let revert = first.kind == .revert
            let key = RenderedRequest.batchKey(revert: revert, members: members.map(\.idempotencyKey))
            units.append(
                WorkUnit(
                    action: action.name, kind: first.kind, claims: members, request: nil, batchBody: revert ? batch.revertBody : batch.body, key: key,
                    batchKey: key))
        }
        if !units.isEmpty { try store.recordBatches(units.map { ($0.key, $0.claims) }, at: .now) }
        return units
    }

    /// Records the outcomes the senders finished and those decided without sending, in one
    /// transaction (on the recorder thread); returns false when there was nothing to record.
    /// - Throws: the store's error; the outcomes are then put back, to be recorded on the next try.
    func recordFinished(_ store: any Store, config: GavelConfig) throws -> Bool {
        let (sent, decided) = shared.withLock { s -> ([SentUnit], [FinishedAttempt]) in
            defer {
                s.finished.removeAll(keepingCapacity: true)
                s.decided.removeAll(keepingCapacity: true)
            }
            s.recording = !s.finished.isEmpty || !s.decided.isEmpty
            return (s.finished, s.decided)
        }
        defer { shared.withLock { $0.recording = false } }
        var attempts = decided
        for item in sent { attempts += reports(for: item, store: store) }
        guard !attempts.isEmpty else { return false }
        let results: [Bool]
        do {
            results = try store.finish(attempts, config: config, at: .now)
        } catch {
            shared.withLock {
                $0.finished.insert(contentsOf: sent, at: 0)
                $0.decided.insert(contentsOf: decided, at: 0)
            }
            throw error
        }
        var failed = 0
        // One line per remediation sent alone; one per batch (and per member that went otherwise).
        var batches: [String: (count: Int, first: FinishedAttempt)] = [:]
        var order: [String] = []
        let sentKeys = Set(sent.flatMap { $0.unit.claims.map(\.attemptID) })
        for (attempt, recorded) in zip(attempts, results) {
            if case .failed = attempt.report.result, recorded { failed += 1 }
            let counted: DispatchMetrics.Outcome =
                switch attempt.report.result {
                case .dispatched: .success
                case .retry: .retry
                case .failed: .failed
                }
            metrics.record(
                action: attempt.claim.remediation.action, kind: attempt.claim.kind.rawValue, outcome: counted,
                seconds: sentKeys.contains(attempt.claim.attemptID) ? Double(attempt.report.durationMs) / 1000 : nil)
            let r = attempt.claim.remediation
            let report = attempt.report
            if recorded, let key = report.batchKey, let seen = batches[key], seen.first.report.result == report.result {
                batches[key]?.count += 1
                continue
            }
            if recorded, let key = report.batchKey, batches[key] == nil {
                batches[key] = (1, attempt)
                order.append(key)
                continue
            }
            let what =
                "remediation \(r.id) \(r.action) \(r.target) \(attempt.claim.kind == .revert ? "revert attempt" : "attempt") \(attempt.claim.attempt)"
                + (report.batchKey.map { " (batch \($0))" } ?? "") + ": "
            log(what + (recorded ? Self.outcomeText(report) : "the claim lapsed meanwhile; another dispatcher recovered it"))
        }
        for key in order {
            guard let (count, first) = batches[key] else { continue }
            let kind = first.claim.kind == .revert ? "revert attempt" : "attempt"
            log(
                "batch \(key) \(first.claim.remediation.action): \(count) remediation(s) from #\(first.claim.id), \(kind) \(first.claim.attempt): "
                    + Self.outcomeText(first.report))
        }
        shared.withLock {
            $0.attempted += attempts.count
            $0.failed += failed
        }
        return true
    }

    private static func outcomeText(_ report: AttemptReport) -> String {
        switch report.result {
        case .dispatched: "dispatched" + (report.status.map { " (" + Attempt.resultText(status: $0, error: nil) + ")" } ?? "")
        case .retry: "will retry: " + (report.error ?? "failed")
        case .failed: "failed: " + (report.error ?? "failed")
        }
    }

    /// Each claim of a sent request and how its attempt ended. A batch's members retry at the same
    /// time (one backoff for the batch), never before the endpoint's `Retry-After`.
    private func reports(for item: SentUnit, store: any Store) -> [FinishedAttempt] {
        let outcome = item.outcome
        var rng = SystemRandomNumberGenerator()
        let attempt = item.unit.claims.map(\.attempt).max() ?? 1
        // A batch's members go again at the same time (so they are claimed together again).
        let delay = max(retryPolicy.delay(afterAttempt: attempt, random: &rng), outcome.retryAfterSeconds ?? 0)
        let next = item.at.adding(milliseconds: Int64(delay * 1000))
        let request = item.unit.request ?? item.unit.claims.first.flatMap { try? $0.request.get() }
        return item.unit.claims.map { claim in
            let result: AttemptReport.Result
            var error = outcome.error ?? "failed"
            switch outcome.kind {
            case .success: result = .dispatched
            case .retryable:
                // Retried while either budget lasts: the action's retries, or its retry_for since the
                // series' first attempt (`RetrySeries`, read from the store only on a failure).
                let series = RetrySeries.Lookup(claim: claim, store: store).series
                let elapsed = Double(item.at.milliseconds(since: series.firstStarted)) / 1000
                if retryPolicy.shouldRetry(
                    after: outcome, attempt: series.attempt, maxRetries: request?.maxRetries ?? 0, elapsed: elapsed, delay: delay,
                    retryFor: request?.retryForSeconds ?? 0)
                {
                    result = .retry(at: next)
                } else {
                    result = .failed
                    if let request { error += "; " + RetrySeries.gaveUp(series, elapsed: elapsed, request: request) }
                }
            case .permanent: result = .failed
            }
            return FinishedAttempt(
                claim,
                AttemptReport(
                    result: result, status: outcome.status, error: result == .dispatched ? nil : error, response: outcome.responseExcerpt,
                    durationMs: outcome.durationMs, batchKey: item.unit.batchKey, stderr: outcome.stderrTail))
        }
    }

    /// Gives back the queued (unsent) requests of `only` these actions (all when nil), and when
    /// `run` is given their open batches too.
    func releaseQueued(_ store: any Store, only: Set<String>?, run: inout Run) {
        let units = shared.withLock { s -> [WorkUnit] in
            var taken: [WorkUnit] = []
            for name in s.queues.keys where only?.contains(name) ?? true {
                taken += s.queues[name] ?? []
                s.queues[name] = []
            }
            return taken
        }
        var claims = units.flatMap(\.claims)
        for group in run.openBatches.keys {
            let action = String(group.split(separator: "\u{0}", omittingEmptySubsequences: false)[0])
            guard only?.contains(action) ?? true else { continue }
            claims += run.openBatches[group]?.claims ?? []
            run.openBatches[group] = nil
        }
        guard !claims.isEmpty else { return }
        do {
            try store.releaseClaims(claims, at: .now)
        } catch {
            log("dispatcher: giving back \(claims.count) unsent claim(s): \(error) (recovery re-queues them when their lease ends)")
        }
    }

    /// Gives back everything not yet sent.
    func releaseEverything(_ store: any Store, run: inout Run) { releaseQueued(store, only: nil, run: &run) }
}
