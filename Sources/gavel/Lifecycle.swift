import Foundation
import GavelCore
import GavelRuntime
import GavelStore

/// The verbs of life after dispatch (issue 12): `active`, `revert`, `extend`, `allowlist add`.
enum Lifecycle {
    /// `gavel active [--json]`: every remediation in force, soonest expiry first.
    static func active(_ i: Invocation) throws -> Int32 {
        let store = try i.openStore()
        let config = try i.configuration(store).config
        let rows = try store.inForce(limit: try i.arguments.count("limit", verb: "active", default: 1000))
        let now = Timestamp.now
        if i.flag("json") {
            print(JSONValue.array(rows.map { $0.activeJSON(config: config, now: now) }).compactText)
            return 0
        }
        if rows.isEmpty { print("nothing is in force") }
        for r in rows {
            let left =
                r.expiresAt.map { at in
                    at.milliseconds(since: now) > 0
                        ? "\(DurationText.timeLeft(at.milliseconds(since: now))) left (expires \(at.rfc3339))"
                        : "overdue: expired at \(at.rfc3339), the revert is due"
                } ?? "permanent"
            print(
                row([
                    String(r.id), r.state.rawValue, "\(r.action) \(r.target)", r.ruleDisplayName, "since \(r.inForceSince?.rfc3339 ?? "-")", left,
                    r.revertAvailability(config: config),
                ]))
        }
        return 0
    }

    /// `gavel revert ID... --reason TEXT [--by NAME]`: the revert goes at once (all or none).
    static func revert(_ i: Invocation) throws -> Int32 {
        let ids = try i.positional.map { s throws(UsageFailure) in try i.remediationID(s) }
        guard let reason = i.value("reason")?.trimmingASCIIWhitespace(), !reason.isEmpty else {
            throw UsageFailure("gavel revert: --reason TEXT is required (say why, for the audit log)")
        }
        let actor = try i.analyst()
        let store = try i.openStore()
        let config = try i.configuration(store, adopt: true).config
        do {
            let reverted = try store.revert(ids, reason: reason, by: actor, config: config, at: .now)
            for r in reverted { print(safe("reverting \(r.id): \(r.action) \(r.target) (by \(actor)); a running serve or console sends it now")) }
            return 0
        } catch {
            if case .location = error { throw error }
            if error.isTransient { throw error }
            printError(safe("gavel revert: " + (ids.count > 1 ? "nothing was changed: " : "") + "\(error)"))
            return 1
        }
    }

    /// `gavel extend ID... DURATION [--by NAME]`: the expiry moves (or `permanent`).
    static func extend(_ i: Invocation) throws -> Int32 {
        guard i.positional.count >= 2 else { throw UsageFailure("gavel extend: usage: \(i.verb.compactUsage)") }
        let durationText = i.positional[i.positional.count - 1]
        let ms: Int64?
        do {
            ms = try DurationText.milliseconds(durationText)
        } catch {
            throw UsageFailure("gavel extend: DURATION: \(error.message)")
        }
        let ids = try i.positional.dropLast().map { s throws(UsageFailure) in try i.remediationID(s) }
        let actor = try i.analyst()
        let store = try i.openStore()
        do {
            for r in try store.extend(ids, by: ms, actor: actor, at: .now) {
                print(safe("remediation \(r.id): expires \(r.expiresAt?.rfc3339 ?? "never (permanent)") (by \(actor))"))
            }
            return 0
        } catch {
            if case .location = error { throw error }
            if error.isTransient { throw error }
            printError(safe("gavel extend: " + (ids.count > 1 ? "nothing was changed: " : "") + "\(error)"))
            return 1
        }
    }

