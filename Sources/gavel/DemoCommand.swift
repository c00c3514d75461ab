import Foundation
import GavelCore
import GavelDispatch
import GavelRuntime

/// `gavel demo [--to BASE_URL]`: posts a fixed, realistic set of signals to a running
/// receiver's `/webhook`, as Datadog would, and exits (0 when every post got 202).
///
/// The set covers the three scenarios of the source guide (security group opened to the
/// world, sign-in from an unseen IP, card-authorization failures), one IP seen in two
/// signals, an IPv6 client, an allowlisted internal IP, a quoted-attributes payload and a
/// form-encoded one, with a day's mix of severities. Signal ids get a per-run suffix so a
/// second run adds new signals instead of duplicates.
enum DemoCommand {
    static func run(_ i: Invocation) throws -> Int32 {
        let base = (i.value("to") ?? "http://127.0.0.1:8787").trimmingSuffix("/")
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw UsageFailure("gavel demo: --to must be an http(s) base URL such as http://127.0.0.1:8787, got '\(base)'")
        }
        let config = try i.setup.configFile(receiving: true)?.config ?? i.setup.builtIn(receiving: true)
        let run = String(Int(Date().timeIntervalSince1970), radix: 36)
        var headers: [HTTPHeaderField] = []
        if let secret = config.secret { headers.append(HTTPHeaderField("Authorization", "Bearer \(secret)")) }
        let executor = HTTPExecutor()
        var failures = 0
        for (i, signal) in DemoSignals.all(run: run, nowMs: Timestamp.nowMs()).enumerated() {
            let request = HTTPDispatchRequest(
                method: "POST", url: base + "/webhook",
                headers: [HTTPHeaderField("Content-Type", signal.contentType)] + headers,
                body: Array(signal.body.utf8), timeoutSeconds: 10, maxRetries: 0)
            let outcome = executor.execute(request, idempotencyKey: "gavel-demo-\(run)-\(i)")
            let status = outcome.status.map(String.init) ?? "no answer"
            print("\(status)  \(signal.label)" + (outcome.status == 202 ? "" : "  \(DisplayText.sanitize(outcome.error ?? outcome.responseExcerpt))"))
            if outcome.status != 202 { failures += 1 }
        }
        if failures > 0 {
            printError("gavel demo: \(failures) signal(s) were not accepted; is 'gavel' or 'gavel serve' running at \(base)?")
            return 1
        }
        return 0
    }
}

/// The demo's signals: Datadog security webhook payloads (the `$SECURITY_*` variables of the
/// payload template in docs/datadog.md), documentation address ranges and example.com users.
enum DemoSignals {
    struct Item {
        var label: String
        var contentType = "application/json"
        var body: String
    }

