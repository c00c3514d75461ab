// Shim for libsqlite3: what Swift cannot import directly.
#ifndef GAVEL_CSQLITE_SHIM_H
#define GAVEL_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a cast macro; Swift cannot import it.
static inline sqlite3_destructor_type gavel_sqlite_transient(void) { return SQLITE_TRANSIENT; }

/// sqlite3_db_config is variadic; wrap the integer-flag form (e.g. SQLITE_DBCONFIG_DEFENSIVE).
static inline int gavel_sqlite_db_config_flag(sqlite3 *db, int op, int value) {
    int out = 0;
    return sqlite3_db_config(db, op, value, &out);
}
#endif
