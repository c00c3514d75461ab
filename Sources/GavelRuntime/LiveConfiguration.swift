import Foundation
import GavelCore
import GavelDispatch
import GavelStore
import Synchronization

/// A configuration problem: exit 2 with a message naming the field or file.
public struct ConfigFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The configuration file a process brings: `--config`, else `$GAVEL_CONFIG`, else `./gavel.json`
/// when present (DESIGN.md "Command line").
public struct ConfigFile: Sendable, Equatable {
    /// The file's path as named.
    public var path: String
    /// Its text.
    public var text: String
    /// Its text, checked and loaded.
    public var config: GavelConfig
}

/// Which configuration a process decides and dispatches under, and why (DESIGN.md: one
/// configuration per store).
///
/// Every process sharing a store uses the configuration in force there (`ConfigurationRegistry`):
/// - none in force and a file: the file (a process that runs or decides adopts it, audited);
/// - none and no file: the built-in defaults (every action an outbox action);
/// - one in force and no file, or a file with the same meaning: the one in force;
/// - one in force and a file that differs: the one in force, and dispatch is **held** in this
///   process (with a message) until the difference is applied on purpose (`gavel config apply`).
public struct ConfigurationChoice: Sendable, Equatable {
    /// The configuration to use (its `version` set when it is the one in force).
    public var config: GavelConfig
    /// One line: which configuration this is (`configuration version 3 in force (applied by …)`).
    public var description: String
    /// Why this process must not dispatch, when its file differs from the configuration in force.
    public var heldBecause: String?

    /// Chooses between a process's file and the configuration in force.
    /// - Parameters:
    ///   - file: the process's configuration file, if any.
    ///   - inForce: the configuration in force in the store, if any.
    ///   - load: loads a configuration text (with this process's environment and data directory).
    /// - Throws: `ConfigFailure` when the configuration in force cannot be loaded here (for example
    ///   a `secret_env` variable this process lacks).
    public static func choose(file: ConfigFile?, inForce: StoredConfiguration?, builtIn: GavelConfig, load: (String, String) throws -> GavelConfig)
        throws(ConfigFailure) -> ConfigurationChoice
    {
        guard let inForce else {
            if let file {
                return ConfigurationChoice(config: file.config, description: "configuration from \(file.path) (not applied to the store yet)")
            }
            return ConfigurationChoice(config: builtIn, description: "built-in defaults (no configuration file, none in force)")
        }
        var config: GavelConfig
        do {
            config = try load(inForce.text, "the configuration in force (version \(inForce.version))")
        } catch {
            throw ConfigFailure("the configuration in force (version \(inForce.version)) cannot be used here: \(error)")
        }
        config.version = inForce.version
        let described =
            "configuration version \(inForce.version) in force (applied by \(inForce.appliedBy) at \(inForce.appliedAt.rfc3339)"
            + (inForce.source.map { " from \($0)" } ?? "") + ")"
        guard let file else { return ConfigurationChoice(config: config, description: described) }
        var mine = file.config
        mine.version = inForce.version
        if mine == config { return ConfigurationChoice(config: config, description: described) }
        let held =
            "\(file.path) differs from the configuration in force (version \(inForce.version), applied by \(inForce.appliedBy)); "
            + "dispatch is held here until you run 'gavel config apply \(file.path)' (or start without it to use version \(inForce.version))"
        return ConfigurationChoice(config: config, description: described, heldBecause: held)
    }
}

/// The configuration a running process uses, kept current: `refresh` re-reads the configuration
/// in force (every couple of seconds in `Runtime`), so an apply made by another process takes
/// effect here too, and a held dispatch resumes once the file's difference is applied.
///
/// Thread-safety: `Sendable`; the choice is behind a `Mutex`, read by the receiver's threads, the
/// dispatcher and the console.
public final class LiveConfiguration: Sendable {
    private struct State {
        var choice: ConfigurationChoice
        var version: Int?
        /// Allowlist entries added at run time (`gavel allowlist add`), on top of the configuration's.
        var entries: [AllowlistEntry]
        /// The process's configuration file as last read.
        var file: ConfigFile?
    }

    private let state: Mutex<State>
    let builtIn: GavelConfig
    let load: @Sendable (String, String) throws -> GavelConfig

    /// - Parameters:
    ///   - initial: the choice made at start (`ConfigurationChoice.choose`).
    ///   - version: the version in force it was made with.
    ///   - entries: the store's run-time allowlist entries.
    public init(
        initial: ConfigurationChoice, version: Int?, entries: [AllowlistEntry] = [], file: ConfigFile?, builtIn: GavelConfig,
        load: @escaping @Sendable (String, String) throws -> GavelConfig
    ) {
        state = Mutex(State(choice: initial, version: version, entries: entries, file: file))
        self.builtIn = builtIn
        self.load = load
    }

    /// The configuration to decide and dispatch under now, its allowlist including the run-time entries.
    public var config: GavelConfig {
        state.withLock { s in
            var config = s.choice.config
            config.allowlist = config.allowlist.adding(s.entries)
            return config
        }
    }
    /// The senders' settings of the configuration in force (read by the receiver at each webhook
    /// request: cheaper than `config`, which also merges the run-time allowlist).
    public var senders: SenderSettings { state.withLock { $0.choice.config.senders } }
    /// Which configuration this is, in one line.
    public var description: String { state.withLock { $0.choice.description } }
    /// Why dispatch is held here, nil when it is not.
    public var heldBecause: String? { state.withLock { $0.choice.heldBecause } }
    /// What the dispatcher runs under.
    public var dispatchSettings: DispatchSettings { DispatchSettings(config: config, heldBecause: heldBecause) }

    /// Re-reads the configuration in force and the run-time allowlist; when the version changed,
    /// re-reads this process's file too (the usual change is: edit the file, `gavel config apply`
    /// it — the file then matches the new version) and chooses again. A file that can no longer
    /// be read or loaded keeps its last good reading.
    /// - Returns: the new description when the choice changed, nil otherwise.
    @discardableResult
    public func refresh(from store: any ConfigurationRegistry & AllowlistBook) throws -> String? {
        let entries = try store.allowlistEntries()
        let inForce = try store.configurationInForce()
        let (version, known) = state.withLock { s in
            s.entries = entries
            return (s.version, s.file)
        }
        guard version != inForce?.version else { return nil }
        var file = known
        if let path = known?.path, let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8),
            text != known?.text, let config = try? load(text, path)
        {
            file = ConfigFile(path: path, text: text, config: config)
        }
        let next = try ConfigurationChoice.choose(file: file, inForce: inForce, builtIn: builtIn, load: load)
        state.withLock {
            $0.choice = next
            $0.version = inForce?.version
            $0.file = file
        }
        return next.description + (next.heldBecause.map { "; " + $0 } ?? "")
    }
}
