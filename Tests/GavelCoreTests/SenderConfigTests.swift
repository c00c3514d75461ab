import Testing

@testable import GavelCore

@Suite struct SenderConfigTests {
    @Test func defaults() throws {
        let config = try loadTestConfig("{}")
        #expect(config.senders == SenderSettings())
        #expect(config.senders.alertmanager.ipLabels == ["src_ip", "source_ip", "client_ip", "remote_addr", "remote_ip"])
        #expect(config.senders.alertmanager.userLabels == ["user", "username"])
        #expect(config.senders.alertmanager.contextLabels == ["instance", "host", "hostname", "node"])
        #expect(config.senders.grafana.severityLabel == "severity")
        #expect(GavelConfig.builtInDefaults(databasePath: "gavel.db").senders.generic.isEmpty)
    }

    @Test func labelSettingsAndGenericSendersLoad() throws {
        let config = try loadTestConfig(
            #"""
            {"senders":{
              "_comment":"label names per sender",
              "alertmanager":{"ip_labels":["attacker_ip"],"user_labels":[],"context_labels":["instance","pod"],"severity_label":"level"},
              "grafana":{"resource_labels":["security_group"]},
              "generic":{"elastic":{"rule":"rule.name","ips":"source.ip","severity_map":{"21":"low"}}}}}
            """#)
        #expect(
            config.senders.alertmanager
                == LabelSenderSettings(ipLabels: ["attacker_ip"], userLabels: [], contextLabels: ["instance", "pod"], severityLabel: "level"))
        #expect(config.senders.grafana.resourceLabels == ["security_group"])
        #expect(config.senders.grafana.ipLabels == LabelSenderSettings.defaultIPLabels)
        let elastic = try #require(config.senders.generic["elastic"])
        #expect(elastic.name == "elastic" && elastic.rule == FieldPath("rule.name") && elastic.ips == [FieldPath("source.ip")!])
        #expect(elastic.severityMap == ["21": .low])
        #expect(elastic.resolvedValues == ["resolved"])
        let example = try loadTestConfig(SenderFixtures.elasticSenderConfig)
        #expect(example.senders.generic["elastic"]?.alerts == FieldPath("alerts"))
    }

    @Test(arguments: [
        (#"{"senders":{"datadog":{}}}"#, "senders.datadog", "unknown key"),
        (#"{"senders":{"alertmanager":{"ip_lables":[]}}}"#, "senders.alertmanager.ip_lables", "unknown key"),
        (#"{"senders":{"alertmanager":{"ip_labels":["a",""]}}}"#, "senders.alertmanager.ip_labels[1]", "empty label name"),
        (#"{"senders":{"alertmanager":{"ip_labels":["a","a"]}}}"#, "senders.alertmanager.ip_labels[1]", "listed twice"),
        (#"{"senders":{"alertmanager":{"ip_labels":"src_ip"}}}"#, "senders.alertmanager.ip_labels", "expected an array of strings"),
        (#"{"senders":{"grafana":{"context_labels":["instance","src_ip"]}}}"#, "senders.grafana.context_labels[1]", "also a target label"),
        (#"{"senders":{"grafana":{"ip_labels":["instance"]}}}"#, "senders.grafana.ip_labels", "context label by default"),
        (#"{"senders":{"generic":{"a b":{"rule":"r"}}}}"#, #"senders.generic["a b"]"#, "1–64 characters"),
        (#"{"senders":{"generic":{"crowdsec":{"rule":"r"}}}}"#, "senders.generic.crowdsec", "built-in sender"),
        (#"{"senders":{"generic":{"x":{"title":"t"}}}}"#, "senders.generic.x", "at least one of rule, ips, users, resources"),
        (#"{"senders":{"generic":{"x":{"rule":"a..b"}}}}"#, "senders.generic.x.rule", "not a field path"),
        (#"{"senders":{"generic":{"x":{"rule":"r","ips":["ok",""]}}}}"#, "senders.generic.x.ips[1]", "not a field path"),
        (#"{"senders":{"generic":{"x":{"rule":"r","severity_map":{"P1":"urgent"}}}}}"#, "senders.generic.x.severity_map.P1", "expected info, low"),
        (#"{"senders":{"generic":{"x":{"rule":"r","resolved_values":[""]}}}}"#, "senders.generic.x.resolved_values[0]", "empty value"),
        (#"{"senders":{"generic":{"x":{"rule":"r","extra":1}}}}"#, "senders.generic.x.extra", "unknown key"),
    ])
    func errorsNameTheField(_ json: String, _ field: String, _ message: String) {
        let error = configError(json)
        #expect(error?.field == field, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }
}
