import Foundation
import GavelRuntime

/// One option of a verb: `--name VALUE` (valued) or `--name` (a switch), with its help text.
struct Option: Sendable, Equatable {
    /// The name without `--`.
    let name: String
    /// The value's placeholder in help (`PATH`, `N`); nil for a switch.
    let value: String?
    /// One line of help.
    let help: String
    /// A valued option that may be given more than once.
    var repeatable = false

    init(_ name: String, _ value: String? = nil, _ help: String, repeatable: Bool = false) {
        self.name = name
        self.value = value
        self.help = help
        self.repeatable = repeatable
    }

    /// `--name VALUE` or `--name`.
    var synopsis: String { "--\(name)" + (value.map { " \($0)" } ?? "") }

    static let db = Option("db", "PATH", "database file or postgres:// URI (default $GAVEL_DB or ./gavel.db)")
    static let config = Option(
        "config", "PATH", "configuration file (default $GAVEL_CONFIG, or ./gavel.json when present, else the one in force)")
    static let by = Option("by", "NAME", "the analyst named in the audit log (default: $GAVEL_ANALYST, else $SUDO_USER, else the OS user)")
    static let json = Option("json", nil, "print JSON (DESIGN.md \"JSON output of the CLI\")")
    static let limit = Option("limit", "N", "at most N rows, newest first (default 1000; 0: no limit)")
    /// Every verb takes these.
    static let common = [db, config]
}

/// How a verb opens the store — one rule for every verb, applied before the verb runs.
enum StoreUse: Sendable, Equatable {
    /// It does not open the store (`help`, `demo`).
    case none
    /// The store must exist and be gavel's; a mistyped `--db` is exit 2 and creates nothing.
    case existing
    /// Created and migrated when missing (`serve`, `console`).
    case create
}

/// The positional arguments of a verb.
struct Positionals: Sendable, Equatable {
    /// How they read in the usage line (`ID...`, `(RULE | --all) (on|off|dry-run)`).
    let synopsis: String
    let min: Int
    /// nil: no upper bound.
    let max: Int?

    static let none = Positionals(synopsis: "", min: 0, max: 0)
}

/// One verb of the command line: its options, their help, its positional arguments, how it
/// opens the store, and what it does. Parsing, `gavel help` and `gavel help VERB` are generated
/// from these (swift-argument-parser's idea, without the package).
struct Verb: Sendable {
    let name: String
    /// The usage line, as DESIGN.md's contract writes it (`gavel show ID    [--json]`).
    let usage: String
    /// `usage` with its column padding removed, for one-line error messages.
    var compactUsage: String { usage.split(separator: " ").joined(separator: " ") }
    let positionals: Positionals
    /// One line: what it does.
    let summary: String
    /// Its own options (the common `--db` and `--config` are added).
    let options: [Option]
    let store: StoreUse
    /// Extra paragraphs for `gavel help VERB`.
    var notes: String = ""
    /// Runs the verb; returns the exit code.
    let run: @Sendable (Invocation) throws -> Int32

    /// Every option it accepts.
    var allOptions: [Option] { options + Option.common }

    /// `gavel help VERB`.
    var help: String {
        var lines = ["Usage: \(usage)", "", summary, "", "Options:"]
        let width = allOptions.map(\.synopsis.count).max() ?? 0
        for o in allOptions {
            lines.append("  " + o.synopsis.padding(toLength: width + 2, withPad: " ", startingAt: 0) + o.help)
        }
        if !notes.isEmpty { lines += ["", notes] }
        return lines.joined(separator: "\n")
    }

    /// Parses this verb's arguments.
    /// - Throws: `UsageFailure` naming the unknown option, the missing value, the repeated option
    ///   or the wrong number of arguments.
    func parse(_ args: [String]) throws(UsageFailure) -> Arguments {
        let parsed = try Arguments(args, verb: name, options: allOptions)
        let n = parsed.positional.count
        if n < positionals.min || (positionals.max.map { n > $0 } ?? false) {
            if positionals.max == 0 {
                throw UsageFailure("gavel \(name): unexpected argument '\(parsed.positional[0])' (see 'gavel help \(name)')")
            }
            throw UsageFailure("gavel \(name): usage: \(compactUsage) (see 'gavel help \(name)')")
        }
        return parsed
    }
}

/// Parsed command-line arguments for one verb.
///
/// Strict and small: `--name value` or `--name=value` for valued options, `--name` for switches;
/// options may come before or after positional arguments; `--` ends options. An unknown option,
/// a missing value, or a repeated single option is a `UsageFailure`.
struct Arguments: Sendable, Equatable {
    var positional: [String] = []
    private var values: [String: [String]] = [:]
    private var switches: Set<String> = []

    init(_ args: [String], verb: String, options: [Option]) throws(UsageFailure) {
        let byName = Dictionary(options.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var i = 0
        var optionsEnded = false
        while i < args.count {
            let arg = args[i]
            i += 1
            if optionsEnded || !arg.hasPrefix("--") || arg == "-" {
                if !optionsEnded && arg.hasPrefix("-") && arg != "-" && arg.count > 1 && !(arg.dropFirst().first?.isNumber ?? false) {
                    throw UsageFailure("gavel \(verb): unknown option \(arg) (see 'gavel help \(verb)')")
                }
                positional.append(arg)
                continue
            }
            if arg == "--" {
                optionsEnded = true
                continue
            }
            var name = String(arg.dropFirst(2))
            var inlineValue: String?
            if let eq = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let option = byName[name] else {
                throw UsageFailure("gavel \(verb): unknown option --\(name) (see 'gavel help \(verb)')")
            }
            if option.value != nil {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard i < args.count else { throw UsageFailure("gavel \(verb): --\(name) needs a value") }
                    value = args[i]
                    i += 1
                }
                if values[name] != nil && !option.repeatable { throw UsageFailure("gavel \(verb): --\(name) given more than once") }
                values[name, default: []].append(value)
            } else {
                guard inlineValue == nil else { throw UsageFailure("gavel \(verb): --\(name) takes no value") }
                switches.insert(name)
            }
        }
    }

    /// The value of a valued option, or nil.
    func value(_ name: String) -> String? { values[name]?.last }

    /// True when the switch was given.
    func flag(_ name: String) -> Bool { switches.contains(name) }

    /// The value of `--name` as a whole number ≥ 0, `defaultValue` when absent.
    func count(_ name: String, verb: String, default defaultValue: Int) throws(UsageFailure) -> Int {
        guard let text = value(name) else { return defaultValue }
        guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text) else {
            throw UsageFailure("gavel \(verb): --\(name) must be a whole number ≥ 0, got '\(text)'")
        }
        return n
    }
}
