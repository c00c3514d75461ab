import Foundation
import GavelCore
import GavelStore
import GavelStorePostgres
import GavelTestSupport
import Synchronization

@testable import GavelStoreSQLite

/// The engines the store contract suite runs against. Adding an engine is adding a case here and
/// its branch in `StoreHarness.init` (the one factory); every contract test then runs on it.
enum EngineKind: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite
    /// A database of its own on the test run's throwaway cluster (`PostgresCluster.shared`).
    case postgres

    var description: String { rawValue }

    /// The engines that can run here: PostgreSQL is left out, with a note on stderr, only when
    /// the server binaries are missing (`.ci/run` installs them, so CI always runs it).
    static var available: [EngineKind] { PostgresCluster.unavailableReason == nil ? allCases : [.sqlite] }
}

/// A fresh, empty store of one engine for one test, its ingest path, and a configuration; all
/// removed by `close()`.
///
/// Contract tests talk to the store only through the protocols (`Store`, `SignalIntake`).
final class StoreHarness {
    let kind: EngineKind
    let engine: any StoreEngine
    let directory: TemporaryDirectory
    let config: GavelConfig
    /// The PostgreSQL database's name (nil for SQLite).
    private var postgresDatabase: String?
    private var intakes: [any SignalIntake] = []

    /// - Parameter configJSON: a configuration file's text; nil for the built-in defaults.
    init(_ kind: EngineKind, configJSON: String? = nil) throws {
        self.kind = kind
        directory = try TemporaryDirectory()
        let base = directory.file("gavel.db")
        if let configJSON {
            config = try GavelConfig.load(text: configJSON, origin: "test", environment: [:], databasePath: base)
        } else {
            config = GavelConfig.builtInDefaults(databasePath: base)
        }
        switch kind {
        case .sqlite: engine = SQLiteEngine(path: base)
        case .postgres:
            let uri = try PostgresCluster.shared.get().createDatabase()
            engine = PostgresEngine(uri: uri, displayName: uri)
            postgresDatabase = uri.split(separator: "/").last.map(String.init)
        }
        _ = try engine.open(.create)
    }

    /// A new session (each thread of a test opens its own).
    func store() throws -> any Store { try engine.open(.existing) }

    /// The ingest path, deciding under `config` (or this harness's).
    func intake(config: GavelConfig? = nil) throws -> any SignalIntake {
        let chosen = config ?? self.config
        let intake = try engine.intake(config: { chosen }, onCommit: {})
        intakes.append(intake)
        return intake
    }

    /// Runs SQL on the database behind the store's back, as someone with access to the file or
    /// the server could (the tamper tests): SQL both engines understand.
    func runBehindTheStore(_ sql: String) throws {
        switch kind {
        case .sqlite: try Database(path: directory.file("gavel.db")).execute(sql)
        case .postgres: _ = try PostgresCluster.shared.get().psql(sql, database: postgresDatabase ?? "")
        }
    }

    func close() {
        for i in intakes { i.close() }
        intakes = []
    }

    deinit { close() }

    /// Posts one Datadog-shaped signal through the ingest path.
    @discardableResult
    func post(_ json: String, at: Timestamp = .now, config: GavelConfig? = nil, intake: (any SignalIntake)? = nil) throws -> IntakeOutcome {
        let path = try intake ?? self.intake(config: config)
        return try path.intake(Self.incoming(json, at: at))
    }

    static func incoming(_ json: String, at: Timestamp = .now) throws -> IncomingSignal {
        let body = Array(json.utf8)
        return IncomingSignal(
            signal: try SignalPayload.decode(body: body, format: .json), rawBody: body, contentType: "application/json", peer: "127.0.0.1:9",
            receivedAt: at)
    }
}

/// A Datadog security signal body (the `$SECURITY_*` variables), documentation addresses only.
func signalJSON(
    _ id: String, rule: String = "Request from unexpected IP address", ruleID: String? = nil, severity: String = "high", ips: [String] = [],
    users: [String] = [], groups: [String] = [], date: Int64? = nil
) -> String {
    var attributes: [String] = []
    if !ips.isEmpty { attributes.append(#""network":{"client":{"ip":[\#(ips.map { "\"\($0)\"" }.joined(separator: ","))]}}"#) }
    if let user = users.first { attributes.append(#""usr":{"id":"\#(user)"}"#) }
    if let group = groups.first { attributes.append(#""requestParameters":{"groupId":"\#(group)"}"#) }
    let ruleIDField = ruleID.map { #","SECURITY_RULE_ID":"\#($0)""# } ?? ""
    let dateField = date.map { #","DATE":\#($0)"# } ?? ""
    return
        #"{"SECURITY_SIGNAL_ID":"\#(id)","SECURITY_RULE_NAME":"\#(rule)"\#(ruleIDField),"SECURITY_SIGNAL_SEVERITY":"\#(severity)"\#(dateField),"SECURITY_SIGNAL_ATTRIBUTES":{\#(attributes.joined(separator: ","))}}"#
}

/// An HTTP action configuration for contract tests (nothing is sent: the store only binds it).
let contractHTTPConfig = """
    {
      "allow_internal_action_urls": true,
      "actions": {
        "ban-ip": { "target": "ip", "http": { "url": "http://127.0.0.1:9/ban/{{ip}}", "headers": { "X-Key": "k" },
                    "body": { "ip": "{{ip}}", "rule": "{{rule_name}}", "by": "{{decided_by}}", "signal": "{{signal_id}}" } } }
      }
    }
    """

/// Counts things from several threads.
final class Tally: Sendable {
    private let value = Mutex(0)
    func add(_ n: Int = 1) { value.withLock { $0 += n } }
    var total: Int { value.withLock { $0 } }
}
