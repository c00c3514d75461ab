// Shim for libpq, PostgreSQL's own client library (Debian: libpq-dev; the include path comes
// from pkg-config libpq). Only GavelStorePostgres imports it.
#ifndef GAVEL_CLIBPQ_SHIM_H
#define GAVEL_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <poll.h>

/// Waits up to `timeout_ms` for the connection's socket to become readable (a notification or
/// the server closing it). Returns poll's result: >0 readable, 0 timed out, <0 error.
static inline int gavel_pq_wait_readable(PGconn *conn, int timeout_ms) {
    int fd = PQsocket(conn);
    if (fd < 0) return -1;
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    return poll(&p, 1, timeout_ms);
}
#endif
