import Foundation
import GavelTestSupport
import Testing

@testable import GavelCore

/// Issue 16 item 13, end to end with the built binary and a real command: the child's
/// environment is the action's (`path`, `pass_env`), and when the command fails, the end of its
/// stderr is shown with the attempt — in `gavel show`, `gavel show --json` and the log.
@Suite(.serialized) struct CommandActionEndToEndTests {
    static let signal =
        #"{"SECURITY_RULE_NAME":"Request from unexpected IP address","SECURITY_SIGNAL_ID":"cmd-1","SECURITY_SIGNAL_SEVERITY":"high","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["198.51.100.71"]}}}}"#

    @Test func aFailingCommandsStderrIsShownWithItsAttemptAndItsEnvironmentIsTheActions() throws {
        let dir = try TemporaryDirectory()
        let envFile = dir.file("env.txt")
        // Records its environment, then fails the way the AWS CLI does (with an escape sequence
        // in the message, which must reach no terminal raw).
        let ban = try dir.script(
            "ban.sh",
            "#!/bin/sh\n/usr/bin/env > '\(envFile)'\necho 'calling the API' >&2\nprintf 'aws: error: \\033[31mInvalidClientTokenId\\033[0m for %s\\n' \"$2\" >&2\nexit 3\n"
        )
        let config = """
            { "actions": { "ban-ip": { "target": "ip",
                "command": { "argv": ["\(ban)", "--", "{{ip}}"], "path": "/usr/local/bin:/usr/bin:/bin", "pass_env": ["HOME", "AWS_*"] } } } }
            """
        let serve = try ServeProcess(
            environment: ["HOME": "/home/analyst", "AWS_REGION": "eu-west-1", "AWS_PROFILE": "sec", "UNRELATED_SECRET": "x"], config: config)
        defer { serve.cleanup() }
        _ = try curl(serve.baseURL + "/webhook", body: Self.signal)
        // Before approval the preview says what the child will get.
        let preview = try GavelBinary.run(["show", "1", "--db", serve.dbPath])
        #expect(preview.out.contains("  exec [\"\(ban)\",\"--\",\"198.51.100.71\"]"), "\(preview.out)")
        #expect(
            preview.out.contains(
                "  env: PATH=/usr/local/bin:/usr/bin:/bin GAVEL_IDEMPOTENCY_KEY=(the idempotency key), and from gavel's environment HOME AWS_*"))
        #expect(try GavelBinary.run(["approve", "1", "--by", "alice", "--db", serve.dbPath]).status == 0)
        var shown = (status: Int32(0), out: "", err: "")
        for _ in 0..<200 {
            shown = try GavelBinary.run(["show", "1", "--db", serve.dbPath])
            if shown.out.contains("state:     failed") { break }
            usleep(50_000)
        }
        #expect(shown.out.contains("error:     exit 3 (stderr: aws: error: \\x1b[31mInvalidClientTokenId\\x1b[0m for 198.51.100.71)"), "\(shown.out)")
        #expect(
            shown.out.contains("\n    stderr: calling the API\n    stderr: aws: error: \\x1b[31mInvalidClientTokenId\\x1b[0m for 198.51.100.71\n"))
        #expect(!shown.out.contains("\u{1B}"))
        let json = try JSONValue.parse(try GavelBinary.run(["show", "1", "--json", "--db", serve.dbPath]).out)
        guard case .array(let attempts)? = json["attempts"] else {
            Issue.record("no attempts: \(json)")
            return
        }
        #expect(attempts.first?["stderr"] == .string("calling the API\naws: error: \u{1B}[31mInvalidClientTokenId\u{1B}[0m for 198.51.100.71\n"))
        #expect(attempts.first?["status"] == .number("3"))
        let environment = Set(((try? String(contentsOfFile: envFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init))
        #expect(environment.contains("PATH=/usr/local/bin:/usr/bin:/bin"))
        #expect(environment.contains("HOME=/home/analyst"))
        #expect(environment.contains("AWS_REGION=eu-west-1") && environment.contains("AWS_PROFILE=sec"))
        #expect(environment.contains { $0.hasPrefix("GAVEL_IDEMPOTENCY_KEY=gavel-") })
        #expect(!environment.contains("UNRELATED_SECRET=x"))
        // Nothing else but the PWD the recording shell itself sets, and the AWS_* variables the
        // test runner's own environment passed to serve.
        let inherited = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("AWS_") && $0.key != "AWS_REGION" && $0.key != "AWS_PROFILE" }
        #expect(environment.filter { !$0.hasPrefix("PWD=") }.count == 5 + inherited.count, "\(environment)")
    }
}
