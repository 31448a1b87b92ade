import Foundation
import GRDB
import HotDeskCore

/// The schema, one migration per version: append a new one at the end, never edit a shipped one
/// (a migration that adds what a phone's config depends on adds the triggers that move the
/// change stamps too; see `SQLiteChangeStamps`).
extension SQLiteStore {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        registerV1(&m)
        registerV2toV4(&m)
        registerV5toV8(&m)
        registerV9toV14(&m)
        registerV15toV24(&m)
        registerV25toV30(&m)
        registerV31on(&m)
        return m
    }

    /// The first schema: directory, sessions, audit.
    private static func registerV1(_ m: inout DatabaseMigrator) {
        m.registerMigration("v1: directory, sessions, audit") { db in
            try db.execute(
                sql: """
                    CREATE TABLE settings (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        default_login BOOLEAN NOT NULL DEFAULT 0,
                        internal_address TEXT,
                        external_address TEXT,
                        user_password_hash TEXT,
                        admin_password_hash TEXT,
                        emergency_caller_id TEXT,
                        lockout_extension_failures INTEGER NOT NULL DEFAULT 5,
                        lockout_device_failures INTEGER NOT NULL DEFAULT 10,
                        lockout_window_seconds INTEGER NOT NULL DEFAULT 900,
                        lockout_duration_seconds INTEGER NOT NULL DEFAULT 900
                    );
                    INSERT INTO settings (id) VALUES (1);
                    CREATE TABLE extensions (
                        number TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        voicemail_pin_hash TEXT,
                        sip_password_sealed BLOB NOT NULL
                    );
                    CREATE TABLE devices (
                        mac TEXT PRIMARY KEY,
                        model TEXT NOT NULL,
                        token TEXT NOT NULL UNIQUE,
                        enrolled_at DOUBLE NOT NULL,
                        last_address TEXT,
                        last_fetch_at DOUBLE,
                        last_config_hash TEXT
                    );
                    CREATE TABLE templates (
                        name TEXT PRIMARY KEY,
                        brand TEXT NOT NULL,
                        is_default BOOLEAN NOT NULL DEFAULT 0,
                        body TEXT NOT NULL
                    );
                    CREATE UNIQUE INDEX templates_one_default_per_brand ON templates(brand) WHERE is_default;
                    CREATE TABLE mappings (
                        extension TEXT NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
                        template TEXT NOT NULL REFERENCES templates(name) ON DELETE CASCADE,
                        model TEXT NOT NULL DEFAULT '',
                        mac TEXT NOT NULL DEFAULT '',
                        PRIMARY KEY (extension, model, mac)
                    );
                    CREATE TABLE sessions (
                        mac TEXT PRIMARY KEY REFERENCES devices(mac) ON DELETE CASCADE,
                        extension TEXT NOT NULL UNIQUE REFERENCES extensions(number) ON DELETE CASCADE,
                        network TEXT NOT NULL,
                        credential TEXT NOT NULL,
                        started_at DOUBLE NOT NULL,
                        source TEXT
                    );
                    CREATE TABLE login_failures (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at DOUBLE NOT NULL,
                        mac TEXT NOT NULL,
                        extension TEXT
                    );
                    CREATE INDEX login_failures_mac ON login_failures(mac, at);
                    CREATE INDEX login_failures_extension ON login_failures(extension, at);
                    CREATE TABLE audit (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at DOUBLE NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        mac TEXT,
                        extension TEXT,
                        source TEXT,
                        outcome TEXT NOT NULL,
                        detail TEXT NOT NULL DEFAULT ''
                    );
                    CREATE INDEX audit_at ON audit(at);
                    """
            )
        }
    }

    /// Pushes, keys, families as data.
    private static func registerV2toV4(_ m: inout DatabaseMigrator) {
        m.registerMigration("v2: pushes, phone web logins, API keys") { db in
            try db.execute(
                sql: """
                    ALTER TABLE settings ADD COLUMN push_port INTEGER NOT NULL DEFAULT 80;
                    CREATE TABLE phone_credentials (
                        brand TEXT PRIMARY KEY,
                        username TEXT NOT NULL,
                        password_sealed BLOB NOT NULL
                    );
                    ALTER TABLE devices ADD COLUMN push_port INTEGER;
                    ALTER TABLE devices ADD COLUMN phone_username TEXT;
                    ALTER TABLE devices ADD COLUMN phone_password_sealed BLOB;
                    ALTER TABLE devices ADD COLUMN last_host TEXT;
                    CREATE TABLE push_jobs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        mac TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
                        action TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        last_error TEXT,
                        config_hash TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        created_at DOUBLE NOT NULL,
                        updated_at DOUBLE NOT NULL,
                        due_at DOUBLE NOT NULL,
                        sent_at DOUBLE,
                        applied_at DOUBLE
                    );
                    CREATE INDEX push_jobs_pending ON push_jobs(state, due_at);
                    CREATE INDEX push_jobs_mac ON push_jobs(mac, id);
                    CREATE TABLE api_keys (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL UNIQUE,
                        key_hash TEXT NOT NULL UNIQUE,
                        created_at DOUBLE NOT NULL,
                        last_used_at DOUBLE
                    );
                    """
            )
        }
        m.registerMigration("v3: messages pushed to phones, the push source address, auto logout") { db in
            try db.execute(
                sql: """
                    ALTER TABLE push_jobs ADD COLUMN message TEXT;
                    ALTER TABLE settings ADD COLUMN push_from TEXT;
                    ALTER TABLE settings ADD COLUMN auto_logout_after_minutes INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE settings ADD COLUMN auto_logout_daily_at TEXT;
                    ALTER TABLE devices ADD COLUMN last_config_address TEXT;
                    ALTER TABLE push_jobs ADD COLUMN alt_config_hash TEXT;
                    """
            )
        }
        m.registerMigration("v4: every family as data: a device's brand is stored, not read off its model's name") { db in
            try db.execute(
                sql: """
                    ALTER TABLE devices ADD COLUMN brand TEXT NOT NULL DEFAULT '';
                    UPDATE devices SET brand = substr(model, 1, instr(model, '-') - 1) WHERE instr(model, '-') > 0;
                    """
            )
        }
    }

    /// Shared lines, multi-login, workspaces, the SIP server.
    private static func registerV5toV8(_ m: inout DatabaseMigrator) {
        m.registerMigration("v5: shared lines and their members") { db in
            try db.execute(
                sql: """
                    CREATE TABLE shared_lines (
                        number TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        sip_password_sealed BLOB NOT NULL,
                        caller_id TEXT
                    );
                    CREATE TABLE shared_line_members (
                        line TEXT NOT NULL REFERENCES shared_lines(number) ON DELETE CASCADE,
                        extension TEXT NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
                        button INTEGER NOT NULL,
                        ring TEXT NOT NULL,
                        PRIMARY KEY (line, extension)
                    );
                    CREATE INDEX shared_line_members_extension ON shared_line_members(extension);
                    """
            )
        }
        m.registerMigration("v6: an extension may be logged in on several phones (settings.multi_login)") { db in
            try db.execute(
                sql: """
                    ALTER TABLE settings ADD COLUMN multi_login TEXT NOT NULL DEFAULT 'move';
                    CREATE TABLE sessions_new (
                        mac TEXT PRIMARY KEY REFERENCES devices(mac) ON DELETE CASCADE,
                        extension TEXT NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
                        network TEXT NOT NULL,
                        credential TEXT NOT NULL,
                        started_at DOUBLE NOT NULL,
                        source TEXT
                    );
                    INSERT INTO sessions_new SELECT mac, extension, network, credential, started_at, source FROM sessions;
                    DROP TABLE sessions;
                    ALTER TABLE sessions_new RENAME TO sessions;
                    CREATE INDEX sessions_extension ON sessions(extension);
                    """
            )
        }
        m.registerMigration("v7: workspaces and personal devices") { db in
            try db.execute(
                sql: """
                    CREATE TABLE workspaces (
                        name TEXT PRIMARY KEY,
                        licence TEXT NOT NULL,
                        hot_desking BOOLEAN NOT NULL DEFAULT 1
                    );
                    ALTER TABLE devices ADD COLUMN workspace TEXT REFERENCES workspaces(name) ON DELETE SET NULL;
                    CREATE INDEX devices_workspace ON devices(workspace);
                    ALTER TABLE devices ADD COLUMN line_number TEXT;
                    ALTER TABLE devices ADD COLUMN line_name TEXT;
                    ALTER TABLE devices ADD COLUMN line_sip_password_sealed BLOB;
                    CREATE TABLE device_users (
                        mac TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
                        extension TEXT NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
                        PRIMARY KEY (mac, extension)
                    );
                    """
            )
        }
        m.registerMigration("v8: the PBX phones register with (settings.sip)") { db in
            try db.execute(
                sql: """
                    ALTER TABLE settings ADD COLUMN sip_server TEXT;
                    ALTER TABLE settings ADD COLUMN sip_transport TEXT NOT NULL DEFAULT 'udp';
                    ALTER TABLE settings ADD COLUMN sip_realm TEXT;
                    ALTER TABLE settings ADD COLUMN sip_outbound_proxy TEXT;
                    """
            )
        }
    }

    /// Classes of service, limits, provisioning secrets, app tokens, enrolment.
    private static func registerV9toV14(_ m: inout DatabaseMigrator) {
        m.registerMigration("v9: classes of service, schedules, emergency numbers") { db in
            try db.execute(
                sql: """
                    CREATE TABLE classes_of_service (name TEXT PRIMARY KEY, definition TEXT NOT NULL);
                    CREATE TABLE schedules (name TEXT PRIMARY KEY, definition TEXT NOT NULL);
                    ALTER TABLE settings ADD COLUMN emergency_numbers TEXT NOT NULL DEFAULT '[]';
                    ALTER TABLE settings ADD COLUMN number_classes TEXT NOT NULL DEFAULT '{}';
                    ALTER TABLE extensions ADD COLUMN cos TEXT;
                    ALTER TABLE devices ADD COLUMN cos TEXT;
                    ALTER TABLE devices ADD COLUMN cos_if_not_logged TEXT;
                    """
            )
        }
        m.registerMigration("v10: PBX keys beside admin API keys") { db in
            try db.execute(sql: "ALTER TABLE api_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'admin'")
        }
        m.registerMigration("v11: limits per source address and on global passwords (settings.lockout)") { db in
            try db.execute(
                sql: """
                    ALTER TABLE settings ADD COLUMN lockout_source_failures INTEGER NOT NULL DEFAULT 30;
                    ALTER TABLE settings ADD COLUMN lockout_global_failures INTEGER NOT NULL DEFAULT 20;
                    """
            )
        }
        m.registerMigration("v12: per-device provisioning secrets and claims") { db in
            try db.execute(
                sql: """
                    ALTER TABLE devices ADD COLUMN provisioning_secret_sealed BLOB;
                    ALTER TABLE devices ADD COLUMN claimed_at DOUBLE;
                    ALTER TABLE devices ADD COLUMN claimed_from TEXT;
                    ALTER TABLE devices ADD COLUMN secret_issued_at DOUBLE;
                    """
            )
        }
        m.registerMigration("v13: app tokens derived from the device and a generation every login and logout bumps") { db in
            try db.execute(
                sql: """
                    ALTER TABLE devices ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
                    -- The clear tokens of older versions are dropped: the column only keeps its UNIQUE
                    -- shape, filled with random values nothing reads.
                    UPDATE devices SET token = lower(hex(randomblob(24)));
                    CREATE TRIGGER sessions_insert_rotates_token AFTER INSERT ON sessions
                    BEGIN UPDATE devices SET token_generation = token_generation + 1 WHERE mac = NEW.mac; END;
                    CREATE TRIGGER sessions_delete_rotates_token AFTER DELETE ON sessions
                    BEGIN UPDATE devices SET token_generation = token_generation + 1 WHERE mac = OLD.mac; END;
                    """
            )
        }
        m.registerMigration("v14: enrolment limits; devices enrolled by their own request are told apart from the directory's") { db in
            try db.execute(
                sql: """
                    ALTER TABLE settings ADD COLUMN enrolment_per_minute INTEGER NOT NULL DEFAULT 60;
                    ALTER TABLE settings ADD COLUMN enrolment_max_unclaimed INTEGER NOT NULL DEFAULT 1000;
                    ALTER TABLE settings ADD COLUMN enrolment_expire_hours INTEGER NOT NULL DEFAULT 168;
                    ALTER TABLE devices ADD COLUMN enrolled_by TEXT NOT NULL DEFAULT 'directory';
                    CREATE INDEX devices_unclaimed ON devices(enrolled_by, enrolled_at) WHERE claimed_at IS NULL;
                    """
            )
        }
    }

    /// Change stamps, roles, the console, health, key checks, claims.
    private static func registerV15toV24(_ m: inout DatabaseMigrator) {
        m.registerMigration("v15: a change counter moved by every change a phone's config depends on") { db in
            try SQLiteChangeStamps.createTriggers(db)
        }
        m.registerMigration("v16: per-phone change counters for each phone's row, session and push jobs") { db in
            try SQLiteChangeStamps.createDeviceCounters(db)
        }
        m.registerMigration("v17: roles of admin API keys (keys from before keep everything: admin)") { db in
            try db.execute(sql: "ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'")
        }
        m.registerMigration("v18: web console accounts and their signed-in sessions") { db in
            try db.execute(
                sql: """
                    CREATE TABLE admin_accounts (
                        name TEXT PRIMARY KEY,
                        password_hash TEXT NOT NULL,
                        role TEXT NOT NULL,
                        created_at DOUBLE NOT NULL,
                        last_sign_in_at DOUBLE
                    );
                    CREATE TABLE console_sessions (
                        token_hash TEXT PRIMARY KEY,
                        account TEXT NOT NULL REFERENCES admin_accounts(name) ON DELETE CASCADE,
                        csrf_token TEXT NOT NULL,
                        created_at DOUBLE NOT NULL,
                        expires_at DOUBLE NOT NULL
                    );
                    CREATE INDEX console_sessions_account ON console_sessions(account);
                    """
            )
        }
        m.registerMigration("v19: a phone's open push jobs found without reading its finished ones") { db in
            // Every config fetch, login and push asks for a phone's queued or sent jobs; through
            // `push_jobs_mac` that read every job the phone ever had (a phone logged in twice a
            // day has hundreds within a year). `OpenPushJobs` holds the queries that use it.
            try db.execute(sql: "CREATE INDEX push_jobs_open ON push_jobs(mac) WHERE state IN ('queued', 'sent')")
        }
        m.registerMigration("v20: a phone's own line found by its number; failed logins by their time; API keys counted as changes") { db in
            // The PBX asks for a SIP user's credentials at every registration and call: a user that
            // is not an extension was looked for in every device row (and every SIP scanner's
            // guess cost as much). Failed logins older than a week are deleted at every failure:
            // that read the whole table, which is largest during a guessing attack.
            try db.execute(sql: "CREATE INDEX devices_line_number ON devices(line_number) WHERE line_number IS NOT NULL")
            try db.execute(sql: "CREATE INDEX login_failures_at ON login_failures(at)")
            try SQLiteChangeStamps.createAPIKeyTriggers(db)
        }
        m.registerMigration("v21: a row the health check writes") { db in
            // `/health` proves the database takes writes (a full disk answered every write with an
            // empty 500 while /health said ok). One row, no trigger: it moves no change counter.
            try db.execute(sql: "CREATE TABLE health_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at REAL NOT NULL)")
        }
        m.registerMigration("v22: which key the secrets are sealed with") { db in
            // A database opened with another key file served every config as a 500 with no cause
            // in the log (issue 21): the key's check value is kept, and a mismatch refused by name.
            try db.execute(sql: "CREATE TABLE key_check (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL)")
        }
        m.registerMigration("v23: claims that wait for an admin's approval, and a claim window") { db in
            try db.execute(
                sql: """
                    ALTER TABLE settings ADD COLUMN enrolment_claims TEXT NOT NULL DEFAULT 'first_fetch';
                    ALTER TABLE settings ADD COLUMN enrolment_claims_until REAL;
                    ALTER TABLE devices ADD COLUMN claim_pending_from TEXT;
                    ALTER TABLE devices ADD COLUMN claim_approved_from TEXT;
                    """
            )
        }
        m.registerMigration("v24: the shared change counter named for what it is") { db in
            // "generation" now means one thing: an app token's (`devices.token_generation`). The
            // counters the caches key on are change stamps: `shared_changes` beside
            // `device_changes`. SQLite rewrites the triggers that bump it.
            try db.execute(sql: "ALTER TABLE change_generation RENAME TO shared_changes")
        }
    }

    private static func registerV25toV30(_ m: inout DatabaseMigrator) {
        m.registerMigration("v25: failed logins counted against their address and the global budget in the store") { db in
            // Several nodes on one database must count the same guesses: the failures per source
            // address and the global password budget were counted in each process's memory.
            try db.execute(
                sql: """
                    ALTER TABLE login_failures ADD COLUMN source TEXT;
                    ALTER TABLE login_failures ADD COLUMN global_guess INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX login_failures_source ON login_failures(source, at) WHERE source IS NOT NULL;
                    CREATE INDEX login_failures_global ON login_failures(at) WHERE global_guess;
                    """
            )
        }
        m.registerMigration("v26: single-use push logins in the store") { db in
            // A Cisco phone asks /push-auth about the login of a push while it takes it: through one
            // address, that question may reach another node than the one pushing.
            try db.execute(
                sql: """
                    CREATE TABLE push_logins (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        mac TEXT NOT NULL,
                        login_hash TEXT NOT NULL,
                        expires_at REAL NOT NULL
                    );
                    CREATE INDEX push_logins_mac ON push_logins(mac, login_hash);
                    CREATE INDEX push_logins_expires ON push_logins(expires_at);
                    """
            )
        }
        m.registerMigration("v27: phones enrolled by their own request found by time") { db in
            // `settings.enrolment.per_minute` is counted in the database (every node's enrolments).
            try db.execute(sql: "CREATE INDEX devices_enrolled_by_phone ON devices(enrolled_at) WHERE enrolled_by = 'phone'")
        }
        m.registerMigration("v28: wrong console passwords counted in the database") { db in
            // The console's sign-in holds (per account and address, per account, per address)
            // were counted in each process's memory; several nodes must hold alike.
            try db.execute(
                sql: """
                    CREATE TABLE sign_in_failures (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at REAL NOT NULL,
                        account TEXT NOT NULL,
                        source TEXT NOT NULL
                    );
                    CREATE INDEX sign_in_failures_account ON sign_in_failures(account, at);
                    CREATE INDEX sign_in_failures_source ON sign_in_failures(source, at);
                    CREATE INDEX sign_in_failures_at ON sign_in_failures(at);
                    """
            )
        }
        m.registerMigration("v29: phones that have not proved their secret found without a scan") { db in
            // `settings.enrolment.max_unclaimed` is counted at every enrolment: through this
            // index it reads the phones still waiting, not every device.
            try db.execute(
                sql: "CREATE INDEX devices_unclaimed_by_phone ON devices(enrolled_at) WHERE enrolled_by = 'phone' AND claimed_at IS NULL"
            )
        }
        m.registerMigration("v30: NOTIFYs waiting for the PBX") { db in
            // A push carried by the PBX: queued where every node's PBX poll finds it.
            try db.execute(
                sql: """
                    CREATE TABLE pbx_notifies (
                        job_id INTEGER PRIMARY KEY REFERENCES push_jobs(id) ON DELETE CASCADE,
                        mac TEXT NOT NULL,
                        users TEXT NOT NULL,
                        address TEXT NOT NULL,
                        event TEXT NOT NULL,
                        body TEXT,
                        content_type TEXT,
                        queued_at REAL NOT NULL,
                        taken_at REAL
                    );
                    CREATE INDEX pbx_notifies_waiting ON pbx_notifies(queued_at) WHERE taken_at IS NULL;
                    """
            )
        }
    }
}
