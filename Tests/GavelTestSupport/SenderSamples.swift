import Foundation

/// The senders' sample payloads in `Tests/Fixtures/senders/` (byte-for-byte copies of the shared
/// fixtures), for the store, receiver and end-to-end suites.
public enum SenderSamples {
    /// `Tests/Fixtures/senders/`.
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/senders").path

    /// The files, by the route they are posted to: `alertmanager.json` → `/webhook/alertmanager`, ….
    public static let names = ["alertmanager", "grafana", "guardduty", "crowdsec"]

    /// The bytes of `NAME.json`; empty when the file is missing (the caller's expectations then fail).
    public static func body(_ name: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: directory + "/" + name + ".json") ?? Data())
    }

    /// The text of `NAME.json`.
    public static func text(_ name: String) -> String { String(decoding: body(name), as: UTF8.self) }

    /// A GuardDuty finding as EventBridge delivers it, with `count` as `service.count` (the
    /// shared sample, re-counted): the same finding id each time.
    public static func guardDuty(count: Int) -> String {
        text("guardduty").replacingOccurrences(of: "\"count\": 7", with: "\"count\": \(count)")
    }

    /// An Elastic Security webhook-connector body (the rule action body in `docs/senders.md`,
    /// with Kibana's placeholders filled in): two alert documents, ECS fields nested in one and
    /// flattened in the other.
    public static let elasticBody = #"""
        {
          "rule": {"id": "a1b2c3d4-0000-4e5f-8a9b-elastic00001", "name": "SSH brute force from the internet", "severity": "high"},
          "results_link": "https://kibana.example.com/app/security/alerts?query=rule",
          "alerts": [
            {"kibana.alert.uuid": "0f7c2d1e9a8b7c6d5e4f3a2b1c0d9e8f", "kibana.alert.severity": "high",
             "kibana.alert.reason": "authentication event with source 203.0.113.55 by root on web-1",
             "source": {"ip": "203.0.113.55"}, "user": {"name": "root"}, "host": {"name": "web-1", "ip": ["10.1.2.3"]}},
            {"kibana.alert.uuid": "1a2b3c4d5e6f70819283746556473829", "kibana.alert.severity": "critical",
             "kibana.alert.reason": "authentication event with source 2001:db8:5::66 by admin on web-2",
             "source.ip": "2001:db8:5::66", "user.name": "admin", "host.name": "web-2", "host.ip": "10.1.2.4"}
          ]
        }
        """#

    /// The `senders.generic.elastic` configuration for `elasticBody` (as in `docs/senders.md`).
    public static let elasticSenderConfig = #"""
        {"generic": {"elastic": {
          "alerts": "alerts", "id": "kibana.alert.uuid", "rule": "rule.name", "rule_id": "rule.id",
          "severity": "kibana.alert.severity", "title": "kibana.alert.reason", "link": "results_link",
          "ips": ["source.ip"], "users": ["user.name"], "context_ips": ["host.ip"], "context_hosts": ["host.name"]
        }}}
        """#
}
