import Foundation
import Testing

@testable import GavelCore
@testable import GavelStore
@testable import GavelStoreSQLite

@Suite struct DatabaseTests {
    @Test func connectionUsesDurableSettings() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        #expect(try db.query("PRAGMA journal_mode").first?.string(0) == "wal")
        #expect(try db.query("PRAGMA synchronous").first?.int(0) == 2)
        #expect(try db.query("PRAGMA foreign_keys").first?.int(0) == 1)
        #expect(try db.query("PRAGMA user_version").first?.int(0) == Schema.latestVersion)
    }

    /// Issue 16, item 17: the database held signals and analysts' names at 0644 while the outbox
    /// and log were 0600. A new database and the WAL and shared-memory files SQLite makes beside
    /// it are the owner's only, whatever the umask; an existing file keeps its mode.
    @Test func aNewDatabaseAndItsWALAreReadableOnlyByItsOwner() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let old = umask(0o022)
        defer { umask(old) }
        let db = try t.open()
        _ = try db.writeTransaction {
            try SQLiteStore(db: db).intake(try incoming(#"{"SECURITY_SIGNAL_ID":"p1"}"#), config: .builtInDefaults(databasePath: t.path))
        }
        for file in [t.path, t.path + "-wal", t.path + "-shm"] {
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file): \(String(mode ?? 0, radix: 8))")
        }
        let shared = t.folder + "/shared.db"
        #expect(FileManager.default.createFile(atPath: shared, contents: nil, attributes: [.posixPermissions: 0o640]))
        _ = try Database(path: shared)
        #expect(try FileManager.default.attributesOfItem(atPath: shared)[.posixPermissions] as? Int == 0o640)
    }

    @Test func migrationIsIdempotentAcrossOpens() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        _ = try t.open()
        let again = try t.open()
        #expect(try again.query("SELECT count(*) FROM signals").first?.int(0) == 0)
    }

    @Test func refusesANewerSchema() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        try t.open().execute("PRAGMA user_version = 999")
        #expect(throws: SQLiteError.self) { try t.open() }
    }

    @Test func writeTransactionsBeginImmediate() throws {
        // Every write path goes through writeTransaction, which issues BEGIN IMMEDIATE.
        let sources = try String(
            contentsOfFile: #filePath.replacingOccurrences(
                of: "Tests/GavelStoreTests/DatabaseTests.swift", with: "Sources/GavelStore/SQLite/Database.swift"), encoding: .utf8)
        #expect(sources.contains("BEGIN IMMEDIATE"))
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let a = try t.open()
        let b = try Database(path: t.path, busyTimeoutMs: 50)
        try a.execute("BEGIN IMMEDIATE")
        #expect(throws: SQLiteError.self) { try b.writeTransaction { try b.run("INSERT INTO settings VALUES ('k','v')") } }
        do {
            try b.writeTransaction { try b.run("INSERT INTO settings VALUES ('k','v')") }
        } catch let e as SQLiteError {
            #expect(e.primaryCode == 5)  // SQLITE_BUSY
            #expect(e.isTransient)
        }
        try a.execute("ROLLBACK")
    }

    @Test func hostileStringsRoundTripThroughBoundParameters() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        let nasty = ["'); DROP TABLE signals;--", "a\u{0}b", String(repeating: "x", count: 100_000), "\u{1b}[2J\u{202E}"]
        for (i, value) in nasty.enumerated() {
            try db.run("INSERT INTO settings (key, value) VALUES (?, ?)", [.text("k\(i)"), .text(value)])
            #expect(try db.query("SELECT value FROM settings WHERE key = ?", [.text("k\(i)")]).first?.string(0) == value)
        }
        #expect(try db.query("SELECT count(*) FROM signals").first?.int(0) == 0)
    }

    @Test func backupCopiesAConsistentDatabase() throws {
        let t = TemporaryDatabase()
        defer { t.cleanup() }
        let db = try t.open()
        try db.writeTransaction { _ = try db.record(try incoming(#"{"SECURITY_SIGNAL_ID":"b1","SECURITY_RULE_NAME":"r"}"#)) }
        try db.backup(to: t.folder + "/copy.db")
        let copy = try Database(path: t.folder + "/copy.db")
        #expect(try copy.query("SELECT signal_id FROM signals").first?.string(0) == "b1")
        #expect(try copy.query("PRAGMA integrity_check").first?.string(0) == "ok")
    }
}
