/// The word back to Datadog: once an analyst (or auto mode) has decided on a remediation of
/// Datadog signals, gavel sets each signal's triage state in Datadog, so a signal gavel
/// remediated or rejected does not stay `open` in Datadog's triage view for someone else to
/// pick up again (`datadog` in the configuration; `docs/datadog.md`, "Word back to Datadog").
///
/// The request is Datadog's "Update security signal triage state or assignee" (API v2; the older
/// `PATCH …/signals/{signal_id}/state` is deprecated):
///
///     PATCH https://api.SITE/api/v2/security_monitoring/signals/{signal_id}/update
///     Accept: application/json
///     Content-Type: application/json
///     DD-API-KEY: …            (from the environment variable `api_key_env`)
///     DD-APPLICATION-KEY: …    (from `application_key_env`)
///
///     {"data":{"type":"signal_metadata","attributes":{"state":"archived",
///      "archive_reason":"remediated","archive_comment":"…"}}}
///
/// (`SecurityMonitoringSignalUpdateRequest`: `data.type` `signal_metadata`, `data.attributes`
/// with `state` one of `open`, `under_review`, `archived`, and for an archived signal
/// `archive_reason` and `archive_comment`.) The keys are read from the dispatching process's
/// environment at each send and never stored.
public struct DatadogTriageConfig: Sendable, Equatable {
    /// `site`: the Datadog site as its users know it (`datadoghq.com`, `us3.datadoghq.com`,
    /// `us5.datadoghq.com`, `datadoghq.eu`, `ap1.datadoghq.com`, `ap2.datadoghq.com`,
    /// `ddog-gov.com`, …; an `app.` prefix is dropped). The API is at `https://api.SITE`.
    public var site: String
    /// `api_url`: the API's base URL instead of `https://api.SITE` (scheme, host, optional port
    /// and path prefix; `http://` only for a loopback host) — for a proxy, or a stand-in in tests.
    public var apiURL: String?
    /// `api_key_env`: the environment variable holding the API key. Default `DD_API_KEY`.
    public var apiKeyEnv: String
    /// `application_key_env`: the environment variable holding the application key (it needs the
    /// `security_monitoring_signals_write` permission). Default `DD_APP_KEY`.
    public var applicationKeyEnv: String
    /// `timeout`: seconds for one request. Default 10.
    public var timeoutSeconds: Double
    /// `max_retries`: how many times a failed update is tried again (network error, 408, 429,
    /// 5xx), with capped exponential backoff and full jitter. Default 10.
    public var maxRetries: Int
    /// `triage`: what each event sets in Datadog; an event not in it sends nothing.
    /// Defaults: `dispatched` → archived (remediated), `false_positive` → archived
    /// (false_positive); `rejected` and `reverted` send nothing unless configured.
    public var changes: [TriageEvent: TriageChange]

    /// A configuration for `site` with every other field at its default.
    public init(
        site: String = "datadoghq.com", apiURL: String? = nil, apiKeyEnv: String = "DD_API_KEY", applicationKeyEnv: String = "DD_APP_KEY",
        timeoutSeconds: Double = 10, maxRetries: Int = 10, changes: [TriageEvent: TriageChange] = DatadogTriageConfig.defaultChanges
    ) {
        self.site = site
        self.apiURL = apiURL
        self.apiKeyEnv = apiKeyEnv
        self.applicationKeyEnv = applicationKeyEnv
        self.timeoutSeconds = timeoutSeconds
        self.maxRetries = maxRetries
        self.changes = changes
    }

    /// The default mapping (see `changes`).
    public static let defaultChanges: [TriageEvent: TriageChange] = [
        .dispatched: TriageChange(
            state: .archived, archiveReason: .remediated,
            comment: "gavel remediation {{remediation_id}} ({{action}} {{target}}) dispatched, approved by {{analyst}}"),
        .falsePositive: TriageChange(
            state: .archived, archiveReason: .falsePositive,
            comment: "gavel remediation {{remediation_id}} ({{action}} {{target}}) rejected as a false positive by {{analyst}}: {{reason}}"),
    ]

    /// The change an event makes, nil when it sends nothing.
    public func change(for event: TriageEvent) -> TriageChange? { changes[event] }

    /// The API's base URL, without a trailing `/`: `api_url`, else `https://api.SITE`.
    public var baseURL: String {
        if let apiURL { return apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL }
        return "https://api." + site
    }
}

/// What happened to a remediation that Datadog is told about.
public enum TriageEvent: String, Sendable, CaseIterable, Hashable {
    /// Dispatched successfully (it came into force).
    case dispatched
    /// Rejected by an analyst.
    case rejected
    /// Rejected by an analyst who marked it a false positive (`gavel reject --false-positive`,
    /// the console's `F`).
    case falsePositive = "false_positive"
    /// Its revert was sent and accepted.
    case reverted
}

/// A Datadog security signal's triage state (`SecurityMonitoringSignalState`).
public enum SignalTriageState: String, Sendable, CaseIterable {
    case open
    case underReview = "under_review"
    case archived
}

