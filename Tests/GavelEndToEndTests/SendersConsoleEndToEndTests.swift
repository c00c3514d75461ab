import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

/// Issue 13 in the console (tmux): the Intake errors view lists a body nobody could read, the
/// detail pane names each signal's sender and its context, and `F` rejects as a false positive.
@Suite(.serialized, .enabled(if: TmuxConsole.available, "needs tmux")) struct SendersConsoleEndToEndTests {
    @Test func theConsoleShowsSendersUnrecognisedBodiesAndRejectsAsAFalsePositive() throws {
        let dir = try TemporaryDirectory()
        let console = try TmuxConsole(folder: dir.path, args: ["--listen", "127.0.0.1:0", "--by", "e2e-analyst"], cols: 120, rows: 40)
        defer { console.kill() }
        let port = try #require(console.listenPort(), "header shows the listen address: \(console.capture())")
        let base = "http://127.0.0.1:\(port)"
        #expect(try curl(base + "/webhook/guardduty", body: SenderSamples.text("guardduty")).contains(#""source":"guardduty""#))
        #expect(try curl(base + "/webhook/guardduty", body: #"{"note":"no finding here"}"#).contains("unrecognised"))
        console.waitFor("198.51.100.203")
        // The detail pane: the sender, and the instance and its addresses as context.
        let detail = console.waitFor("context (never acted on)")
        #expect(detail.contains("context (never acted on): 10.0.2.15, 192.0.2.80, i-0a1b2c3d4e5f60789, sg-0fedcba9876543210"))
        console.send("Enter")
        for _ in 0..<6 { console.send("j") }
        #expect(console.waitFor("from guardduty").contains("signal id: 8ac6e5f1b2d34c7f9e0a1b2c3d4e5f60 · from guardduty"))
        console.send("Escape")
        // The Intake errors view lists the unrecognised body, answered 202 and kept.
        console.send("5")
        let errors = console.waitFor { $0.contains("unrecognised") }
        #expect(errors.contains("202") && errors.contains("source guardduty"))
        // F on the pending ban rejects it as a false positive, after a reason.
        console.send("1")
        console.waitFor("198.51.100.203")
        console.send("F")
        #expect(console.waitFor("false positive, reason:").contains("false positive, reason:"))
        console.send("scanner we own", literal: true)
        console.send("Enter")
        let after = console.waitFor { $0.contains("rejected as a false positive") }
        #expect(after.contains("rejected as a false positive"), "\(after)")
        let shown = try GavelBinary.run(["show", "1", "--json", "--db", dir.file("gavel.db")])
        let json = try JSONValue.parse(shown.out)
        #expect(json["state"] == .string("rejected") && json["false_positive"] == .bool(true) && json["decided_by"] == .string("e2e-analyst"))
    }
}
