import Testing

@testable import GavelCore

@Suite struct SignalPayloadTests {
    private func json(_ text: String) throws(PayloadError) -> Signal {
        try SignalPayload.decode(body: Array(text.utf8), format: .json)
    }

    private func form(_ text: String) throws(PayloadError) -> Signal {
        try SignalPayload.decode(body: Array(text.utf8), format: .form)
    }

    private func ips(_ s: Signal) -> [String] { s.ips.map(\.description) }

    private func decodeError(_ body: [UInt8], _ format: PayloadFormat) -> PayloadError? {
        do {
            _ = try SignalPayload.decode(body: body, format: format)
            return nil
        } catch {
            return error
        }
    }

    // MARK: fixtures (see fixtures/README.md for what a careful receiver extracts)

    @Test func banIPFixture() throws {
        let s = try json(Fixtures.banIP)
        #expect(s.signalID == "AQAAAYxk1-example-0001")
        #expect(s.ruleName == "Request from unexpected IP address")
        #expect(s.ruleKey == "Request from unexpected IP address")
        #expect(s.severity == .high)
        #expect(s.title == "Console login from an IP never seen for this account")
        #expect(ips(s) == ["203.0.113.42"])
        #expect(s.eventName == "ConsoleLogin")
        #expect(s.eventOutcome == "success")
        #expect(s.users.isEmpty && s.securityGroups.isEmpty && s.invalidIPs.isEmpty)
        #expect(s.flags.isEmpty)
        #expect(s.attributes?["evt"]?["name"] == .string("ConsoleLogin"))
    }

    @Test func cardFraudFixture() throws {
        let s = try json(Fixtures.cardFraud)
        #expect(s.signalID == "AQAAAYxk1-example-0002")
        #expect(s.ruleName == "Fraudulent Credit Card Authorizations")
        #expect(s.severity == .medium)
        #expect(s.users == ["shopper.one@example.com"])
        #expect(s.eventName == "credit_card_authorization")
        #expect(s.eventOutcome == "fail")
        #expect(ips(s) == ["198.51.100.23"])
        #expect(s.flags.isEmpty)
    }

    @Test func securityGroupFixture() throws {
        let s = try json(Fixtures.securityGroup)
        #expect(s.signalID == "AQAAAYxk1-example-0003")
        #expect(s.severity == .critical)
        #expect(s.securityGroups == ["sg-0a1b2c3d4e5f60789"])
        #expect(s.actor == "arn:aws:iam::111122223333:user/dev-sandbox")
        #expect(ips(s) == ["192.0.2.10"])
        #expect(s.eventName == "AuthorizeSecurityGroupIngress")
        #expect(s.users.isEmpty)
        #expect(s.flags.isEmpty)
    }

    @Test func attributesAsStringFixture() throws {
        let s = try json(Fixtures.banIPAttributesAsString)
        #expect(s.signalID == "AQAAAYxk1-example-0004")
        #expect(ips(s) == ["203.0.113.77", "2001:db8::17"])
        #expect(s.flags == [.attributesWereString])
        #expect(s.attributes?["network"]?["client"]?["ip"] == .array([.string("203.0.113.77"), .string("2001:db8::17")]))
        #expect(s.severity == nil)
    }

    @Test func formFixture() throws {
        let s = try form(Fixtures.banIPForm)
        #expect(s.signalID == "AQAAAYxk1-example-0005")
        #expect(s.ruleName == "Request from unexpected IP address")
        #expect(ips(s) == ["198.51.100.99"])
        #expect(s.flags == [.formEncoded])
    }

    // MARK: field shapes

