import GavelCore
import GavelStore

/// The `202` answer to a webhook post, sent once every signal of it is committed (DESIGN.md
/// "HTTP"; documented in `docs/senders.md`, "What gavel answers").
///
/// `signals` lists one object per signal the post held, in the body's order:
/// `{"signal": ID, "id": ROW, "source": SENDER, "status": "firing"|"resolved", "duplicate": BOOL,
/// "updated": BOOL, "new_entities": N, "remediations": [ID…], "flags": [FLAG…]}`. A post that
/// held exactly one signal (every Datadog post) also carries that object's fields at the top
/// level, as gavel always answered; a post of several carries `count`, `stored` (new signals)
/// and `duplicates` instead.
enum WebhookAnswer {
    static func json(signals: [Signal], outcomes: [IntakeOutcome]) -> JSONValue {
        let objects = zip(signals, outcomes).map { signal, outcome in object(signal, outcome) }
        if objects.count == 1, case .object(var members) = objects[0] {
            members.append(JSONMember("signals", .array(objects)))
            return .object(members)
        }
        let duplicates = outcomes.filter(\.record.duplicate).count
        return .object([
            JSONMember("count", .number(String(outcomes.count))),
            JSONMember("stored", .number(String(outcomes.count - duplicates))),
            JSONMember("duplicates", .number(String(duplicates))),
            JSONMember("signals", .array(objects)),
        ])
    }

    private static func object(_ signal: Signal, _ outcome: IntakeOutcome) -> JSONValue {
        .object([
            JSONMember("signal", .string(outcome.record.signalID)),
            JSONMember("id", .number(String(outcome.record.rowID))),
            JSONMember("duplicate", .bool(outcome.record.duplicate)),
            JSONMember("updated", .bool(outcome.record.updated)),
            JSONMember("new_entities", .number(String(outcome.record.newEntities.count))),
            JSONMember("remediations", .array(outcome.remediations.map { .number(String($0)) })),
            JSONMember("source", .string(signal.source)),
            JSONMember("status", .string(signal.status.rawValue)),
            JSONMember("flags", .array(signal.flags.map { .string($0.rawValue) })),
        ])
    }
}
