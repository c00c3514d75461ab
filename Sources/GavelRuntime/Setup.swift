import Foundation
import GavelCore
import GavelStore

/// What every verb starts from (DESIGN.md "Command line"): where the store is (`--db`, else
/// `$GAVEL_DB`, else `./gavel.db`), which configuration file (`--config`, else `$GAVEL_CONFIG`,
/// else `./gavel.json` when present), and the process environment.
public struct Setup: Sendable {
    public var location: StoreLocation
    /// The configuration file named or found; nil for none.
    public var configPath: String?
    public var environment: [String: String]

    /// - Parameters:
    ///   - db: `--db`, if given.
    ///   - config: `--config`, if given.
    public init(db: String?, config: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
        let nonEmpty: (String?) -> String? = { $0.flatMap { $0.isEmpty ? nil : $0 } }
        location = StoreLocation(db ?? nonEmpty(environment["GAVEL_DB"]) ?? "./gavel.db")
        if let c = config ?? nonEmpty(environment["GAVEL_CONFIG"]) {
            configPath = c
        } else if FileManager.default.fileExists(atPath: "./gavel.json") {
            configPath = "./gavel.json"
        }
    }

    /// Loads a configuration text the way this process must (its environment, its data directory).
    /// - Parameter receiving: true for the verbs that run the receiver (a `secret_env` naming an
    ///   unset variable is then an error).
    public func loader(receiving: Bool) -> @Sendable (String, String) throws -> GavelConfig {
        let environment = self.environment
        let base = location.configBasePath
        return { text, origin in
            try GavelConfig.load(text: text, origin: origin, environment: environment, databasePath: base, requireSecret: receiving)
        }
    }

    /// The built-in defaults (plus `$GAVEL_TOKEN`).
    public func builtIn(receiving: Bool) throws(ConfigFailure) -> GavelConfig {
        do {
            return try GavelConfig.load(path: nil, environment: environment, databasePath: location.configBasePath, requireSecret: receiving)
        } catch {
            throw ConfigFailure(error.description)
        }
    }

    /// This process's configuration file, read and checked; nil when there is none.
    /// - Throws: `ConfigFailure` naming the field at fault (exit 2 for every verb).
    public func configFile(receiving: Bool) throws(ConfigFailure) -> ConfigFile? {
        guard let path = configPath else { return nil }
        do {
            let text = try GavelConfig.readText(path: path)
            let config = try GavelConfig.load(path: path, environment: environment, databasePath: location.configBasePath, requireSecret: receiving)
            return ConfigFile(path: path, text: text, config: config)
        } catch {
            throw ConfigFailure(error.description)
        }
    }

    /// The configuration to use with `store` (see `ConfigurationChoice`). With `adoptAs`, a store
    /// with no configuration in force adopts this process's file (audited as `config-adopt` by that actor).
    /// - Throws: `ConfigFailure`, or the store's error.
    public func configuration(store: any Store, receiving: Bool, adoptAs actor: String?) throws -> LiveConfiguration {
        let file = try configFile(receiving: receiving)
        var inForce = try store.configurationInForce()
        if inForce == nil, let file, let actor {
            do {
                inForce = try store.applyConfiguration(
                    text: file.text, source: Setup.absolute(file.path), by: actor, expectedVersion: nil, at: .now)
            } catch StoreError.refused {
                inForce = try store.configurationInForce()  // another process adopted one meanwhile
            }
        }
        let builtIn = try builtIn(receiving: receiving)
        let load = loader(receiving: receiving)
        let choice = try ConfigurationChoice.choose(file: file, inForce: inForce, builtIn: builtIn, load: load)
        return LiveConfiguration(
            initial: choice, version: inForce?.version, entries: try store.allowlistEntries(), file: file, builtIn: builtIn, load: load)
    }

    /// `path` made absolute against the current folder (as recorded with an applied configuration).
    public static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Where gavel keeps its log and other files of its own: beside the database.
    public func dataFile(_ name: String) -> String { location.dataDirectory + name }
}
