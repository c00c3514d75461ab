#!/usr/bin/env python3
"""The Python baseline for bench/run.sh: a minimal standard-library webhook receiver.

Each POST's JSON body is parsed and written to SQLite (WAL, synchronous=FULL, one
transaction per request, one connection behind a lock), then answered 202 — the same
promise gavel makes (acknowledged only once durable), without gavel's remediations.

Usage: python_receiver.py PORT DB_PATH   (listens on 127.0.0.1 only)
"""
import json
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
db = sqlite3.connect(sys.argv[2], check_same_thread=False, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("""CREATE TABLE IF NOT EXISTS signals (
    id INTEGER PRIMARY KEY, signal_id TEXT NOT NULL UNIQUE, rule TEXT, severity TEXT,
    raw_body BLOB NOT NULL, received_ms INTEGER NOT NULL)""")
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response (the status line, headers and body leave together) and no Nagle
    # delay: without these, http.server's two small writes meet the client's delayed ACK and
    # every request waits ~40 ms.
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            signal = json.loads(raw)
            sid = str(signal["SECURITY_SIGNAL_ID"])
        except (ValueError, KeyError, TypeError):
            return self.reply(400, {"error": "malformed body"})
        with lock:
            cur = db.execute(
                "INSERT OR IGNORE INTO signals (signal_id, rule, severity, raw_body, received_ms) VALUES (?,?,?,?,?)",
                (sid, signal.get("SECURITY_RULE_NAME"), signal.get("SECURITY_SIGNAL_SEVERITY"), raw,
                 int(time.time() * 1000)))
            row = cur.lastrowid
        self.reply(202, {"signal": row, "duplicate": cur.rowcount == 0})


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 1024
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
