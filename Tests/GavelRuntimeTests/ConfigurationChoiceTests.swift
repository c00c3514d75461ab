import Foundation
import GavelCore
import GavelStore
import Testing

@testable import GavelRuntime

/// One configuration per store: which configuration a process uses, and when it holds dispatch.
@Suite struct ConfigurationChoiceTests {
    let base = "/tmp/gavel-choice/gavel.db"
    let http = #"{"allow_internal_action_urls": true, "actions": {"ban-ip": {"target": "ip", "http": {"url": "http://127.0.0.1:9/ban"}}}}"#
    let other = #"{"allow_internal_action_urls": true, "actions": {"ban-ip": {"target": "ip", "http": {"url": "http://127.0.0.1:9/other"}}}}"#

    func load(_ text: String, _ origin: String) throws -> GavelConfig {
        try GavelConfig.load(text: text, origin: origin, environment: [:], databasePath: base)
    }

    func file(_ text: String) throws -> ConfigFile { ConfigFile(path: "./gavel.json", text: text, config: try load(text, "file")) }

    func inForce(_ text: String, version: Int = 3) -> StoredConfiguration {
        StoredConfiguration(
            version: version, text: text, sha256: SHA256.hex(SHA256.hash(Array(text.utf8))), source: "/etc/gavel.json", appliedBy: "alice",
            appliedAt: Timestamp(milliseconds: 0))
    }

    var builtIn: GavelConfig { GavelConfig.builtInDefaults(databasePath: base) }

    @Test func withoutAFileAProcessUsesTheConfigurationInForce() throws {
        let choice = try ConfigurationChoice.choose(file: nil, inForce: inForce(http), builtIn: builtIn, load: load)
        #expect(choice.config.version == 3 && choice.heldBecause == nil)
        guard case .http(let h)? = choice.config.actions["ban-ip"]?.kind else {
            Issue.record("not the HTTP action")
            return
        }
        #expect(h.url.text == "http://127.0.0.1:9/ban")
        #expect(choice.description.contains("version 3 in force (applied by alice"))
    }

    @Test func aFileWithTheSameMeaningIsFineAndADifferentOneHoldsDispatch() throws {
        let same = try ConfigurationChoice.choose(
            file: try file(http.replacingOccurrences(of: ", ", with: ",\n  ")), inForce: inForce(http), builtIn: builtIn, load: load)
        #expect(same.heldBecause == nil && same.config.version == 3)
        let differs = try ConfigurationChoice.choose(file: try file(other), inForce: inForce(http), builtIn: builtIn, load: load)
        #expect(differs.heldBecause?.contains("gavel config apply ./gavel.json") == true)
        #expect(differs.config == (try ConfigurationChoice.choose(file: nil, inForce: inForce(http), builtIn: builtIn, load: load)).config)
    }

    @Test func withNothingInForceTheFileOrTheDefaultsApply() throws {
        let fromFile = try ConfigurationChoice.choose(file: try file(http), inForce: nil, builtIn: builtIn, load: load)
        #expect(fromFile.config.version == nil && fromFile.description.contains("not applied"))
        let defaults = try ConfigurationChoice.choose(file: nil, inForce: nil, builtIn: builtIn, load: load)
        #expect(defaults.config == builtIn && defaults.description.contains("built-in defaults"))
    }

    @Test func aConfigurationInForceThisProcessCannotLoadIsAClearError() {
        #expect(throws: ConfigFailure.self) {
            try ConfigurationChoice.choose(file: nil, inForce: inForce(#"{"bogus": 1}"#), builtIn: builtIn, load: load)
        }
    }

    /// The newcomer's finding: editing the file and `gavel config apply`-ing it held dispatch in
    /// the running process, which compared the file as read at its start with the new version.
    /// The file is read again when the version in force changes.
    @Test func aRunningProcessFollowsItsFileOnceTheFileIsApplied() throws {
        let folder = NSTemporaryDirectory() + "gavel-live-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/gavel.json"
        try http.write(toFile: path, atomically: true, encoding: .utf8)
        let store = try StoreLocation(folder + "/gavel.db").engine().open(.create)
        _ = try store.applyConfiguration(text: http, source: path, by: "alice", expectedVersion: nil, at: .now)
        let started = ConfigFile(path: path, text: http, config: try load(http, path))
        let first = try ConfigurationChoice.choose(file: started, inForce: try store.configurationInForce(), builtIn: builtIn, load: load)
        let live = LiveConfiguration(
            initial: first, version: 1, file: started, builtIn: builtIn,
            load: { try GavelConfig.load(text: $0, origin: $1, environment: [:], databasePath: folder + "/gavel.db") })
        #expect(live.heldBecause == nil)
        // Edit the file, apply it: the running process takes version 2 and is not held.
        try other.write(toFile: path, atomically: true, encoding: .utf8)
        _ = try store.applyConfiguration(text: other, source: path, by: "bob", expectedVersion: 1, at: .now)
        #expect(try live.refresh(from: store) != nil)
        #expect(live.heldBecause == nil)
        guard case .http(let h)? = live.config.actions["ban-ip"]?.kind else {
            Issue.record("not the HTTP action")
            return
        }
        #expect(h.url.text == "http://127.0.0.1:9/other")
        // Someone else applies a third configuration: this process's file now differs, so it holds.
        _ = try store.applyConfiguration(text: http, source: "/elsewhere/gavel.json", by: "carol", expectedVersion: 2, at: .now)
        #expect(try live.refresh(from: store) != nil)
        #expect(live.heldBecause?.contains("differs from the configuration in force (version 3") == true)
    }
}
