import Foundation
import GavelCore
import GavelTestSupport
import Glibc
import Testing

@testable import GavelDispatch

// The fixtures are /bin/sh scripts written by the tests; /bin/sh is only the interpreter of
// the test's own fake command, gavel itself never runs a shell.
@Suite("CommandExecutor")
struct CommandExecutorTests {
    let executor = CommandExecutor()

    @Test("hostile values arrive as single argv elements and nothing is evaluated")
    func argvIsVerbatim() throws {
        let dir = try TemporaryDirectory()
        let recorder = try dir.script(
            "record",
            """
            #!/bin/sh
            out="$1"; shift
            for a in "$@"; do printf '%s\\0' "$a"; done > "$out"
            /usr/bin/env > "$out.env"
            """)
        let hostile = [
            "value with spaces", "$(touch \(dir.file("pwned")))", "`touch \(dir.file("pwned2"))`",
            "; touch \(dir.file("pwned3"))", "a && touch \(dir.file("pwned4"))", "line1\nline2",
            "--", "-n", "'quoted'\"double\"", "*", "", "日本 é",
        ]
        let outcome = executor.execute(
            CommandDispatchRequest(argv: [recorder, dir.file("argv")] + hostile, timeoutSeconds: 10),
            idempotencyKey: "rem-7-key")

        #expect(outcome.kind == .success)
        #expect(outcome.status == 0)
        #expect(outcome.error == nil)
        let recorded = try dir.read("argv").split(separator: 0, omittingEmptySubsequences: false).dropLast()
        #expect(recorded.map { String(decoding: $0, as: UTF8.self) } == hostile)
        for name in ["pwned", "pwned2", "pwned3", "pwned4"] { #expect(!dir.exists(name)) }
        let environment = String(decoding: try dir.read("argv.env"), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(environment.contains("GAVEL_IDEMPOTENCY_KEY=rem-7-key"))
        #expect(environment.contains("PATH=/usr/bin:/bin"))
        #expect(!environment.contains { $0.hasPrefix("HOME=") || $0.hasPrefix("GAVEL_TOKEN=") })
    }

    @Test("a non-zero exit is retryable with its status; stdout is the response, stderr's end is kept apart and named in the error")
    func nonZeroExit() throws {
        let dir = try TemporaryDirectory()
        let failing = try dir.script("fail", "#!/bin/sh\necho to-stdout\necho to-stderr >&2\nexit 3\n")
        let outcome = executor.execute(CommandDispatchRequest(argv: [failing], timeoutSeconds: 10), idempotencyKey: "k")
        #expect(outcome.kind == .retryable)
        #expect(outcome.status == 3)
        #expect(outcome.error == "exit 3 (stderr: to-stderr)")
        #expect(outcome.responseExcerpt == "to-stdout\n")
        #expect(outcome.stderrTail == "to-stderr\n")
    }

    /// Issue 16 item 13: when the command fails, the reason is at the end of its stderr.
    @Test("the last 2048 bytes of a long stderr are kept, starting on a character, marked as cut")
    func stderrTailOfALongOutput() throws {
        let dir = try TemporaryDirectory()
        let noisy = try dir.script(
            "noisy",
            "#!/bin/sh\ni=0\nwhile [ $i -lt 400 ]; do echo \"progress é $i\" >&2; i=$((i+1)); done\necho 'aws: error: InvalidClientTokenId' >&2\nexit 254\n"
        )
        let outcome = executor.execute(CommandDispatchRequest(argv: [noisy], timeoutSeconds: 10), idempotencyKey: "k")
        let tail = try #require(outcome.stderrTail)
        #expect(tail.hasPrefix("…"))
        #expect(tail.hasSuffix("progress é 399\naws: error: InvalidClientTokenId\n"))
        #expect(tail.utf8.count <= DispatchOutcome.stderrTailLimit + 3)
        #expect(!tail.contains("\u{FFFD}"))
        #expect(outcome.error == "exit 254 (stderr: aws: error: InvalidClientTokenId)")
        #expect(outcome.responseExcerpt.isEmpty)
    }

    /// Issue 16 item 13: the child got only PATH=/usr/bin:/bin and the key — no HOME, no cloud
    /// credentials, no /usr/local/bin. Each action says what it passes.
    @Test("the environment is the action's: its PATH, the variables it passes by name or prefix, the key — nothing else")
    func environmentIsConfigurablePerAction() throws {
        // /usr/bin/env itself is the command (a shell would add PWD): its stdout is the response.
        let gavelEnvironment = [
            "HOME": "/home/gavel", "AWS_REGION": "eu-west-1", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWSX": "no", "GAVEL_TOKEN": "t",
            "PATH": "/evil", "GAVEL_IDEMPOTENCY_KEY": "forged", "LD_PRELOAD": "/tmp/x.so",
        ]
        let request = CommandDispatchRequest(
            argv: ["/usr/bin/env"], timeoutSeconds: 10, path: "/usr/local/bin:/usr/bin:/bin", passEnvironment: ["HOME", "AWS_*", "NOT_SET"])
        let outcome = CommandExecutor(environment: gavelEnvironment).execute(request, idempotencyKey: "rem-9-key")
        #expect(outcome.kind == .success)
        let lines = outcome.responseExcerpt.split(separator: "\n").map(String.init)
        #expect(
            Set(lines) == [
                "PATH=/usr/local/bin:/usr/bin:/bin", "AWS_REGION=eu-west-1", "AWS_SECRET_ACCESS_KEY=s3cr3t", "HOME=/home/gavel",
                "GAVEL_IDEMPOTENCY_KEY=rem-9-key",
            ])
        // The default stays as it was: PATH=/usr/bin:/bin and the key.
        let plain = CommandDispatchRequest(argv: ["/usr/bin/env"], timeoutSeconds: 10)
        let defaults = CommandExecutor(environment: gavelEnvironment).execute(plain, idempotencyKey: "k2").responseExcerpt
            .split(separator: "\n").map(String.init)
        #expect(Set(defaults) == ["PATH=/usr/bin:/bin", "GAVEL_IDEMPOTENCY_KEY=k2"])
    }

    @Test("a command killed by a signal is retryable and says which signal")
    func killedBySignal() throws {
        let dir = try TemporaryDirectory()
        let suicidal = try dir.script("die", "#!/bin/sh\nkill -9 $$\n")
        let outcome = executor.execute(CommandDispatchRequest(argv: [suicidal], timeoutSeconds: 10), idempotencyKey: "k")
        #expect(outcome.kind == .retryable)
        #expect(outcome.status == nil)
        #expect(outcome.error == "killed by signal 9")
    }

    @Test("at the deadline the whole process group is killed, background children included")
    func timeoutKillsProcessGroup() throws {
        let dir = try TemporaryDirectory()
        let sleeper = try dir.script("sleeper", "#!/bin/sh\n/bin/sleep 30 &\necho $! > \"$1\"\n/bin/sleep 30\n")
        let outcome = executor.execute(
            CommandDispatchRequest(argv: [sleeper, dir.file("child.pid")], timeoutSeconds: 1),
            idempotencyKey: "k")
        #expect(outcome.kind == .retryable)
        #expect(outcome.status == nil)
        #expect(outcome.error == "timeout after 1 s")
        let child = try #require(
            pid_t(
                String(decoding: try dir.read("child.pid"), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventuallyDead(child))
    }

    @Test("a child left running after a normal exit does not hold the dispatch and is killed")
    func strayChildKilledAfterExit() throws {
        let dir = try TemporaryDirectory()
        let forker = try dir.script("forker", "#!/bin/sh\n/bin/sleep 30 &\necho $! > \"$1\"\necho done\nexit 0\n")
        let outcome = executor.execute(
            CommandDispatchRequest(argv: [forker, dir.file("child.pid")], timeoutSeconds: 20),
            idempotencyKey: "k")
        #expect(outcome.kind == .success)
        #expect(outcome.error == nil)
        #expect(outcome.responseExcerpt == "done\n")
        let child = try #require(
            pid_t(
                String(decoding: try dir.read("child.pid"), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventuallyDead(child))
    }

    @Test("a flood of output is capped and does not block the child")
    func outputFloodCapped() throws {
        let dir = try TemporaryDirectory()
        let flooder = try dir.script("flood", "#!/bin/sh\n/usr/bin/yes flood | /usr/bin/head -c 5000000\necho finished >&2\n")
        let outcome = executor.execute(CommandDispatchRequest(argv: [flooder], timeoutSeconds: 20), idempotencyKey: "k")
        #expect(outcome.kind == .success)
        #expect(outcome.responseExcerpt.utf8.count == DispatchOutcome.excerptLimit)
        #expect(outcome.responseExcerpt.hasPrefix("flood\nflood\n"))
    }

    @Test("an endless flood is stopped at the deadline with the excerpt capped")
    func endlessFloodTimesOut() throws {
        let dir = try TemporaryDirectory()
        let flooder = try dir.script("endless", "#!/bin/sh\nexec /usr/bin/yes\n")
        let outcome = executor.execute(CommandDispatchRequest(argv: [flooder], timeoutSeconds: 0.5), idempotencyKey: "k")
        #expect(outcome.kind == .retryable)
        #expect(outcome.error == "timeout after 0.5 s")
        #expect(outcome.responseExcerpt.utf8.count == DispatchOutcome.excerptLimit)
    }

    @Test("stdin is /dev/null, so a command reading stdin sees end of file")
    func stdinIsDevNull() throws {
        let dir = try TemporaryDirectory()
        let reader = try dir.script("reader", "#!/bin/sh\n/bin/cat\necho read-done\n")
        let outcome = executor.execute(CommandDispatchRequest(argv: [reader], timeoutSeconds: 10), idempotencyKey: "k")
        #expect(outcome.kind == .success)
        #expect(outcome.responseExcerpt == "read-done\n")
    }

    @Test("the child inherits no descriptors beyond stdin, stdout and stderr")
    func noInheritedDescriptors() throws {
        let dir = try TemporaryDirectory()
        let leaky = open(dir.path, O_RDONLY)  // deliberately without O_CLOEXEC
        defer { close(leaky) }
        #expect(leaky > 2)
        let lister = try dir.script("fds", "#!/bin/sh\nexec /bin/ls -1 /proc/self/fd\n")
        let outcome = executor.execute(CommandDispatchRequest(argv: [lister], timeoutSeconds: 10), idempotencyKey: "k")
        #expect(outcome.kind == .success)
        // ls itself opens one descriptor (3) to read the directory.
        #expect(outcome.responseExcerpt.split(separator: "\n") == ["0", "1", "2", "3"])
    }

    @Test(
        "argv that cannot run is permanent",
        arguments: [
            [], ["bin/true"], ["true"], ["./x"], ["/nonexistent/gavel-test-program"], ["/bin/true", "a\u{0}b"],
        ])
    func invalidArgvRefused(argv: [String]) {
        let outcome = executor.execute(CommandDispatchRequest(argv: argv, timeoutSeconds: 5), idempotencyKey: "k")
        #expect(outcome.kind == .permanent)
        #expect(outcome.error != nil)
    }

    @Test("a file that is not executable is permanent with the errno text")
    func notExecutable() throws {
        let dir = try TemporaryDirectory()
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: dir.file("plain")))
        let outcome = executor.execute(CommandDispatchRequest(argv: [dir.file("plain")], timeoutSeconds: 5), idempotencyKey: "k")
        #expect(outcome.kind == .permanent)
        #expect(outcome.error?.contains("Permission denied") == true)
    }

    /// Whether `pid` is gone or a zombie within a few seconds (its parent was killed, so init
    /// reaps it when it gets to it; a zombie has already run its last instruction).
    func eventuallyDead(_ pid: pid_t) -> Bool {
        for _ in 0..<500 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            if let close = stat.lastIndex(of: ")"), stat[close...].dropFirst(2).first == "Z" { return true }
            usleep(10_000)
        }
        return false
    }
}
