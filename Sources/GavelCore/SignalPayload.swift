/// How a webhook body is encoded (from its `Content-Type`).
public enum PayloadFormat: Sendable {
    /// `application/json` (RFC 8259).
    case json
    /// `application/x-www-form-urlencoded` (Datadog's "Encode as form" option; WHATWG URL §5).
    case form
}

/// Why a webhook body could not be read as a signal. The receiver answers 400 with
/// `description` as the `error` text and keeps the raw body in the intake-error table.
public enum PayloadError: Error, Equatable, CustomStringConvertible {
    /// The body is not well-formed UTF-8; `offset` is the first bad byte.
    case notUTF8(offset: Int)
    /// The body is UTF-8 but not one strict RFC 8259 JSON text.
    case invalidJSON(JSONError)
    /// The body is JSON but not an object; `found` is the JSON type (`array`, `string`, …).
    case notAnObject(found: String)
    /// The form body has a bad `%` escape or decodes to invalid UTF-8.
    case badFormEncoding(String)
    /// The body is JSON of the wrong type for its sender (`expected` names the shape, e.g.
    /// "a JSON array of CrowdSec alerts"; `found` is the JSON type).
    case unexpectedJSON(expected: String, found: String)
    /// The body carries more alerts than one post may (`SenderIntake.maxAlertsPerPost`): the
    /// sender should send smaller batches (Alertmanager `max_alerts`, CrowdSec `group_threshold`).
    case tooManyAlerts(count: Int, limit: Int)
    /// `/webhook/generic/NAME` names no sender configured under `senders.generic` (answer 404).
    case unknownSender(String)
    /// The body is form-encoded but the sender's format is JSON only (only Datadog has a form option).
    case unsupportedFormat(sender: String)

    public var description: String {
        switch self {
        case .notUTF8(let offset): "body is not valid UTF-8 (first bad byte at offset \(offset))"
        case .invalidJSON(let error): "body is not valid JSON: \(error)"
        case .notAnObject(let found): "body is a JSON \(found), expected a JSON object"
        case .badFormEncoding(let message): "body is not valid form encoding: \(message)"
        case .unexpectedJSON(let expected, let found): "body is a JSON \(found), expected \(expected)"
        case .tooManyAlerts(let count, let limit): "body holds \(count) alerts; at most \(limit) are accepted in one post"
        case .unknownSender(let name): "no generic sender named \(name.quotedForMessage) is configured (senders.generic)"
        case .unsupportedFormat(let sender): "\(sender) bodies must be JSON (application/json), not form-encoded"
        }
    }
}

