import Foundation
import GavelCore
import GavelRuntime
import GavelStore

/// Runs a command line: finds the verb in the table, parses its arguments, runs it, and maps
/// errors to exit codes (DESIGN.md): 0 ok, 1 runtime failure, 2 usage or config error (with a
/// message naming the flag or config field).
enum CLI {
    static func run(_ args: [String]) -> Int32 {
        var args = args
        var name = "console"
        if let first = args.first, !first.hasPrefix("-") {
            name = first
            args.removeFirst()
        } else if args.first == "--version" {
            print(Verbs.version)
            return 0
        } else if args.first == "--help" || args.first == "-h" {
            print(Verbs.overview)
            return 0
        }
        guard let verb = Verbs.named(name) else {
            printError("gavel: unknown verb '\(name)' (see 'gavel help')")
            return 2
        }
        do {
            let parsed = try verb.parse(args)
            return try verb.run(Invocation(verb: verb, arguments: parsed))
        } catch let error as UsageFailure {
            printError(error.message)
            return 2
        } catch let error as ConfigFailure {
            // `gavel config: config: actions…` says "config" once: the verb names it already.
            let message = error.message.hasPrefix(verb.name + ": ") ? String(error.message.dropFirst(verb.name.count + 2)) : error.message
            printError(safe("gavel \(verb.name): \(message)"))
            return 2
        } catch let error as StoreError {
            if case .location(let message) = error {
                printError(safe("gavel \(verb.name): --db: \(message)"))
                return 2
            }
            printError(safe("gavel \(verb.name): \(error)"))
            return 1
        } catch {
            printError(safe("gavel \(verb.name): \(error)"))
            return 1
        }
    }
}

/// One run of a verb: its parsed arguments, where the store and configuration are, and the
/// store opened the way the verb's table entry says.
struct Invocation {
    let verb: Verb
    let arguments: Arguments
    let setup: Setup

    init(verb: Verb, arguments: Arguments) {
        self.verb = verb
        self.arguments = arguments
        self.setup = Setup(db: arguments.value("db"), config: arguments.value("config"))
    }

    func value(_ name: String) -> String? { arguments.value(name) }
    func flag(_ name: String) -> Bool { arguments.flag(name) }
    var positional: [String] { arguments.positional }

    /// Opens the store as the verb's `store` entry says (one rule for every verb): `existing`
    /// never creates a file, so a mistyped `--db` is exit 2 naming `--db`. The configuration
    /// file is checked first (a bad one is exit 2 for every verb).
    func openStore() throws -> any Store {
        _ = try setup.configFile(receiving: false)
        let engine = try setup.location.engine()
        switch verb.store {
        case .none: throw StoreError.location("gavel \(verb.name) does not use a database")
        case .existing: return try engine.open(.existing)
        case .create: return try engine.open(.create)
        }
    }

    /// The configuration to use with `store`; `adopt`: a store with none in force adopts this
    /// process's file (audited with the analyst's name).
    /// A decision made while this folder's file differs from the configuration in force binds its
    /// request under the one in force: say so on stderr (README: "a process whose file differs
    /// says so").
    func configuration(_ store: any Store, adopt: Bool = false) throws -> LiveConfiguration {
        let configuration = try setup.configuration(store: store, receiving: false, adoptAs: adopt ? try analyst() : nil)
        if adopt, let held = configuration.heldBecause {
            printError(
                safe(
                    "gavel \(verb.name): note: " + held.replacingOccurrences(of: "dispatch is held here", with: "decisions here use the one in force")
                ))
        }
        return configuration
    }

    /// Who the analyst is: `--by NAME`, else `$GAVEL_ANALYST`, else `$SUDO_USER` (the person
    /// behind `sudo -u gavel gavel …`, docs/operations.md), else the OS user — never the shared
    /// configuration (that would make every analyst the same person). Self-declared, not
    /// authenticated (SECURITY.md). Validated so the audit log holds a plain name.
    func analyst() throws(UsageFailure) -> String {
        func env(_ name: String) -> (String, String)? { setup.environment[name].flatMap { $0.isEmpty ? nil : ("$" + name, $0) } }
        let named = value("by").map { ("--by", $0) } ?? env("GAVEL_ANALYST") ?? env("SUDO_USER")
        if let (source, by) = named {
            let trimmed = by.trimmingASCIIWhitespace()
            guard !trimmed.isEmpty, trimmed.count <= 64, !trimmed.hasPrefix("auto:"),
                trimmed.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f })
            else {
                throw UsageFailure("gavel \(verb.name): \(source) must be 1–64 printable characters and not start with auto:")
            }
            return trimmed
        }
        if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "unknown"
    }

    /// A remediation id argument.
    func remediationID(_ text: String) throws(UsageFailure) -> Int64 {
        guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber }), let id = Int64(text), id > 0 else {
            throw UsageFailure("gavel \(verb.name): '\(text)' is not a remediation ID (a positive number)")
        }
        return id
    }
}

/// One output line of fields, each made safe for a terminal, separated by two spaces.
func row(_ fields: [String]) -> String { fields.map { DisplayText.sanitize($0) }.joined(separator: "  ") }

/// One line of text from the store made safe for a terminal: control characters (LF included,
/// so a payload cannot start a fake line) and bidi characters shown as escapes.
func safe(_ text: String) -> String { DisplayText.sanitize(text) }
