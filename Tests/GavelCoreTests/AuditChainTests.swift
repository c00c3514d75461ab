import Testing

@testable import GavelCore

@Suite struct AuditChainTests {
    static func entry(_ id: Int64, _ action: String, actor: String = "alice") -> AuditEntry {
        AuditEntry(
            id: id, at: Timestamp(milliseconds: 1_780_000_000_000 + id), actor: actor, action: action, subject: "remediation \(id)",
            before: "pending",
            after: "approved", detail: nil)
    }

    /// Chains `entries` as the store does.
    static func chained(_ entries: [AuditEntry]) -> [AuditEntry] {
        var previous = AuditChain.genesis
        return entries.map { e in
            var e = e
            e.previousHash = previous
            e.hash = AuditChain.hash(previous: previous, content: e.chainContent)
            previous = e.hash!
            return e
        }
    }

    /// The value `printf '%s\n%s' "$(printf '0%.0s' {1..64})" 'x' | sha256sum` prints: one
    /// SHA-256 over previous, a newline and the content, nothing else (docs/operations.md).
    @Test func theHashIsOneSHA256OverPreviousNewlineContent() {
        #expect(AuditChain.hash(previous: AuditChain.genesis, content: "x") == "0152f4f98e11e409b35bfa9b5e18c329427b7f29deedbc071733db222ce38158")
    }

    @Test func theContentIsCompactJSONInAFixedOrder() {
        #expect(
            Self.entry(7, "approve").chainContent
                == #"{"id":7,"at":"2026-05-28T20:26:40.007Z","actor":"alice","action":"approve","subject":"remediation 7","before":"pending","after":"approved","detail":null}"#
        )
    }

    @Test func anIntactChainVerifiesAndAnyChangeNamesTheEntry() {
        let chain = Self.chained((1...5).map { Self.entry($0, "approve") })
        #expect(AuditChain.verify(chain) == .intact(count: 5, head: chain[4].hash))
        #expect(AuditChain.verify([]) == .intact(count: 0, head: nil))
        var edited = chain
        edited[2].actor = "mallory"
        guard case .broken(3, let why) = AuditChain.verify(edited) else {
            Issue.record("edit not found")
            return
        }
        #expect(why.contains("edited"))
        var deleted = chain
        deleted.remove(at: 1)
        guard case .broken(3, let gap) = AuditChain.verify(deleted) else {
            Issue.record("deletion not found")
            return
        }
        #expect(gap.contains("does not follow entry 1"))
        var swapped = chain
        swapped.swapAt(1, 2)
        guard case .broken(3, _) = AuditChain.verify(swapped) else {
            Issue.record("entries out of order not found")
            return
        }
        var firstGone = chain
        firstGone.removeFirst()
        guard case .broken(2, _) = AuditChain.verify(firstGone) else {
            Issue.record("a missing first entry not found")
            return
        }
        var unhashed = chain
        unhashed[4].hash = nil
        #expect(AuditChain.verify(unhashed) == .broken(id: 5, reason: "entry 5 has no hash"))
    }
}
