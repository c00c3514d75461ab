import GavelCore
import GavelStore

// The CLI's JSON (DESIGN.md "JSON output of the CLI"): presentation functions over the domain
// values, never second copies of them. Fields are only ever added, never renamed.

private func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }
private func optional(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
private func jsonNumber(_ n: Int?) -> JSONValue { n.map { .number(String($0)) } ?? .null }

extension Remediation {
    /// `gavel list --json`'s object.
    var listJSON: JSONValue {
        .object([
            JSONMember("id", .number(String(id))),
            JSONMember("state", .string(state.rawValue)),
            JSONMember("action", .string(action)),
            JSONMember("target", .string(target)),
            JSONMember("target_kind", .string(targetKind.rawValue)),
            JSONMember("rule", .string(ruleDisplayName)),
            JSONMember("severity", optional(severity?.rawValue)),
            JSONMember("signals", .number(String(signalCount))),
            JSONMember("signal_ids", strings(signalIDs)),
            JSONMember("ips", strings(ips)),
            JSONMember("users", strings(users)),
            JSONMember("decided_by", optional(decidedBy)),
            JSONMember("decided_at", optional(decidedAt?.rfc3339)),
            JSONMember("reason", optional(reason)),
            JSONMember("false_positive", .bool(falsePositive)),
            JSONMember("attempts", .number(String(attempts))),
            JSONMember("last_status", jsonNumber(lastStatus)),
            JSONMember("last_error", optional(lastError)),
            JSONMember("created_at", .string(createdAt.rfc3339)),
            JSONMember("updated_at", .string(updatedAt.rfc3339)),
            JSONMember("config_version", jsonNumber(configVersion)),
            JSONMember("in_force_since", optional(inForceSince?.rfc3339)),
            JSONMember("expires_at", optional(expiresAt?.rfc3339)),
            JSONMember("next_attempt_at", optional(nextAttemptAt?.rfc3339)),
            JSONMember(
                "approvals",
                .array(approvals.map { .object([JSONMember("analyst", .string($0.analyst)), JSONMember("at", .string($0.at.rfc3339))]) })),
        ])
    }
}

extension StoredSignal {
    /// `gavel signals --json`'s object.
    var listJSON: JSONValue {
        .object([
            JSONMember("id", .number(String(id))),
            JSONMember("signal_id", .string(signal.signalID)),
            JSONMember("rule", optional(signal.ruleName)),
            JSONMember("rule_id", optional(signal.ruleID)),
            JSONMember("severity", optional(signal.severity?.rawValue)),
            JSONMember("title", optional(signal.title)),
            JSONMember("link", optional(signal.link)),
            JSONMember("ips", strings(signal.ips.map(\.description))),
            JSONMember("users", strings(signal.users)),
            JSONMember("resources", strings(signal.securityGroups)),
            JSONMember("received_at", .string(receivedAt.rfc3339)),
            JSONMember("deliveries", .number(String(deliveries))),
            JSONMember("source", .string(source)),
            JSONMember("flags", strings(signal.flags.map(\.rawValue))),
            JSONMember("status", .string(signal.status.rawValue)),
            JSONMember("ip_ranges", strings(signal.ipRanges.map(\.description))),
            JSONMember("invalid_ips", strings(signal.invalidIPs)),
            JSONMember("context_ips", strings(signal.contextIPs.map(\.description))),
            JSONMember("context_hosts", strings(signal.contextHosts)),
            JSONMember("context_resources", strings(signal.contextResources)),
            JSONMember("context_security_groups", strings(signal.contextSecurityGroups)),
            JSONMember("suggested_duration_s", jsonNumber(signal.suggestedDurationSeconds)),
            JSONMember("event_count", jsonNumber(signal.eventCount)),
            JSONMember("first_seen", optional(signal.firstSeen)),
            JSONMember("last_seen", optional(signal.lastSeen)),
        ])
    }
}

extension Attempt {
    /// An attempt in `gavel show --json`: `number`, `kind`, `started_at`, `duration_ms`, `status`,
    /// `outcome`, `error`, `stderr` (the end of a command's standard error, or null).
    var json: JSONValue {
        .object([
            JSONMember("number", .number(String(number))),
            JSONMember("kind", .string(kind.rawValue)),
            JSONMember("started_at", .string(startedAt.rfc3339)),
            JSONMember("duration_ms", jsonNumber(durationMs)),
            JSONMember("status", jsonNumber(status)),
            JSONMember("outcome", optional(outcome?.rawValue)),
            JSONMember("error", optional(error)),
            JSONMember("stderr", optional(stderr)),
            JSONMember("subject", optional(subject)),
        ])
    }

    /// The lines of `gavel show`: the attempt, then the end of a command's stderr, indented.
    var lines: [String] { [line] + stderrLines().map { "    stderr: " + $0 } }

    /// One line of `gavel show`.
    var line: String {
        "\(kind == .dispatch ? "attempt" : "\(kind.rawValue) attempt") \(number)" + (subject.map { " (\($0))" } ?? "")
            + " at \(startedAt.rfc3339): \(outcome?.rawValue ?? "in progress")"
            + (outcome == nil && status == nil && error == nil ? "" : ", " + Attempt.resultText(status: status, error: error))
            + (durationMs.map { " (\($0) ms)" } ?? "")
    }
}

extension TriageUpdate {
    /// A Datadog triage update in `gavel show --json` (`datadog_triage`).
    var json: JSONValue {
        .object([
            JSONMember("signal_id", .string(signalID)), JSONMember("event", .string(event.rawValue)), JSONMember("change", .string(change)),
            JSONMember("state", .string(state.rawValue)), JSONMember("attempts", .number(String(attempts))),
            JSONMember("last_status", jsonNumber(lastStatus)), JSONMember("last_error", optional(lastError)),
            JSONMember("next_attempt_at", optional(nextAttemptAt?.rfc3339)), JSONMember("updated_at", .string(updatedAt.rfc3339)),
        ])
    }

    /// One line of `gavel show`.
    var line: String {
        "datadog:   signal \(signalID) → \(change) (\(event.rawValue)): \(state.rawValue)"
            + (attempts > 0 ? ", \(attempts) attempt(s)" : "") + (lastStatus.map { ", status \($0)" } ?? "")
            + (lastError.map { " — \($0)" } ?? "") + (state == .queued ? (nextAttemptAt.map { ", next at \($0.rfc3339)" } ?? "") : "")
    }
}

extension AuditEntry {
    /// `gavel audit --json`'s object.
    var json: JSONValue {
        .object([
            JSONMember("id", .number(String(id))), JSONMember("at", .string(at.rfc3339)),
            JSONMember("actor", .string(actor)), JSONMember("action", .string(action)), JSONMember("subject", .string(subject)),
            JSONMember("before", optional(before)), JSONMember("after", optional(after)), JSONMember("detail", optional(detail)),
        ])
    }

    /// One line of `gavel audit` and `gavel show`.
    var line: String { "\(at.rfc3339)  \(actor)  \(action)  \(subject)  \(before ?? "") → \(after ?? "")  \(detail ?? "")" }
}

extension Rule {
    /// `gavel rules --json`'s object.
    func json(counts: RuleCounts, actions: [String]) -> JSONValue {
        .object([
            JSONMember("rule", .string(displayName)), JSONMember("rule_id", optional(ruleID)),
            JSONMember("mode", .string(mode.rawValue)), JSONMember("actions", strings(actions)),
            JSONMember("throttled", .bool(throttledAt != nil)),
            JSONMember("pending", .number(String(counts.pending))),
            JSONMember("dispatched", .number(String(counts.dispatched))),
            JSONMember("last_seen", optional(lastSeenAt?.rfc3339)),
        ])
    }
}
