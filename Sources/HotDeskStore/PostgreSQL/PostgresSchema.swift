/// PostgreSQL's schema, its own migrations: the tables SQLite's migrations arrived at (the same
/// names, columns and meaning, so the role code's statements run on both), in PostgreSQL's types.
/// Times are seconds since 1970 (`double precision`), integers `bigint`, secrets `bytea`.
/// A migration is appended, never edited; each runs in one transaction under an advisory lock,
/// so nodes started together migrate once.
enum PostgresSchema {
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "the schema of SQLite's v1–v24", statements: tables + indexes + tokenRotation + changeCounters),
        Migration(
            version: 2,
            name: "SQLite's v25: failed logins counted against their address and the global budget",
            statements: [
                "ALTER TABLE login_failures ADD COLUMN source text",
                "ALTER TABLE login_failures ADD COLUMN global_guess boolean NOT NULL DEFAULT false",
                "CREATE INDEX login_failures_source ON login_failures(source, at) WHERE source IS NOT NULL",
                "CREATE INDEX login_failures_global ON login_failures(at) WHERE global_guess",
            ]
        ),
    ]

    static var latest: Int { migrations.map(\.version).max() ?? 0 }

    private static let tables = [
        """
        CREATE TABLE settings (
            id bigint PRIMARY KEY CHECK (id = 1),
            default_login boolean NOT NULL DEFAULT false,
            internal_address text,
            external_address text,
            user_password_hash text,
            admin_password_hash text,
            emergency_caller_id text,
            lockout_extension_failures bigint NOT NULL DEFAULT 5,
            lockout_device_failures bigint NOT NULL DEFAULT 10,
            lockout_window_seconds bigint NOT NULL DEFAULT 900,
            lockout_duration_seconds bigint NOT NULL DEFAULT 900,
            push_port bigint NOT NULL DEFAULT 80,
            push_from text,
            auto_logout_after_minutes bigint NOT NULL DEFAULT 0,
            auto_logout_daily_at text,
            multi_login text NOT NULL DEFAULT 'move',
            sip_server text,
            sip_transport text NOT NULL DEFAULT 'udp',
            sip_realm text,
            sip_outbound_proxy text,
            emergency_numbers text NOT NULL DEFAULT '[]',
            number_classes text NOT NULL DEFAULT '{}',
            lockout_source_failures bigint NOT NULL DEFAULT 30,
            lockout_global_failures bigint NOT NULL DEFAULT 20,
            enrolment_per_minute bigint NOT NULL DEFAULT 60,
            enrolment_max_unclaimed bigint NOT NULL DEFAULT 1000,
            enrolment_expire_hours bigint NOT NULL DEFAULT 168,
            enrolment_claims text NOT NULL DEFAULT 'first_fetch',
            enrolment_claims_until double precision
        )
        """,
        "INSERT INTO settings (id) VALUES (1)",
        "CREATE TABLE phone_credentials (brand text PRIMARY KEY, username text NOT NULL, password_sealed bytea NOT NULL)",
        """
        CREATE TABLE extensions (
            number text PRIMARY KEY,
            name text NOT NULL,
            voicemail_pin_hash text,
            sip_password_sealed bytea NOT NULL,
            cos text
        )
        """,
        "CREATE TABLE workspaces (name text PRIMARY KEY, licence text NOT NULL, hot_desking boolean NOT NULL DEFAULT true)",
        """
        CREATE TABLE devices (
            mac text PRIMARY KEY,
            model text NOT NULL,
            token text NOT NULL UNIQUE,
            enrolled_at double precision NOT NULL,
            last_address text,
            last_fetch_at double precision,
            last_config_hash text,
            push_port bigint,
            phone_username text,
            phone_password_sealed bytea,
            last_host text,
            last_config_address text,
            brand text NOT NULL DEFAULT '',
            workspace text REFERENCES workspaces(name) ON DELETE SET NULL,
            line_number text,
            line_name text,
            line_sip_password_sealed bytea,
            cos text,
            cos_if_not_logged text,
            provisioning_secret_sealed bytea,
            claimed_at double precision,
            claimed_from text,
            secret_issued_at double precision,
            token_generation bigint NOT NULL DEFAULT 0,
            enrolled_by text NOT NULL DEFAULT 'directory',
            claim_pending_from text,
            claim_approved_from text
        )
        """,
        """
        CREATE TABLE sessions (
            mac text PRIMARY KEY REFERENCES devices(mac) ON DELETE CASCADE,
            extension text NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
            network text NOT NULL,
            credential text NOT NULL,
            started_at double precision NOT NULL,
            source text
        )
        """,
        """
        CREATE TABLE device_users (
            mac text NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
            extension text NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
            PRIMARY KEY (mac, extension)
        )
        """,
        "CREATE TABLE templates (name text PRIMARY KEY, brand text NOT NULL, is_default boolean NOT NULL DEFAULT false, body text NOT NULL)",
        """
        CREATE TABLE mappings (
            extension text NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
            template text NOT NULL REFERENCES templates(name) ON DELETE CASCADE,
            model text NOT NULL DEFAULT '',
            mac text NOT NULL DEFAULT '',
            PRIMARY KEY (extension, model, mac)
        )
        """,
        "CREATE TABLE shared_lines (number text PRIMARY KEY, name text NOT NULL, sip_password_sealed bytea NOT NULL, caller_id text)",
        """
        CREATE TABLE shared_line_members (
            line text NOT NULL REFERENCES shared_lines(number) ON DELETE CASCADE,
            extension text NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
            button bigint NOT NULL,
            ring text NOT NULL,
            PRIMARY KEY (line, extension)
        )
        """,
        "CREATE TABLE classes_of_service (name text PRIMARY KEY, definition text NOT NULL)",
        "CREATE TABLE schedules (name text PRIMARY KEY, definition text NOT NULL)",
        """
        CREATE TABLE push_jobs (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            mac text NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
            action text NOT NULL,
            reason text NOT NULL,
            state text NOT NULL,
            attempts bigint NOT NULL DEFAULT 0,
            last_error text,
            config_hash text NOT NULL,
            actor text NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            due_at double precision NOT NULL,
            sent_at double precision,
            applied_at double precision,
            message text,
            alt_config_hash text
        )
        """,
        """
        CREATE TABLE audit (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at double precision NOT NULL,
            actor text NOT NULL,
            action text NOT NULL,
            mac text,
            extension text,
            source text,
            outcome text NOT NULL,
            detail text NOT NULL DEFAULT ''
        )
        """,
        """
        CREATE TABLE login_failures (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at double precision NOT NULL,
            mac text NOT NULL,
            extension text
        )
        """,
        """
        CREATE TABLE api_keys (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name text NOT NULL UNIQUE,
            key_hash text NOT NULL UNIQUE,
            created_at double precision NOT NULL,
            last_used_at double precision,
            kind text NOT NULL DEFAULT 'admin',
            role text NOT NULL DEFAULT 'admin'
        )
        """,
        """
        CREATE TABLE admin_accounts (
            name text PRIMARY KEY,
            password_hash text NOT NULL,
            role text NOT NULL,
            created_at double precision NOT NULL,
            last_sign_in_at double precision
        )
        """,
        """
        CREATE TABLE console_sessions (
            token_hash text PRIMARY KEY,
            account text NOT NULL REFERENCES admin_accounts(name) ON DELETE CASCADE,
            csrf_token text NOT NULL,
            created_at double precision NOT NULL,
            expires_at double precision NOT NULL
        )
        """,
        "CREATE TABLE health_probe (id bigint PRIMARY KEY CHECK (id = 1), at double precision NOT NULL)",
        "CREATE TABLE key_check (id bigint PRIMARY KEY CHECK (id = 1), value text NOT NULL)",
        "CREATE TABLE shared_changes (id bigint PRIMARY KEY CHECK (id = 1), n bigint NOT NULL)",
        "INSERT INTO shared_changes VALUES (1, 0)",
        "CREATE TABLE device_changes (mac text PRIMARY KEY, n bigint NOT NULL)",
    ]

    private static let indexes = [
        "CREATE INDEX audit_at ON audit(at)",
        "CREATE INDEX console_sessions_account ON console_sessions(account)",
        "CREATE INDEX devices_line_number ON devices(line_number) WHERE line_number IS NOT NULL",
        "CREATE INDEX devices_unclaimed ON devices(enrolled_by, enrolled_at) WHERE claimed_at IS NULL",
        "CREATE INDEX devices_workspace ON devices(workspace)",
        "CREATE INDEX login_failures_at ON login_failures(at)",
        "CREATE INDEX login_failures_extension ON login_failures(extension, at)",
        "CREATE INDEX login_failures_mac ON login_failures(mac, at)",
        "CREATE INDEX push_jobs_mac ON push_jobs(mac, id)",
        "CREATE INDEX push_jobs_open ON push_jobs(mac) WHERE state IN ('queued', 'sent')",
        "CREATE INDEX push_jobs_pending ON push_jobs(state, due_at)",
        "CREATE INDEX sessions_extension ON sessions(extension)",
        "CREATE INDEX shared_line_members_extension ON shared_line_members(extension)",
        "CREATE UNIQUE INDEX templates_one_default_per_brand ON templates(brand) WHERE is_default",
    ]

    /// Every login and logout moves the phone's app-token generation (an old token is refused).
    private static let tokenRotation = [
        """
        CREATE FUNCTION hotdesk_rotate_token() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE devices SET token_generation = token_generation + 1 WHERE mac = (CASE WHEN TG_OP = 'DELETE' THEN OLD.mac ELSE NEW.mac END);
            RETURN NULL;
        END $$
        """,
        "CREATE TRIGGER sessions_rotates_token AFTER INSERT OR DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION hotdesk_rotate_token()",
    ]

    /// The change stamps' counters, moved by triggers exactly as SQLite's are: what every phone
    /// shares moves `shared_changes`; a phone's row, session, users and push jobs move its own
    /// `device_changes` row; `devices.last_fetch_at` (written in batches) and an API key's
    /// `last_used_at` move nothing.
    private static let changeCounters: [String] = {
        var statements = [
            """
            CREATE FUNCTION hotdesk_shared_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE shared_changes SET n = n + 1 WHERE id = 1;
                RETURN NULL;
            END $$
            """,
            """
            CREATE FUNCTION hotdesk_device_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN
                    INSERT INTO device_changes (mac, n) VALUES (OLD.mac, 1) ON CONFLICT (mac) DO UPDATE SET n = device_changes.n + 1;
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    INSERT INTO device_changes (mac, n) VALUES (NEW.mac, 1) ON CONFLICT (mac) DO UPDATE SET n = device_changes.n + 1;
                END IF;
                RETURN NULL;
            END $$
            """,
        ]
        let shared = [
            "settings", "phone_credentials", "extensions", "templates", "mappings", "shared_lines", "shared_line_members", "workspaces",
            "classes_of_service", "schedules",
        ]
        for table in shared {
            statements.append(
                "CREATE TRIGGER \(table)_changes AFTER INSERT OR UPDATE OR DELETE ON \(table) FOR EACH ROW EXECUTE FUNCTION hotdesk_shared_changed()"
            )
        }
        statements.append(
            "CREATE TRIGGER api_keys_changes AFTER INSERT OR DELETE OR UPDATE OF kind, name, role, key_hash ON api_keys "
                + "FOR EACH ROW EXECUTE FUNCTION hotdesk_shared_changed()"
        )
        for table in ["sessions", "push_jobs", "device_users"] {
            statements.append(
                "CREATE TRIGGER \(table)_device_changes AFTER INSERT OR UPDATE OR DELETE ON \(table) FOR EACH ROW EXECUTE FUNCTION hotdesk_device_changed()"
            )
        }
        let deviceColumns = [
            "mac", "model", "token", "enrolled_at", "last_address", "last_config_hash", "push_port", "phone_username", "phone_password_sealed",
            "last_host", "last_config_address", "brand", "workspace", "line_number", "line_name", "line_sip_password_sealed", "cos",
            "cos_if_not_logged", "provisioning_secret_sealed", "claimed_at", "claimed_from", "secret_issued_at", "token_generation",
            "enrolled_by", "claim_pending_from", "claim_approved_from",
        ]
        statements.append(
            "CREATE TRIGGER devices_device_changes AFTER INSERT OR DELETE OR UPDATE OF \(deviceColumns.joined(separator: ", ")) ON devices "
                + "FOR EACH ROW EXECUTE FUNCTION hotdesk_device_changed()"
        )
        return statements
    }()
}
