#!/usr/bin/env python3
"""Auto-remediation latency for bench/auto_latency.sh: signal POSTed -> request at a sink.

  auto_latency.py sink PORT ARRIVALS_FILE
      An HTTP sink on 127.0.0.1:PORT standing in for a WAF API: for each request it appends
      "SIGNAL_ID MONOTONIC_NS" to ARRIVALS_FILE (the signal id from the JSON body's "signal")
      and answers 200.
  auto_latency.py post BASE_URL ARRIVALS_FILE N RATE RUN
      POSTs N signals (RATE per second, one keep-alive connection) of the detection rule
      "Bench auto rule", each naming a new IP (2001:db8::N), so each proposes a ban-ip that the
      rule's auto mode approves and the dispatcher sends to the sink. Then waits (10 s at most)
      for every arrival and prints p50/p99/max of POST start -> arrival, and of POST -> 202.
      The first 5 signals warm up the dispatcher's HTTP client and are not counted.

Both sides use CLOCK_MONOTONIC (time.monotonic_ns), which is one clock for every process.
"""
import http.client
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

WARMUP = 5


def sink(port, path):
    out = open(path, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrived = time.monotonic_ns()
            try:
                sid = json.loads(body).get("signal", "?")
            except ValueError:
                sid = "?"
            out.write(f"{sid} {arrived}\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b'{"ok":true}')

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def post(base, arrivals_path, n, rate, run):
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    started, acked = {}, {}
    interval = 1.0 / rate
    next_at = time.monotonic()
    for i in range(WARMUP + n):
        sid = f"auto-{run}-{i}"
        body = json.dumps({
            "SECURITY_RULE_NAME": "Bench auto rule",
            "SECURITY_SIGNAL_ID": sid,
            "SECURITY_SIGNAL_SEVERITY": "high",
            "SECURITY_SIGNAL_TITLE": "Credential stuffing from a new address",
            "SECURITY_SIGNAL_ATTRIBUTES": {"network": {"client": {"ip": [f"2001:db8::{i + 1:x}"]}}},
        })
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        next_at += interval
        t0 = time.monotonic_ns()
        conn.request("POST", "/webhook", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        t1 = time.monotonic_ns()
        if resp.status != 202:
            sys.exit(f"auto_latency: signal {sid} answered {resp.status}")
        if i >= WARMUP:
            started[sid] = t0
            acked[sid] = t1
    arrivals = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        arrivals = {}
        with open(arrivals_path) as f:
            for line in f:
                sid, ns = line.split()
                arrivals.setdefault(sid, int(ns))
        if all(s in arrivals for s in started):
            break
        time.sleep(0.1)
    got = [s for s in started if s in arrivals]
    to_sink = [(arrivals[s] - started[s]) / 1e6 for s in got]
    to_ack = [(acked[s] - started[s]) / 1e6 for s in started]
    print(f"AUTO n={n} rate={rate}/s arrived={len(got)} missing={n - len(got)} "
          f"p50_ms={pct(to_sink, 50):.2f} p99_ms={pct(to_sink, 99):.2f} max_ms={max(to_sink):.2f} "
          f"ack_p50_ms={pct(to_ack, 50):.2f} ack_p99_ms={pct(to_ack, 99):.2f}" if got else
          f"AUTO n={n} arrived=0 missing={n}")
    return 0 if len(got) == n else 1


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "sink":
        sink(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 7 and sys.argv[1] == "post":
        sys.exit(post(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]))
    else:
        sys.exit(__doc__)
