import GavelCore

/// Properties of the sender normalisers (`SenderIntake`) on arbitrary bodies, every route.
enum SenderProperties {
    /// Two generic senders: one splitting an `alerts` list, one reading the body as the alert.
    static let settings: SenderSettings = {
        var listed = GenericSender(name: "fuzz")
        listed.alerts = FieldPath("alerts")
        listed.id = FieldPath("id")
        listed.rule = FieldPath("rule.name")
        listed.severity = FieldPath("severity")
        listed.status = FieldPath("status")
        listed.ips = [FieldPath("source.ip")!, FieldPath("ip")!]
        listed.users = [FieldPath("user.name")!]
        listed.resources = [FieldPath("sg")!]
        listed.contextIPs = [FieldPath("host.ip")!]
        listed.contextHosts = [FieldPath("host.name")!]
        var whole = listed
        whole.name = "fuzz-whole"
        whole.alerts = nil
        var settings = SenderSettings()
        settings.generic = ["fuzz": listed, "fuzz-whole": whole]
        return settings
    }()

    static let routes: [SenderFormat?] = [nil, .datadog, .alertmanager, .grafana, .guardduty, .crowdsec, .generic("fuzz"), .generic("fuzz-whole")]
    static let config = GavelConfig.builtInDefaults(databasePath: "/dev/null/gavel.db")

    /// For every route: deterministic; never an empty result; at most 1000 signals; each with
    /// its route's source, an id of 1–512 bytes (`derived-` + 32 hex when flagged too long),
    /// lists capped at 256, target IPs canonical, distinct, valid ban targets and never also a
    /// context address, no target at all when flagged unrecognised, attributes that round-trip;
    /// the planner proposes nothing for a resolved signal and never acts on a context entity.
    /// A refusal is an error naming a limit above the limit, or a bad-UTF-8 offset inside the body.
    /// Also: Go durations parse to a value that prints back (`Nns`) to itself, and a field path
    /// (the input's first line) finds at most `FieldPath.maxValues` values in the rest.
    static func intake(_ input: [UInt8]) {
        for route in routes {
            let result = Result { () throws(PayloadError) in try SenderIntake.signals(body: input, format: .json, sender: route, settings: settings) }
            let again = Result { () throws(PayloadError) in try SenderIntake.signals(body: input, format: .json, sender: route, settings: settings) }
            check(result == again, "intake is not deterministic for \(String(describing: route))")
            switch result {
            case .failure(.tooManyAlerts(let count, let limit)):
                check(count > limit && limit == SenderIntake.maxAlertsPerPost, "tooManyAlerts(\(count), \(limit))")
            case .failure(.notUTF8(let offset)):
                check(offset >= 0 && offset < input.count, "bad-UTF-8 offset \(offset) outside the body")
            case .failure:
                continue
            case .success(let signals):
                check(!signals.isEmpty, "no signal for \(String(describing: route))")
                check(signals.count <= SenderIntake.maxAlertsPerPost, "\(signals.count) signals")
                for signal in signals { properties(of: signal, route: route) }
            }
        }
        durations(input)
        paths(input)
    }

    private static func properties(of s: Signal, route: SenderFormat?) {
        if let route {
            check(s.source == route.source, "source \(s.source) on route \(route)")
        } else {
            check(SenderFormat.builtInSources.contains(s.source), "source \(s.source) recognised by shape")
        }
        check(!s.signalID.isEmpty && s.signalID.utf8.count <= 512, "signal id of \(s.signalID.utf8.count) bytes")
        if s.flags.contains(.signalIDTooLong) {
            check(s.signalID.hasPrefix("derived-") && s.signalID.utf8.count == 40, "derived id \(s.signalID)")
        }
        let lists: [[String]] = [
            s.users, s.securityGroups, s.invalidIPs, s.contextHosts, s.contextResources, s.contextSecurityGroups, s.userEmails, s.userNames,
        ]
        for list in lists { check(list.count <= 256, "a list of \(list.count) values") }
        check(s.ips.count <= 256 && s.contextIPs.count <= 256 && s.ipRanges.count <= 256, "address lists over 256")
        check(Set(s.ips).count == s.ips.count, "duplicate IPs")
        check(Set(s.ips).isDisjoint(with: s.contextIPs), "an address is both a target and context")
        for ip in s.ips {
            check(
                (try? TargetValidator.validate(ip.description, kind: .ip, pattern: nil).get()) == ip.description,
                "IP \(ip) is not a valid ban target")
        }
        if s.flags.contains(.unrecognised) {
            check(s.ips.isEmpty && s.users.isEmpty && s.securityGroups.isEmpty && s.ruleName == nil, "unrecognised signal with a rule or targets")
        }
        if let seconds = s.suggestedDurationSeconds { check(seconds >= 0, "negative duration \(seconds)") }
        if let attributes = s.attributes {
            check((try? JSONValue.parse(attributes.compactText)) == attributes, "attributes do not round-trip")
        }
        let planned = RemediationPlanner.propose(for: s, config: config, enabledActions: nil)
        if s.isResolved { check(planned.isEmpty, "a resolved signal proposed \(planned.count) remediations") }
        let context = Set(s.contextIPs.map(\.description)).union(s.contextSecurityGroups).union(s.contextResources)
        for p in planned where p.targetKind != .user {
            check(!context.contains(p.target) || s.securityGroups.contains(p.target), "proposal on context entity \(p.target)")
        }
    }

    private static func durations(_ input: [UInt8]) {
        let text = String(decoding: input.prefix(64), as: UTF8.self)
        guard let ns = GoDuration.nanoseconds(text) else { return }
        check(GoDuration.nanoseconds("\(ns)ns") == ns || ns == Int64.min, "\(text.debugDescription) → \(ns) ns does not print back")
        check(GoDuration.seconds(text) == ns / 1_000_000_000, "seconds disagree with nanoseconds")
    }

    private static func paths(_ input: [UInt8]) {
        guard let newline = input.firstIndex(of: 0x0A), let path = FieldPath(String(decoding: input[..<newline], as: UTF8.self)),
            let json = try? JSONValue.parse(Array(input[(newline + 1)...]))
        else { return }
        check(path.values(in: json).count <= FieldPath.maxValues, "a path found more than \(FieldPath.maxValues) values")
        check(path.components.count <= FieldPath.maxComponents && !path.components.contains(where: \.isEmpty), "bad path \(path)")
    }
}
