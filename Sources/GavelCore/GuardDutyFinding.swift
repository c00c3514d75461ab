/// Normalization of AWS GuardDuty findings.
///
/// Accepted bodies (field names as EventBridge delivers them; "GuardDuty finding format" and
/// "Amazon EventBridge events for GuardDuty" in the Amazon GuardDuty User Guide):
/// - an EventBridge event: `{"version":"0","id":…,"detail-type":"GuardDuty Finding",
///   "source":"aws.guardduty","account":…,"time":…,"region":…,"resources":[],"detail":FINDING}`
///   (an EventBridge API destination posts the event as is);
/// - a bare finding (the `detail` object, as AWS's own samples are);
/// - `{"Findings":[FINDING…]}` (`aws guardduty get-findings` output) or a JSON array of events
///   or findings: one signal each, at most `SenderIntake.maxAlertsPerPost`.
///
/// A finding becomes:
/// - id: `id` (a later update of the finding keeps its id, with a higher `service.count`: a
///   redelivery of the same signal); rule: `type` (`UnauthorizedAccess:EC2/SSHBruteForce`);
///   severity: the numeric `severity` in GuardDuty's bands (`Severity(guardDutyScore:)`);
///   title: `title`; message: `description`; eventCount: `service.count`; firstSeen /
///   lastSeen: `service.eventFirstSeen` / `eventLastSeen`; attributes: the finding.
/// - targets: every remote address in `service.action` — `remoteIpDetails.ipAddressV4` /
///   `ipAddressV6` under any action (`networkConnectionAction`, `portProbeAction.portProbeDetails[]`,
///   `awsApiCallAction`, `kubernetesApiCallAction`, `rdsLoginAttemptAction`, …) and
///   `kubernetesApiCallAction.sourceIps`; and the IAM user whose credentials were used,
///   `resource.accessKeyDetails.userName`.
/// - context (never targets): `localIpDetails` addresses; the instance (`instanceId`), its
///   network interfaces' private and public addresses and DNS names, and its security groups
///   (a group is deleted only by a rule configured to do so); the access key id; bucket,
///   cluster, database and function names; a DNS finding's `domain`.
/// - `service.additionalInfo.sample` true (a sample finding) is processed like any other, flagged
///   `sampleFinding`.
enum GuardDutyFinding {
    static func signals(_ root: JSONValue, body: [UInt8]) throws(PayloadError) -> [Signal] {
        let items: [JSONValue]
        switch root {
        case .array(let elements):
            items = elements
        case .object:
            if case .array(let findings)? = root["Findings"] {
                items = findings
            } else {
                return [signal(root, derivedFrom: body)]
            }
        default:
            throw .unexpectedJSON(expected: "a JSON object (GuardDuty finding or EventBridge event)", found: root.typeName)
        }
        guard !items.isEmpty else { return [SenderIntake.unrecognised(body: body, source: SenderFormat.guardduty.source, attributes: root)] }
        try SenderIntake.checkAlertCount(items.count)
        return items.map { signal($0, derivedFrom: Array($0.compactText.utf8)) }
    }

    /// True for an EventBridge event carrying a GuardDuty finding.
    static func isEvent(_ value: JSONValue) -> Bool {
        SignalDraft.text(value["detail-type"]) == "GuardDuty Finding" && SignalDraft.text(value["source"]) == "aws.guardduty"
    }

    /// True for a bare finding: `service.serviceName` "guardduty" with a `type` and a `resource`.
    static func isFinding(_ value: JSONValue) -> Bool {
        SignalDraft.text(value["service"]?["serviceName"]) == "guardduty" && SignalDraft.text(value["type"]) != nil
            && value["resource"] != nil
    }