    /// `gavel allowlist add TARGET --reason TEXT [--kind ip|user|security_group] [--by NAME]` and
    /// `gavel allowlist [list]`: run-time allowlist entries; adding one proposes reverts for what is
    /// in force on it.
    static func allowlist(_ i: Invocation) throws -> Int32 {
        let store = try i.openStore()
        switch i.positional.first {
        case nil, "list":
            let entries = try store.allowlistEntries()
            if i.flag("json") {
                print(
                    JSONValue.array(
                        entries.map {
                            .object([
                                JSONMember("kind", .string($0.kind.rawValue)), JSONMember("value", .string($0.value)),
                                JSONMember("reason", .string($0.reason)), JSONMember("added_by", .string($0.addedBy)),
                                JSONMember("added_at", .string($0.addedAt.rfc3339)),
                            ])
                        }
                    ).compactText)
            } else {
                for e in entries { print(row([e.kind.rawValue, e.value, e.reason, "by \(e.addedBy)", e.addedAt.rfc3339])) }
            }
            return 0
        case "add":
            guard i.positional.count == 2 else { throw UsageFailure("gavel allowlist: usage: \(i.verb.compactUsage)") }
            guard let reason = i.value("reason")?.trimmingASCIIWhitespace(), !reason.isEmpty else {
                throw UsageFailure("gavel allowlist add: --reason TEXT is required (say why, for the audit log)")
            }
            let value = i.positional[1]
            let kind: TargetKind
            if let k = i.value("kind") {
                guard let parsed = TargetKind(rawValue: k), parsed != .signal else {
                    throw UsageFailure("gavel allowlist add: --kind must be ip, user or security_group, got '\(k)'")
                }
                kind = parsed
            } else {
                kind = CIDR(parsing: value) != nil ? .ip : (value.hasPrefix("sg-") ? .securityGroup : .user)
            }
            if kind == .ip, CIDR(parsing: value) == nil {
                throw UsageFailure("gavel allowlist add: '\(value)' is not an address or CIDR range")
            }
            let actor = try i.analyst()
            let config = try i.configuration(store, adopt: true).config
            let concerned = try store.addAllowlistEntry(
                AllowlistEntry(kind: kind, value: value, reason: reason, addedBy: actor), config: config, at: .now)
            let guessed = i.value("kind") == nil ? " — kind taken from the value's shape; --kind ip|user|security_group chooses" : ""
            print(safe("allowlisted \(kind.rawValue) \(value) (by \(actor))\(guessed)"))
            for id in concerned {
                let r = try store.remediation(id: id)
                print(safe("revert proposed for remediation \(id): \(r?.action ?? "") \(r?.target ?? "") (\(r?.state.rawValue ?? ""))"))
            }
            return 0
        default:
            throw UsageFailure("gavel allowlist: usage: \(i.verb.compactUsage)")
        }
    }
}

extension Remediation {
    /// Whether and how it can be undone under `config`: `revert configured`, `no revert configured`, `irreversible`.
    func revertAvailability(config: GavelConfig) -> String {
        guard let action = config.actions[action] else { return "action not configured" }
        if action.irreversible { return "irreversible" }
        return action.revert == nil ? "no revert configured" : "revert configured"
    }

    /// `gavel active --json`'s object.
    func activeJSON(config: GavelConfig, now: Timestamp) -> JSONValue {
        .object([
            JSONMember("id", .number(String(id))), JSONMember("state", .string(state.rawValue)), JSONMember("action", .string(action)),
            JSONMember("target", .string(target)), JSONMember("target_kind", .string(targetKind.rawValue)),
            JSONMember("rule", .string(ruleDisplayName)), JSONMember("since", inForceSince.map { .string($0.rfc3339) } ?? .null),
            JSONMember("expires_at", expiresAt.map { .string($0.rfc3339) } ?? .null),
            JSONMember("time_left_seconds", expiresAt.map { .number(String(max(0, $0.milliseconds(since: now) / 1000))) } ?? .null),
            JSONMember("duration", .string(DurationText.text(durationMs))),
            JSONMember("revert", .string(revertAvailability(config: config))),
            JSONMember("decided_by", decidedBy.map { .string($0) } ?? .null),
        ])
    }
}
