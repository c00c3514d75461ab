/// One signal being built from a sender's alert: its id rule, its capped and de-duplicated
/// entity lists, and the flags every sender shares (see `SenderIntake`).
///
/// `finish()` applies the rules that make the target/context split safe whatever the sender:
/// an address that is also a context address (the monitored resource's own) is dropped from
/// the targets (flag `targetWasContext`), and a signal with no rule and no entity at all is
/// flagged `unrecognised`.
struct SignalDraft {
    var signal: Signal
    private(set) var flags: [SignalFlag] = []
    private var ips = UniqueList<IPAddress>()
    private var invalidIPs = UniqueList<String>()
    private var users = UniqueList<String>()
    private var groups = UniqueList<String>()
    private var ranges = UniqueList<CIDR>()
    private var contextIPs = UniqueList<IPAddress>()
    private var contextHosts = UniqueList<String>()
    private var contextResources = UniqueList<String>()
    private var contextGroups = UniqueList<String>()

    init(source: String) {
        signal = Signal(signalID: "")
        signal.source = source
    }

    mutating func flag(_ f: SignalFlag) {
        if !flags.contains(f) { flags.append(f) }
    }

    /// Sets the id: `given` when it is non-empty and at most `SignalPayload.maxSignalIDBytes`
    /// UTF-8 bytes; else `derived-` + the first 32 hex digits of SHA-256 of `derivedFrom()`,
    /// flagged `derivedID` (and `signalIDTooLong` when one was given but too long).
    mutating func setID(_ given: String?, derivedFrom bytes: () -> [UInt8]) {
        if let given, !given.isEmpty, given.utf8.count <= SignalPayload.maxSignalIDBytes {
            signal.signalID = given
            return
        }
        if let given, !given.isEmpty { flag(.signalIDTooLong) }
        flag(.derivedID)
        signal.signalID = "derived-" + String(SHA256.hex(bytes()).prefix(32))
    }

    /// The non-empty text of a scalar (string, number, boolean); nil otherwise.
    static func text(_ value: JSONValue?) -> String? {
        guard let text = value?.scalarText, !text.isEmpty else { return nil }
        return text
    }

    /// Each non-empty scalar text in `value`, or in its elements when it is an array.
    static func texts(_ value: JSONValue?) -> [String] {
        guard let value else { return [] }
        if case .array(let items) = value { return items.compactMap { text($0) } }
        return text(value).map { [$0] } ?? []
    }

    /// A target address: the host of `value` (see `HostAddress`) when it is an IP address;
    /// otherwise `value` is kept as an invalid IP (flag `invalidIP`), never a target.
    mutating func targetIP(_ value: String) {
        guard !value.isEmpty else { return }
        switch HostAddress.host(of: value) {
        case .ip(let ip): ips.append(ip)
        case .name: invalidIPs.append(value)
        }
    }

    /// A target user id, as sent.
    mutating func user(_ value: String) { if !value.isEmpty { users.append(value) } }

    /// A target security-group id, as sent.
    mutating func securityGroup(_ value: String) { if !value.isEmpty { groups.append(value) } }

    /// A target address range.
    mutating func range(_ value: CIDR) { ranges.append(value) }

    /// A context address or host: the host of `value` becomes a context IP or a context host name.
    mutating func contextAddress(_ value: String) {
        guard !value.isEmpty else { return }
        switch HostAddress.host(of: value) {
        case .ip(let ip): contextIPs.append(ip)
        case .name(let name): contextHosts.append(name)
        }
    }

    /// A context host name, as sent.
    mutating func contextHost(_ value: String) { if !value.isEmpty { contextHosts.append(value) } }

    /// A context resource id, as sent.
    mutating func contextResource(_ value: String) { if !value.isEmpty { contextResources.append(value) } }

    /// A context security-group id, as sent.
    mutating func contextSecurityGroup(_ value: String) { if !value.isEmpty { contextGroups.append(value) } }

    /// The signal with its lists and flags (see the type's summary).
    mutating func finish() -> Signal {
        var s = signal
        let context = Set(contextIPs.values)
        s.ips = ips.values.filter { !context.contains($0) }
        if s.ips.count != ips.values.count { flag(.targetWasContext) }
        s.invalidIPs = invalidIPs.values
        if !s.invalidIPs.isEmpty { flag(.invalidIP) }
        s.users = users.values
        s.securityGroups = groups.values
        s.ipRanges = ranges.values
        s.contextIPs = contextIPs.values
        s.contextHosts = contextHosts.values
        s.contextResources = contextResources.values
        s.contextSecurityGroups = contextGroups.values
        let truncated = [
            ips.truncated, invalidIPs.truncated, users.truncated, groups.truncated, ranges.truncated, contextIPs.truncated,
            contextHosts.truncated, contextResources.truncated, contextGroups.truncated,
        ]
        if truncated.contains(true) { flag(.entitiesTruncated) }
        if s.ruleName == nil && s.ruleID == nil && !s.hasEntities { flag(.unrecognised) }
        s.flags = flags
        return s
    }
}
