import CSQLite
import GavelCore
import GavelStore

/// The database schema and its migrations, versioned by `PRAGMA user_version`.
///
/// Migrations are strictly linear: migration *n* (1-based) takes a database from
/// `user_version = n-1` to `n`, inside one `BEGIN IMMEDIATE` transaction. An applied
/// migration is never edited; changes are new migrations. Times are integer epoch
/// milliseconds (UTC) in columns named `*_ms`; the CLI prints them as RFC 3339.
enum Schema {
    /// One step of the schema: SQL, optionally run with foreign keys off (SQLite's procedure for
    /// rebuilding a table, https://sqlite.org/lang_altertable.html#otheralter), and a Swift step
    /// after it for values SQL cannot compute (`TextFilter.folded`).
    struct Migration: Sendable {
        var sql: String
        var rebuildsTables = false
        var after: (@Sendable (Database) throws -> Void)?
    }

    static let migrations: [Migration] =
        sqlMigrations.map { Migration(sql: $0) } + [renovation, lifeAfterDispatch, accountability, senders, storms, commandStderr]

    static let sqlMigrations: [String] = [
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

    /// The triggers that keep `remediation_entities` (a remediation's IPs and users, with the
    /// first signal and position each came from, and its folded text) in step with
    /// `remediation_signals` and `entities`. Created by the renovation (4) and again by the senders
    /// migration (7), which rebuilds `entities` and so drops them.
    static let remediationEntitiesTriggers = """
        CREATE TRIGGER remediation_entities_link AFTER INSERT ON remediation_signals BEGIN
            INSERT INTO remediation_entities (remediation, kind, value, first_signal, first_position, folded)
                SELECT new.remediation, kind, value, signal, position, folded FROM entities WHERE signal = new.signal AND kind IN ('ip','user')
                ON CONFLICT (remediation, kind, value) DO UPDATE SET
                    first_signal = min(first_signal, excluded.first_signal), first_position = min(first_position, excluded.first_position)
                WHERE excluded.first_signal < first_signal OR excluded.first_position < first_position;
        END;
        CREATE TRIGGER remediation_entities_entity AFTER INSERT ON entities WHEN new.kind IN ('ip','user') BEGIN
            INSERT INTO remediation_entities (remediation, kind, value, first_signal, first_position, folded)
                SELECT remediation, new.kind, new.value, new.signal, new.position, new.folded FROM remediation_signals WHERE signal = new.signal
                ON CONFLICT (remediation, kind, value) DO UPDATE SET
                    first_signal = min(first_signal, excluded.first_signal), first_position = min(first_position, excluded.first_position)
                WHERE excluded.first_signal < first_signal OR excluded.first_position < first_position;
        END;
        CREATE TRIGGER remediation_entities_unlink AFTER DELETE ON remediation_signals BEGIN
            DELETE FROM remediation_entities WHERE remediation = old.remediation;
            INSERT INTO remediation_entities (remediation, kind, value, first_signal, first_position, folded)
                SELECT rs.remediation, e.kind, e.value, min(e.signal), min(e.position), e.folded
                FROM remediation_signals rs JOIN entities e ON e.signal = rs.signal
                WHERE rs.remediation = old.remediation AND e.kind IN ('ip','user') GROUP BY rs.remediation, e.kind, e.value;
        END;
        """

    /// 4: the renovation (one remediation, one store).
    /// - `remediations` rebuilt without the state CHECK: the states are the state machine table's
    ///   (`RemediationLifecycle`), so a new state is not a table rebuild; with `bound_request`
    ///   (the request bound at approval, `RenderedRequest.storageText`), `config_version` (the
    ///   configuration it was bound under), `lease_until_ms` (dispatch claims under a lease) and
    ///   `search_text` (`TextFilter.folded` rule name, key, target and action, for the filter);
    ///   an index on (decided_by, decided_ms) for the auto budgets.
    /// - `entities.folded` and `remediation_entities.folded`: `TextFilter.folded(value)`.
    /// - `rule_aliases`: every rule id and name seen, mapped to its rule row, so a rule's mode
    ///   and budget hold however its signals name it.
    /// - `configurations`: the configuration in force, versioned.
    static let renovation = Migration(
        sql: """
            CREATE TABLE remediations_v4 (
                id              INTEGER PRIMARY KEY,
                action          TEXT NOT NULL,
                target_kind     TEXT NOT NULL,
                target          TEXT NOT NULL,
                rule_key        TEXT NOT NULL,
                rule_name       TEXT,
                severity_rank   INTEGER NOT NULL DEFAULT -1,
                state           TEXT NOT NULL,
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
                lease_until_ms  INTEGER,
                request         TEXT,
                bound_request   TEXT,
                config_version  INTEGER,
                search_text     TEXT NOT NULL DEFAULT ''
            );
            INSERT INTO remediations_v4 (id, action, target_kind, target, rule_key, rule_name, severity_rank, state, idempotency_key,
                signals, created_ms, updated_ms, last_seen_ms, decided_by, decided_ms, reason, attempts, last_status, last_error,
                next_attempt_ms, claimed_by, request)
            SELECT id, action, target_kind, target, rule_key, rule_name, severity_rank, state, idempotency_key,
                signals, created_ms, updated_ms, last_seen_ms, decided_by, decided_ms, reason, attempts, last_status, last_error,
                next_attempt_ms, claimed_by, request FROM remediations;
            DROP TABLE remediations;
            ALTER TABLE remediations_v4 RENAME TO remediations;
            CREATE UNIQUE INDEX remediations_open ON remediations(action, target) WHERE state IN ('pending','approved','dispatching');
            CREATE INDEX remediations_severity ON remediations(state, severity_rank DESC, created_ms, id);
            CREATE INDEX remediations_state_created ON remediations(state, created_ms, id);
            CREATE INDEX remediations_created ON remediations(created_ms, id);
            CREATE INDEX remediations_rule ON remediations(rule_key, state);
            CREATE INDEX remediations_target ON remediations(target);
            CREATE INDEX remediations_decided ON remediations(decided_by, decided_ms);
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
            ALTER TABLE entities ADD COLUMN folded TEXT;
            ALTER TABLE remediation_entities ADD COLUMN folded TEXT;
            DROP TRIGGER remediation_entities_link;
            DROP TRIGGER remediation_entities_entity;
            DROP TRIGGER remediation_entities_unlink;
            \(remediationEntitiesTriggers)
            CREATE TABLE rule_aliases (
                kind     TEXT NOT NULL CHECK (kind IN ('id','name')),
                value    TEXT NOT NULL,
                rule_key TEXT NOT NULL REFERENCES rules(rule_key),
                PRIMARY KEY (kind, value)
            ) WITHOUT ROWID;
            INSERT OR IGNORE INTO rule_aliases (kind, value, rule_key) SELECT 'id', rule_id, rule_key FROM rules WHERE rule_id IS NOT NULL;
            INSERT OR IGNORE INTO rule_aliases (kind, value, rule_key)
                SELECT 'name', rule_name, rule_key FROM rules WHERE rule_name IS NOT NULL ORDER BY mode_explicit DESC, last_seen_ms DESC;
            CREATE TABLE configurations (
                version    INTEGER PRIMARY KEY,
                text       TEXT NOT NULL,
                sha256     TEXT NOT NULL,
                source     TEXT,
                applied_by TEXT NOT NULL,
                applied_ms INTEGER NOT NULL
            );
            """,
        rebuildsTables: true,
        after: { db in
            // TextFilter.folded is Swift's Unicode lowercasing, which SQL's ASCII lower() is not.
            for row in try db.query("SELECT DISTINCT value FROM entities WHERE kind IN ('ip','user')") {
                guard let value = row.string(0) else { continue }
                let folded = SQLValue.text(TextFilter.folded(value))
                try db.run("UPDATE entities SET folded = ? WHERE kind IN ('ip','user') AND value = ?", [folded, .text(value)])
                try db.run("UPDATE remediation_entities SET folded = ? WHERE value = ?", [folded, .text(value)])
            }
            for row in try db.query("SELECT id, rule_name, rule_key, target, action FROM remediations") {
                let text = SQLiteStore.searchText(
                    ruleName: row.string(1), ruleKey: row.string(2) ?? "", target: row.string(3) ?? "",
                    action: row.string(4) ?? "")
                try db.run("UPDATE remediations SET search_text = ? WHERE id = ?", [.text(text), row[0]])
            }
        })

    /// 5: remediations that end (issue 12): when one came into force, when it expires and for how
    /// long, the sender's suggested duration, the dispatch's response (for a revert's
    /// `{{response.json.…}}`), the revert request bound when the revert was decided, who reverted it,
    /// when and why; attempts know whether they dispatched or reverted; allowlist entries added with
    /// `gavel allowlist add`. Rows already dispatched came into force when they were last updated.
    static let lifeAfterDispatch = Migration(
        sql: """
            ALTER TABLE remediations ADD COLUMN dispatched_ms INTEGER;
            ALTER TABLE remediations ADD COLUMN expires_ms INTEGER;
            ALTER TABLE remediations ADD COLUMN duration_ms INTEGER;
            ALTER TABLE remediations ADD COLUMN suggested_duration_ms INTEGER;
            ALTER TABLE remediations ADD COLUMN dispatch_response TEXT;
            ALTER TABLE remediations ADD COLUMN revert_request TEXT;
            ALTER TABLE remediations ADD COLUMN reverted_by TEXT;
            ALTER TABLE remediations ADD COLUMN reverted_ms INTEGER;
            ALTER TABLE remediations ADD COLUMN revert_reason TEXT;
            ALTER TABLE attempts ADD COLUMN kind TEXT NOT NULL DEFAULT 'dispatch';
            CREATE INDEX remediations_expiry ON remediations(state, expires_ms);
            CREATE INDEX remediations_action_target ON remediations(action, target, state);
            CREATE TABLE allowlist_entries (
                id       INTEGER PRIMARY KEY,
                kind     TEXT NOT NULL,
                value    TEXT NOT NULL,
                reason   TEXT NOT NULL,
                added_by TEXT NOT NULL,
                added_ms INTEGER NOT NULL,
                UNIQUE (kind, value)
            );
            UPDATE remediations SET dispatched_ms = updated_ms,
                dispatch_response = (SELECT a.response FROM attempts a WHERE a.remediation = remediations.id AND a.outcome = 'success'
                                     ORDER BY a.id DESC LIMIT 1)
            WHERE state = 'dispatched';
            """)

    /// 6: accountability (issue 14): the audit log as a hash chain (`prev_hash`, `hash`, see
    /// `AuditChain`; the rows already there are chained in id order), approvals by several
    /// analysts, notes.
    static let accountability = Migration(
        sql: """
            ALTER TABLE audit ADD COLUMN prev_hash TEXT;
            ALTER TABLE audit ADD COLUMN hash TEXT;
            CREATE TABLE approvals (
                remediation INTEGER NOT NULL REFERENCES remediations(id) ON DELETE CASCADE,
                analyst     TEXT NOT NULL,
                at_ms       INTEGER NOT NULL,
                PRIMARY KEY (remediation, analyst)
            ) WITHOUT ROWID;
            CREATE TABLE notes (
                id          INTEGER PRIMARY KEY,
                remediation INTEGER NOT NULL REFERENCES remediations(id) ON DELETE CASCADE,
                author      TEXT NOT NULL,
                at_ms       INTEGER NOT NULL,
                text        TEXT NOT NULL
            );
            CREATE INDEX notes_remediation ON notes(remediation, id);
            """,
        after: { db in
            var previous = AuditChain.genesis
            for row in try db.query("SELECT \(SQLiteStore.auditColumns) FROM audit ORDER BY id") {
                let entry = SQLiteStore.auditEntry(from: row)
                let hash = AuditChain.hash(previous: previous, content: entry.chainContent)
                try db.run("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", [.text(previous), .text(hash), .integer(entry.id)])
                previous = hash
            }
        })

    /// 7: every sender (issue 13).
    /// - `signals`: the sender's `status` (`firing`, `resolved`), the suggested duration in
    ///   seconds, the event count, first and last seen as the sender wrote them (`source` was
    ///   there from the start).
    /// - `entities` rebuilt for its CHECK on `kind` (SQLite cannot alter a CHECK,
    ///   https://sqlite.org/lang_altertable.html#otheralter): `ip_range` and the context kinds
    ///   `context_ip`, `context_host`, `context_resource`, `context_security_group`. The
    ///   `remediation_entities` triggers that read it are recreated (they still keep only `ip` and
    ///   `user`: context is never a remediation's entity).
    /// - `posts`: a post of several alerts, kept once byte for byte; `deliveries.post` (a `posts`
    ///   id) links each of its signals' deliveries to it.
    /// - `remediations.false_positive`: the analyst's mark on a rejection.
    /// - `triage_updates` (the word back to Datadog, `TriageQueue`) and `attempts.triage`, the
    ///   id of the update a `triage` attempt tried.
    static let senders = Migration(
        sql: """
            ALTER TABLE signals ADD COLUMN status TEXT NOT NULL DEFAULT 'firing';
            ALTER TABLE signals ADD COLUMN suggested_duration_s INTEGER;
            ALTER TABLE signals ADD COLUMN event_count INTEGER;
            ALTER TABLE signals ADD COLUMN first_seen TEXT;
            ALTER TABLE signals ADD COLUMN last_seen TEXT;
            DROP TRIGGER remediation_entities_link;
            DROP TRIGGER remediation_entities_entity;
            DROP TRIGGER remediation_entities_unlink;
            CREATE TABLE entities_v7 (
                signal   INTEGER NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
                kind     TEXT NOT NULL CHECK (kind IN ('ip','user','security_group','invalid_ip','user_email','user_name','actor',
                                                      'ip_range','context_ip','context_host','context_resource','context_security_group')),
                value    TEXT NOT NULL,
                position INTEGER NOT NULL,
                delivery INTEGER NOT NULL,
                folded   TEXT,
                PRIMARY KEY (signal, kind, value)
            ) WITHOUT ROWID;
            INSERT INTO entities_v7 (signal, kind, value, position, delivery, folded)
                SELECT signal, kind, value, position, delivery, folded FROM entities;
            DROP TABLE entities;
            ALTER TABLE entities_v7 RENAME TO entities;
            CREATE INDEX entities_value ON entities(kind, value);
            \(remediationEntitiesTriggers)
            CREATE TABLE posts (
                id           INTEGER PRIMARY KEY,
                received_ms  INTEGER NOT NULL,
                peer         TEXT,
                content_type TEXT,
                body         BLOB NOT NULL,
                body_sha256  TEXT NOT NULL,
                alerts       INTEGER NOT NULL
            );
            ALTER TABLE deliveries ADD COLUMN post INTEGER;
            ALTER TABLE remediations ADD COLUMN false_positive INTEGER NOT NULL DEFAULT 0;
            CREATE TABLE triage_updates (
                id              INTEGER PRIMARY KEY,
                remediation     INTEGER NOT NULL REFERENCES remediations(id) ON DELETE CASCADE,
                signal          INTEGER NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
                signal_id       TEXT NOT NULL,
                event           TEXT NOT NULL,
                change          TEXT NOT NULL,
                body            TEXT NOT NULL,
                state           TEXT NOT NULL,
                attempts        INTEGER NOT NULL DEFAULT 0,
                next_attempt_ms INTEGER,
                claimed_by      TEXT,
                lease_until_ms  INTEGER,
                last_status     INTEGER,
                last_error      TEXT,
                created_ms      INTEGER NOT NULL,
                updated_ms      INTEGER NOT NULL
            );
            CREATE INDEX triage_updates_due ON triage_updates(state, next_attempt_ms);
            CREATE INDEX triage_updates_remediation ON triage_updates(remediation, id);
            ALTER TABLE attempts ADD COLUMN triage INTEGER;
            """,
        rebuildsTables: true)

    /// 8: storms (issue 15): the batch a remediation waits to be sent in again (`batch_key`: set
    /// when its batch is sent, kept by a retry or a crash recovery, cleared when it succeeds or
    /// fails for good), the batch each attempt went in, and the indexes dispatch claims walk per
    /// action: due remediations oldest first, and the few members of batches waiting to go again
    /// (a partial index, so marking a batch before it is sent touches no large index).
    static let storms = Migration(
        sql: """
            ALTER TABLE remediations ADD COLUMN batch_key TEXT;
            ALTER TABLE attempts ADD COLUMN batch_key TEXT;
            CREATE INDEX remediations_due ON remediations(state, action, next_attempt_ms);
            CREATE INDEX remediations_batch ON remediations(state, action, batch_key) WHERE batch_key IS NOT NULL;
            """)

    /// 9: the end of a command's stderr on each attempt (issue 16: `gavel show` said only
    /// "exit 3" while the reason was in the output).
    static let commandStderr = Migration(sql: "ALTER TABLE attempts ADD COLUMN stderr TEXT;")

    /// The schema version this build writes.
    static var latestVersion: Int { migrations.count }

    /// Refuses a database file that holds another program's tables, before anything is written
    /// to it (switching it to WAL or adding gavel's tables would change someone else's data).
    /// A new or empty file is fine.
    static func refuseForeign(_ db: Database) throws(SQLiteError) {
        let tables = try db.query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .compactMap { $0.string(0) }
        guard !tables.isEmpty else { return }
        let version = try db.query("PRAGMA user_version").first?.int(0) ?? 0
        if version == 0 || !tables.contains("signals") || !tables.contains("remediations") {
            let shown = tables.prefix(5).joined(separator: ", ") + (tables.count > 5 ? ", …" : "")
            throw SQLiteError(code: SQLITE_NOTADB, message: "not a gavel database (it holds other tables: \(shown))", context: "opening \(db.path)")
        }
    }

    /// For a read-only connection: the schema must be this build's (it cannot migrate).
    static func requireCurrent(_ db: Database) throws(SQLiteError) {
        let version = try db.query("PRAGMA user_version").first?.int(0) ?? 0
        if version != latestVersion {
            throw SQLiteError(
                code: SQLITE_READONLY,
                message: "database schema version \(version), this gavel needs \(latestVersion): open it once without --read-only to migrate it",
                context: "opening \(db.path) read-only")
        }
    }

    /// Brings `db` to the latest version. A database newer than this build is refused.
    static func migrate(_ db: Database) throws(SQLiteError) {
        guard let current = try db.query("PRAGMA user_version").first?.int(0) else { return }
        if current == latestVersion { return }
        guard current < latestVersion else {
            throw SQLiteError(
                code: 1, message: "database schema version \(current) is newer than this gavel (\(latestVersion))", context: "migrating \(db.path)")
        }
        // Foreign keys must be off around a table rebuild (a DROP would cascade); the pragma is
        // a no-op inside a transaction, so it is set before BEGIN.
        let rebuilds = migrations[current...].contains { $0.rebuildsTables }
        if rebuilds { try db.execute("PRAGMA foreign_keys=OFF") }
        defer { if rebuilds { try? db.execute("PRAGMA foreign_keys=ON") } }
        do {
            try db.writeTransaction {
                // Re-read inside the write lock: another process may have migrated meanwhile.
                let version = try db.query("PRAGMA user_version").first?.int(0) ?? 0
                for index in version..<latestVersion {
                    try db.execute(migrations[index].sql)
                    try migrations[index].after?(db)
                    try db.execute("PRAGMA user_version = \(index + 1)")
                }
                if rebuilds, let broken = try db.query("PRAGMA foreign_key_check").first {
                    throw SQLiteError(
                        code: 1, message: "foreign key check failed in table \(broken.string(0) ?? "?")", context: "migrating \(db.path)")
                }
            }
        } catch let error as SQLiteError {
            throw error
        } catch {
            throw SQLiteError(code: 1, message: "\(error)", context: "migrating \(db.path)")
        }
    }
}