    @Test func formValuesAreParsedLikeJSONOnes() throws {
        let body = FormURLEncoding.encode([
            ("SECURITY_SIGNAL_SEVERITY", "4"),
            ("TAGS", #"["env:prod","team:sec"]"#),
            ("SECURITY_RULE_MATCHED_QUERIES", #"["@evt.name:ConsoleLogin","source:cloudtrail"]"#),
            ("SECURITY_RULE_GROUP_BY_FIELDS", #"{"@usr.id":"bob"}"#),
            ("DATE", "17000000000000000001"),
            ("SECURITY_SIGNAL_ATTRIBUTES", #"{"usr.id":"bob","network":{"client.ip":"203.0.113.1"}}"#),
        ])
        let s = try form(body)
        #expect(s.severity == .critical)
        #expect(s.tags == ["env:prod", "team:sec"])
        #expect(s.matchedQueries == ["@evt.name:ConsoleLogin", "source:cloudtrail"])
        #expect(s.groupByFields == ["@usr.id:bob"])
        #expect(s.date == "17000000000000000001")
        #expect(s.users == ["bob"])
        #expect(ips(s) == ["203.0.113.1"])
        #expect(s.flags == [.formEncoded, .derivedID])
    }

    @Test func flattenedAndNestedKeysMerge() throws {
        let s = try json(
            #"""
            {"SECURITY_SIGNAL_ID":"f1","SECURITY_SIGNAL_ATTRIBUTES":{
              "network.client.ip":"198.51.100.1",
              "network":{"client.ip":["198.51.100.2"],"client":{"ip":"198.51.100.3"}},
              "usr.id":42, "evt.name":"login", "evt":{"outcome":"fail"},
              "userIdentity.arn":"arn:aws:iam::1:user/a",
              "requestParameters.groupId":"sg-1", "responseElements":{"groupId":["sg-2"]}}}
            """#)
        #expect(Set(ips(s)) == ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
        #expect(ips(s).count == 3)
        #expect(s.users == ["42"])
        #expect(s.eventName == "login")
        #expect(s.eventOutcome == "fail")
        #expect(s.actor == "arn:aws:iam::1:user/a")
        #expect(s.securityGroups == ["sg-1", "sg-2"])
    }

    @Test func anAttributePathKnowsEverySpellingOfItsKeys() throws {
        let path = AttributePath("network.client.ip")
        #expect(path.count == 3)
        #expect(path.key(from: 0, through: 0, prefixed: false) == "network")
        #expect(path.key(from: 0, through: 2, prefixed: false) == "network.client.ip")
        #expect(path.key(from: 1, through: 2, prefixed: false) == "client.ip")
        #expect(path.key(from: 0, through: 1, prefixed: true) == "@network.client")
        #expect(path.key(from: 2, through: 2, prefixed: true) == "ip")  // the facet @ is on the first key only
        let mixed = try JSONValue.parse(#"{"@network":{"client.ip":"a"},"@network.client":{"ip":["b"]},"network.client.ip":"c"}"#)
        #expect(SignalPayloadReader.values(at: path, in: mixed).compactMap(\.scalarText) == ["c", "a", "b"])
        #expect(SignalPayloadReader.values(at: "network.client.ip", in: mixed).compactMap(\.scalarText) == ["c", "a", "b"])
    }

    @Test func invalidIPsAreKeptApartAndFlagged() throws {
        let s = try json(
            #"""
            {"SECURITY_SIGNAL_ID":"x","SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":
              ["AWS Internal","1.2.3.4 ",12345,"203.0.113.5","127.1","fe80::1%eth0",null,"",{"a":1},"AWS Internal"]}}}}
            """#)
        #expect(ips(s) == ["203.0.113.5"])
        #expect(s.invalidIPs == ["AWS Internal", "1.2.3.4 ", "12345", "127.1", "fe80::1%eth0", #"{"a":1}"#])
        #expect(s.flags == [.invalidIP])
    }

    @Test func ipv6IsCanonicalizedAndDeduplicated() throws {
        let s = try json(
            #"""
            {"SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":
              ["2001:DB8::17","2001:db8:0::17","::ffff:203.0.113.9","203.0.113.9","2001:0db8:0000:0000:0000:0000:0000:0017"]}}}}
            """#)
        #expect(ips(s) == ["2001:db8::17", "203.0.113.9"])
        #expect(s.invalidIPs.isEmpty)
    }

    @Test func singleStringIP() throws {
        let s = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":"203.0.113.8"}}}}"#)
        #expect(ips(s) == ["203.0.113.8"])
    }

    @Test func derivedIDIsDeterministic() throws {
        let body = #"{"SECURITY_RULE_NAME":"r"}"#
        let a = try json(body)
        let b = try json(body)
        #expect(a.signalID == b.signalID)
        // sha256(body) computed independently (Python hashlib).
        #expect(a.signalID == "derived-" + String(SHA256.hex(Array(body.utf8)).prefix(32)))
        #expect(a.signalID == "derived-b599e289d093d1a316994c81c2120f0f")
        #expect(a.flags == [.derivedID])
        #expect(try json(#"{"SECURITY_RULE_NAME":"s"}"#).signalID != a.signalID)
        #expect(try json("{}").signalID.count == "derived-".count + 32)
    }

    @Test func longSignalIDIsReplacedByDerivedOne() throws {
        let max = String(repeating: "a", count: 512)
        #expect(try json(#"{"SECURITY_SIGNAL_ID":"\#(max)"}"#).signalID == max)
        let s = try json(#"{"SECURITY_SIGNAL_ID":"\#(max)b"}"#)
        #expect(s.signalID.hasPrefix("derived-"))
        #expect(s.flags == [.signalIDTooLong, .derivedID, .unrecognised])
    }

    @Test func unsubstitutedVariablesAreAbsent() throws {
        let s = try json(
            #"""
            {"SECURITY_SIGNAL_ID":"$SECURITY_SIGNAL_ID","SECURITY_RULE_NAME":"$SECURITY_RULE_NAME","ID":"$ID",
             "SECURITY_SIGNAL_TITLE":"$5 charge","SECURITY_SIGNAL_MSG":"$HOME directory was read",
             "TAGS":"$TAGS","SECURITY_SIGNAL_ATTRIBUTES":"$SECURITY_SIGNAL_ATTRIBUTES","LINK":" $LINK "}
            """#)
        #expect(s.signalID.hasPrefix("derived-"))
        #expect(s.ruleName == nil && s.eventID == nil && s.link == nil)
        #expect(s.title == "$5 charge")
        #expect(s.message == "$HOME directory was read")
        #expect(s.tags.isEmpty)
        #expect(s.attributes == nil)
        // No rule and no entity survived: kept, but flagged as not understood.
        #expect(s.flags == [.unsubstitutedVariable, .derivedID, .unrecognised])
    }

    @Test(arguments: [
        ("$ID", true), ("$SECURITY_RULE_NAME", true), ("$TAGS[env]", true), (" $DATE\n", true),
        ("$SECURITY_SIGNAL_ATTRIBUTES.network", true), ("$", false), ("$5", false), ("$id", false),
        ("$HOME dir", false), ("cost $ID", false), ("$ID!", false), ("", false),
    ])
    func templateVariableDetection(_ text: String, _ expected: Bool) {
        #expect(SignalPayloadReader.isTemplateVariable(text) == expected)
    }

    @Test(arguments: [(#"3"#, Severity.high), (#""0""#, .info), (#""CRITICAL""#, .critical), (#" "low" "#, .low)])
    func severityWordsAndNumbers(_ raw: String, _ expected: Severity) throws {
        #expect(try json(#"{"SECURITY_SIGNAL_SEVERITY":\#(raw)}"#).severity == expected)
    }

    @Test func unknownSeverityIsNil() throws {
        #expect(try json(#"{"SECURITY_SIGNAL_SEVERITY":7}"#).severity == nil)
        #expect(try json(#"{"SECURITY_SIGNAL_SEVERITY":"3.0"}"#).severity == nil)
        #expect(try json(#"{"SECURITY_SIGNAL_SEVERITY":["high"]}"#).severity == nil)
    }

    @Test func dateKeepsDigitsBeyondDoublePrecision() throws {
        #expect(try json(#"{"DATE":17000000000000000001}"#).date == "17000000000000000001")
        #expect(try json(#"{"DATE":"1700000000000"}"#).date == "1700000000000")
        #expect(try json(#"{"DATE":"2024-01-01T00:00:00Z"}"#).date == nil)
        #expect(try json(#"{"DATE":1.7e12}"#).date == nil)
    }

    @Test func scalarsAsTextAndEmptyAsAbsent() throws {
        let s = try json(
            #"""
            {"SECURITY_SIGNAL_ID":12345678901234567890123,"SECURITY_RULE_ID":777,"ID":true,
             "SECURITY_RULE_NAME":"","SECURITY_RULE_TYPE":{"x":1},"LINK":"https://app.datadoghq.com/security?x=1",
             "SECURITY_SIGNAL_MSG":"line1\nline2"}
            """#)
        #expect(s.signalID == "12345678901234567890123")
        #expect(s.ruleID == "777")
        #expect(s.ruleKey == "777")
        #expect(s.eventID == "true")
        #expect(s.ruleName == nil)
        #expect(s.ruleType == nil)
        #expect(s.link == "https://app.datadoghq.com/security?x=1")
        #expect(s.message == "line1\nline2")
        #expect(s.flags.isEmpty)
    }

    @Test func tagsShapes() throws {
        #expect(try json(#"{"TAGS":"env:prod, service:web,,  team:sec ,"}"#).tags == ["env:prod", "service:web", "team:sec"])
        #expect(try json(#"{"TAGS":["a"," b ","",3]}"#).tags == ["a", "b", "3"])
        #expect(try json(#"{"TAGS":"[\"x:1\",\"y:2\"]"}"#).tags == ["x:1", "y:2"])
        #expect(try json(#"{"TAGS":""}"#).tags == [])
    }

    @Test func matchedQueriesShapes() throws {
        #expect(try json(#"{"SECURITY_RULE_MATCHED_QUERIES":"@evt.name:a, b"}"#).matchedQueries == ["@evt.name:a, b"])
        #expect(try json(#"{"SECURITY_RULE_MATCHED_QUERIES":["q1","q2"]}"#).matchedQueries == ["q1", "q2"])
        #expect(try json(#"{"SECURITY_RULE_MATCHED_QUERIES":"[\"q1\",\"q2\"]"}"#).matchedQueries == ["q1", "q2"])
        #expect(try json(#"{"SECURITY_RULE_MATCHED_QUERIES":"[not json"}"#).matchedQueries == ["[not json"])
        #expect(try json(#"{"SECURITY_RULE_QUERY":"old:query"}"#).matchedQueries == ["old:query"])
        #expect(try json(#"{"SECURITY_RULE_MATCHED_QUERIES":"new","SECURITY_RULE_QUERY":"old"}"#).matchedQueries == ["new"])
    }

    @Test func groupByShapes() throws {
        #expect(
            try json(#"{"SECURITY_RULE_GROUP_BY_FIELDS":{"@usr.id":"bob","@network.client.ip":["1.2.3.4","5.6.7.8"],"n":3}}"#)
                .groupByFields == ["@usr.id:bob", "@network.client.ip:1.2.3.4", "@network.client.ip:5.6.7.8", "n:3"])
        #expect(try json(#"{"SECURITY_RULE_GROUP_BY_FIELDS":["@usr.id","@evt.name"]}"#).groupByFields == ["@usr.id", "@evt.name"])
        #expect(try json(#"{"SECURITY_RULE_GROUP_BY_FIELDS":"{\"@usr.id\":\"bob\"}"}"#).groupByFields == ["@usr.id:bob"])
        #expect(try json(#"{"SECURITY_RULE_GROUP_BY_FIELDS":"@usr.id"}"#).groupByFields == ["@usr.id"])
    }

    @Test func attributesThatAreNotAnObjectAreKeptAndFlagged() throws {
        let text = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":"not json"}"#)
        #expect(text.attributes == .string("not json"))
        #expect(text.flags == [.derivedID, .attributesUnparsed, .unrecognised])
        let number = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":42}"#)
        #expect(number.attributes == .number("42"))
        #expect(number.flags.contains(.attributesUnparsed))
        let array = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":"[1,2]"}"#)
        #expect(array.attributes == .string("[1,2]"))
        #expect(array.flags.contains(.attributesUnparsed))
        #expect(try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":null}"#).attributes == nil)
    }

    @Test func attributesStringIsParsedOnceAndDepthLimited() throws {
        let deep = String(repeating: #"{\"a\":"#, count: 100) + "1" + String(repeating: "}", count: 100)
        let s = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":"\#(deep)"}"#)
        #expect(s.flags.contains(.attributesUnparsed))
        #expect(s.ips.isEmpty)
        // A string inside the string is not parsed a second time.
        let twice = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":"\"{\\\"usr.id\\\":\\\"x\\\"}\""}"#)
        #expect(twice.users.isEmpty)
        #expect(twice.flags.contains(.attributesUnparsed))
    }

    @Test func userPrecedence() throws {
        let all = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":["u1",2,"u1"],"email":"a@example.com","name":"Ann"}}}"#)
        #expect(all.users == ["u1", "2"])
        #expect(all.userEmails == ["a@example.com"])
        #expect(all.userNames == ["Ann"])
        let email = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"email":["a@example.com","b@example.com"],"name":"Ann"}}}"#)
        #expect(email.users == ["a@example.com", "b@example.com"])
        let name = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"","name":"Ann"}}}"#)
        #expect(name.users == ["Ann"])
    }

    @Test func securityGroupsFromCloudTrailShapes() throws {
        let s = try json(
            #"""
            {"SECURITY_SIGNAL_ATTRIBUTES":{"requestParameters":{"groupId":["sg-1"]},"responseElements":{"groupId":"sg-1"},
             "userIdentity":{"arn":"arn:aws:iam::1:role/x"}}}
            """#)
        #expect(s.securityGroups == ["sg-1"])
        #expect(s.actor == "arn:aws:iam::1:role/x")
    }

    @Test func entityListsAreCappedAt256() throws {
        let many = (0..<300).map { #""10.0.\#($0 / 256).\#($0 % 256)""# }.joined(separator: ",")
        let users = (0..<300).map { #""u\#($0)""# }.joined(separator: ",")
        let s = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":[\#(many)]}},"usr":{"id":[\#(users)]}}}"#)
        #expect(s.ips.count == 256)
        #expect(s.ips.first?.description == "10.0.0.0")
        #expect(s.ips.last?.description == "10.0.0.255")
        #expect(s.users.count == 256)
        #expect(s.flags.contains(.entitiesTruncated))
        let tags = (0..<300).map { "t\($0)" }.joined(separator: ",")
        #expect(try json(#"{"TAGS":"\#(tags)"}"#).tags.count == 256)
    }

    @Test func hostileStringsAreKeptVerbatim() throws {
        let s = try json(#"{"SECURITY_RULE_NAME":"\u001b[2J\u009b'); DROP TABLE x;--","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"$(rm -rf /)"}}}"#)
        #expect(s.ruleName == "\u{1B}[2J\u{9B}'); DROP TABLE x;--")
        #expect(s.users == ["$(rm -rf /)"])
    }

    // MARK: refused bodies

    @Test func refusesBodiesThatAreNotSignals() throws {
        #expect(decodeError([0x7B, 0x22, 0xFF, 0x22, 0x7D], .json) == .notUTF8(offset: 2))
        #expect(decodeError([0x61, 0x3D, 0xC3], .form) == .notUTF8(offset: 2))
        guard case .invalidJSON(let e) = decodeError(Array("{\"a\":1,}".utf8), .json) else {
            Issue.record("expected invalidJSON")
            return
        }
        #expect(e.offset == 7)
        #expect(decodeError(Array("[1]".utf8), .json) == .notAnObject(found: "array"))
        #expect(decodeError(Array("\"{}\"".utf8), .json) == .notAnObject(found: "string"))
        #expect(decodeError(Array("null".utf8), .json) == .notAnObject(found: "null"))
        #expect(decodeError([], .json) != nil)
        guard case .badFormEncoding = decodeError(Array("a=%zz".utf8), .form) else {
            Issue.record("expected badFormEncoding")
            return
        }
        #expect(decodeError(Array("a=%FF".utf8), .form) != nil)
    }

    @Test func depthBombIsInvalidJSON() {
        let bomb = [UInt8](repeating: UInt8(ascii: "["), count: 10_000)
        guard case .invalidJSON(let e) = decodeError(bomb, .json) else {
            Issue.record("expected invalidJSON")
            return
        }
        #expect(e.message.contains("64"))
    }

    @Test func errorDescriptionsNameTheProblem() {
        #expect(PayloadError.notUTF8(offset: 3).description.contains("UTF-8"))
        #expect(PayloadError.notAnObject(found: "array").description == "body is a JSON array, expected a JSON object")
        #expect(PayloadError.invalidJSON(JSONError(offset: 4, message: "x")).description == "body is not valid JSON: at byte 4: x")
        #expect(PayloadError.badFormEncoding("bad").description.contains("form"))
    }

    @Test func emptyFormIsASignalWithDerivedID() throws {
        let s = try form("")
        #expect(s.signalID.hasPrefix("derived-"))
        #expect(s.flags == [.formEncoded, .derivedID, .unrecognised])
    }
}

/// The sample payloads from `fixtures/` (embedded: tests must not read ../shared at runtime).
enum Fixtures {
    /// `fixtures/ban-ip.json`, byte for byte.
    static let banIP = #"""
        {
          "SECURITY_RULE_NAME": "Request from unexpected IP address",
          "SECURITY_SIGNAL_ID": "AQAAAYxk1-example-0001",
          "SECURITY_SIGNAL_SEVERITY": "high",
          "SECURITY_SIGNAL_TITLE": "Console login from an IP never seen for this account",
          "SECURITY_SIGNAL_ATTRIBUTES": {
            "network": {
              "client": {
                "ip": [
                  "203.0.113.42"
                ]
              }
            },
            "evt": {
              "name": "ConsoleLogin",
              "outcome": "success"
            }
          }
        }

