import Foundation
import GavelCore
import GavelStore

/// `gavel signals [--json] [--limit N]`: received signals, newest first.
enum SignalsCommand {
    static func run(_ raw: [String]) throws -> Int32 {
        let args = try Arguments(raw, verb: "signals", valued: ["limit", "db", "config"], flags: ["json"])
        guard args.positional.isEmpty else { throw UsageError(message: "gavel signals: unexpected argument '\(args.positional[0])'") }
        let limit = try args.count("limit", verb: "signals", default: 1000)
        let env = Environment(args)
        let db = try env.openDatabase()
        let signals = try db.signals(limit: limit)
        if args.flag("json") {
            print(JSONValue.array(signals.map(\.json)).compactText)
        } else {
            for s in signals {
                let what = (s.ips + s.users + s.resources).joined(separator: " ")
                let flags = s.flags.isEmpty ? "" : "[" + s.flags.joined(separator: ",") + "]"
                let deliveries = s.deliveries > 1 ? "×\(s.deliveries)" : ""
                print(
                    row(
                        [Timestamp.rfc3339(ms: s.receivedMs), s.severity ?? "-", s.signalID, s.rule ?? "-", what, deliveries, flags]
                            .filter { !$0.isEmpty }))
            }
        }
        return 0
    }
}