    static func all(run: String, nowMs: Int64) -> [Item] {
        func json(
            _ id: String, rule: String, ruleID: String, severity: String, title: String, message: String,
            attributes: String, tags: String
        ) -> String {
            """
            {"SECURITY_SIGNAL_ID":"AQAAAYdemo-\(run)-\(id)","SECURITY_RULE_NAME":"\(rule)","SECURITY_RULE_ID":"\(ruleID)",\
            "SECURITY_RULE_TYPE":"log_detection","SECURITY_SIGNAL_SEVERITY":"\(severity)","SECURITY_SIGNAL_TITLE":"\(title)",\
            "SECURITY_SIGNAL_MSG":"\(message)","SECURITY_SIGNAL_ATTRIBUTES":\(attributes),"ID":"\(nowMs)\(id.count)","DATE":\(nowMs),\
            "LINK":"https://app.datadoghq.com/security?event=AQAAAYdemo-\(run)-\(id)","TAGS":"\(tags)"}
            """
        }
        let signIn = "Request from unexpected IP address"
        let signInID = "def-000-nt1"
        let fraud = "Fraudulent Credit Card Authorizations"
        let fraudID = "def-000-cc7"
        let sg = "AWS security group open to the world"
        let sgID = "def-000-sg4"
        return [
            Item(
                label: "critical  security group sg-0a1b2c3d4e5f60789 opened to 0.0.0.0/0 → delete-security-group",
                body: json(
                    "sg1", rule: sg, ruleID: sgID, severity: "critical", title: "Security group opened to the world on port 22",
                    message: "AuthorizeSecurityGroupIngress allowed 0.0.0.0/0 on tcp/22.",
                    attributes:
                        #"{"evt":{"name":"AuthorizeSecurityGroupIngress","outcome":"success"},"requestParameters":{"groupId":"sg-0a1b2c3d4e5f60789","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]}},"userIdentity":{"arn":"arn:aws:iam::111122223333:user/dev-sandbox"},"network":{"client":{"ip":["192.0.2.10"]}}}"#,
                    tags: "source:cloudtrail,env:prod,team:platform")),
            Item(
                label: "high      console login from unseen IP 203.0.113.42 → ban-ip",
                body: json(
                    "ip1", rule: signIn, ruleID: signInID, severity: "high", title: "Console login from an IP never seen for this account",
                    message: "New value of network.client.ip for this account.",
                    attributes: #"{"network":{"client":{"ip":["203.0.113.42"]}},"evt":{"name":"ConsoleLogin","outcome":"success"}}"#,
                    tags: "source:cloudtrail,env:prod")),
            Item(
                label: "medium    card authorizations failing for shopper.one@example.com → disable-user",
                body: json(
                    "cc1", rule: fraud, ruleID: fraudID, severity: "medium", title: "Repeated card authorization failures",
                    message: "14 failed credit card authorizations in 5 minutes.",
                    attributes:
                        #"{"usr":{"id":"shopper.one@example.com","email":"shopper.one@example.com"},"evt":{"name":"credit_card_authorization","outcome":"fail"},"network":{"client":{"ip":["198.51.100.23"]}}}"#,
                    tags: "source:checkout,env:prod,service:payments")),
            Item(
                label: "high      same IP 203.0.113.42 again, API login → gathers into the same ban",
                body: json(
                    "ip2", rule: signIn, ruleID: signInID, severity: "high", title: "API login from an IP never seen for this account",
                    message: "New value of network.client.ip for this account.",
                    attributes: #"{"network":{"client":{"ip":["203.0.113.42"]}},"evt":{"name":"AssumeRole","outcome":"success"}}"#,
                    tags: "source:cloudtrail,env:prod")),
            Item(
                label: "medium    IPv6 client 2001:db8:4::1a → ban-ip",
                body: json(
                    "ip3", rule: signIn, ruleID: signInID, severity: "medium", title: "Sign-in from an unseen IPv6 address",
                    message: "New value of network.client.ip.",
                    attributes: #"{"network":{"client":{"ip":"2001:DB8:4:0:0:0:0:1A"}},"evt":{"name":"ConsoleLogin","outcome":"success"}}"#,
                    tags: "source:cloudtrail,env:staging")),
            Item(
                label: "low       internal IP 10.20.30.40 → suppressed by the allowlist",
                body: json(
                    "ip4", rule: signIn, ruleID: signInID, severity: "low", title: "Sign-in from an unseen internal address",
                    message: "New value of network.client.ip (VPN pool).",
                    attributes: #"{"network":{"client":{"ip":["10.20.30.40","AWS Internal"]}},"evt":{"name":"ConsoleLogin","outcome":"success"}}"#,
                    tags: "source:cloudtrail,env:corp")),
            Item(
                label: "info      quoted attributes (template quoted the variable): 203.0.113.77, 2001:db8::17",
                body: json(
                    "ip5", rule: signIn, ruleID: signInID, severity: "info", title: "Request from unexpected IP address",
                    message: "Attributes arrived as a JSON string.",
                    attributes: #""{\"network\":{\"client\":{\"ip\":[\"203.0.113.77\",\"2001:db8::17\"]}}}""#,
                    tags: "source:nginx,env:prod")),
            Item(
                label: "medium    form-encoded payload: 198.51.100.99 → ban-ip",
                contentType: "application/x-www-form-urlencoded",
                body: FormURLEncoding.encode([
                    ("SECURITY_SIGNAL_ID", "AQAAAYdemo-\(run)-form1"), ("SECURITY_RULE_NAME", signIn), ("SECURITY_RULE_ID", signInID),
                    ("SECURITY_SIGNAL_SEVERITY", "medium"), ("SECURITY_SIGNAL_TITLE", "Request from unexpected IP address (form)"),
                    ("SECURITY_SIGNAL_ATTRIBUTES", #"{"network":{"client":{"ip":["198.51.100.99"]}}}"#), ("TAGS", "source:waf,env:prod"),
                ])),
            Item(
                label: "high      card fraud with a second user and IP → disable-user shopper.two@example.com",
                body: json(
                    "cc2", rule: fraud, ruleID: fraudID, severity: "high", title: "Card testing from one account",
                    message: "52 distinct cards tried in 10 minutes.",
                    attributes:
                        #"{"usr":{"id":"shopper.two@example.com"},"evt":{"name":"credit_card_authorization","outcome":"fail"},"network":{"client":{"ip":["203.0.113.200"]}}}"#,
                    tags: "source:checkout,env:prod,service:payments")),
        ]
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var s = self
        while s.hasSuffix(suffix) { s.removeLast(suffix.count) }
        return s
    }
}