        """#

    /// `fixtures/card-fraud.json`, byte for byte.
    static let cardFraud = #"""
        {
          "SECURITY_RULE_NAME": "Fraudulent Credit Card Authorizations",
          "SECURITY_SIGNAL_ID": "AQAAAYxk1-example-0002",
          "SECURITY_SIGNAL_SEVERITY": "medium",
          "SECURITY_SIGNAL_ATTRIBUTES": {
            "usr": { "id": "shopper.one@example.com" },
            "evt": { "name": "credit_card_authorization", "outcome": "fail" },
            "network": { "client": { "ip": ["198.51.100.23"] } }
          }
        }

        """#

    /// `fixtures/security-group.json`, byte for byte.
    static let securityGroup = #"""
        {
          "SECURITY_RULE_NAME": "AWS security group open to the world",
          "SECURITY_SIGNAL_ID": "AQAAAYxk1-example-0003",
          "SECURITY_SIGNAL_SEVERITY": "critical",
          "SECURITY_SIGNAL_ATTRIBUTES": {
            "evt": { "name": "AuthorizeSecurityGroupIngress", "outcome": "success" },
            "requestParameters": {
              "groupId": "sg-0a1b2c3d4e5f60789",
              "ipPermissions": { "items": [ { "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                "ipRanges": { "items": [ { "cidrIp": "0.0.0.0/0" } ] } } ] }
            },
            "userIdentity": { "arn": "arn:aws:iam::111122223333:user/dev-sandbox" },
            "network": { "client": { "ip": ["192.0.2.10"] } }
          }
        }

        """#

    /// `fixtures/ban-ip-attributes-as-string.json`, byte for byte.
    static let banIPAttributesAsString = #"""
        {
          "SECURITY_RULE_NAME": "Request from unexpected IP address",
          "SECURITY_SIGNAL_ID": "AQAAAYxk1-example-0004",
          "SECURITY_SIGNAL_ATTRIBUTES": "{\"network\":{\"client\":{\"ip\":[\"203.0.113.77\",\"2001:db8::17\"]}}}"
        }

        """#

    /// `fixtures/ban-ip.form`, byte for byte.
    static let banIPForm = #"""
        SECURITY_RULE_NAME=Request+from+unexpected+IP+address&SECURITY_SIGNAL_ID=AQAAAYxk1-example-0005&SECURITY_SIGNAL_ATTRIBUTES=%7B%22network%22%3A%7B%22client%22%3A%7B%22ip%22%3A%5B%22198.51.100.99%22%5D%7D%7D%7D
        """#

}

/// More of Datadog's own shapes (issue 13 item 2): both user spellings, group-by values with the
/// `@` facet prefix, CloudTrail fields, App and API Protection's actor, and unrecognised payloads.
@Suite struct SignalPayloadShapeTests {
    private func json(_ text: String) throws(PayloadError) -> Signal {
        try SignalPayload.decode(body: Array(text.utf8), format: .json)
    }

    @Test func userDotIDIsAUserLikeUsrDotID() throws {
        let s = try json(#"{"SECURITY_RULE_NAME":"r","SECURITY_SIGNAL_ATTRIBUTES":{"user":{"id":"u-7"},"usr":{"id":"u-8"}}}"#)
        #expect(s.users == ["u-8", "u-7"])
        let emails = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":{"user":{"email":"b@example.com"},"usr":{"name":"Ann"}}}"#)
        #expect(emails.users == ["b@example.com"])
        #expect(emails.userNames == ["Ann"])
        let flat = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":{"user.id":"u-9"}}"#)
        #expect(flat.users == ["u-9"])
    }

    @Test func groupByValuesNameTheEntities() throws {
        let s = try json(
            #"""
            {"SECURITY_RULE_NAME":"Credential stuffing","SECURITY_SIGNAL_ID":"g1",
             "SECURITY_RULE_GROUP_BY_FIELDS":{"@usr.name":"o'brien+ops@ex_ample.com","@network.client.ip":["203.0.113.61","203.0.113.62"],"@service":"web"}}
            """#)
        #expect(s.users == ["o'brien+ops@ex_ample.com"])
        #expect(s.ips.map(\.description) == ["203.0.113.61", "203.0.113.62"])
        #expect(
            s.groupByFields == [
                "@usr.name:o'brien+ops@ex_ample.com", "@network.client.ip:203.0.113.61", "@network.client.ip:203.0.113.62", "@service:web",
            ])
        #expect(s.flags.isEmpty)
        // As a string holding the object (a quoted template variable), merged with the attributes.
        let quoted = try json(
            #"{"SECURITY_RULE_NAME":"r","SECURITY_RULE_GROUP_BY_FIELDS":"{\"@usr.id\":\"u1\"}","SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"u2"},"network.client.ip":"192.0.2.5"}}"#
        )
        #expect(quoted.users == ["u2", "u1"])
        #expect(quoted.ips.map(\.description) == ["192.0.2.5"])
        // A list of field names names no entity.
        #expect(try json(#"{"SECURITY_RULE_NAME":"r","SECURITY_RULE_GROUP_BY_FIELDS":["@usr.id"]}"#).users.isEmpty)
    }

    @Test func atPrefixedAttributeKeys() throws {
        let s = try json(#"{"SECURITY_SIGNAL_ATTRIBUTES":{"@network.client.ip":"198.51.100.70","@usr":{"id":"x"},"@evt.name":"login"}}"#)
        #expect(s.ips.map(\.description) == ["198.51.100.70"])
        #expect(s.users == ["x"])
        #expect(s.eventName == "login")
    }

    @Test func cloudTrailShapes() throws {
        let s = try json(
            #"""
            {"SECURITY_RULE_NAME":"AWS security group open to the world","SECURITY_SIGNAL_ID":"ct1",
             "SECURITY_RULE_GROUP_BY_FIELDS":{"@userIdentity.arn":"arn:aws:iam::111122223333:user/dev","@requestParameters.groupId":"sg-0a1b2c3d"},
             "SECURITY_SIGNAL_ATTRIBUTES":{"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/dev","accountId":"111122223333"},
               "requestParameters":{"groupId":"sg-0a1b2c3d"},"network":{"client":{"ip":"192.0.2.10"}}}}
            """#)
        #expect(s.securityGroups == ["sg-0a1b2c3d"])
        #expect(s.actor == "arn:aws:iam::111122223333:user/dev")
        #expect(s.users.isEmpty)
        let planned = RemediationPlanner.propose(for: s, config: GavelConfig.builtInDefaults(databasePath: "gavel.db"), enabledActions: nil)
        #expect(planned.map(\.action) == ["delete-security-group"])
    }

    @Test func applicationSecurityActor() throws {
        let s = try json(
            #"""
            {"SECURITY_RULE_NAME":"Credential Stuffing attack","SECURITY_RULE_TYPE":"application_security",
             "SECURITY_SIGNAL_ATTRIBUTES":{"actor":{"ip":"203.0.113.99","ip_details":{"country":{"iso_code":"EX"}}},"usr":{"id":"victim-42"}}}
            """#)
        #expect(s.ips.map(\.description) == ["203.0.113.99"])
        #expect(s.users == ["victim-42"])
    }

    @Test func unrecognisedPayloadsAreFlagged() throws {
        for body in [#"{"hello":"world"}"#, "{}", #"{"SECURITY_SIGNAL_TITLE":"t"}"#, #"{"SECURITY_SIGNAL_ATTRIBUTES":{"foo":1}}"#] {
            #expect(try json(body).flags.contains(.unrecognised), "\(body)")
        }
        for body in [
            #"{"SECURITY_RULE_ID":"x"}"#, #"{"SECURITY_SIGNAL_ATTRIBUTES":{"usr":{"id":"a"}}}"#,
            #"{"SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":"AWS Internal"}}}}"#,
        ] {
            #expect(try !json(body).flags.contains(.unrecognised), "\(body)")
        }
        #expect(try json(#"{"SECURITY_RULE_NAME":"r"}"#).source == "datadog")
    }
}
