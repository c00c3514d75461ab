import Foundation
import GavelCore
import GavelStore

@testable import GavelConsole

/// An in-memory ConsoleDataSource that pages with the reference keyset semantics and records
/// every query, so tests can check the console never loads everything.
final class FakeConsoleData: ConsoleDataSource {
    var remediations: [Remediation]
    var ruleRows: [RuleRow]
    var auditRows: [AuditEntry] = []
    var intakeRows: [IntakeErrorEntry] = []
    var summaryValue = ConsoleSummary(
        counts: [.pending: 0], rulesInAuto: 0, listenAddress: "127.0.0.1:8787", actionsNeedingConfirmation: [ActionName.deleteSecurityGroup])
    var details: [Int64: RemediationDetail] = [:]
    private(set) var queries: [ConsolePageQuery] = []

    init(remediations: [Remediation] = [], rules: [RuleRow] = []) {
        self.remediations = remediations
        self.ruleRows = rules
    }

    func page(_ query: ConsolePageQuery) throws -> [Remediation] {
        queries.append(query)
        return query.select(from: remediations)
    }

    func detail(remediationID: Int64) throws -> RemediationDetail? {
        if let d = details[remediationID] { return d }
        return remediations.first { $0.id == remediationID }.map { RemediationDetail(row: $0) }
    }

    func rules() throws -> [RuleRow] { ruleRows }

    func audit(limit: Int, before: Int64?) throws -> [AuditEntry] {
        Array(auditRows.sorted { $0.id > $1.id }.filter { before == nil || $0.id < before! }.prefix(limit))
    }

    func intakeErrors(limit: Int, before: Int64?) throws -> [IntakeErrorEntry] {
        Array(intakeRows.sorted { $0.id > $1.id }.filter { before == nil || $0.id < before! }.prefix(limit))
    }

    func summary() throws -> ConsoleSummary {
        var s = summaryValue
        var counts: [RemediationState: Int] = [:]
        for r in remediations { counts[r.state, default: 0] += 1 }
        s.counts = counts
        s.rulesInAuto = ruleRows.filter { $0.mode == .auto }.count
        return s
    }
}

/// Fixed data for model and renderer tests.
enum Fixture {
    static let t0 = Date(timeIntervalSince1970: 1_780_000_000)  // 2026-05-28 20:26:40Z
    static let now = t0.addingTimeInterval(3600)

    static func ban(
        _ id: Int64, _ ip: String, severity: Severity? = .high, minutes: Double = 0, state: RemediationState = .pending,
        rule: String = "Sign-in from unrecognized IP", ruleKey: String = "new-ip"
    ) -> Remediation {
        makeRemediation(
            id: id, state: state, action: ActionName.banIP, target: ip, targetKind: .ip, rule: rule, ruleKey: ruleKey,
            severity: severity, createdAt: t0.addingTimeInterval(minutes * 60), signals: 1, ips: [ip],
            suppressedBy: state == .suppressed ? "203.0.113.0/24" : nil)
    }

    static func rules(mode: RuleMode = .manual) -> [RuleRow] {
        [
            makeRuleRow(
                rule: "Sign-in from unrecognized IP", key: "new-ip", mode: mode, enabledActions: [ActionName.banIP],
                allActions: [ActionName.banIP, ActionName.disableUser], pending: 3),
            makeRuleRow(
                rule: "Misconfigured security group", key: "sg-open", enabledActions: [ActionName.deleteSecurityGroup],
                allActions: [ActionName.deleteSecurityGroup]),
            makeRuleRow(
                rule: "Card fraud", key: "card-fraud", enabledActions: [ActionName.disableUser, ActionName.banIP],
                allActions: [ActionName.disableUser, ActionName.banIP]),
        ]
    }

