#!/usr/bin/env python3
"""Fills a gavel database with a year of history for the console-at-scale benchmark (issue 6).

  bench/generate_db.py DB [--signals 1000000] [--gavel PATH] [--seed 1] [--now-ms MS]

First runs `gavel signals --db DB --limit 1` so gavel itself creates and migrates the schema,
then bulk-inserts (executemany, one transaction per 50,000 signals) rows shaped like the
ones gavel's ingest and dispatch write:

  signals        Datadog-shaped raw bodies (SHA-256 stored), 23 detection rules of the three
                 scenarios with a skewed mix (a few noisy rules, storms of up to thousands of
                 signals within minutes), severities info..critical, 3% delivered twice
  entities       IPs (a few attackers seen thousands of times, a long tail seen once; 3% IPv6),
                 users (card fraud / account takeover), security groups and actor ARNs
  deliveries     one per POST
  remediations   one per (action, target), the signals gathered into it, states by age and
                 rule mode: pending / approved / dispatched / failed / rejected / suppressed
                 (allowlisted targets) / simulated (a rule in dry-run); analysts and auto:RULE
  attempts, audit, rules   consistent with those states

The generator is deterministic for a given --seed and --now-ms. It refuses a database that
already holds signals, and a schema other than the versions it knows (PRAGMA user_version 1 to 3).
Durability is off while loading (journal_mode=OFF, synchronous=OFF): this makes a fixture,
not a record; the file is put back in WAL mode at the end.
"""
import argparse
import base64
import bisect
import hashlib
import itertools
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid

SCHEMA_VERSIONS = (1, 2, 3)  # the tables it fills are the same; 2 adds indexes, 3 derived tables kept by triggers
CHUNK = 50_000
DAY_MS = 86_400_000
SEVERITIES = ["info", "low", "medium", "high", "critical"]
ANALYSTS = ["alice", "bob", "carol", "dmitri", "esther"]
REJECT_REASONS = [
    "false positive: office VPN egress", "known pentest window", "customer confirmed the login",
    "shared NAT of a partner", "duplicate of an earlier ban", "test account",
]

# (rule id, name, scenario, base severity rank, relative volume, mode)
RULES = [
    ("def-000-u7q", "Request from unexpected IP address", "ip", 3, 40, "manual"),
    ("def-000-b4k", "Brute force attempt on console login", "ip", 3, 25, "manual"),
    ("def-000-cs1", "Credential stuffing attack on login endpoint", "ip", 3, 60, "manual"),
    ("def-000-tor", "Sign-in from a Tor exit node", "ip", 2, 8, "manual"),
    ("def-000-itv", "Impossible travel detected", "ip", 2, 6, "manual"),
    ("def-000-ssh", "SSH brute force on bastion", "ip", 2, 30, "manual"),
    ("def-000-scn", "Web vulnerability scanner detected", "ip", 1, 120, "auto"),
    ("def-000-sqi", "SQL injection attempt", "ip", 3, 35, "auto"),
    ("def-000-spr", "Password spray against SSO", "ip", 3, 10, "manual"),
    ("def-000-asn", "API key used from a new ASN", "ip", 2, 4, "manual"),
    ("def-000-s3x", "Anomalous S3 bucket enumeration", "ip", 2, 5, "dry-run"),
    ("def-000-okt", "Okta session from an unfamiliar country", "ip", 1, 7, "manual"),
    ("def-000-gqp", "GraphQL introspection from the internet", "ip", 0, 12, "manual"),
    ("def-000-ccf", "Fraudulent Credit Card Authorizations", "fraud", 2, 30, "manual"),
    ("def-000-ato", "Account takeover suspected", "fraud", 3, 10, "manual"),
    ("def-000-gcf", "Gift card balance enumeration", "fraud", 2, 6, "manual"),
    ("def-000-prm", "Promotion code abuse", "fraud", 1, 5, "manual"),
    ("def-000-pay", "Excessive failed payment attempts", "fraud", 2, 9, "manual"),
    ("def-000-sg1", "AWS security group open to the world", "sg", 4, 3, "manual"),
    ("def-000-sg2", "Security group allows SSH from 0.0.0.0/0", "sg", 4, 2, "manual"),
    ("def-000-sg3", "Security group allows RDP from anywhere", "sg", 4, 1, "manual"),
    ("def-000-sg4", "Default security group modified", "sg", 2, 1, "manual"),
    ("def-000-sg5", "Security group ingress opened to a /8", "sg", 3, 1, "manual"),
]

