// swift-tools-version:6.0
// gavel: a terminal operations console for security remediation.
// No package dependencies by design: Foundation, Glibc, Dispatch, Synchronization,
// XCTest / Swift Testing, and the system libraries libsqlite3 and libncursesw (plus libpq for the
// PostgreSQL engine, for teams that outgrow one host).
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "gavel",
    products: [
        .executable(name: "gavel", targets: ["gavel"]),
        // libFuzzer harness (Fuzz/README.md): `scripts/fuzz.sh`; a corpus replayer in a normal build.
        .executable(name: "gavel-fuzz", targets: ["GavelFuzz"]),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CNCursesW", providers: [.apt(["libncurses-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "GavelCore", swiftSettings: strict),
        // The store: protocols and the contract (no SQL); engines in folders of it, named GavelStore….
        .target(name: "GavelStore", dependencies: ["GavelCore"], exclude: ["SQLite", "Postgres"], swiftSettings: strict),
        .target(
            name: "GavelStoreSQLite", dependencies: ["GavelStore", "GavelCore", "CSQLite"], path: "Sources/GavelStore/SQLite",
            swiftSettings: strict),
        .target(
            name: "GavelStorePostgres", dependencies: ["GavelStore", "GavelCore", "CLibPQ"], path: "Sources/GavelStore/Postgres",
            swiftSettings: strict),
        .target(name: "GavelReceiver", dependencies: ["GavelCore", "GavelStore"], swiftSettings: strict),
        .target(name: "GavelDispatch", dependencies: ["GavelCore", "GavelStore"], swiftSettings: strict),
        .target(name: "GavelConsole", dependencies: ["GavelCore", "GavelStore", "CNCursesW"], swiftSettings: strict),
        // Wiring shared by serve, console and dispatch: engine selection, the configuration in force,
        // receiver + dispatcher + configuration watch, log file, signal handling.
        .target(
            name: "GavelRuntime",
            dependencies: [
                "GavelCore", "GavelStore", "GavelStoreSQLite", "GavelStorePostgres", "GavelReceiver", "GavelDispatch", "GavelConsole",
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "gavel",
            dependencies: ["GavelCore", "GavelStore", "GavelRuntime", "GavelConsole"],
            swiftSettings: strict),
        .executableTarget(
            name: "ConsoleBench", dependencies: ["GavelConsole", "GavelStore", "GavelStoreSQLite", "GavelCore"], path: "bench/ConsoleBench",
            swiftSettings: strict),
        .target(name: "GavelTestSupport", path: "Tests/GavelTestSupport", swiftSettings: strict),
        .executableTarget(
            name: "GavelFuzz", dependencies: ["GavelCore", "GavelStore", "GavelReceiver"], path: "Fuzz/GavelFuzz",
            swiftSettings: strict),
        .testTarget(name: "GavelCoreTests", dependencies: ["GavelCore"], swiftSettings: strict),
        // The store contract suite (Contract/, against the protocols only) and the SQLite engine's own tests.
        .testTarget(
            name: "GavelStoreTests",
            dependencies: ["GavelStore", "GavelStoreSQLite", "GavelStorePostgres", "GavelCore", "CSQLite", "GavelTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "GavelReceiverTests", dependencies: ["GavelReceiver", "GavelStore", "GavelStoreSQLite", "GavelCore", "GavelTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "GavelDispatchTests", dependencies: ["GavelDispatch", "GavelStore", "GavelStoreSQLite", "GavelCore", "GavelTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "GavelConsoleTests", dependencies: ["GavelConsole", "GavelStore", "GavelStoreSQLite", "GavelCore", "CNCursesW"],
            swiftSettings: strict),
        .testTarget(name: "GavelRuntimeTests", dependencies: ["GavelRuntime", "GavelStore", "GavelCore", "GavelTestSupport"], swiftSettings: strict),
        // The verb table: parsing, help, the store rule (the executable's module, @testable).
        .testTarget(name: "GavelCLITests", dependencies: ["gavel", "GavelRuntime", "GavelCore"], swiftSettings: strict),
        .testTarget(name: "GavelEndToEndTests", dependencies: ["gavel", "GavelCore", "GavelTestSupport", "GavelFuzz"], swiftSettings: strict),
    ]
)
