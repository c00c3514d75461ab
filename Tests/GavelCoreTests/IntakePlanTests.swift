import Testing

@testable import GavelCore

/// The intake plan as a pure function: signal + configuration + what the store knows in,
/// proposals and automatic decisions out.
@Suite struct IntakePlanTests {
    let now = Timestamp(milliseconds: 1_780_000_000_000)

    func signal(_ ips: [String], users: [String] = [], date: String? = nil) -> Signal {
        var s = Signal(signalID: "s1")
        s.ruleName = "Brute force"
        s.ips = ips.compactMap { IPAddress(parsing: $0) }
        s.users = users
        s.date = date
        return s
    }

    func config(_ json: String = "{}") throws -> GavelConfig {
        try GavelConfig.load(text: json, origin: "test", environment: [:], databasePath: "/tmp/g.db")
    }

    @Test func newTargetsAreCreatedPendingAndOpenOnesAttach() throws {
        let s = signal(["203.0.113.1", "203.0.113.2"], users: ["u@example.com"])
        var situation = IntakeSituation(signal: s, rule: Rule(key: "Brute force", name: "Brute force"), now: now)
        situation.existing[ActionTarget("ban-ip", "203.0.113.2")] = ExistingRemediation(id: 7, state: .approved)
        let plan = IntakePlan.make(situation, config: try config())
        #expect(plan.steps.map(\.target) == ["203.0.113.1", "203.0.113.2", "u@example.com"])
        #expect(plan.steps[0].disposition == .create(.pending, reason: nil))
        #expect(plan.steps[1].disposition == .attach(ExistingRemediation(id: 7, state: .approved)))
        #expect(plan.steps.allSatisfy { $0.auto == nil } && !plan.throttled)
    }

    @Test func anUpdateProposesOnlyItsNewEntitiesAndDisabledActionsNothing() throws {
        let s = signal(["203.0.113.1", "203.0.113.2"], users: ["u@example.com"])
        let rule = Rule(key: "Brute force", name: "Brute force", disabledActions: ["disable-user"])
        let plan = IntakePlan.make(
            IntakeSituation(signal: s, rule: rule, newEntityValues: ["203.0.113.2", "u@example.com"], now: now), config: try config())
        #expect(plan.steps.map(\.target) == ["203.0.113.2"])
    }

    @Test func proposalsMadeOnAnotherThreadGiveTheSamePlanLessTheRulesDisabledActions() throws {
        // The receiver makes `configuredProposals` on the connection's thread; the writer only
        // takes the rule's disabled actions out. Whatever the rule row says, the plan is the same.
        let s = signal(["203.0.113.1", "10.0.0.1", "203.0.113.1"], users: ["u@example.com"])
        let config = try config()  // protect_internal (the default) suppresses 10.0.0.1
        let configured = IntakePlan.configuredProposals(for: s, config: config)
        #expect(configured.map(\.action) == ["ban-ip", "ban-ip", "disable-user"])
        for disabled: Set<String> in [[], ["disable-user"], ["ban-ip"], ["ban-ip", "disable-user"]] {
            let rule = Rule(key: "Brute force", name: "Brute force", disabledActions: disabled)
            for newEntities: Set<String>? in [nil, ["10.0.0.1", "u@example.com"]] {
                let fresh = IntakePlan.proposals(signal: s, rule: rule, newEntityValues: newEntities, config: config)
                let early = IntakePlan.proposals(signal: s, rule: rule, newEntityValues: newEntities, config: config, configured: configured)
                #expect(early == fresh, "disabled \(disabled), new entities \(String(describing: newEntities))")
                var situation = IntakeSituation(signal: s, rule: rule, newEntityValues: newEntities, now: now)
                let plan = IntakePlan.make(situation, config: config)
                situation.configuredProposals = configured
                #expect(IntakePlan.make(situation, config: config) == plan)
            }
        }
    }

