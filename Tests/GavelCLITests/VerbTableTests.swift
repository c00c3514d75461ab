import Foundation
import Testing

@testable import GavelRuntime
@testable import gavel

/// The verb table: parsing, `gavel help` and `gavel help VERB` are generated from it, and one rule
/// from it decides how every verb opens the store.
@Suite struct VerbTableTests {
    @Test func everyVerbHasOneEntryAndHelpShowsItsUsageAndEveryOption() {
        #expect(Set(Verbs.all.map(\.name)).count == Verbs.all.count)
        for verb in Verbs.all {
            let help = verb.help
            #expect(help.hasPrefix("Usage: \(verb.usage)\n"), "\(verb.name)")
            for option in verb.allOptions { #expect(help.contains(option.synopsis), "\(verb.name) \(option.synopsis)") }
            #expect(help.contains(verb.summary))
            #expect(Verbs.overview.contains(verb.usage), "\(verb.name)")
        }
        // The list's state option documents the states it takes, comma-separated.
        #expect(Verbs.named("list")!.help.contains("comma-separated"))
        #expect(Verbs.overview.contains("Remediation states: pending, approved"))
    }

    @Test func optionsComeBeforeOrAfterArgumentsInEitherSpelling() throws {
        let approve = try #require(Verbs.named("approve"))
        let a = try approve.parse(["--by", "alice", "12", "13"])
        let b = try approve.parse(["12", "--by=alice", "13"])
        #expect(a.positional == ["12", "13"] && b.positional == ["12", "13"])
        #expect(a.value("by") == "alice" && b.value("by") == "alice")
        let c = try approve.parse(["--", "--12"])
        #expect(c.positional == ["--12"])
        let list = try #require(Verbs.named("list"))
        #expect(try list.parse(["--json", "--state", "failed,pending"]).flag("json"))
    }

    @Test(arguments: [
        (["list", "--bogus"], "unknown option --bogus"), (["list", "-x"], "unknown option -x"), (["list", "--json=1"], "--json takes no value"),
        (["list", "--limit"], "--limit needs a value"), (["list", "--limit", "1", "--limit", "2"], "--limit given more than once"),
        (["list", "extra"], "unexpected argument 'extra'"), (["show"], "usage: gavel show ID"), (["show", "1", "2"], "usage: gavel show ID"),
        (["approve"], "usage: gavel approve ID..."),
    ])
    func badCommandLinesNameWhatIsWrong(_ args: [String], _ message: String) throws {
        let verb = try #require(Verbs.named(args[0]))
        #expect(throws: UsageFailure.self) { try verb.parse(Array(args.dropFirst())) }
        do {
            _ = try verb.parse(Array(args.dropFirst()))
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    /// Arguments that satisfy each verb that opens an existing store.
    static let sampleArguments: [String: [String]] = [
        "dispatch": ["--once"], "signals": [], "list": [], "show": ["1"], "approve": ["1"], "reject": ["1", "--reason", "r"],
        "retry": ["1"], "withdraw": ["1"], "rules": [], "auto": ["R", "on"], "audit": [], "config": ["show"], "active": [],
        "revert": ["1", "--reason", "r"], "extend": ["1", "1h"], "allowlist": ["add", "203.0.113.9", "--reason", "r"], "note": ["1", "hello"],
    ]

    @Test func everyVerbThatNeedsAStoreRefusesAMissingOneWithExit2AndCreatesNothing() throws {
        let existing = Verbs.all.filter { $0.store == .existing }.map(\.name)
        #expect(Set(existing) == Set(Self.sampleArguments.keys))
        let folder = NSTemporaryDirectory() + "gavel-verbs-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in existing {
            for db in [folder + "/typo.db", "/no/such/dir/x.db", folder] {
                #expect(CLI.run([name] + Self.sampleArguments[name]! + ["--db", db]) == 2, "\(name) --db \(db)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/no/such/dir"))
    }
}

/// Issue 16, item 17: README's test command printed XCTest's "Executed 0 tests" beside the Swift
/// Testing results (the suite has no XCTest tests); `make test` runs Swift Testing only.
@Suite struct TestCommandTests {
    @Test func theTestCommandRunsSwiftTestingOnly() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let makefile = try String(contentsOf: root.appendingPathComponent("Makefile"), encoding: .utf8)
        let test = makefile.components(separatedBy: "\ntest:")[1].components(separatedBy: "\n\n")[0]
        #expect(test.contains("test --skip-build --disable-xctest"))
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("make test"))
        // No XCTest test exists for --disable-xctest to skip.
        let tests = FileManager.default.enumerator(atPath: root.appendingPathComponent("Tests").path)!
        for case let file as String in tests where file.hasSuffix(".swift") {
            let text = try String(contentsOf: root.appendingPathComponent("Tests/" + file), encoding: .utf8)
            #expect(!text.contains("import " + "XCTest"), "\(file)")
        }
    }
}
