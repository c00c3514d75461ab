import Foundation
import Testing

@testable import GavelCore

/// The sender samples: the shared fixtures (copied byte for byte into `Tests/Fixtures/senders/`,
/// so a clean clone has them) and payloads shaped after each sender's own documentation.
enum SenderFixtures {
    /// `Tests/Fixtures/senders/`.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/senders")

    /// The bytes of `Tests/Fixtures/senders/NAME`.
    static func file(_ name: String) throws -> [UInt8] {
        let url = directory.appendingPathComponent(name)
        return Array(try #require(FileManager.default.contents(atPath: url.path), "missing fixture \(url.path)"))
    }

    /// Alertmanager's webhook body as the prometheus/alertmanager documentation shows it
    /// (`webhook_config`, version 4): a blackbox probe whose `instance` is a URL.
    static let alertmanagerDocs = #"""
        {
          "receiver": "sms",
          "status": "firing",
          "alerts": [
            {
              "status": "firing",
              "labels": {"alertname": "ProbeFailure", "instance": "https://server.example.org", "job": "http_checks", "monitor": "master", "severity": "critical"},
              "annotations": {"description": "Instance https://server.example.org has been down for over 5m. Job: http_checks", "summary": "BlackBox Probe Failure: https://server.example.org"},
              "startsAt": "2023-02-06T13:08:45.828Z",
              "endsAt": "0001-01-01T00:00:00Z",
              "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0\u0026g0.tab=1",
              "fingerprint": "1a30ba71cca2921f"
            }
          ],
          "groupLabels": {"alertname": "ProbeFailure"},
          "commonLabels": {"alertname": "ProbeFailure", "instance": "https://server.example.org", "job": "http_checks", "monitor": "master", "severity": "critical"},
          "commonAnnotations": {"description": "Instance https://server.example.org has been down for over 5m. Job: http_checks", "summary": "BlackBox Probe Failure: https://server.example.org"},
          "externalURL": "http://prometheus.example.org:9093",
          "version": "4",
          "groupKey": "{}/{severity=\"critical\"}:{alertname=\"ProbeFailure\"}",
          "truncatedAlerts": 0
        }
        """#

    /// Grafana's webhook contact point example body (Grafana alerting docs, "Configure the
    /// webhook notifier"): two alerts without severity or entity labels.
    static let grafanaDocs = #"""
        {
          "receiver": "My Super Webhook",
          "status": "firing",
          "orgId": 1,
          "alerts": [
            {
              "status": "firing",
              "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
              "annotations": {"description": "The system has high memory usage", "runbook_url": "https://myrunbook.com/runbook/1234", "summary": "This alert was triggered for zone us-1"},
              "startsAt": "2021-10-12T09:51:03.157076+02:00",
              "endsAt": "0001-01-01T00:00:00Z",
              "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
              "fingerprint": "c6eadffa33fcdf37",
              "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1",
              "dashboardURL": "",
              "panelURL": "",
              "values": {"B": 44.23943737541908, "C": 1}
            },
            {
              "status": "firing",
              "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1"},
              "annotations": {"description": "The system has high CPU usage", "runbook_url": "https://myrunbook.com/runbook/1234", "summary": "This alert was triggered for zone eu-1"},
              "startsAt": "2021-10-12T09:56:03.157076+02:00",
              "endsAt": "0001-01-01T00:00:00Z",
              "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit",
              "fingerprint": "bc97ff14869b13e3",
              "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1",
              "dashboardURL": "",
              "panelURL": "",
              "values": {"B": 44.23943737541908, "C": 1}
            }
          ],
          "groupLabels": {},
          "commonLabels": {"team": "blue"},
          "commonAnnotations": {},
          "externalURL": "https://play.grafana.org/",
          "version": "1",
          "groupKey": "{}:{}",
          "truncatedAlerts": 0,
          "title": "[FIRING:2]  (blue)",
          "state": "alerting",
          "message": "**Firing**\n\nLabels:\n - alertname = T2\n - team = blue\n - zone = us-1\n"
        }
        """#

    /// An AWS sample finding as `CreateSampleFindings` generates it (GuardDuty User Guide,
    /// "Sample findings"), bare (no EventBridge envelope): the remote address and the
    /// instance's public address are the same documentation address, and the security group id
    /// is a placeholder.
    static let guardDutySample = #"""
        {
          "schemaVersion": "2.0", "accountId": "123456789012", "region": "us-west-2", "partition": "aws",
          "id": "2ab35569068ee10579b5abdbe10e679f",
          "arn": "arn:aws:guardduty:us-west-2:123456789012:detector/84b35568c3651686951efb3f3070e3a2/finding/2ab35569068ee10579b5abdbe10e679f",
          "type": "UnauthorizedAccess:EC2/SSHBruteForce",
          "resource": {
            "resourceType": "Instance",
            "instanceDetails": {
              "instanceId": "i-99999999", "instanceType": "m3.xlarge",
              "networkInterfaces": [{
                "networkInterfaceId": "eni-bfcffe88",
                "privateIpAddresses": [{"privateDnsName": "GeneratedFindingPrivateName", "privateIpAddress": "10.0.0.1"}],
                "subnetId": "GeneratedFindingSubnetId", "vpcId": "GeneratedFindingVPCId",
                "privateDnsName": "GeneratedFindingPrivateDnsName",
                "securityGroups": [{"groupName": "GeneratedFindingSecurityGroupName", "groupId": "GeneratedFindingSecurityId"}],
                "publicIp": "198.51.100.0", "ipv6Addresses": [], "publicDnsName": "GeneratedFindingPublicDNSName",
                "privateIpAddress": "10.0.0.1"
              }]
            }
          },
          "service": {
            "serviceName": "guardduty", "detectorId": "84b35568c3651686951efb3f3070e3a2",
            "action": {
              "actionType": "NETWORK_CONNECTION",
              "networkConnectionAction": {
                "connectionDirection": "INBOUND",
                "remoteIpDetails": {"ipAddressV4": "198.51.100.0", "organization": {"asn": "-1", "asnOrg": "GeneratedFindingASNOrg"}},
                "remotePortDetails": {"port": 32794, "portName": "Unknown"},
                "localPortDetails": {"port": 22, "portName": "SSH"},
                "protocol": "TCP", "blocked": false
              }
            },
            "resourceRole": "TARGET",
            "additionalInfo": {"sample": true},
            "eventFirstSeen": "2018-10-25T10:43:04.605Z", "eventLastSeen": "2018-11-02T21:34:15.262Z",
            "archived": false, "count": 11
          },
          "severity": 2,
          "createdAt": "2018-10-25T10:43:04.605Z", "updatedAt": "2018-11-02T21:34:15.262Z",
          "title": "198.51.100.0 is performing SSH brute force attacks against i-99999999. ",
          "description": "198.51.100.0 is performing SSH brute force attacks against i-99999999. Brute force attacks are used to gain unauthorized access to your instance by guessing the SSH password."
        }
        """#

    /// A `Recon:EC2/PortProbeUnprotectedPort` finding in its EventBridge event: two probing
    /// hosts under `portProbeAction.portProbeDetails[]`, the instance's address as `localIpDetails`.
    static let guardDutyPortProbe = #"""
        {
          "version": "0", "id": "c8ad6f4a-3a2e-4a7e-9d43-2f7b9e0f1a11", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
          "account": "111122223333", "time": "2026-12-03T08:00:00Z", "region": "eu-west-1", "resources": [],
          "detail": {
            "schemaVersion": "2.0", "accountId": "111122223333", "region": "eu-west-1",
            "id": "7e4b1d2c3a5f60718293a4b5c6d7e8f9",
            "type": "Recon:EC2/PortProbeUnprotectedPort",
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0fedcba987654321f",
              "networkInterfaces": [{"privateIpAddress": "172.31.5.9", "publicIp": "192.0.2.44",
                "ipv6Addresses": ["2001:db8:1::44"],
                "securityGroups": [{"groupId": "sg-0123456789abcdef0", "groupName": "web"}]}]}},
            "service": {
              "serviceName": "guardduty",
              "action": {
                "actionType": "PORT_PROBE",
                "portProbeAction": {
                  "blocked": false,
                  "portProbeDetails": [
                    {"localPortDetails": {"port": 3389, "portName": "RDP"}, "localIpDetails": {"ipAddressV4": "172.31.5.9"},
                     "remoteIpDetails": {"ipAddressV4": "203.0.113.201", "country": {"countryName": "Exampleland"}}},
                    {"localPortDetails": {"port": 22, "portName": "SSH"}, "localIpDetails": {"ipAddressV4": "172.31.5.9"},
                     "remoteIpDetails": {"ipAddressV6": "2001:DB8:FFFF::7"}}
                  ]
                }
              },
              "eventFirstSeen": "2026-12-03T07:10:00Z", "eventLastSeen": "2026-12-03T07:58:00Z", "count": 23
            },
            "severity": 2,
            "title": "Unprotected port on EC2 instance i-0fedcba987654321f is being probed.",
            "description": "EC2 instance has an unprotected port which is being probed by a known malicious host."
          }
        }
        """#

    /// An IAM finding (`Recon:IAMUser/MaliciousIPCaller.Custom`): the user whose credentials were
    /// used, and the caller's address under `awsApiCallAction`.
    static let guardDutyIAM = #"""
        {
          "schemaVersion": "2.0", "accountId": "111122223333", "region": "us-east-1", "partition": "aws",
          "id": "30bf285e52a1e405084ff6ec28e06e17",
          "type": "Recon:IAMUser/MaliciousIPCaller.Custom",
          "resource": {
            "resourceType": "AccessKey",
            "accessKeyDetails": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "principalId": "AIDACKCEVSQ6C2EXAMPLE", "userType": "IAMUser", "userName": "ci-deployer"}
          },
          "service": {
            "serviceName": "guardduty",
            "action": {"actionType": "AWS_API_CALL", "awsApiCallAction": {
              "api": "ListBuckets", "serviceName": "s3.amazonaws.com", "callerType": "Remote IP",
              "remoteIpDetails": {"ipAddressV4": "198.51.100.77", "organization": {"asnOrg": "Example Hosting"}}}},
            "count": 4
          },
          "severity": 8.5,
          "title": "Reconnaissance API ListBuckets was invoked from an IP address on a custom threat list.",
          "description": "API ListBuckets was invoked by IAM user ci-deployer from 198.51.100.77."
        }
        """#

    /// A CrowdSec notification with two alerts: one whose `decisions` is null (only `source`
    /// names the address), one on a range whose decision has a remaining duration.
    static let crowdSecMixed = #"""
        [
          {"scenario": "crowdsecurity/ssh-bf", "scenario_hash": "9d8c", "scenario_version": "0.2",
           "message": "Ip 198.51.100.61 performed 'crowdsecurity/ssh-bf' (6 events over 3s)",
           "events_count": 6, "start_at": "2026-12-03T09:00:00Z", "stop_at": "2026-12-03T09:00:03Z",
           "capacity": 5, "leakspeed": "10s", "simulated": true, "remediation": true,
           "source": {"scope": "Ip", "value": "198.51.100.61", "ip": "198.51.100.61", "range": "198.51.100.0/24", "cn": "EX"},
           "decisions": null, "events": [], "labels": null},
          {"scenario": "crowdsecurity/http-probing", "scenario_hash": "1a2b", "scenario_version": "0.4",
           "message": "Range 203.0.113.0/24 performed 'crowdsecurity/http-probing'", "events_count": 40,
           "start_at": "2026-12-03T09:01:00Z", "stop_at": "2026-12-03T09:02:00Z", "capacity": 10, "leakspeed": "1s",
           "simulated": false, "remediation": true, "uuid": "5f0c9a1e-7b3d-4e21-9c88-0e6d1f2a3b4c",
           "source": {"scope": "Range", "value": "203.0.113.0/24"},
           "decisions": [{"duration": "3h59m58.123456s", "origin": "crowdsec", "scenario": "crowdsecurity/http-probing", "scope": "Range", "type": "ban", "value": "203.0.113.0/24"}],
           "events": [], "labels": null}
        ]
        """#

    /// An Elastic Security detection rule's webhook connector body, as the rule action's body
    /// template writes it (Kibana "Alert notification placeholders":
    /// `{{context.rule.name}}`, `{{context.rule.id}}`, `{{context.rule.severity}}`,
    /// `{{{context.results_link}}}`, and `[{{{context.alerts}}}]` for the alert documents).
    static let elasticBody = #"""
        {
          "rule": {"name": "Multiple Logon Failure Followed by Logon Success", "id": "4e85dc8a-3e41-40d8-bc28-91af7ac6cf60", "severity": "medium"},
          "results_link": "https://kibana.example.com/app/security/alerts?filters=rule",
          "alerts": [
            {"@timestamp": "2026-12-03T10:00:00.000Z",
             "kibana.alert.uuid": "e4c5b0f2a1d3c4b5a6978877665544332211aabbccddeeff0011223344556677",
             "kibana.alert.rule.name": "Multiple Logon Failure Followed by Logon Success",
             "kibana.alert.severity": "high", "kibana.alert.reason": "authentication event with source 203.0.113.90 by o'brien+ops@ex_ample.com on web-1",
             "source": {"ip": "203.0.113.90", "port": 50122},
             "user": {"name": "o'brien+ops@ex_ample.com"},
             "host": {"name": "web-1", "ip": ["10.1.2.3", "fe80::1"]}},
            {"@timestamp": "2026-12-03T10:00:05.000Z",
             "kibana.alert.uuid": "f5d6c1a3b2e4d5c6b7a8998877665544332211aabbccddeeff00112233445566",
             "kibana.alert.severity": "critical",
             "source.ip": "2001:db8::90",
             "user.name": "svc_backup",
             "host.name": "db-2"}
          ]
        }
        """#

    /// The generic sender configuration for `elasticBody`, as it appears in gavel.json.
    static let elasticSenderConfig = #"""
        {"senders": {"generic": {"elastic": {
          "alerts": "alerts",
          "id": "kibana.alert.uuid",
          "rule": "rule.name",
          "rule_id": "rule.id",
          "severity": "kibana.alert.severity",
          "title": "kibana.alert.reason",
          "link": "results_link",
          "ips": ["source.ip"],
          "users": ["user.name"],
          "context_ips": ["host.ip"],
          "context_hosts": ["host.name"]
        }}}}
        """#
}

extension JSONValue {
    /// Parses a test literal.
    static func literal(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }
}