/// Why a signal was archived (`SecurityMonitoringSignalArchiveReason`).
public enum SignalArchiveReason: String, Sendable, CaseIterable {
    case none
    case falsePositive = "false_positive"
    case testingOrMaintenance = "testing_or_maintenance"
    case remediated
    case investigatedCaseOpened = "investigated_case_opened"
    case truePositiveBenign = "true_positive_benign"
    case truePositiveMalicious = "true_positive_malicious"
    case other
}

/// What one event sets on a Datadog signal: its triage state and, for an archived signal, the
/// reason and a comment.
public struct TriageChange: Sendable, Equatable {
    public var state: SignalTriageState
    /// Only with `state` archived.
    public var archiveReason: SignalArchiveReason?
    /// The archive comment with `{{remediation_id}}`, `{{action}}`, `{{target}}`, `{{rule}}`,
    /// `{{analyst}}` (who approved or rejected it: a name or `auto:RULE`) and `{{reason}}` (the
    /// rejection's reason) replaced; at most `TriageChange.maxCommentLength` characters are sent.
    public var comment: String?

    /// The placeholders a comment may use.
    public static let placeholders: Set<String> = ["remediation_id", "action", "target", "rule", "analyst", "reason"]
    /// The longest comment sent, in characters (the rest is cut, with `…`).
    public static let maxCommentLength = 1000

    public init(state: SignalTriageState, archiveReason: SignalArchiveReason? = nil, comment: String? = nil) {
        self.state = state
        self.archiveReason = archiveReason
        self.comment = comment
    }

    /// The comment with its placeholders replaced by `values` (a missing value is empty),
    /// cut to `maxCommentLength` characters.
    public func renderedComment(_ values: [String: String]) -> String? {
        guard let comment else { return nil }
        var out = ""
        var rest = Substring(comment)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            let after = rest[open.upperBound...]
            guard let close = after.range(of: "}}") else {
                out += rest[open.lowerBound...]
                rest = ""
                break
            }
            let name = String(after[..<close.lowerBound]).trimmingASCIIWhitespace()
            out += values[name] ?? ""
            rest = after[close.upperBound...]
        }
        out += rest
        if out.count > Self.maxCommentLength { out = String(out.prefix(Self.maxCommentLength - 1)) + "…" }
        return out
    }

    /// The request body: `{"data":{"type":"signal_metadata","attributes":{…}}}` with `state`,
    /// and `archive_reason` / `archive_comment` when set (see `DatadogTriageConfig`).
    public func body(values: [String: String]) -> JSONValue {
        var attributes = [JSONMember("state", .string(state.rawValue))]
        if let archiveReason { attributes.append(JSONMember("archive_reason", .string(archiveReason.rawValue))) }
        if let comment = renderedComment(values) { attributes.append(JSONMember("archive_comment", .string(comment))) }
        return .object([
            JSONMember("data", .object([JSONMember("type", .string("signal_metadata")), JSONMember("attributes", .object(attributes))]))
        ])
    }

    /// `archived (remediated)`, `open`: the change in a few words, for attempts and the audit log.
    public var summary: String { state.rawValue + (archiveReason.map { " (\($0.rawValue))" } ?? "") }
}

extension DatadogTriageConfig {
    /// The exact request that sets `signalID`'s triage state (see the type's summary): the
    /// signal id percent-encoded as one path segment (every byte but RFC 3986 unreserved
    /// characters), the keys as environment references resolved at send
    /// (`RenderedRequest.resolvingEnvironment`), `body` as stored when the update was queued.
    public func request(signalID: String, body: String) -> RenderedRequest {
        .http(
            HTTPDispatchRequest(
                method: "PATCH", url: baseURL + "/api/v2/security_monitoring/signals/" + Self.pathSegment(signalID) + "/update",
                headers: [
                    HTTPHeaderField("Accept", "application/json"), HTTPHeaderField("Content-Type", "application/json"),
                    HTTPHeaderField("DD-API-KEY", "\u{0}env.\(apiKeyEnv)\u{0}"),
                    HTTPHeaderField("DD-APPLICATION-KEY", "\u{0}env.\(applicationKeyEnv)\u{0}"),
                ], body: Array(body.utf8), timeoutSeconds: timeoutSeconds, maxRetries: maxRetries))
    }

    /// `text` as one URL path segment: RFC 3986 unreserved bytes as they are, every other UTF-8
    /// byte as `%HH` (so `/`, `?`, `#`, `%`, `..` and controls in a signal id cannot change the path).
    public static func pathSegment(_ text: String) -> String {
        var out = ""
        // A segment of dots only (`.`, `..`) would be a dot-segment: its dots are encoded too.
        let dotsOnly = text.utf8.allSatisfy { $0 == 0x2E }
        for b in text.utf8 {
            let unreserved =
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F || b == 0x7E
                || (b == 0x2E && !dotsOnly)
            if unreserved {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    /// Whether a signal can be told about: sent by Datadog (`source` `datadog`) with an id of
    /// its own (not derived by gavel, which Datadog would not know).
    public static func canUpdate(source: String, flags: [SignalFlag]) -> Bool {
        source == SenderFormat.datadog.source && !flags.contains(.derivedID)
    }
}
