/// The database schema and its migrations, versioned by `PRAGMA user_version`.
///
/// Migrations are strictly linear: migration *n* (1-based) takes a database from
/// `user_version = n-1` to `n`, inside one `BEGIN IMMEDIATE` transaction. An applied
/// migration is never edited; changes are new migrations. Times are integer epoch
/// milliseconds (UTC) in columns named `*_ms`; the CLI prints them as RFC 3339.
enum Schema {
    static let migrations: [String] = [
        // 1: signals, entities, deliveries, intake errors, audit log, rules, remediations.
        """
        CREATE TABLE signals (
            id            INTEGER PRIMARY KEY,
            signal_id     TEXT NOT NULL UNIQUE,
            source        TEXT NOT NULL DEFAULT 'datadog',
            rule_key      TEXT NOT NULL,
            rule_name     TEXT,
            rule_id       TEXT,
            rule_type     TEXT,
            severity      TEXT,
            title         TEXT,
            message       TEXT,
            link          TEXT,
            event_id      TEXT,
            date_ms       TEXT,
            tags          TEXT NOT NULL DEFAULT '[]',
            queries       TEXT NOT NULL DEFAULT '[]',
            group_by      TEXT NOT NULL DEFAULT '[]',
            event_name    TEXT,
            event_outcome TEXT,
            actor         TEXT,
            attributes    TEXT,
            flags         TEXT NOT NULL DEFAULT '[]',
            content_type  TEXT,
            raw_body      BLOB NOT NULL,
            body_sha256   TEXT NOT NULL,
            received_ms   INTEGER NOT NULL,
            updated_ms    INTEGER NOT NULL,
            deliveries    INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX signals_rule ON signals(rule_key, id);
        CREATE TABLE entities (
            signal   INTEGER NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
            kind     TEXT NOT NULL CHECK (kind IN ('ip','user','security_group','invalid_ip','user_email','user_name','actor')),
            value    TEXT NOT NULL,
            position INTEGER NOT NULL,
            delivery INTEGER NOT NULL,
            PRIMARY KEY (signal, kind, value)
        ) WITHOUT ROWID;
        CREATE INDEX entities_value ON entities(kind, value);
        CREATE TABLE deliveries (
            id           INTEGER PRIMARY KEY,
            signal       INTEGER NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
            received_ms  INTEGER NOT NULL,
            peer         TEXT,
            content_type TEXT,
            body_sha256  TEXT NOT NULL,
            body         BLOB,
            duplicate    INTEGER NOT NULL,
            new_entities INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX deliveries_signal ON deliveries(signal);
        CREATE TABLE intake_errors (
            id           INTEGER PRIMARY KEY,
            received_ms  INTEGER NOT NULL,
            peer         TEXT,
            status       INTEGER NOT NULL,
            reason       TEXT NOT NULL,
            content_type TEXT,
            body         BLOB NOT NULL,
            body_size    INTEGER NOT NULL
        );
        CREATE TABLE audit (
            id       INTEGER PRIMARY KEY,
            at_ms    INTEGER NOT NULL,
            actor    TEXT NOT NULL,
            action   TEXT NOT NULL,
            subject  TEXT NOT NULL,
            before   TEXT,
            after    TEXT,
            detail   TEXT
        );
        CREATE TABLE rules (
            rule_key         TEXT PRIMARY KEY,
            rule_id          TEXT,
            rule_name        TEXT,
            mode             TEXT NOT NULL DEFAULT 'manual' CHECK (mode IN ('manual','auto','dry-run')),
            mode_explicit    INTEGER NOT NULL DEFAULT 0,
            disabled_actions TEXT NOT NULL DEFAULT '[]',
            throttled_ms     INTEGER,
            last_seen_ms     INTEGER
        );
        CREATE TABLE remediations (
            id              INTEGER PRIMARY KEY,
            action          TEXT NOT NULL,
            target_kind     TEXT NOT NULL,
            target          TEXT NOT NULL,
            rule_key        TEXT NOT NULL,
            rule_name       TEXT,
            severity_rank   INTEGER NOT NULL DEFAULT -1,
            state           TEXT NOT NULL CHECK (state IN ('pending','approved','dispatching','dispatched','failed','rejected','suppressed','simulated')),
            idempotency_key TEXT NOT NULL UNIQUE,
            signals         INTEGER NOT NULL DEFAULT 1,
            created_ms      INTEGER NOT NULL,
            updated_ms      INTEGER NOT NULL,
            last_seen_ms    INTEGER NOT NULL,
            decided_by      TEXT,
            decided_ms      INTEGER,
            reason          TEXT,
            attempts        INTEGER NOT NULL DEFAULT 0,
            last_status     INTEGER,
            last_error      TEXT,
            next_attempt_ms INTEGER,
            claimed_by      TEXT,
            request         TEXT
        );
        CREATE UNIQUE INDEX remediations_open ON remediations(action, target) WHERE state IN ('pending','approved','dispatching');
        CREATE INDEX remediations_queue ON remediations(state, severity_rank DESC, id);
        CREATE INDEX remediations_rule ON remediations(rule_key, state);
        CREATE INDEX remediations_target ON remediations(target);
        CREATE TABLE remediation_signals (
            remediation INTEGER NOT NULL REFERENCES remediations(id) ON DELETE CASCADE,
            signal      INTEGER NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
            PRIMARY KEY (remediation, signal)
        ) WITHOUT ROWID;
        CREATE INDEX remediation_signals_signal ON remediation_signals(signal);
        CREATE TABLE attempts (
            id          INTEGER PRIMARY KEY,
            remediation INTEGER NOT NULL REFERENCES remediations(id) ON DELETE CASCADE,
            started_ms  INTEGER NOT NULL,
            duration_ms INTEGER,
            status      INTEGER,
            outcome     TEXT,
            error       TEXT,
            response    TEXT
        );
        CREATE INDEX attempts_remediation ON attempts(remediation);
        CREATE TABLE settings (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
        // 2: indexes for the console's keyset pages (Pending: severity, then oldest; History: newest first).
        """
        DROP INDEX remediations_queue;
        CREATE INDEX remediations_severity ON remediations(state, severity_rank DESC, created_ms, id);
        CREATE INDEX remediations_state_created ON remediations(state, created_ms, id);
        CREATE INDEX remediations_created ON remediations(created_ms, id);
        """,
        // 3: the console at scale (issue 6 item 4). Two derived tables, filled from the existing
        // rows here and kept by triggers, so that a list row, the header and the filter read a few
        // rows instead of every signal of a remediation or every remediation:
        // - remediation_entities: the distinct IPs and users of each remediation's signals, with
        //   the smallest signal row id and the smallest position each occurs at (the list row's
        //   "IPs and users behind it", in order of first appearance);
        // - remediation_counts: how many remediations each (rule, state) has (header counts,
        //   the Rules view's pending and dispatched counts).
        """
        CREATE TABLE remediation_entities (
            remediation    INTEGER NOT NULL REFERENCES remediations(id) ON DELETE CASCADE,
            kind           TEXT NOT NULL,
            value          TEXT NOT NULL,
            first_signal   INTEGER NOT NULL,
            first_position INTEGER NOT NULL,
            PRIMARY KEY (remediation, kind, value)
        ) WITHOUT ROWID;
        CREATE INDEX remediation_entities_first ON remediation_entities(remediation, first_signal, first_position);
        INSERT INTO remediation_entities (remediation, kind, value, first_signal, first_position)
            SELECT rs.remediation, e.kind, e.value, min(e.signal), min(e.position)
            FROM remediation_signals rs JOIN entities e ON e.signal = rs.signal
            WHERE e.kind IN ('ip','user') GROUP BY rs.remediation, e.kind, e.value;
        CREATE TRIGGER remediation_entities_link AFTER INSERT ON remediation_signals BEGIN
            INSERT INTO remediation_entities (remediation, kind, value, first_signal, first_position)
                SELECT new.remediation, kind, value, signal, position FROM entities WHERE signal = new.signal AND kind IN ('ip','user')
                ON CONFLICT (remediation, kind, value) DO UPDATE SET
                    first_signal = min(first_signal, excluded.first_signal), first_position = min(first_position, excluded.first_position)
                WHERE excluded.first_signal < first_signal OR excluded.first_position < first_position;
        END;
        CREATE TRIGGER remediation_entities_entity AFTER INSERT ON entities WHEN new.kind IN ('ip','user') BEGIN
            INSERT INTO remediation_entities (remediation, kind, value, first_signal, first_position)
                SELECT remediation, new.kind, new.value, new.signal, new.position FROM remediation_signals WHERE signal = new.signal
                ON CONFLICT (remediation, kind, value) DO UPDATE SET
                    first_signal = min(first_signal, excluded.first_signal), first_position = min(first_position, excluded.first_position)
                WHERE excluded.first_signal < first_signal OR excluded.first_position < first_position;
        END;
        CREATE TRIGGER remediation_entities_unlink AFTER DELETE ON remediation_signals BEGIN
            DELETE FROM remediation_entities WHERE remediation = old.remediation;
            INSERT INTO remediation_entities (remediation, kind, value, first_signal, first_position)
                SELECT rs.remediation, e.kind, e.value, min(e.signal), min(e.position)
                FROM remediation_signals rs JOIN entities e ON e.signal = rs.signal
                WHERE rs.remediation = old.remediation AND e.kind IN ('ip','user') GROUP BY rs.remediation, e.kind, e.value;
        END;
        CREATE TABLE remediation_counts (
            rule_key TEXT NOT NULL,
            state    TEXT NOT NULL,
            n        INTEGER NOT NULL,
            PRIMARY KEY (rule_key, state)
        ) WITHOUT ROWID;
        INSERT INTO remediation_counts (rule_key, state, n) SELECT rule_key, state, count(*) FROM remediations GROUP BY rule_key, state;
        CREATE TRIGGER remediation_counts_insert AFTER INSERT ON remediations BEGIN
            INSERT INTO remediation_counts (rule_key, state, n) VALUES (new.rule_key, new.state, 1)
                ON CONFLICT (rule_key, state) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER remediation_counts_update AFTER UPDATE OF state, rule_key ON remediations
            WHEN old.state IS NOT new.state OR old.rule_key IS NOT new.rule_key BEGIN
            UPDATE remediation_counts SET n = n - 1 WHERE rule_key = old.rule_key AND state = old.state;
            INSERT INTO remediation_counts (rule_key, state, n) VALUES (new.rule_key, new.state, 1)
                ON CONFLICT (rule_key, state) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER remediation_counts_delete AFTER DELETE ON remediations BEGIN
            UPDATE remediation_counts SET n = n - 1 WHERE rule_key = old.rule_key AND state = old.state;
        END;
        """,
    ]

    /// The schema version this build writes.
    static var latestVersion: Int { migrations.count }

    /// Brings `db` to the latest version. A database newer than this build is refused.
    static func migrate(_ db: Database) throws(SQLiteError) {
        guard let current = try db.query("PRAGMA user_version").first?.int(0) else { return }
        if current == latestVersion { return }
        guard current < latestVersion else {
            throw SQLiteError(
                code: 1, message: "database schema version \(current) is newer than this gavel (\(latestVersion))", context: "migrating \(db.path)")
        }
        do {
            try db.writeTransaction {
                // Re-read inside the write lock: another process may have migrated meanwhile.
                let version = try db.query("PRAGMA user_version").first?.int(0) ?? 0
                for index in version..<latestVersion {
                    try db.execute(migrations[index])
                    try db.execute("PRAGMA user_version = \(index + 1)")
                }
            }
        } catch let error as SQLiteError {
            throw error
        } catch {
            throw SQLiteError(code: 1, message: "\(error)", context: "migrating \(db.path)")
        }
    }
}
