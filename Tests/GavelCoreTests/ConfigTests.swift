import Foundation
import Testing

@testable import GavelCore

/// Writes `json` to a fresh temporary file and loads it as the config.
func loadTestConfig(_ json: String, environment: [String: String] = [:], databasePath: String = "/var/lib/gavel/gavel.db") throws(ConfigError)
    -> GavelConfig
{
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gavel-config-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let file = directory.appendingPathComponent("gavel.json")
    try? Data(json.utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try GavelConfig.load(path: file.path, environment: environment, databasePath: databasePath)
}

/// The config error loading `json` gives, or nil when it loads.
func configError(_ json: String, environment: [String: String] = [:]) -> ConfigError? {
    do {
        _ = try loadTestConfig(json, environment: environment)
        return nil
    } catch {
        return error
    }
}

/// The repository's `gavel.example.json`.
let exampleConfigPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("gavel.example.json").path

@Suite struct ConfigTests {
    @Test func builtInDefaults() throws {
        let config = GavelConfig.builtInDefaults(databasePath: "/var/lib/gavel/gavel.db")
        #expect(config.listen == nil && config.secret == nil)
        #expect(config.secretHeader == "X-Gavel-Token")
        #expect(config.maxBodyBytes == 1_048_576)
        #expect(config.autoLimits == AutoLimits(perRule: 10, global: 50, windowSeconds: 600))
        #expect(!config.allowInternalActionURLs)
        #expect(config.allowlist.protectInternal && config.allowlist.cidrs.isEmpty)
        #expect(Set(config.actions.keys) == ["ban-ip", "disable-user", "delete-security-group"])
        let ban = try #require(config.actions["ban-ip"])
        #expect(ban.target == .ip && ban.idempotent && !ban.confirm)
        guard case .outbox(let outbox) = ban.kind else {
            Issue.record("ban-ip is not an outbox action")
            return
        }
        #expect(outbox.path == "/var/lib/gavel/gavel-outbox.jsonl")
        #expect(outbox.headers.map(\.name) == ["Content-Type", "Idempotency-Key"])
        let delete = try #require(config.actions["delete-security-group"])
        #expect(delete.target == .securityGroup && !delete.idempotent && delete.confirm)
        #expect(config.actions["disable-user"]?.target == .user)
        #expect(GavelConfig.defaultOutboxPath(databasePath: "gavel.db") == "gavel-outbox.jsonl")
        #expect(GavelConfig.defaultOutboxPath(databasePath: "/gavel.db") == "/gavel-outbox.jsonl")
    }

    @Test func noFileTakesTheSecretFromTheEnvironment() throws {
        let config = try GavelConfig.load(path: nil, environment: ["GAVEL_TOKEN": "s3cret"], databasePath: "gavel.db")
        #expect(config.secret == "s3cret")
        #expect(try GavelConfig.load(path: nil, environment: ["GAVEL_TOKEN": ""], databasePath: "gavel.db").secret == nil)
        #expect(try GavelConfig.load(path: nil, environment: [:], databasePath: "gavel.db") == GavelConfig.builtInDefaults(databasePath: "gavel.db"))
    }

    @Test func loadsTheExampleFile() throws {
        let config = try GavelConfig.load(path: exampleConfigPath, environment: ["GAVEL_TOKEN": "t0ken"], databasePath: "/db/gavel.db")
        #expect(config.listen == "127.0.0.1:8787")
        #expect(config.secret == "t0ken")
        #expect(config.outboxPath == "/db/gavel-outbox.jsonl")
        #expect(config.allowlist.cidrs.map(\.description) == ["198.51.100.0/28", "2001:db8:ffff::/48"])
        #expect(config.allowlist.users == ["break-glass-admin@example.com"])
        #expect(Set(config.actions.keys) == ["ban-ip", "disable-user", "delete-security-group", "forward-signal"])
        #expect(config.rules["Request from unexpected IP address"] == RuleConfig(actions: ["ban-ip"], mode: .manual))
        #expect(config.rules["Fraudulent Credit Card Authorizations"]?.actions == ["disable-user"])
        #expect(config.rules["AWS security group open to the world"]?.actions == ["delete-security-group"])

        guard case .http(let ban)? = config.actions["ban-ip"]?.kind else {
            Issue.record("ban-ip is not http")
            return
        }
        #expect(ban.method == "POST" && ban.timeoutSeconds == 10 && ban.retries == 5)
        #expect(ban.url.text == "https://waf.example.com/v1/ip-sets/gavel-blocklist/addresses")
        #expect(ban.headers.map(\.name) == ["Authorization", "Content-Type", "Idempotency-Key", "User-Agent"])
        guard case .command(let disable)? = config.actions["disable-user"]?.kind else {
            Issue.record("disable-user is not a command")
            return
        }
        #expect(disable.argv.map(\.text) == ["/usr/local/bin/disable-user", "--reason", "gavel {{remediation_id}} {{rule_name}}", "--", "{{user}}"])
        #expect(disable.retries == 1)
        let delete = try #require(config.actions["delete-security-group"])
        #expect(!delete.idempotent && delete.confirm)
        guard case .http(let del) = delete.kind else {
            Issue.record("delete-security-group is not http")
            return
        }
        #expect(del.method == "DELETE" && del.body == nil && del.headers.map(\.name) == ["X-Api-Key", "Idempotency-Key", "User-Agent"])
        guard case .outbox(let forward)? = config.actions["forward-signal"]?.kind else {
            Issue.record("forward-signal is not outbox")
            return
        }
        // Relative paths are resolved against the database's directory.
        #expect(forward.path == "/db/forwarded-signals.jsonl")
    }

    @Test(arguments: [
        (#"{"lisen": "127.0.0.1:8787"}"#, "lisen", "unknown key"),
        (#"{"max_body_bytes": "1MB"}"#, "max_body_bytes", "expected an integer, got a string"),
        (#"{"max_body_bytes": 1.5}"#, "max_body_bytes", "expected an integer, got a number"),
        (#"{"max_body_bytes": 0}"#, "max_body_bytes", "0 is out of range 1…67108864"),
        (#"{"allow_internal_action_urls": 1}"#, "allow_internal_action_urls", "expected true or false, got a number"),
        (#"{"listen": "localhost"}"#, "listen", "expected HOST:PORT"),
        (#"{"secret_header": "X Token"}"#, "secret_header", "not an HTTP header name (RFC 9110 token)"),
        (#"{"auto_limits": {"per_rule": 5, "windows": 60}}"#, "auto_limits.windows", "unknown key"),
        (#"{"allowlist": {"cidrs": ["10.0.0.0/33"]}}"#, "allowlist.cidrs[0]", "not an address or CIDR range (a.b.c.d/n, x::y/n)"),
        (#"{"allowlist": {"cidrs": "10.0.0.0/8"}}"#, "allowlist.cidrs", "expected an array of strings, got a string"),
        (#"{"actions": {"ban-ip": {"http": {"url": "ftp://waf.example.com/x"}}}}"#, "actions.ban-ip.http.url", "not an http(s) URL"),
        (#"{"actions": {"ban-ip": {"http": {"url": "waf.example.com/x"}}}}"#, "actions.ban-ip.http.url", "not an http(s) URL"),
        (#"{"actions": {"ban-ip": {"http": {"url": "https:/waf.example.com/x"}}}}"#, "actions.ban-ip.http.url", "not an http(s) URL"),
        (#"{"actions": {"ban-ip": {"http": {"url": "https:///x"}}}}"#, "actions.ban-ip.http.url", "not an http(s) URL (no host)"),
        (#"{"actions": {"ban-ip": {"http": {"url": "file:///etc/passwd"}}}}"#, "actions.ban-ip.http.url", "not an http(s) URL"),
        (#"{"actions": {"ban-ip": {"http": {"url": "https://waf.example.com/x", "retires": 3}}}}"#, "actions.ban-ip.http.retires", "unknown key"),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://waf.example.com/{{targte}}"}}}}"#, "actions.ban-ip.http.url",
            "unknown placeholder {{targte}}"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://waf.example.com/{{ target }}"}}}}"#, "actions.ban-ip.http.url",
            "unknown placeholder {{ target }}"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://{{target}}.example.com/"}}}}"#, "actions.ban-ip.http.url",
            "placeholders are not allowed in the scheme or host"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "body": {"a": ["{{ip}}", "{{nope}}"]}}}}}"#,
            "actions.ban-ip.http.body.a[1]", "unknown placeholder {{nope}}"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "body": {"a": "{{ip"}}}}}"#, "actions.ban-ip.http.body.a",
            "unbalanced '{{' (no closing '}}')"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "headers": {"X-A": "a}}"}}}}}"#, "actions.ban-ip.http.headers.X-A",
            "unbalanced '}}' (no opening '{{')"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "headers": {"Host": "a"}}}}}"#, "actions.ban-ip.http.headers.Host",
            "set by the HTTP client; cannot be configured"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "method": "post"}}}}"#, "actions.ban-ip.http.method",
            "expected an upper-case HTTP method (POST, PUT, DELETE, …)"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "timeout_seconds": 0}}}}"#, "actions.ban-ip.http.timeout_seconds",
            "0 is out of range (more than 0, at most 300)"
        ),
        (#"{"actions": {"ban-ip": {"outbox": {"pth": "x.jsonl"}}}}"#, "actions.ban-ip.outbox.pth", "unknown key"),
        (#"{"actions": {"ban-ip": {"command": {"argv": ["/bin/true"], "timeout": 3}}}}"#, "actions.ban-ip.command.timeout", "unknown key"),
        (#"{"actions": {"ban-ip": {"idempotant": true}}}"#, "actions.ban-ip.idempotant", "unknown key"),
        (#"{"actions": {"ban-ip": {"target": "user"}}}"#, "actions.ban-ip.target", "the built-in action ban-ip acts on ip"),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/"}, "command": {"argv": ["/bin/true"]}}}}"#, "actions.ban-ip",
            "give only one of http, command, outbox"
        ),
        (#"{"actions": {"notify": {"outbox": {}}}}"#, "actions.notify.target", "required (one of ip, user, security_group, signal)"),
        (#"{"actions": {"notify": {"target": "ip"}}}"#, "actions.notify", "one of http, command, outbox is required"),
        (
            #"{"actions": {"bad name": {"target": "ip", "outbox": {}}}}"#, #"actions["bad name"]"#,
            "not an action name (1–64 characters of A–Z a–z 0–9 . _ -, starting with a letter or digit)"
        ),
        (
            #"{"actions": {"ban-ip": {"command": {"argv": ["ban", "{{ip}}"]}}}}"#, "actions.ban-ip.command.argv[0]",
            "the program must be an absolute path with no placeholders (no $PATH lookup, no shell)"
        ),
        (
            #"{"actions": {"ban-ip": {"command": {"argv": []}}}}"#, "actions.ban-ip.command.argv",
            "required: a non-empty array (program path, then arguments)"
        ),
        (#"{"actions": {"ban-ip": {"target_pattern": "[0-9"}}}"#, "actions.ban-ip.target_pattern", ""),
        (
            #"{"rules": {"Impossible travel": {"actions": ["ban-ip", "ban-ipp"]}}}"#, #"rules["Impossible travel"].actions[1]"#,
            #"unknown action "ban-ipp" (known: ban-ip, delete-security-group, disable-user)"#
        ),
        (#"{"rules": {"r1": {"actions": ["ban-ip", "ban-ip"]}}}"#, "rules.r1.actions[1]", #"action "ban-ip" listed twice"#),
        (#"{"rules": {"r1": {"mode": "automatic"}}}"#, "rules.r1.mode", "expected manual, auto or dry-run"),
        (#"{"rules": {"r1": {"action": ["ban-ip"]}}}"#, "rules.r1.action", "unknown key"),
        (#"{"rules": {"r1": ["ban-ip"]}}"#, "rules.r1", "expected an object, got an array"),
        (#"{"secret": ""}"#, "secret", "empty"),
        (#"{"secret_env": "MY-TOKEN"}"#, "secret_env", "not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"),
        (#"{"secret_env": "MY_TOKEN"}"#, "secret_env", "environment variable MY_TOKEN is not set (and no secret is given)"),
        (#"[1, 2]"#, "", "expected an object, got an array"),
        (
            #"{"actions": {"ban-ip": {"command": {"argv": ["/bin/true"], "path": "/usr/bin::/bin"}}}}"#, "actions.ban-ip.command.path",
            "expected absolute directories"
        ),
        (
            #"{"actions": {"ban-ip": {"command": {"argv": ["/bin/true"], "path": "bin:/usr/bin"}}}}"#, "actions.ban-ip.command.path",
            "expected absolute directories"
        ),
        (
            #"{"actions": {"ban-ip": {"command": {"argv": ["/bin/true"], "pass_env": ["HOME", "AWS-KEY"]}}}}"#, "actions.ban-ip.command.pass_env[1]",
            "expected a variable name"
        ),
        (
            #"{"actions": {"ban-ip": {"command": {"argv": ["/bin/true"], "pass_env": ["*"]}}}}"#, "actions.ban-ip.command.pass_env[0]",
            "expected a variable name"
        ),
        (
            #"{"actions": {"ban-ip": {"command": {"argv": ["/bin/true"], "pass_env": ["PATH"]}}}}"#, "actions.ban-ip.command.pass_env[0]",
            "set the command's PATH with \"path\""
        ),
        (
            #"{"actions": {"ban-ip": {"command": {"argv": ["/bin/true"], "pass_env": ["GAVEL_IDEMPOTENCY_KEY"]}}}}"#,
            "actions.ban-ip.command.pass_env[0]", "set by gavel"
        ),
        (
            #"{"actions": {"ban-ip": {"http": {"url": "https://a.example.com/x", "retry_for": "2d"}}}}"#, "actions.ban-ip.http.retry_for",
            "expected a duration of at most 24h"
        ),
    ])
    func errorsNameTheirField(_ json: String, _ field: String, _ message: String) throws {
        let error = try #require(configError(json))
        #expect(error.field == field)
        if !message.isEmpty {
            #expect(error.message.hasPrefix(message), "\(error.message)")
        }
        #expect(error.description == (field.isEmpty ? "config: \(error.message)" : "config: \(field): \(error.message)"))
    }

    @Test(arguments: [
        "http://127.0.0.1:9000/ban", "http://localhost/ban", "http://LOCALHOST./ban", "http://api.localhost/ban",
        "http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.0.0.5/ban", "https://192.168.1.10/ban", "https://172.16.0.1/ban", "http://[::1]:8080/ban",
        "http://[fd00::5]/ban", "http://[fe80::1]/ban", "http://[::ffff:127.0.0.1]/ban", "http://0.0.0.0/ban",
        "http://user:pw@127.0.0.1/ban", "http://100.64.1.1/ban", "http://[::ffff:0:7f00:1]/ban",
    ])
    func internalURLsNeedTheOptIn(_ url: String) throws {
        let json = #"{"actions": {"ban-ip": {"http": {"url": "\#(url)"}}}}"#
        let error = try #require(configError(json))
        #expect(error.field == "actions.ban-ip.http.url")
        #expect(error.message.contains("allow_internal_action_urls"))
        let allowed = #"{"allow_internal_action_urls": true, "actions": {"ban-ip": {"http": {"url": "\#(url)"}}}}"#
        #expect(configError(allowed) == nil)
    }

    @Test(arguments: [
        "http://127.1/ban", "http://2130706433/ban", "http://0x7f.0.0.1/ban", "http://0177.0.0.1/ban", "http://[fe80::1%25eth0]/ban",
        "http://%31%32%37.0.0.1/ban", "http://127.0.0.1./ban", "http://1.2.3/ban",
        // Unicode spellings IDNA maps to 127.0.0.1 (found by the second attacker pass).
        "http://127\u{3002}0\u{3002}0\u{3002}1/ban", "http://\u{2460}\u{2461}\u{2466}.0.0.1/ban",
    ])
    func ambiguousNumericHostsAreRefused(_ url: String) throws {
        let error = try #require(configError(#"{"actions": {"ban-ip": {"http": {"url": "\#(url)"}}}}"#))
        #expect(error.field == "actions.ban-ip.http.url")
    }

    @Test func publicURLsAndCommentsAreAccepted() throws {
        let config = try loadTestConfig(
            #"""
            {"_comment": "top", "_comment2": "more",
             "actions": {"_comment": "in a map", "ban-ip": {"_comment": "x", "http": {"_comment": "y", "url": "https://203.0.113.5:8443/ban?ip={{ip}}#{{rule_id}}"}}},
             "rules": {"_comment": "rules too", "r1": {"_comment": "z", "actions": ["ban-ip"], "mode": "dry-run"}}}
            """#)
        #expect(config.rules["r1"] == RuleConfig(actions: ["ban-ip"], mode: .dryRun))
        #expect(config.rules.count == 1)
    }

    @Test func secretPrecedence() throws {
        // The environment variable wins over the file; the file is the fallback.
        #expect(try loadTestConfig(#"{"secret": "from-file"}"#, environment: ["GAVEL_TOKEN": "from-env"]).secret == "from-env")
        #expect(try loadTestConfig(#"{"secret": "from-file"}"#).secret == "from-file")
        #expect(try loadTestConfig(#"{"secret_env": "HOOK_TOKEN"}"#, environment: ["HOOK_TOKEN": "abc", "GAVEL_TOKEN": "no"]).secret == "abc")
        #expect(try loadTestConfig(#"{"secret_env": "HOOK_TOKEN", "secret": "file"}"#).secret == "file")
        #expect(try loadTestConfig(#"{}"#).secret == nil)
        let bad = try #require(configError("{}", environment: ["GAVEL_TOKEN": "a b"]))
        #expect(bad.field == "$GAVEL_TOKEN")
    }

    @Test func outboxPathAppliesToBuiltInsAndResolvesRelativePaths() throws {
        let config = try loadTestConfig(#"{"outbox_path": "/srv/gavel/out.jsonl", "actions": {"ban-ip": {"confirm": true}}}"#)
        for name in ["ban-ip", "disable-user", "delete-security-group"] {
            guard case .outbox(let outbox)? = config.actions[name]?.kind else {
                Issue.record("\(name) is not outbox")
                continue
            }
            #expect(outbox.path == "/srv/gavel/out.jsonl")
        }
        #expect(config.actions["ban-ip"]?.confirm == true)
    }

    @Test func unreadableOrMalformedFiles() throws {
        let missing = try #require(
            #expect(throws: ConfigError.self) {
                try GavelConfig.load(path: "/nonexistent/gavel.json", environment: [:], databasePath: "gavel.db")
            })
        #expect(missing.field == "" && missing.message.hasPrefix("cannot read /nonexistent/gavel.json"))
        #expect(try #require(configError("{\"listen\": ")).message.hasSuffix("not valid UTF-8 JSON"))
    }

    @Test func bodyNullAndDefaults() throws {
        let config = try loadTestConfig(
            #"{"actions": {"ban-ip": {"http": {"url": "https://x.example.com/", "method": "PUT", "body": null, "headers": {"idempotency-key": "k-{{remediation_id}}"}}}}}"#
        )
        guard case .http(let http)? = config.actions["ban-ip"]?.kind else {
            Issue.record("not http")
            return
        }
        #expect(http.method == "PUT" && http.body == nil)
        // No body: no Content-Type; a configured Idempotency-Key (any case) replaces the default.
        #expect(http.headers.map(\.name) == ["idempotency-key", "User-Agent"])
    }
}

extension ConfigTests {
    @Test func theExampleRequiresItsSecretVariable() throws {
        let error = try #require(
            #expect(throws: ConfigError.self) {
                try GavelConfig.load(path: exampleConfigPath, environment: [:], databasePath: "gavel.db")
            })
        #expect(error.description == "config: secret_env: environment variable GAVEL_TOKEN is not set (and no secret is given)")
        // Verbs that do not receive (list, approve, dispatch, …) load it without the secret.
        let relaxed = try GavelConfig.load(path: exampleConfigPath, environment: [:], databasePath: "gavel.db", requireSecret: false)
        #expect(relaxed.secret == nil)
    }

    /// Issue 16 item 13: a command action's environment is configured per action.
    @Test func commandEnvironmentIsConfiguredPerAction() throws {
        let config = try loadTestConfig(
            #"{"actions": {"ban-ip": {"command": {"argv": ["/usr/local/bin/ban", "--", "{{ip}}"], "path": "/usr/local/bin:/usr/bin:/bin", "pass_env": ["HOME", "AWS_*"]}}, "disable-user": {"command": {"argv": ["/bin/true"]}}}}"#
        )
        guard case .command(let ban)? = config.actions["ban-ip"]?.kind, case .command(let plain)? = config.actions["disable-user"]?.kind else {
            Issue.record("not commands")
            return
        }
        #expect(ban.path == "/usr/local/bin:/usr/bin:/bin" && ban.passEnvironment == ["HOME", "AWS_*"])
        #expect(plain.path == "/usr/bin:/bin" && plain.passEnvironment.isEmpty)
        // What is bound at approval keeps them, and the preview says what the child gets.
        let action = try #require(config.actions["ban-ip"])
        let rendered = try action.render(
            TemplateContext(action: action, target: "203.0.113.7", signal: nil, remediationID: "1", idempotencyKey: "k", decidedBy: "a"))
        #expect(RenderedRequest(storageText: rendered.storageText) == rendered)
        #expect(
            rendered.displayText == """
                exec ["/usr/local/bin/ban","--","203.0.113.7"]
                env: PATH=/usr/local/bin:/usr/bin:/bin GAVEL_IDEMPOTENCY_KEY=(the idempotency key), and from gavel's environment HOME AWS_*
                """)
    }
}