    private static func signal(_ item: JSONValue, derivedFrom bytes: [UInt8]) -> Signal {
        let finding: JSONValue
        if isEvent(item), let detail = item["detail"], case .object = detail {
            finding = detail
        } else if case .object = item {
            finding = item
        } else {
            return SenderIntake.unrecognised(body: bytes, source: SenderFormat.guardduty.source, attributes: item)
        }
        var draft = SignalDraft(source: SenderFormat.guardduty.source)
        draft.setID(SignalDraft.text(finding["id"])) { bytes }
        let service = finding["service"]
        var s = draft.signal
        s.ruleName = SignalDraft.text(finding["type"])
        s.severity = SignalDraft.text(finding["severity"]).flatMap { Severity(guardDutyScore: $0) }
        s.title = SignalDraft.text(finding["title"])
        s.message = SignalDraft.text(finding["description"])
        s.firstSeen = SignalDraft.text(service?["eventFirstSeen"])
        s.lastSeen = SignalDraft.text(service?["eventLastSeen"])
        s.eventCount = SignalDraft.text(service?["count"]).flatMap { Int($0) }
        s.attributes = finding
        draft.signal = s
        if let sample = service?["additionalInfo"]?["sample"], sample == .bool(true) || sample == .string("true") {
            draft.flag(.sampleFinding)
        }
        if let action = service?["action"] { collectAction(action, into: &draft) }
        if let resource = finding["resource"] { collectResource(resource, into: &draft) }
        return draft.finish()
    }

    /// Remote addresses (targets) and local addresses (context) anywhere under `service.action`.
    private static func collectAction(_ value: JSONValue, into draft: inout SignalDraft) {
        switch value {
        case .object(let members):
            for member in members {
                switch member.key {
                case "remoteIpDetails":
                    for details in elements(member.value) {
                        for key in ["ipAddressV4", "ipAddressV6"] { SignalDraft.text(details[key]).map { draft.targetIP($0) } }
                    }
                case "localIpDetails":
                    for details in elements(member.value) {
                        for key in ["ipAddressV4", "ipAddressV6"] { SignalDraft.text(details[key]).map { draft.contextAddress($0) } }
                    }
                case "sourceIps", "sourceIPs":
                    for ip in SignalDraft.texts(member.value) { draft.targetIP(ip) }
                case "domain":
                    SignalDraft.text(member.value).map { draft.contextHost($0) }
                default:
                    collectAction(member.value, into: &draft)
                }
            }
        case .array(let items):
            for item in items { collectAction(item, into: &draft) }
        default:
            return
        }
    }

    /// The affected resource: context only, except the IAM user whose credentials were used.
    private static func collectResource(_ resource: JSONValue, into draft: inout SignalDraft) {
        if let key = resource["accessKeyDetails"] {
            SignalDraft.text(key["userName"]).map { draft.user($0) }
            SignalDraft.text(key["accessKeyId"]).map { draft.contextResource($0) }
        }
        if let instance = resource["instanceDetails"] {
            SignalDraft.text(instance["instanceId"]).map { draft.contextResource($0) }
            for interface in elements(instance["networkInterfaces"]) {
                for key in ["privateIpAddress", "publicIp"] { SignalDraft.text(interface[key]).map { draft.contextAddress($0) } }
                for address in elements(interface["privateIpAddresses"]) {
                    SignalDraft.text(address["privateIpAddress"]).map { draft.contextAddress($0) }
                }
                for address in SignalDraft.texts(interface["ipv6Addresses"]) { draft.contextAddress(address) }
                for key in ["privateDnsName", "publicDnsName"] { SignalDraft.text(interface[key]).map { draft.contextHost($0) } }
                for group in elements(interface["securityGroups"]) {
                    SignalDraft.text(group["groupId"]).map { draft.contextSecurityGroup($0) }
                }
            }
        }
        for bucket in elements(resource["s3BucketDetails"]) { SignalDraft.text(bucket["name"]).map { draft.contextResource($0) } }
        let named: [(String, String)] = [
            ("eksClusterDetails", "name"), ("ecsClusterDetails", "name"), ("rdsDbInstanceDetails", "dbInstanceIdentifier"),
            ("lambdaDetails", "functionName"),
        ]
        for (object, key) in named { SignalDraft.text(resource[object]?[key]).map { draft.contextResource($0) } }
    }

    /// An array's elements, or the value itself; nothing for nil.
    private static func elements(_ value: JSONValue?) -> [JSONValue] {
        guard let value else { return [] }
        if case .array(let items) = value { return items }
        return [value]
    }
}
