/// A usage error: exit code 2 with a message naming the bad flag or value.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Parsed command-line arguments for one verb.
///
/// Strict and small: `--name value` or `--name=value` for valued options, `--name` for
/// switches; options may come before or after positional arguments; `--` ends options.
/// An unknown option, a missing value, or a repeated single option is a `UsageError`.
struct Arguments {
    var positional: [String] = []
    private var values: [String: [String]] = [:]
    private var switches: Set<String> = []

    /// - Parameters:
    ///   - valued: option names (without `--`) that take a value.
    ///   - flags: option names that are switches.
    ///   - repeatable: valued options that may be given more than once.
    init(_ args: [String], verb: String, valued: Set<String>, flags: Set<String>, repeatable: Set<String> = []) throws(UsageError) {
        var i = 0
        var optionsEnded = false
        while i < args.count {
            let arg = args[i]
            i += 1
            if optionsEnded || !arg.hasPrefix("--") || arg == "-" {
                if !optionsEnded && arg.hasPrefix("-") && arg != "-" && arg.count > 1 && !(arg.dropFirst().first?.isNumber ?? false) {
                    throw UsageError(message: "gavel \(verb): unknown option \(arg) (see 'gavel help \(verb)')")
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
            if valued.contains(name) {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard i < args.count else { throw UsageError(message: "gavel \(verb): --\(name) needs a value") }
                    value = args[i]
                    i += 1
                }
                if values[name] != nil && !repeatable.contains(name) {
                    throw UsageError(message: "gavel \(verb): --\(name) given more than once")
                }
                values[name, default: []].append(value)
            } else if flags.contains(name) {
                guard inlineValue == nil else { throw UsageError(message: "gavel \(verb): --\(name) takes no value") }
                switches.insert(name)
            } else {
                throw UsageError(message: "gavel \(verb): unknown option --\(name) (see 'gavel help \(verb)')")
            }
        }
    }

    /// The value of a valued option, or nil.
    func value(_ name: String) -> String? { values[name]?.last }

    /// True when the switch was given.
    func flag(_ name: String) -> Bool { switches.contains(name) }

    /// The value of `--name` as a non-negative integer, `defaultValue` when absent.
    func count(_ name: String, verb: String, default defaultValue: Int) throws(UsageError) -> Int {
        guard let text = value(name) else { return defaultValue }
        guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text) else {
            throw UsageError(message: "gavel \(verb): --\(name) must be a whole number ≥ 0, got '\(text)'")
        }
        return n
    }
}