    /// Three pending remediations of mixed severity, one security-group deletion (confirm),
    /// one fraud user, plus some decided history.
    static func data() -> FakeConsoleData {
        let sg = makeRemediation(
            id: 4, state: .pending, action: ActionName.deleteSecurityGroup, target: "sg-0a1b2c3d4e5f60789",
            targetKind: .securityGroup, rule: "Misconfigured security group", ruleKey: "sg-open",
            severity: .critical, createdAt: t0.addingTimeInterval(120), ips: ["192.0.2.10"])
        let user = makeRemediation(
            id: 5, state: .pending, action: ActionName.disableUser, target: "shopper.one@example.com",
            targetKind: .user, rule: "Card fraud", ruleKey: "card-fraud", severity: .medium,
            createdAt: t0.addingTimeInterval(300), signals: 2, ips: ["198.51.100.23"], users: ["shopper.one@example.com"])
        return FakeConsoleData(
            remediations: [
                ban(1, "203.0.113.42", severity: .high, minutes: 1),
                ban(2, "198.51.100.99", severity: .high, minutes: 0),
                ban(3, "203.0.113.77", severity: .low, minutes: 2),
                sg, user,
                ban(6, "203.0.113.5", minutes: -30, state: .suppressed),
                ban(7, "198.51.100.7", minutes: -20, state: .failed),
            ], rules: rules())
    }

    /// A session over `data` that records the effects it was asked to perform.
    static func session(_ data: FakeConsoleData, readOnly: Bool = false, size: (Int, Int) = (24, 80)) -> (ConsoleSession, EffectLog) {
        let log = EffectLog()
        let s = ConsoleSession(
            model: ConsoleModel(analyst: "alice", readOnly: readOnly, size: size, now: now),
            dataSource: data
        ) { effect in
            log.effects.append(effect)
            return DecisionOutcome(message: "done")
        }
        s.tick(now: now)
        return (s, log)
    }
}

final class EffectLog {
    var effects: [ConsoleEffect] = []
}

/// Test builders in the shapes the console tests were written with (times as `Date`, a rule as
/// its display name), making the domain values the console shows.
func makeRemediation(
    id: Int64, state: RemediationState, action: String, target: String, targetKind: TargetKind, rule: String, ruleKey: String? = nil,
    severity: Severity?, createdAt: Date, signals: Int = 1, ips: [String] = [], users: [String] = [], decidedBy: String? = nil,
    reason: String? = nil, lastError: String? = nil, suppressedBy: String? = nil
) -> Remediation {
    Remediation(
        id: id, action: action, targetKind: targetKind, target: target, ruleKey: ruleKey ?? rule, ruleName: rule, severity: severity,
        state: state, signalCount: signals, ips: ips, users: users, decidedBy: decidedBy, reason: suppressedBy ?? reason, lastError: lastError,
        createdAt: Timestamp(createdAt))
}

func makeRuleRow(
    rule: String, ruleID: String? = nil, key: String? = nil, mode: RuleMode = .manual, enabledActions: [String], allActions: [String],
    throttled: Bool = false, pending: Int = 0, dispatched: Int = 0, lastSeen: Date? = nil
) -> RuleRow {
    RuleRow(
        rule: Rule(
            key: key ?? ruleID ?? rule, ruleID: ruleID, name: rule, mode: mode, throttledAt: throttled ? Timestamp(Fixture.t0) : nil,
            lastSeenAt: lastSeen.map(Timestamp.init)),
        counts: RuleCounts(pending: pending, dispatched: dispatched), enabledActions: enabledActions, allActions: allActions)
}

func makeSignalCard(
    id: Int64, signalID: String, title: String? = nil, message: String? = nil, severity: Severity? = nil, ips: [String] = [],
    users: [String] = [], eventName: String? = nil, eventOutcome: String? = nil, securityGroups: [String] = [], actor: String? = nil,
    link: String? = nil, attributeLines: [String] = [], receivedAt: Date
) -> SignalCard {
    var s = Signal(signalID: signalID)
    s.title = title
    s.message = message
    s.severity = severity
    s.ips = ips.compactMap { IPAddress(parsing: $0) }
    s.users = users
    s.eventName = eventName
    s.eventOutcome = eventOutcome
    s.securityGroups = securityGroups
    s.actor = actor
    s.link = link
    let stored = StoredSignal(id: id, signal: s, attributesText: nil, source: "datadog", receivedAt: Timestamp(receivedAt), deliveries: 1)
    return SignalCard(stored: stored, attributeLines: attributeLines)
}

func makeAttempt(number: Int, at: Date, status: Int? = nil, error: String? = nil, durationMilliseconds: Int? = nil) -> Attempt {
    Attempt(
        id: Int64(number), remediationID: 0, number: number, startedAt: Timestamp(at), durationMs: durationMilliseconds, status: status, error: error)
}
