import Foundation
import GavelCore
import GavelStore

/// Dispatches a command line to its verb. Exit codes (DESIGN.md): 0 ok, 1 runtime failure,
/// 2 usage or config error.
enum CLI {
    static func run(_ args: [String]) -> Int32 {
        var args = args
        var verb = "console"
        if let first = args.first, !first.hasPrefix("-") {
            verb = first
            args.removeFirst()
        } else if args.first == "--version" {
            print(Help.version)
            return 0
        } else if args.first == "--help" || args.first == "-h" {
            print(Help.overview)
            return 0
        }
        do {
            switch verb {
            case "help":
                if let v = args.first {
                    guard let text = Help.text(for: v) else { throw UsageError(message: "gavel help: unknown verb '\(v)'") }
                    print(text)
                } else {
                    print(Help.overview)
                }
                return 0
            case "console": return try ConsoleCommand.run(args)
            case "serve": return try Serve.run(args)
            case "signals": return try SignalsCommand.run(args)
            case "list": return try ListCommand.run(args)
            case "show": return try ShowCommand.run(args)
            case "approve", "reject", "retry": return try DecisionCommand.run(args, verb: verb)
            case "rules": return try RulesCommand.run(args)
            case "auto": return try AutoCommand.run(args)
            case "audit": return try AuditCommand.run(args)
            case "dispatch": return try DispatchCommand.run(args)
            case "demo": return try DemoCommand.run(args)
            default:
                throw UsageError(message: "gavel: unknown verb '\(verb)' (see 'gavel help')")
            }
        } catch let error as UsageError {
            FileHandle.standardError.write(Data((error.message + "\n").utf8))
            return 2
        } catch let error as ConfigFailure {
            FileHandle.standardError.write(Data(("gavel: \(error.message)\n").utf8))
            return 2
        } catch {
            FileHandle.standardError.write(Data(("gavel: \(error)\n").utf8))
            return 1
        }
    }
}

/// A configuration error (exit 2).
struct ConfigFailure: Error { var message: String }

/// Where the database and configuration are (DESIGN.md defaults).
struct Environment {
    var databasePath: String
    var configPath: String?

    init(_ arguments: Arguments) {
        let env = ProcessInfo.processInfo.environment
        databasePath = arguments.value("db") ?? env["GAVEL_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? "./gavel.db"
        if let c = arguments.value("config") ?? env["GAVEL_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            configPath = c
        } else if FileManager.default.fileExists(atPath: "./gavel.json") {
            configPath = "./gavel.json"
        }
    }
}

/// Writes one line to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
