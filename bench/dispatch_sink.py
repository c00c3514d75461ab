#!/usr/bin/env python3
"""A loopback HTTP/1.1 endpoint for bench/dispatch.sh: answers every request after a delay and
counts what it received.

    bench/dispatch_sink.py PORT [--delay-ms 50] [--status 200]

Keep-alive, Content-Length bodies only (what gavel sends). Each request's JSON body names the
remediations it carries: an object with "id" (one remediation), a list of such objects, or an
object whose "items" is such a list (a batch). GET /stats answers
{"requests", "remediations", "distinct", "duplicates", "max_in_flight", "keys"} as JSON:
duplicates lists ids received more than once (with their counts), keys counts distinct
Idempotency-Key values. GET /reset clears the counts. Listens on 127.0.0.1 only.
"""
import argparse
import asyncio
import json
import sys


class Counts:
    def __init__(self):
        self.reset()

    def reset(self):
        self.requests = 0
        self.per_id = {}
        self.keys = set()
        self.in_flight = 0
        self.max_in_flight = 0

    def record(self, body, key):
        self.requests += 1
        if key:
            self.keys.add(key)
        try:
            value = json.loads(body) if body else None
        except ValueError:
            value = None
        items = []
        if isinstance(value, dict) and isinstance(value.get("items"), list):
            items = value["items"]
        elif isinstance(value, list):
            items = value
        elif isinstance(value, dict):
            items = [value]
        for item in items:
            if isinstance(item, dict) and "id" in item:
                rid = str(item["id"])
                self.per_id[rid] = self.per_id.get(rid, 0) + 1

    def stats(self):
        duplicates = {k: v for k, v in self.per_id.items() if v > 1}
        return {
            "requests": self.requests,
            "remediations": sum(self.per_id.values()),
            "distinct": len(self.per_id),
            "duplicates": duplicates,
            "max_in_flight": self.max_in_flight,
            "keys": len(self.keys),
        }


async def handle(reader, writer, counts, delay, status):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            length = 0
            key = None
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "idempotency-key":
                    key = value.strip()
            body = await reader.readexactly(length) if length else b""
            if method == "GET" and target == "/stats":
                answer = json.dumps(counts.stats()).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer)
                await writer.drain()
                continue
            if method == "GET" and target == "/reset":
                counts.reset()
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
                continue
            counts.in_flight += 1
            counts.max_in_flight = max(counts.max_in_flight, counts.in_flight)
            counts.record(body, key)
            if delay > 0:
                await asyncio.sleep(delay)
            counts.in_flight -= 1
            answer = b'{"ok":true}'
            writer.write(b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (status, len(answer)) + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--status", type=int, default=200)
    args = parser.parse_args()
    counts = Counts()
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, counts, args.delay_ms / 1000, args.status), "127.0.0.1", args.port, backlog=1024, limit=1 << 24)
    print(f"dispatch sink on 127.0.0.1:{args.port}, delay {args.delay_ms} ms", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
