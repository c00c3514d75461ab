#!/usr/bin/env python3
"""Posts N Datadog-shaped signals to a gavel receiver for bench/dispatch.sh, each naming its own
IPv6 documentation address (2001:db8::/32), over a few keep-alive connections.

    bench/dispatch_load.py URL N [--threads 4] [--rule Storm]

Prints the number of 202 answers; exits 1 if any other answer came back.
"""
import argparse
import http.client
import json
import sys
import threading
import urllib.parse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("n", type=int)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rule", default="Storm")
    args = parser.parse_args()
    target = urllib.parse.urlsplit(args.url)
    accepted = [0]
    failed = []
    lock = threading.Lock()

    def worker(k):
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        for i in range(k, args.n, args.threads):
            ip = "2001:db8::%x:%x" % (i >> 16, i & 0xFFFF)
            body = json.dumps({
                "SECURITY_SIGNAL_ID": "storm-%d" % i,
                "SECURITY_RULE_NAME": args.rule,
                "SECURITY_SIGNAL_SEVERITY": "high",
                "SECURITY_SIGNAL_ATTRIBUTES": {"network": {"client": {"ip": [ip]}}},
            })
            conn.request("POST", target.path or "/webhook", body, {"Content-Type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            with lock:
                if answer.status == 202:
                    accepted[0] += 1
                else:
                    failed.append(answer.status)
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(accepted[0])
    if failed:
        print("dispatch_load: %d answers were not 202 (first: %s)" % (len(failed), failed[0]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
