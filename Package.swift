// swift-tools-version:6.0
// gavel: a terminal operations console for security remediation.
// No package dependencies by design: Foundation, Glibc, Dispatch, Synchronization,
// XCTest / Swift Testing, and the system libraries libsqlite3 and libncursesw.
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
        .target(name: "GavelCore", swiftSettings: strict),
        .target(name: "GavelStore", dependencies: ["GavelCore", "CSQLite"], swiftSettings: strict),
        .target(name: "GavelReceiver", dependencies: ["GavelCore", "GavelStore"], swiftSettings: strict),
        .target(name: "GavelDispatch", dependencies: ["GavelCore", "GavelStore"], swiftSettings: strict),
        .target(name: "GavelConsole", dependencies: ["GavelCore", "GavelStore", "CNCursesW"], swiftSettings: strict),
        .executableTarget(
            name: "gavel",
            dependencies: ["GavelCore", "GavelStore", "GavelReceiver", "GavelDispatch", "GavelConsole"],
            swiftSettings: strict),
        .executableTarget(
            name: "ConsoleBench", dependencies: ["GavelConsole", "GavelStore", "GavelCore"], path: "bench/ConsoleBench", swiftSettings: strict),
        .target(name: "GavelTestSupport", path: "Tests/GavelTestSupport", swiftSettings: strict),
        .executableTarget(
            name: "GavelFuzz", dependencies: ["GavelCore", "GavelReceiver"], path: "Fuzz/GavelFuzz",
            swiftSettings: strict),
        .testTarget(name: "GavelCoreTests", dependencies: ["GavelCore"], swiftSettings: strict),
        .testTarget(name: "GavelStoreTests", dependencies: ["GavelStore", "GavelCore", "CSQLite"], swiftSettings: strict),
        .testTarget(
            name: "GavelReceiverTests", dependencies: ["GavelReceiver", "GavelStore", "GavelCore", "GavelTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "GavelDispatchTests", dependencies: ["GavelDispatch", "GavelStore", "GavelCore", "GavelTestSupport"], swiftSettings: strict),
        .testTarget(name: "GavelConsoleTests", dependencies: ["GavelConsole", "GavelStore", "GavelCore", "CNCursesW"], swiftSettings: strict),
        .testTarget(name: "GavelEndToEndTests", dependencies: ["gavel", "GavelCore", "GavelTestSupport", "GavelFuzz"], swiftSettings: strict),
    ]
)
