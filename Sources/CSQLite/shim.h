// Shim for libsqlite3: what Swift cannot import directly.
#ifndef GAVEL_CSQLITE_SHIM_H
#define GAVEL_CSQLITE_SHIM_H
#include <sqlite3.h>
#include <stdint.h>
#include <unistd.h>

/// SQLITE_TRANSIENT is a cast macro; Swift cannot import it.
static inline sqlite3_destructor_type gavel_sqlite_transient(void) { return SQLITE_TRANSIENT; }

/// sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0): SQLite stops keeping memory statistics, which
/// every sqlite3_malloc/sqlite3_free otherwise updates under one process-wide mutex (8.5 % of
/// the ingest writer's time in bench/; BENCHMARKS.md). Must run before SQLite is initialised
/// (the first sqlite3_open); later it returns SQLITE_MISUSE and changes nothing. gavel reads
/// no memory statistics (sqlite3_memory_used, sqlite3_status).
static inline int gavel_sqlite_disable_memstatus(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

/// sqlite3_db_config is variadic; wrap the integer-flag form (e.g. SQLITE_DBCONFIG_DEFENSIVE).
static inline int gavel_sqlite_db_config_flag(sqlite3 *db, int op, int value) {
    int out = 0;
    return sqlite3_db_config(db, op, value, &out);
}

/// A busy handler that retries every millisecond until `ctx` milliseconds have passed
/// (SQLite's own sleeps grow to 100 ms and miss the short gaps a busy writer leaves).
static int gavel_sqlite_busy_poll_handler(void *ctx, int count) {
    if (count >= (int)(intptr_t)ctx) return 0;
    usleep(1000);
    return 1;
}

/// Installs `gavel_sqlite_busy_poll_handler` with a limit of `timeout_ms`.
static inline int gavel_sqlite_busy_poll(sqlite3 *db, int timeout_ms) {
    return sqlite3_busy_handler(db, gavel_sqlite_busy_poll_handler, (void *)(intptr_t)timeout_ms);
}
/// The file descriptor of the main database file (`journal` 0) or of its journal — the WAL in
/// WAL mode (`journal` 1) — of an open connection using SQLite's "unix" VFS, or -1 when the file
/// is not open or the VFS is another.
///
/// SQLite offers no file control for the descriptor (`SQLITE_FCNTL_HAS_MOVED` compares only the
/// main file with its path). The unix VFS's `unixFile` (os_unix.c) has begun with
/// `{ const sqlite3_io_methods *pMethod; sqlite3_vfs *pVfs; unixInodeInfo *pInode; int h; }`
/// since SQLite 3.7; callers check the result (its `fstat` must match the file's path once, at open).
static inline int gavel_sqlite_unix_fd(sqlite3 *db, int journal) {
    sqlite3_vfs *vfs = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK || vfs == 0 || vfs->zName == 0) return -1;
    const char *name = vfs->zName;
    if (!(name[0] == 'u' && name[1] == 'n' && name[2] == 'i' && name[3] == 'x' && (name[4] == 0 || name[4] == '-'))) return -1;
    sqlite3_file *file = 0;
    int op = journal ? SQLITE_FCNTL_JOURNAL_POINTER : SQLITE_FCNTL_FILE_POINTER;
    if (sqlite3_file_control(db, "main", op, &file) != SQLITE_OK || file == 0 || file->pMethods == 0) return -1;
    struct gavel_unix_file_prefix {
        const sqlite3_io_methods *pMethod;
        sqlite3_vfs *pVfs;
        void *pInode;
        int h;
    };
    return ((struct gavel_unix_file_prefix *)file)->h;
}

/// `SQLITE_FCNTL_HAS_MOVED` for the main database: 1 when the file was unlinked or renamed, or
/// another file took its path, since it was opened.
static inline int gavel_sqlite_has_moved(sqlite3 *db) {
    int moved = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK) return 0;
    return moved;
}
#endif