    @Test func allowlistedTargetsAreSuppressedAndDryRunSimulated() throws {
        let s = signal(["10.0.0.1", "203.0.113.1"])
        let plan = IntakePlan.make(IntakeSituation(signal: s, rule: Rule(key: "r", mode: .dryRun), now: now), config: try config())
        guard case .create(.suppressed, let reason?) = plan.steps[0].disposition else {
            Issue.record("\(plan.steps[0])")
            return
        }
        #expect(reason.contains("10.0.0.0/8"))
        #expect(plan.steps[1].disposition == .create(.simulated, reason: nil))
    }

    @Test func autoApprovesWithinBothBudgetsAndSaysWhyNot() throws {
        let c = try config(#"{"auto_limits": {"per_rule": 2, "global": 3, "window_seconds": 600}}"#)
        let s = signal(["203.0.113.1", "203.0.113.2", "203.0.113.3"])
        let rule = Rule(key: "r", mode: .auto)
        let plan = IntakePlan.make(IntakeSituation(signal: s, rule: rule, autoUsage: AutoUsage(rule: 1, overall: 1), now: now), config: c)
        #expect(plan.steps[0].auto == .approve)
        #expect(plan.steps[1].auto == .throttle("rule budget of 2 automatic dispatches per 10 min reached"))
        #expect(plan.throttled)
        let global = IntakePlan.make(IntakeSituation(signal: s, rule: rule, autoUsage: AutoUsage(rule: 0, overall: 3), now: now), config: c)
        #expect(global.steps[0].auto == .throttle("global budget of 3 automatic dispatches per 10 min reached"))
        let off = IntakePlan.make(IntakeSituation(signal: s, rule: rule, automaticDispatchDisabled: true, now: now), config: c)
        #expect(off.steps.allSatisfy { if case .skip = $0.auto { true } else { false } })
    }

    @Test(
        arguments: [
            (nil, true), ("1780000000000", true), ("1779999000000", true), ("1779996000000", false), ("1780000000", false),
            ("1780100000000", false), ("99999999999999999999", false),
        ] as [(String?, Bool)])
    func onlyAPlausibleRecentDateIsFresh(_ date: String?, _ fresh: Bool) {
        #expect(IntakePlan.isFresh(signal([], date: date), now: now) == fresh)
    }

    @Test func aDateThatIsNotEpochMillisecondsIsNeverFresh() throws {
        for text in ["-5", "2026-01-01", "1.7e12", "abc"] {
            let s = try SignalPayload.decode(body: Array(#"{"SECURITY_SIGNAL_ID":"x","DATE":"\#(text)"}"#.utf8), format: .json)
            #expect(s.flags.contains(.invalidDate), "\(text)")
            #expect(!IntakePlan.isFresh(s, now: now), "\(text)")
        }
        // Present but not a scalar, or empty: as invalid as text (the attacker pass found an array fresh).
        for json in ["[1780000000000]", #"{"a":1780000000000}"#, #""""#] {
            let s = try SignalPayload.decode(body: Array(#"{"SECURITY_SIGNAL_ID":"x","DATE":\#(json)}"#.utf8), format: .json)
            #expect(s.flags.contains(.invalidDate), "\(json)")
            #expect(!IntakePlan.isFresh(s, now: now), "\(json)")
        }
        let missing = try SignalPayload.decode(body: Array(#"{"SECURITY_SIGNAL_ID":"x"}"#.utf8), format: .json)
        #expect(IntakePlan.isFresh(missing, now: now))
        let null = try SignalPayload.decode(body: Array(#"{"SECURITY_SIGNAL_ID":"x","DATE":null}"#.utf8), format: .json)
        #expect(IntakePlan.isFresh(null, now: now))
    }

    @Test func aStaleSignalIsLeftForAnAnalyst() throws {
        let s = signal(["203.0.113.1"], date: "1770000000000")
        let plan = IntakePlan.make(IntakeSituation(signal: s, rule: Rule(key: "r", mode: .auto), now: now), config: try config())
        #expect(plan.steps[0].auto == .skip("signal DATE is missing a plausible time within the last hour: left for an analyst"))
    }
}
