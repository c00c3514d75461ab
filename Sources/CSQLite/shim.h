// Shim for libsqlite3: what Swift cannot import directly.
#ifndef GAVEL_CSQLITE_SHIM_H
#define GAVEL_CSQLITE_SHIM_H
#include <sqlite3.h>
#include <stdint.h>
#include <unistd.h>

/// SQLITE_TRANSIENT is a cast macro; Swift cannot import it.
static inline sqlite3_destructor_type gavel_sqlite_transient(void) { return SQLITE_TRANSIENT; }

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
#endif