/// Normalization of Datadog Cloud SIEM security webhook bodies into `Signal`s.
///
/// Datadog fills a webhook's payload template with variables (`$SECURITY_SIGNAL_ID`,
/// `$SECURITY_RULE_NAME`, `$SECURITY_SIGNAL_ATTRIBUTES`, …; see `Signal`). Templates are
/// written by people, so every field is optional and several shapes are accepted:
///
/// - Scalars given as numbers or booleans are taken as their text; empty strings are absent.
/// - A string that is an unsubstituted variable (the whole value, trimmed, is `$` + an
///   uppercase name of `A-Z0-9_`, optionally followed by a `[…]` or `.…` suffix without
///   blanks, e.g. `$SECURITY_RULE_NAME`, `$ID`, `$TAGS[env]`) is absent and flags
///   `unsubstitutedVariable`. `$HOME directory` or `$5 charge` are ordinary text.
/// - `SECURITY_SIGNAL_SEVERITY`: a word or a 0–4 integer (number or string).
/// - `SECURITY_SIGNAL_ATTRIBUTES`: an object, or a string holding a JSON object (parsed once,
///   depth 64; flags `attributesWereString`, or only `formEncoded` in a form body). Anything
///   else is kept as sent in `attributes` and flags `attributesUnparsed`.
/// - `SECURITY_RULE_MATCHED_QUERIES` (else `SECURITY_RULE_QUERY`) and `TAGS`: an array, a
///   string holding a JSON array, or a string (`TAGS` split on commas and trimmed).
/// - `SECURITY_RULE_GROUP_BY_FIELDS`: an object (entries `key:value`), an array, a string
///   holding either, or a plain string.
/// - `DATE`: kept only when it is all ASCII digits (number or string), as those digits; any
///   other value sent flags `invalidDate` (such a signal is never fresh for auto mode).
/// - `SECURITY_SIGNAL_ID`: kept as sent. Missing, unsubstituted, or longer than 512 UTF-8
///   bytes (flag `signalIDTooLong`: truncating could merge two different signals) → the id
///   is `derived-` + the first 32 hex digits of SHA-256 of the raw body, flag `derivedID`.
///   A retried delivery of the same body therefore gets the same id.
/// - Every list is capped at 256 values (flag `entitiesTruncated`).
///
/// Entities (IPs, users, security groups, actor) come from the attributes and the group-by
/// values; see `SignalPayload+Entities.swift`. A payload with no rule name or id and no entity
/// is flagged `unrecognised`. `SenderIntake` is the entry point for every sender, Datadog included.
public enum SignalPayload {
    /// The most values kept in each list field of a `Signal`.
    public static let maxListCount = 256
    /// The longest `SECURITY_SIGNAL_ID` kept as sent, in UTF-8 bytes.
    public static let maxSignalIDBytes = 512
    /// Nesting limit for the body and for attributes sent as a JSON string.
    public static let maxDepth = 64

    /// Normalizes one Datadog security webhook body into a `Signal` (rules in the type summary).
    ///
    /// - Parameters:
    ///   - body: The raw request body.
    ///   - format: From the request's `Content-Type`.
    /// - Returns: The signal; unusual shapes are reported in `flags`, never thrown.
    /// - Throws: `PayloadError.notUTF8` when the body is not UTF-8, `.invalidJSON` when a JSON
    ///   body does not parse (strict RFC 8259, depth 64), `.notAnObject` when it is not a JSON
    ///   object, `.badFormEncoding` when a form body has a bad escape.
    public static func decode(body: [UInt8], format: PayloadFormat) throws(PayloadError) -> Signal {
        if let bad = UTF8Validation.firstInvalidOffset(body) { throw .notUTF8(offset: bad) }
        switch format {
        case .json:
            let root: JSONValue
            do { root = try JSONValue.parse(body, maxDepth: maxDepth) } catch { throw .invalidJSON(error) }
            return try decode(json: root, body: body)
        case .form:
            let pairs: [(name: String, value: String)]
            do { pairs = try FormURLEncoding.decode(body) } catch { throw .badFormEncoding(error.message) }
            let fields = JSONValue(members: pairs.map { JSONMember($0.name, .string($0.value)) })
            var reader = SignalPayloadReader(fields: fields, isForm: true)
            reader.flag(.formEncoded)
            return reader.signal(body: body)
        }
    }

    /// Normalizes an already parsed JSON body (see `decode(body:format:)`).
    /// - Parameters:
    ///   - json: The body, parsed strictly with depth `maxDepth`.
    ///   - body: The raw body (a derived id is computed from it).
    /// - Throws: `PayloadError.notAnObject` when `json` is not a JSON object.
    static func decode(json root: JSONValue, body: [UInt8]) throws(PayloadError) -> Signal {
        guard case .object = root else { throw .notAnObject(found: root.typeName) }
        var reader = SignalPayloadReader(fields: root, isForm: false)
        return reader.signal(body: body)
    }
}

/// Reads the webhook variables out of a body's top-level object and collects the flags.
struct SignalPayloadReader {
    let fields: JSONValue
    let isForm: Bool
    private(set) var flags: [SignalFlag] = []

    init(fields: JSONValue, isForm: Bool) {
        self.fields = fields
        self.isForm = isForm
    }

    mutating func flag(_ f: SignalFlag) {
        if !flags.contains(f) { flags.append(f) }
    }

