import Testing

@testable import GavelCore

/// The state machine as data: every pair of states, every event, every cause.
@Suite struct RemediationLifecycleTests {
    /// The transitions the product relies on, written out once more by hand: the table must hold
    /// exactly these (a new row is a deliberate edit of both).
    static let expected: Set<String> = [
        "nil -propose-> pending", "nil -propose-> suppressed", "nil -propose-> simulated",
        "pending -approve-> approved", "pending -reject-> rejected", "pending -endorse-> pending", "pending -expire-> expired",
        "approved -withdraw-> pending", "approved -claim-> dispatching",
        "dispatching -succeed-> dispatched", "dispatching -retry-later-> approved", "dispatching -fail-> failed",
        "dispatching -suppress-> suppressed", "dispatching -withdraw-> pending", "dispatching -requeue-> approved",
        "dispatching -abandon-> failed", "failed -retry-> approved",
        "dispatched -extend-> dispatched", "dispatched -lapse-> reverting", "dispatched -revert-> reverting",
        "dispatched -propose-revert-> revert-pending", "revert-pending -approve-> reverting", "revert-pending -reject-> dispatched",
        "reverting -claim-> reverting", "reverting -succeed-> reverted", "reverting -retry-later-> reverting", "reverting -fail-> revert-failed",
        "reverting -requeue-> reverting", "reverting -abandon-> revert-failed", "revert-failed -retry-> reverting",
        "dispatching -release-> approved", "reverting -release-> reverting",
    ]

    static func name(_ t: RemediationTransition) -> String { "\(t.from?.rawValue ?? "nil") -\(t.event.rawValue)-> \(t.to.rawValue)" }

    @Test func theTableHoldsExactlyTheExpectedTransitions() {
        #expect(Set(RemediationLifecycle.table.map(Self.name)) == Self.expected)
        #expect(RemediationLifecycle.table.count == Self.expected.count)
    }

    @Test func everyPairOfStatesIsAllowedOnlyByTheTable() {
        let states: [RemediationState?] = [nil] + RemediationState.allCases.map { $0 }
        for from in states {
            for to in RemediationState.allCases {
                let rows = RemediationLifecycle.table.filter { $0.from == from && $0.to == to }
                for event in RemediationEvent.allCases {
                    for cause in TransitionCause.allCases {
                        let allowed = rows.contains { $0.event == event && $0.causes.contains(cause) }
                        let result = Result { () throws(TransitionRefusal) in try RemediationLifecycle.next(from: from, on: event, by: cause) }
                        if from == nil {
                            #expect(RemediationLifecycle.canStartIn(to, by: cause) == rows.contains { $0.causes.contains(cause) })
                        } else if allowed {
                            #expect((try? result.get()) == to, "\(from?.rawValue ?? "nil") \(event) \(cause)")
                        } else if case .success(let got) = result {
                            #expect(got != to, "\(from?.rawValue ?? "nil") -\(event)-> \(to) by \(cause) is not in the table")
                        }
                    }
                }
            }
        }
    }

    @Test func eachStateAndEventLeadsToOneState() {
        var seen: Set<String> = []
        for t in RemediationLifecycle.table where t.from != nil {
            #expect(seen.insert("\(t.from!.rawValue) \(t.event.rawValue)").inserted, "\(Self.name(t)) is ambiguous")
        }
    }

    @Test func whoMayCauseWhat() throws {
        #expect(throws: TransitionRefusal.self) { try RemediationLifecycle.next(from: .pending, on: .approve, by: .dispatcher) }
        #expect(throws: TransitionRefusal.self) { try RemediationLifecycle.next(from: .pending, on: .reject, by: .auto) }
        #expect(throws: TransitionRefusal.self) { try RemediationLifecycle.next(from: .failed, on: .retry, by: .auto) }
        #expect(throws: TransitionRefusal.self) { try RemediationLifecycle.next(from: .dispatching, on: .withdraw, by: .analyst) }
        #expect(try RemediationLifecycle.next(from: .approved, on: .withdraw, by: .brakes) == .pending)
        #expect(RemediationLifecycle.sources(of: .withdraw, by: .brakes).sorted { $0.rawValue < $1.rawValue } == [.approved, .dispatching])
    }

    @Test func everyStateIsReachableFromAProposalAndFinalStatesStayFinal() {
        var reached: Set<RemediationState> = Set(RemediationLifecycle.table.filter { $0.from == nil }.map(\.to))
        var frontier = Array(reached)
        while let s = frontier.popLast() {
            for t in RemediationLifecycle.table where t.from == s && !reached.contains(t.to) {
                reached.insert(t.to)
                frontier.append(t.to)
            }
        }
        #expect(reached == Set(RemediationState.allCases))
        let final = Set(RemediationState.allCases).subtracting(RemediationLifecycle.nonFinalStates)
        #expect(final == [.rejected, .suppressed, .simulated, .reverted, .expired])
    }

    @Test func aRefusalSaysWhoCouldNotDoWhat() {
        let refusal = TransitionRefusal(state: .dispatched, event: .approve, cause: .analyst)
        #expect(refusal.description == "analyst cannot approve a remediation in state dispatched")
    }
}