PRIVATE_FIRST_OCTETS = {0, 10, 100, 127, 169, 172, 192, 198, 203}  # avoided (internal / documentation-ish)


def zipf_cum_weights(n, s):
    acc, out = 0.0, []
    for k in range(1, n + 1):
        acc += 1.0 / (k ** s)
        out.append(acc)
    return out


class Picker:
    """Picks from a pool with Zipf-like weights (index 0 the most frequent)."""

    def __init__(self, rng, pool, s):
        self.rng, self.pool, self.cum = rng, pool, zipf_cum_weights(len(pool), s)

    def __call__(self):
        return self.pool[bisect.bisect_left(self.cum, self.rng.random() * self.cum[-1])]


def make_ips(rng, n):
    ips, seen = [], set()
    while len(ips) < n:
        if rng.random() < 0.03:
            ip = "2a0%x:%x:%x::%x" % (rng.randrange(1, 16), rng.randrange(1, 65536), rng.randrange(1, 65536), rng.randrange(1, 65536))
        else:
            a = rng.randrange(1, 224)
            if a in PRIVATE_FIRST_OCTETS:
                continue
            ip = "%d.%d.%d.%d" % (a, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
        if ip not in seen:
            seen.add(ip)
            ips.append(ip)
    return ips


def make_users(rng, n):
    first = ["ana", "ben", "chen", "dana", "eli", "fatima", "gus", "hana", "ivan", "jo", "kemal", "lena", "mo", "nia", "omar", "pia"]
    domains = ["example.com", "example.net", "example.org", "shop.example.com"]
    return ["%s.%s%d@%s" % (rng.choice(first), rng.choice(first), i, rng.choice(domains)) for i in range(n)]


def signal_times(rng, n, now_ms):
    """n receive times over the last 365 days: 65% spread evenly, 35% in storms of minutes."""
    start = now_ms - 365 * DAY_MS
    times = [rng.randrange(start, now_ms) for _ in range(int(n * 0.65))]
    while len(times) < n:
        centre = rng.randrange(start, now_ms - 600_000)
        size = min(n - len(times), int(rng.paretovariate(1.2) * 150))
        span = rng.randrange(60_000, 1_800_000)
        times.extend(centre + rng.randrange(span) for _ in range(size))
    times.sort()
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("db")
    ap.add_argument("--signals", type=int, default=1_000_000)
    ap.add_argument("--gavel", default=os.environ.get("GAVEL_BIN") or ".build/debug/gavel")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--now-ms", type=int, default=None, help="the 'present' of the history (default: now)")
    args = ap.parse_args()
    t_start = time.monotonic()
    now_ms = args.now_ms or int(time.time() * 1000)
    rng = random.Random(args.seed)

    env = {k: v for k, v in os.environ.items() if k not in ("GAVEL_CONFIG", "GAVEL_DB")}
    subprocess.run([os.path.abspath(args.gavel), "signals", "--db", args.db, "--limit", "1"], check=True, env=env,
                   stdout=subprocess.DEVNULL, cwd=os.path.dirname(os.path.abspath(args.db)))
    db = sqlite3.connect(args.db, isolation_level=None)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in SCHEMA_VERSIONS:
        sys.exit(f"generate_db: schema version {version}, this generator knows {SCHEMA_VERSIONS}: update it")
    if db.execute("SELECT count(*) FROM signals").fetchone()[0]:
        sys.exit(f"generate_db: {args.db} already holds signals")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-65536")

    n = args.signals
    rules = sorted(RULES, key=lambda r: -r[4])
    rule_cum = list(itertools.accumulate(r[4] for r in rules))
    ip_pool = make_ips(rng, max(1000, n // 15))
    pick_ip = Picker(rng, ip_pool, 1.05)
    pick_user = Picker(rng, make_users(rng, max(500, n // 40)), 0.9)
    pick_sg = Picker(rng, ["sg-%017x" % rng.getrandbits(68) for _ in range(max(100, n // 250))], 0.8)
    pick_arn = Picker(rng, ["arn:aws:iam::%012d:%s/%s" % (rng.randrange(10**11, 10**12), rng.choice(["user", "role"]),
                                                          rng.choice(["dev-sandbox", "ci-deployer", "ops-admin", "terraform", "intern"]) + str(i))
                            for i in range(300)], 1.0)
    allowlisted = set(rng.sample(ip_pool, len(ip_pool) // 60))
    services = ["web-store", "auth", "payments", "api-gateway", "bastion", "graphql"]
    times = signal_times(rng, n, now_ms)

    ins_signal = """INSERT INTO signals (id, signal_id, rule_key, rule_name, rule_id, rule_type, severity, title, message, link,
        date_ms, tags, queries, group_by, event_name, event_outcome, actor, attributes, content_type, raw_body, body_sha256,
        received_ms, updated_ms, deliveries) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"""
    ins_delivery = """INSERT INTO deliveries (id, signal, received_ms, peer, content_type, body_sha256, body, duplicate)
        VALUES (?,?,?,?,?,?,NULL,?)"""
    ins_entity = "INSERT INTO entities (signal, kind, value, position, delivery) VALUES (?,?,?,?,?)"
    ins_link = "INSERT INTO remediation_signals (remediation, signal) VALUES (?,?)"

    remediations = {}  # (action, target) -> [id, kind, rule index, first_ms, last_ms, count, max_rank]
    rule_seen = {}
    delivery_id = 0
    signals_rows, delivery_rows, entity_rows, link_rows = [], [], [], []

    def flush():
        db.execute("BEGIN")
        db.executemany(ins_signal, signals_rows)
        db.executemany(ins_delivery, delivery_rows)
        db.executemany(ins_entity, entity_rows)
        db.executemany(ins_link, link_rows)
        db.execute("COMMIT")
        for rows in (signals_rows, delivery_rows, entity_rows, link_rows):
            rows.clear()

    for i in range(n):
        sid_row = i + 1
        received = times[i]
        rule_id, rule_name, scenario, base_rank, _, mode = rules[bisect.bisect_left(rule_cum, rng.random() * rule_cum[-1])]
        rank = max(0, min(4, base_rank + rng.choice((-1, 0, 0, 0, 0, 1))))
        severity = SEVERITIES[rank]
        signal_id = "AQAAAY" + base64.urlsafe_b64encode(rng.randbytes(24)).decode().rstrip("=")
        service = rng.choice(services)
        entities, proposals = [], []
        attrs = {}
        event_name = event_outcome = actor = None
        if scenario == "ip":
            ips = [pick_ip()] if rng.random() > 0.08 else [pick_ip(), pick_ip()]
            ips = list(dict.fromkeys(ips))
            event_name, event_outcome = rng.choice([("ConsoleLogin", "success"), ("authentication", "failure"), ("http.request", "blocked")])
            attrs = {"network": {"client": {"ip": ips}}, "evt": {"name": event_name, "outcome": event_outcome},
                     "http": {"status_code": rng.choice([200, 401, 403, 404]), "url_details": {"path": "/login"}}}
            entities = [("ip", ip) for ip in ips]
            proposals = [("ban-ip", "ip", ip) for ip in ips]
            title = f"{rule_name} from {ips[0]}"
        elif scenario == "fraud":
            user, ip = pick_user(), pick_ip()
            event_name, event_outcome = "credit_card_authorization", rng.choice(["fail", "fail", "success"])
            attrs = {"usr": {"id": user}, "evt": {"name": event_name, "outcome": event_outcome},
                     "network": {"client": {"ip": [ip]}}, "card": {"bin": str(rng.randrange(400000, 560000))}}
            entities = [("ip", ip), ("user", user)]
            proposals = [("ban-ip", "ip", ip), ("disable-user", "user", user)]
            title = f"{rule_name} for {user}"
        else:
            sg, arn, ip = pick_sg(), pick_arn(), pick_ip()
            actor = arn
            event_name, event_outcome = rng.choice(["AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"]), "success"
            attrs = {"evt": {"name": event_name, "outcome": event_outcome},
                     "requestParameters": {"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                                           "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
                     "userIdentity": {"arn": arn}, "network": {"client": {"ip": [ip]}}}
            entities = [("ip", ip), ("security_group", sg), ("actor", arn)]
            proposals = [("delete-security-group", "security_group", sg)]
            title = f"{rule_name}: {sg}"
        tags = [f"env:{rng.choice(['prod', 'prod', 'staging'])}", f"service:{service}", "source:cloudtrail" if scenario == "sg" else "source:nginx"]
        link = f"https://app.datadoghq.com/security?event={signal_id}"
        body = {
            "SECURITY_RULE_NAME": rule_name, "SECURITY_RULE_ID": rule_id, "SECURITY_RULE_TYPE": "log_detection",
            "SECURITY_SIGNAL_ID": signal_id, "SECURITY_SIGNAL_SEVERITY": severity, "SECURITY_SIGNAL_TITLE": title,
            "SECURITY_SIGNAL_MSG": f"{rule_name}. Investigate the {service} logs.", "SECURITY_SIGNAL_ATTRIBUTES": attrs,
            "TAGS": ",".join(tags), "DATE": str(received - rng.randrange(500, 30_000)), "LINK": link,
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        sha = hashlib.sha256(raw).hexdigest()
        deliveries = 2 if rng.random() < 0.03 else 1
        signals_rows.append((sid_row, signal_id, rule_id, rule_name, rule_id, "log_detection", severity, title, body["SECURITY_SIGNAL_MSG"], link,
                             body["DATE"], json.dumps(tags, separators=(",", ":")), "[]", "[]", event_name, event_outcome, actor,
                             json.dumps(attrs, separators=(",", ":")), "application/json", raw, sha, received,
                             received + (rng.randrange(1000, 60_000) if deliveries == 2 else 0), deliveries))
        peer = f"10.20.{rng.randrange(4)}.{rng.randrange(2, 30)}:{rng.randrange(30000, 61000)}"
        delivery_id += 1
        first_delivery = delivery_id
        delivery_rows.append((delivery_id, sid_row, received, peer, "application/json", sha, 0))
        if deliveries == 2:
            delivery_id += 1
            delivery_rows.append((delivery_id, sid_row, received + 5000, peer, "application/json", sha, 1))
        for pos, (kind, value) in enumerate(entities):
            entity_rows.append((sid_row, kind, value, pos, first_delivery))
        for action, kind, target in proposals:
            r = remediations.get((action, target))
            if r is None:
                r = [len(remediations) + 1, kind, rule_id, received, received, 0, rank]
                remediations[(action, target)] = r
            r[4] = received
            r[5] += 1
            r[6] = max(r[6], rank)
            link_rows.append((r[0], sid_row))
        rule_seen[rule_id] = received
        if len(signals_rows) >= CHUNK:
            flush()
            print(f"generate_db: {i + 1} signals ({time.monotonic() - t_start:.0f} s)", file=sys.stderr)
    if signals_rows:
        flush()
    t_signals = time.monotonic()

    rule_by_id = {r[0]: r for r in RULES}
    rem_rows, attempt_rows, audit_rows = [], [], []
    for (action, target), (rid, kind, rule_id, first_ms, last_ms, count, rank) in remediations.items():
        _, rule_name, _, _, _, mode = rule_by_id[rule_id]
        age = now_ms - last_ms
        decided_by = decided_ms = reason = last_status = last_error = request = None
        attempts = 0
        roll = rng.random()
        if kind == "ip" and target in allowlisted:
            state, reason = "suppressed", "allowlist: " + (target.rsplit(".", 1)[0] + ".0/24" if "." in target else target + "/64")
        elif mode == "dry-run":
            state = "simulated"
            request = f'POST https://waf.example.com/v1/ip-sets/gavel-blocklist/addresses {{"address":"{target}"}}'
        elif mode == "auto":
            decided_by, decided_ms = f"auto:{rule_id}", min(now_ms, first_ms + rng.randrange(50, 2000))
            if age < 600_000 and roll < 0.2:
                state = "approved"
            elif roll < 0.97:
                state, attempts, last_status = "dispatched", 1, 200
            else:
                state, attempts, last_status, last_error = "failed", 6, 503, "HTTP 503 from waf.example.com after 6 attempts"
        elif age < 2 * DAY_MS:
            state = "pending" if roll < 0.7 else "approved" if roll < 0.73 else "dispatched" if roll < 0.93 else "rejected"
        else:
            state = ("dispatched" if roll < 0.62 else "rejected" if roll < 0.84 else "failed" if roll < 0.88 else "pending")
        if state in ("approved", "dispatched", "failed", "rejected") and decided_by is None:
            decided_by = rng.choice(ANALYSTS)
            decided_ms = min(now_ms, first_ms + rng.randrange(60_000, 3 * DAY_MS))
        if state == "rejected":
            reason = rng.choice(REJECT_REASONS)
        if state == "dispatched" and attempts == 0:
            attempts, last_status = (1, 200) if rng.random() < 0.95 else (2, 200)
        if state == "failed" and attempts == 0:
            attempts, last_status, last_error = rng.randrange(2, 7), rng.choice([500, 502, 503, 400]), "HTTP error from the action endpoint"
        updated = min(now_ms, max(last_ms, decided_ms or 0) + (rng.randrange(100, 3000) if attempts else 0))
        rem_rows.append((rid, action, kind, target, rule_id, rule_name, rank, state, "gavel-" + str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                         count, first_ms, updated, last_ms, decided_by, decided_ms, reason, attempts, last_status, last_error, request))
        audit_rows.append((first_ms, "gavel", "propose", f"remediation {rid}", None, "suppressed" if state == "suppressed" else "simulated" if state == "simulated" else "pending",
                           f"{action} {target}" + (f" — {reason}" if state == "suppressed" else "")))
        if decided_by:
            verb = "reject" if state == "rejected" else "approve"
            audit_rows.append((decided_ms, decided_by, verb, f"remediation {rid}", "pending", "rejected" if verb == "reject" else "approved", reason if verb == "reject" else None))
        for a in range(attempts):
            ok = a == attempts - 1 and state == "dispatched"
            status = 200 if ok else (last_status if state == "failed" else 503)
            at = min(now_ms, (decided_ms or first_ms) + 200 + a * 2000)
            attempt_rows.append((rid, at, rng.randrange(20, 900), status, "success" if ok else ("failed" if a == attempts - 1 else "retry"),
                                 None if ok else f"HTTP {status}", '{"ok":true}' if ok else "upstream unavailable"))
            audit_rows.append((at, "dispatcher", "dispatch", f"remediation {rid}", "dispatching",
                               "dispatched" if ok else ("failed" if a == attempts - 1 else "approved (retry)"), f"attempt {a + 1}: status {status}"))
    audit_rows.sort(key=lambda r: r[0])
    db.execute("BEGIN")
    db.executemany("""INSERT INTO remediations (id, action, target_kind, target, rule_key, rule_name, severity_rank, state, idempotency_key,
        signals, created_ms, updated_ms, last_seen_ms, decided_by, decided_ms, reason, attempts, last_status, last_error, request)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", rem_rows)
    db.executemany("INSERT INTO attempts (remediation, started_ms, duration_ms, status, outcome, error, response) VALUES (?,?,?,?,?,?,?)", attempt_rows)
    for rule_id, rule_name, _, _, _, mode in RULES:
        if rule_id in rule_seen:
            db.execute("INSERT INTO rules (rule_key, rule_id, rule_name, mode, mode_explicit, last_seen_ms) VALUES (?,?,?,?,?,?)",
                       (rule_id, rule_id, rule_name, mode, 1 if mode != "manual" else 0, rule_seen[rule_id]))
            if mode != "manual":
                audit_rows.insert(0, (now_ms - 365 * DAY_MS, rng.choice(ANALYSTS), "mode", f"rule {rule_id}", "manual", mode, None))
    db.executemany("INSERT INTO audit (at_ms, actor, action, subject, before, after, detail) VALUES (?,?,?,?,?,?,?)", audit_rows)
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("ANALYZE")
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("signals", "deliveries", "entities", "remediations", "remediation_signals", "attempts", "audit", "rules")}
    states = dict(db.execute("SELECT state, count(*) FROM remediations GROUP BY state").fetchall())
    db.close()
    t_end = time.monotonic()
    size = sum(os.path.getsize(p) for p in (args.db, args.db + "-wal") if os.path.exists(p))
    print(f"generate_db: {args.db}: {size / 2**20:.0f} MiB in {t_end - t_start:.1f} s "
          f"(signals {t_signals - t_start:.1f} s, remediations/audit {t_end - t_signals:.1f} s)")
    print("generate_db: rows " + " ".join(f"{k}={v}" for k, v in counts.items()))
    print("generate_db: remediations " + " ".join(f"{k}={v}" for k, v in sorted(states.items())))


if __name__ == "__main__":
    main()