    mutating func signal(body: [UInt8]) -> Signal {
        var id = text("SECURITY_SIGNAL_ID")
        if let given = id, given.utf8.count > SignalPayload.maxSignalIDBytes {
            flag(.signalIDTooLong)
            id = nil
        }
        if id == nil { flag(.derivedID) }
        var s = Signal(signalID: id ?? "derived-" + String(SHA256.hex(body).prefix(32)))
        s.ruleName = text("SECURITY_RULE_NAME")
        s.ruleID = text("SECURITY_RULE_ID")
        s.ruleType = text("SECURITY_RULE_TYPE")
        s.severity = text("SECURITY_SIGNAL_SEVERITY").flatMap { Severity(parsing: $0) }
        s.title = text("SECURITY_SIGNAL_TITLE")
        s.message = text("SECURITY_SIGNAL_MSG")
        s.eventID = text("ID")
        if let sent = fields["DATE"], sent != .null {
            // Present but not a string or number of digits (an array, an object, "") is invalid too:
            // a signal whose age cannot be read is never fresh (issue 16 item 8).
            if let d = text("DATE"), d.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { s.date = d } else { flag(.invalidDate) }
        }
        s.link = text("LINK")
        var queries = list(fields["SECURITY_RULE_MATCHED_QUERIES"], splitOnCommas: false)
        if queries.isEmpty { queries = list(fields["SECURITY_RULE_QUERY"], splitOnCommas: false) }
        s.matchedQueries = capped(queries)
        s.tags = capped(list(fields["TAGS"], splitOnCommas: true))
        s.groupByFields = capped(groupBy(fields["SECURITY_RULE_GROUP_BY_FIELDS"], parseStrings: true))
        s.attributes = attributes(fields["SECURITY_SIGNAL_ATTRIBUTES"])
        var sources: [JSONValue] = []
        if let attributes = s.attributes, case .object = attributes { sources.append(attributes) }
        if let groupBy = groupByObject(fields["SECURITY_RULE_GROUP_BY_FIELDS"]) { sources.append(groupBy) }
        if !sources.isEmpty { extractEntities(from: sources, into: &s) }
        if s.ruleName == nil && s.ruleID == nil && !s.hasEntities { flag(.unrecognised) }
        s.flags = flags
        return s
    }

    /// The text of a top-level field (see `text(of:)`).
    mutating func text(_ key: String) -> String? { text(of: fields[key]) }

    /// A scalar's text: strings as they are, numbers as their digits, booleans as `true`/`false`.
    /// Nil for null, containers, empty strings and unsubstituted variables (which are flagged).
    mutating func text(of value: JSONValue?) -> String? {
        guard let text = value?.scalarText, !text.isEmpty else { return nil }
        if case .string = value, Self.isTemplateVariable(text) {
            flag(.unsubstitutedVariable)
            return nil
        }
        return text
    }

