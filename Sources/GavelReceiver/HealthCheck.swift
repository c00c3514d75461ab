import GavelCore

/// One part of gavel as `/healthz` and `/readyz` report it: its name (`store`, `dispatcher`) and
/// why it is not sound, nil when it is.
public struct HealthCheck: Sendable, Equatable {
    /// The part's name as the JSON member and the `gavel_health{part=…}` label: `store`, `dispatcher`.
    public var name: String
    /// Why the part is not sound (shown verbatim in the JSON body), nil when it is.
    public var problem: String?

    /// A part named `name`, sound when `problem` is nil.
    public init(_ name: String, problem: String?) {
        self.name = name
        self.problem = problem
    }

    /// The answer for `checks`: 200 `{"status":OK,"store":"ok",…}` when every part is sound, else
    /// 503 with `Retry-After: 5` and `{"status":NOT_OK,"error":"PART: WHY; …","store":"ok" or WHY,…}`.
    static func response(_ checks: [HealthCheck], ok: String, notOK: String) -> HTTPResponse {
        let failing = checks.filter { $0.problem != nil }
        var members = [JSONMember("status", .string(failing.isEmpty ? ok : notOK))]
        if !failing.isEmpty {
            members.append(JSONMember("error", .string(failing.map { "\($0.name): \($0.problem ?? "")" }.joined(separator: "; "))))
        }
        members += checks.map { JSONMember($0.name, .string($0.problem ?? "ok")) }
        var r = HTTPResponse.json(failing.isEmpty ? 200 : 503, JSONValue.object(members).compactText)
        if !failing.isEmpty { r.headers.append(HTTPField(name: "Retry-After", value: "5")) }
        return r
    }
}
