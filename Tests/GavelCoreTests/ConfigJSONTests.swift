import Foundation
import Testing

@testable import GavelCore

/// Loads `bytes` (written as is) as the config file.
func loadTestConfigBytes(_ bytes: [UInt8]) throws(ConfigError) -> GavelConfig {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gavel-config-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let file = directory.appendingPathComponent("gavel.json")
    try? Data(bytes).write(to: file)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try GavelConfig.load(path: file.path, environment: [:], databasePath: "/var/lib/gavel/gavel.db")
}

/// How the config file is read as JSON: document order, repeated keys, strict numbers.
@Suite struct ConfigJSONTests {
    @Test func headersAndBodyKeepTheFilesOrder() throws {
        let config = try loadTestConfig(
            #"""
            {"actions": {
              "ban-ip": {"http": {"url": "https://waf.example.com/ban",
                                  "headers": {"Z-Last-Alphabetically": "z", "Authorization": "Bearer t", "M-Middle": "m"},
                                  "body": {"zeta": "{{ip}}", "alpha": {"y": 1, "b": [2, {"d": 0, "c": 1}]}, "mid": null}}},
              "disable-user": {"outbox": {"headers": {"X-Z": "1", "X-A": "2"}}}}}
            """#)
        guard case .http(let http)? = config.actions["ban-ip"]?.kind else {
            Issue.record("not http")
            return
        }
        #expect(http.headers.map(\.name) == ["Z-Last-Alphabetically", "Authorization", "M-Middle", "Content-Type", "Idempotency-Key", "User-Agent"])
        #expect(http.body?.value.compactText == #"{"zeta":"{{ip}}","alpha":{"y":1,"b":[2,{"d":0,"c":1}]},"mid":null}"#)
        guard case .outbox(let outbox)? = config.actions["disable-user"]?.kind else {
            Issue.record("not outbox")
            return
        }
        #expect(outbox.headers.map(\.name) == ["X-Z", "X-A", "Content-Type", "Idempotency-Key"])
    }

    @Test func numbersKeepTheirTextInTheBody() throws {
        let config = try loadTestConfig(
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "body": {"id": 123456789012345678901, "f": 1.50, "e": -2E+3}}}}}"#)
        guard case .http(let http)? = config.actions["ban-ip"]?.kind else {
            Issue.record("not http")
            return
        }
        #expect(http.body?.value.compactText == #"{"id":123456789012345678901,"f":1.50,"e":-2E+3}"#)
    }

    @Test(arguments: [
        (#"{"listen": "127.0.0.1:1", "listen": "127.0.0.1:2"}"#, "listen"),
        (#"{"auto_limits": {"global": 1, "per_rule": 2, "global": 3}}"#, "auto_limits.global"),
        (#"{"actions": {"ban-ip": {"confirm": true}, "ban-ip": {"confirm": false}}}"#, "actions.ban-ip"),
        (#"{"actions": {"ban-ip": {"http": {"url": "https://a.example.com/", "\u0075rl": "https://b.example.com/"}}}}"#, "actions.ban-ip.http.url"),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://a.example.com/", "headers": {"X-A": "1", "X-A": "2"}}}}}"#,
            "actions.ban-ip.http.headers.X-A"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://a.example.com/", "body": {"ip": "{{ip}}", "ip": "1.2.3.4"}}}}}"#,
            "actions.ban-ip.http.body.ip"
        ),
        (#"{"actions": {"ban-ip": {"outbox": {"body": {"a": [{"k": 1, "k": 2}]}}}}}"#, "actions.ban-ip.outbox.body.a[0].k"),
        (#"{"rules": {"Impossible travel": {"mode": "auto"}, "Impossible travel": {"mode": "manual"}}}"#, #"rules["Impossible travel"]"#),
        (#"{"allowlist": {"users": ["a"], "users": ["b"]}}"#, "allowlist.users"),
    ])
    func repeatedKeysAreRefused(_ json: String, _ field: String) throws {
        let error = try #require(configError(json))
        #expect(error.field == field)
        #expect(error.message == "repeated key")
    }

    @Test func repeatedCommentsAreAccepted() throws {
        let config = try loadTestConfig(#"{"_comment": "a", "_comment": "b", "rules": {"_comment": "x", "_comment": "y", "r1": {"mode": "auto"}}}"#)
        #expect(config.rules["r1"]?.mode == .auto)
        // In a body a `_comment` key is data, so it may not repeat either.
        let error = try #require(configError(#"{"actions": {"ban-ip": {"outbox": {"body": {"_comment": 1, "_comment": 2}}}}}"#))
        #expect(error.field == "actions.ban-ip.outbox.body._comment" && error.message == "repeated key")
    }

    @Test func unknownKeysAndActionsAreReportedInTheFilesOrder() throws {
        #expect(configError(#"{"zzz": 1, "aaa": 2}"#)?.field == "zzz")
        let error = try #require(configError(#"{"actions": {"zz-bad": {"target": "ip"}, "aa-bad": {"target": "ip"}}}"#))
        #expect(error.field == "actions.zz-bad")
    }

    @Test(arguments: [
        (#"{"max_body_bytes": 1.0}"#, "max_body_bytes", "expected an integer, got a number"),
        (#"{"max_body_bytes": 1e3}"#, "max_body_bytes", "expected an integer, got a number"),
        (#"{"max_body_bytes": true}"#, "max_body_bytes", "expected an integer, got true"),
        (#"{"max_body_bytes": -1}"#, "max_body_bytes", "-1 is out of range 1…67108864"),
        (#"{"max_body_bytes": 99999999999999999999999}"#, "max_body_bytes", "99999999999999999999999 is out of range 1…67108864"),
        (#"{"auto_limits": {"global": -0}}"#, "", ""),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "timeout_seconds": 1e400}}}}"#, "actions.ban-ip.http.timeout_seconds",
            "1e400 is out of range (more than 0, at most 300)"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "timeout_seconds": 300.5}}}}"#, "actions.ban-ip.http.timeout_seconds",
            "300.5 is out of range (more than 0, at most 300)"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "timeout_seconds": "5"}}}}"#, "actions.ban-ip.http.timeout_seconds",
            "expected a number of seconds, got a string"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "headers": {"X-A": 1}}}}}"#, "actions.ban-ip.http.headers.X-A",
            "expected a string, got a number"
        ),
        (#"{"allowlist": {"users": ["a", {}]}}"#, "allowlist.users[1]", "expected a string, got an object"),
        (#"{"allowlist": {"protect_internal": "yes"}}"#, "allowlist.protect_internal", "expected true or false, got a string"),
    ])
    func numbersAndTypesAreReadStrictly(_ json: String, _ field: String, _ message: String) throws {
        let error = configError(json)
        if field.isEmpty {
            #expect(error == nil)
            return
        }
        #expect(error?.field == field)
        #expect(error?.message == message)
    }

    @Test func fractionalSecondsAreAccepted() throws {
        let config = try loadTestConfig(
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "timeout_seconds": 0.25, "retries": 0}}}}"#)
        guard case .http(let http)? = config.actions["ban-ip"]?.kind else {
            Issue.record("not http")
            return
        }
        #expect(http.timeoutSeconds == 0.25 && http.retries == 0)
    }

    @Test func fileLevelProblems() throws {
        // A UTF-8 byte order mark is skipped (RFC 8259 §8.1).
        #expect(try loadTestConfigBytes([0xEF, 0xBB, 0xBF] + Array(#"{"listen": "127.0.0.1:9"}"#.utf8)).listen == "127.0.0.1:9")
        for bad: [UInt8] in [
            Array(#"{"listen": ""#.utf8) + [0xFF] + Array(#""}"#.utf8),  // invalid UTF-8 in a string
            Array(#"{"a": 1,}"#.utf8),  // trailing comma
            Array(#"{"a": 01}"#.utf8),  // leading zero
            Array("// comment\n{}".utf8),
            [],
            Array(String(repeating: "[", count: 65).utf8) + Array(String(repeating: "]", count: 65).utf8),
        ] {
            let error = try #require(#expect(throws: ConfigError.self) { try loadTestConfigBytes(bad) })
            #expect(error.field == "")
            #expect(error.message.contains("at byte "))
            #expect(error.message.hasSuffix("not valid UTF-8 JSON"))
        }
        let scalar = try #require(#expect(throws: ConfigError.self) { try loadTestConfigBytes(Array("42".utf8)) })
        #expect(scalar.field == "" && scalar.message == "expected an object, got a number")
    }

    @Test func parserCanKeepRepeatedKeys() throws {
        let text = Array(#"{"a": 1, "b": 2, "a": 3}"#.utf8)
        #expect(try JSONValue.parse(text) == .object([JSONMember("a", 3), JSONMember("b", 2)]))
        let kept = try JSONValue.parse(text, keepingRepeatedKeys: true)
        #expect(kept == .object([JSONMember("a", 1), JSONMember("b", 2), JSONMember("a", 3)]))
        #expect(kept["a"] == 3)
    }

    @Test func compactTextEscapesDELAndLineSeparators() throws {
        let v = JSONValue.string("a\u{7F}b\u{2028}c\u{2029}d\u{2027}\u{202A}é")
        // U+202A (a bidi control) is escaped too since issue 16; its neighbour U+2027 is not.
        #expect(v.compactText == #""a\u007fb\u2028c\u2029d"# + "\u{2027}" + #"\u202a"# + "é\"")
        #expect(try JSONValue.parse(v.compactText) == v)
        #expect(JSONValue.string("\u{2028}").compactText == #""\u2028""#)
        #expect(JSONValue.string("\u{E2}").compactText == "\"\u{E2}\"")
    }
}
