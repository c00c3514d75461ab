import Testing

@testable import GavelRuntime

@Suite struct StoreLocationTests {
    @Test func aPathIsSQLiteAndAPostgresURIIsPostgres() {
        #expect(StoreLocation("./gavel.db") == .sqlite(path: "./gavel.db"))
        #expect(StoreLocation("/var/lib/gavel/g.db") == .sqlite(path: "/var/lib/gavel/g.db"))
        #expect(StoreLocation("postgres://u@db/gavel") == .postgres(uri: "postgres://u@db/gavel"))
        #expect(StoreLocation("PostgreSQL://u@db/gavel") == .postgres(uri: "PostgreSQL://u@db/gavel"))
    }

    @Test func aPasswordIsNeverShown() {
        #expect(StoreLocation.redacted("postgres://alice:s3cr%40t@db.example:5432/gavel") == "postgres://alice:****@db.example:5432/gavel")
        #expect(
            StoreLocation.redacted("postgresql://alice@db/gavel?sslmode=require&password=x")
                == "postgresql://alice@db/gavel?sslmode=require&password=****")
        #expect(StoreLocation.redacted("postgres://db/gavel") == "postgres://db/gavel")
        #expect(!StoreLocation("postgres://a:b@h/d").displayName.contains(":b@"))
    }

    @Test func aURIOpensThePostgreSQLEngineNamedWithoutItsPassword() throws {
        let engine = try StoreLocation("postgres://alice:s3cret@db.example/gavel").engine()
        #expect(engine.displayName == "postgres://alice:****@db.example/gavel")
        #expect(String(describing: type(of: engine)) == "PostgresEngine")
        #expect(StoreLocation("postgres://db/gavel").dataDirectory == "")
    }

    /// Issue 16, item 17: the empty console suggested `gavel demo`, which is not on `PATH` after
    /// `make run`; the hint now names the binary the way it was started.
    @Test func theDemoHintNamesHowGavelWasStarted() {
        #expect(ConsoleRunner.demoCommand(argv0: "gavel") == "gavel demo")
        #expect(ConsoleRunner.demoCommand(argv0: ".build/debug/gavel") == ".build/debug/gavel demo")
        #expect(ConsoleRunner.demoCommand(argv0: "/usr/local/bin/gavel") == "/usr/local/bin/gavel demo")
        #expect(ConsoleRunner.demoCommand(argv0: "/home/o'neil/my gavel/gavel") == "'/home/o'\\''neil/my gavel/gavel' demo")
    }
}