    /// True when `text` (trimmed) is a whole unsubstituted Datadog template variable.
    static func isTemplateVariable(_ text: String) -> Bool {
        let b = Array(text.trimmingASCIIWhitespace().utf8)
        guard b.count >= 2, b[0] == UInt8(ascii: "$"), b[1] >= UInt8(ascii: "A"), b[1] <= UInt8(ascii: "Z") else { return false }
        var i = 2
        while i < b.count,
            (b[i] >= UInt8(ascii: "A") && b[i] <= UInt8(ascii: "Z"))
                || (b[i] >= UInt8(ascii: "0") && b[i] <= UInt8(ascii: "9")) || b[i] == UInt8(ascii: "_")
        { i += 1 }
        if i == b.count { return true }
        guard b[i] == UInt8(ascii: "[") || b[i] == UInt8(ascii: ".") else { return false }
        return !b[i...].contains { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    }

    /// Keeps the first `maxListCount` values, flagging when some were cut.
    mutating func capped(_ values: [String]) -> [String] {
        guard values.count > SignalPayload.maxListCount else { return values }
        flag(.entitiesTruncated)
        return Array(values.prefix(SignalPayload.maxListCount))
    }

    /// Entries of a list field: an array of scalars, a string holding a JSON array, or a string
    /// (split on commas and trimmed when `splitOnCommas`). Empty entries are dropped.
    mutating func list(_ value: JSONValue?, splitOnCommas: Bool) -> [String] {
        guard let value else { return [] }
        switch value {
        case .array(let items):
            return items.compactMap { text(of: $0).map { splitOnCommas ? $0.trimmingASCIIWhitespace() : $0 } }
                .filter { !$0.isEmpty }
        case .string:
            guard let s = text(of: value) else { return [] }
            if s.trimmingASCIIWhitespace().hasPrefix("["),
                let parsed = try? JSONValue.parse(s, maxDepth: SignalPayload.maxDepth), case .array = parsed
            {
                return list(parsed, splitOnCommas: splitOnCommas)
            }
            guard splitOnCommas else { return [s] }
            return s.split(separator: ",").map { String($0).trimmingASCIIWhitespace() }.filter { !$0.isEmpty }
        default:
            return text(of: value).map { [$0] } ?? []
        }
    }

    /// `SECURITY_RULE_GROUP_BY_FIELDS` entries: an object gives `key:value` (one per element of
    /// an array value), an array its elements, a string holding JSON is parsed once.
    mutating func groupBy(_ value: JSONValue?, parseStrings: Bool) -> [String] {
        guard let value else { return [] }
        switch value {
        case .object(let members):
            return members.flatMap { member -> [String] in
                switch member.value {
                case .array(let items): items.map { member.key + ":" + ($0.scalarText ?? $0.compactText) }
                default: [member.key + ":" + (member.value.scalarText ?? member.value.compactText)]
                }
            }
        case .array(let items):
            return items.compactMap { $0.isContainer ? $0.compactText : text(of: $0) }
        case .string:
            guard let s = text(of: value) else { return [] }
            let t = s.trimmingASCIIWhitespace()
            if parseStrings, t.hasPrefix("{") || t.hasPrefix("["),
                let parsed = try? JSONValue.parse(s, maxDepth: SignalPayload.maxDepth), parsed.isContainer
            {
                return groupBy(parsed, parseStrings: false)
            }
            return [s]
        default:
            return text(of: value).map { [$0] } ?? []
        }
    }

    /// `SECURITY_RULE_GROUP_BY_FIELDS` as an object (or a string holding one), for entity
    /// extraction; nil for any other shape.
    func groupByObject(_ value: JSONValue?) -> JSONValue? {
        switch value {
        case .object?: return value
        case .string(let s)?:
            guard s.trimmingASCIIWhitespace().hasPrefix("{"), let parsed = try? JSONValue.parse(s, maxDepth: SignalPayload.maxDepth),
                case .object = parsed
            else { return nil }
            return parsed
        default: return nil
        }
    }

    /// `SECURITY_SIGNAL_ATTRIBUTES`: an object as is; a string holding a JSON object parsed once;
    /// anything else kept as sent and flagged `attributesUnparsed`.
    mutating func attributes(_ value: JSONValue?) -> JSONValue? {
        guard let value, value != .null else { return nil }
        switch value {
        case .object:
            return value
        case .string(let s):
            if s.isEmpty { return nil }
            if Self.isTemplateVariable(s) {
                flag(.unsubstitutedVariable)
                return nil
            }
            if let parsed = try? JSONValue.parse(s, maxDepth: SignalPayload.maxDepth), case .object = parsed {
                if !isForm { flag(.attributesWereString) }
                return parsed
            }
            flag(.attributesUnparsed)
            return value
        default:
            flag(.attributesUnparsed)
            return value
        }
    }
}

extension JSONValue {
    /// True for arrays and objects.
    var isContainer: Bool {
        switch self {
        case .array, .object: true
        default: false
        }
    }
}
