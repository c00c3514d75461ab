import CSQLite
import Foundation
import GavelCore
import Glibc
import Synchronization

/// Whether the files a connection has open are still the ones at its path (issue 16: after
/// `rm gavel.db-wal`, or all three files, a running server kept answering 202 to deliveries
/// that went into unlinked files and were gone after a restart).
///
/// SQLite's `SQLITE_FCNTL_HAS_MOVED` covers the main file only. The write-ahead log is checked
/// here the same way: the device and inode of the descriptor SQLite writes (`fstat`) against
/// those at `PATH-wal` (`stat`), and its link count (0: unlinked).
struct StoreFiles {
    /// A device and inode.
    struct Identity: Equatable {
        var device: UInt64
        var inode: UInt64

        init(_ s: stat) {
            device = UInt64(s.st_dev)
            inode = UInt64(s.st_ino)
        }
    }

    /// Per database path, where this process saved the store when its files were found moved.
    static let saved = Mutex<[String: String]>([:])

    /// `SQLITE_READONLY_DBMOVED` (`SQLITE_READONLY | 4 << 8`), a macro Swift does not import.
    static let readOnlyDBMoved: Int32 = 8 | 4 << 8

    /// Why the files are not the ones open, or nil when they are.
    static func problem(db: OpaquePointer, path: String, descriptorsUsable: Bool) -> String? {
        if gavel_sqlite_has_moved(db) != 0 {
            return "the database file \(path) was deleted, renamed or replaced while gavel had it open"
        }
        guard descriptorsUsable else { return nil }
        let fd = gavel_sqlite_unix_fd(db, 1)
        guard fd >= 0 else { return nil }  // no WAL open (yet)
        return logProblem(fd: fd, wal: path + "-wal")
    }

    /// Why the write-ahead log open as `fd` is no longer the file at `wal`, or nil when it is
    /// (or cannot be told).
    static func logProblem(fd: Int32, wal: String) -> String? {
        var open = stat()
        guard fstat(fd, &open) == 0 else { return nil }
        if open.st_nlink == 0 { return "the write-ahead log \(wal) was deleted while gavel had it open" }
        var named = stat()
        guard stat(wal, &named) == 0 else { return "the write-ahead log \(wal) was deleted while gavel had it open" }
        if Identity(named) != Identity(open) { return "the write-ahead log \(wal) was replaced by another file while gavel had it open" }
        return nil
    }

    /// Whether the descriptor read through `gavel_sqlite_unix_fd` is the main file at `path`
    /// (checked once, at open, so a different SQLite layout is never trusted).
    static func descriptorsUsable(db: OpaquePointer, path: String) -> Bool {
        let fd = gavel_sqlite_unix_fd(db, 0)
        guard fd >= 0 else { return false }
        var open = stat()
        var named = stat()
        guard fstat(fd, &open) == 0, stat(path, &named) == 0 else { return false }
        return (open.st_mode & S_IFMT) == S_IFREG && Identity(open) == Identity(named)
    }
}

extension Database {
    /// Refuses to write when the files this connection has open are no longer the ones at its
    /// path: `SQLITE_READONLY_DBMOVED` (transient: the receiver answers 503 + `Retry-After`, so the
    /// sender keeps the delivery), saying which file and where a copy of the store was saved.
    ///
    /// On first detection of an incident the connection saves what it can still read — everything
    /// committed through the unlinked files — to `PATH.recovered-YYYYMMDDTHHMMSSZ` (mode 0600) with
    /// SQLite's online backup; once the files are back, a later incident saves a copy of its own. The store is sound again when the paths name the files this connection has open
    /// again (a file moved back), or after gavel is restarted on a sound database.
    /// - Throws: `SQLiteError` (`SQLITE_READONLY_DBMOVED`) naming the file.
    func checkFilesAreTheOnesOpen() throws(SQLiteError) {
        guard !readOnly, transactionDepth == 0 else { return }
        guard let problem = StoreFiles.problem(db: handle, path: path, descriptorsUsable: descriptorsUsable) else {
            if recoveredCopy != nil {
                // Sound again (the files are back): a later incident saves its own copy, holding
                // what was acknowledged in between (the second attacker pass lost those).
                recoveredCopy = nil
                StoreFiles.saved.withLock { _ = $0.removeValue(forKey: path) }
            }
            return
        }
        if recoveredCopy == nil {
            // One copy per store and process: the first connection to notice saves it, the others
            // (dispatcher, console) say where it is.
            recoveredCopy = StoreFiles.saved.withLock { saved -> String in
                if let done = saved[path] { return done }
                let stamp = Timestamp.now.rfc3339.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
                    .replacingOccurrences(of: ".", with: "")
                let copy = "\(path).recovered-\(stamp)"
                let outcome: String
                // As private as the database itself (0600): it holds every signal and raw body.
                Database.createPrivately(copy)
                do {
                    try backup(to: copy)
                    outcome = "what this gavel had stored up to now is saved in \(copy)"
                } catch {
                    outcome = "saving a copy to \(copy) failed: \((error as? SQLiteError)?.message ?? "\(error)")"
                }
                saved[path] = outcome
                return outcome
            }
        }
        throw SQLiteError(
            code: StoreFiles.readOnlyDBMoved,
            message: "\(problem); nothing is stored (deliveries get 503) until gavel is restarted on a sound database — \(recoveredCopy ?? "")",
            context: "checking the database files")
    }
}
