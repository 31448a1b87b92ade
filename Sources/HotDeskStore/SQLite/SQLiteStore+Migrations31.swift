import Foundation
import GRDB
import HotDeskCore

/// The migrations from v31 on (`SQLiteStore+Migrations.swift` has the earlier ones and the rules).
extension SQLiteStore {
    static func registerV31on(_ m: inout DatabaseMigrator) {
        m.registerMigration("v31: caller IDs for the PBX to assert; when a PBX last polled") { db in
            // An extension's caller ID (any desk); a desk's emergency caller ID (device, workspace).
            // The last NOTIFY poll of a PBX, on any node: every node's push worker sees it connected.
            try db.execute(
                sql: """
                    CREATE TABLE pbx_polls (id INTEGER PRIMARY KEY CHECK (id = 1), at REAL NOT NULL);
                    ALTER TABLE extensions ADD COLUMN caller_id TEXT;
                    ALTER TABLE devices ADD COLUMN emergency_caller_id TEXT;
                    ALTER TABLE workspaces ADD COLUMN emergency_caller_id TEXT;
                    """
            )
            try SQLiteChangeStamps.deviceUpdateTrigger(db)
        }
        m.registerMigration("v32: calls the PBX reports, and logouts that wait for them") { db in
            try db.execute(sql: SQLiteStore.callTables)
        }
        m.registerMigration("v33: idle sessions") { db in
            // When each phone was last used (its app, a call): a table of its own, so that a use
            // does not move the phone's change counter (a session row's change would).
            try db.execute(
                sql: """
                    ALTER TABLE settings ADD COLUMN auto_logout_idle_minutes INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE phone_activity (mac TEXT PRIMARY KEY REFERENCES devices(mac) ON DELETE CASCADE, at REAL NOT NULL);
                    """
            )
        }
        m.registerMigration("v34: sites") { db in
            // A site's settings are a definition (JSON) like a class of service's; extensions,
            // workspaces and devices name their site. A site's change moves the shared stamp.
            try db.execute(
                sql: """
                    CREATE TABLE sites (name TEXT PRIMARY KEY, definition TEXT NOT NULL);
                    ALTER TABLE settings ADD COLUMN time_zone TEXT;
                    ALTER TABLE settings ADD COLUMN emergency_location TEXT;
                    ALTER TABLE extensions ADD COLUMN site TEXT;
                    ALTER TABLE extensions ADD COLUMN roaming TEXT;
                    ALTER TABLE workspaces ADD COLUMN site TEXT;
                    ALTER TABLE devices ADD COLUMN site TEXT;
                    """
            )
            for event in ["INSERT", "UPDATE", "DELETE"] {
                try db.execute(
                    sql:
                        "CREATE TRIGGER sites_\(event.lowercased())_changes AFTER \(event) ON sites BEGIN UPDATE shared_changes SET n = n + 1 WHERE id = 1; END"
                )
            }
            try SQLiteChangeStamps.deviceUpdateTrigger(db)
        }
        m.registerMigration("v35: keys and console accounts limited to sites") { db in
            // NULL: every site (what every key and account made before had).
            try db.execute(
                sql: """
                    ALTER TABLE api_keys ADD COLUMN sites TEXT;
                    ALTER TABLE admin_accounts ADD COLUMN sites TEXT;
                    """
            )
        }
        m.registerMigration("v36: the app's language, of the settings and of each user") { db in
            try db.execute(
                sql: """
                    ALTER TABLE settings ADD COLUMN language TEXT;
                    ALTER TABLE extensions ADD COLUMN language TEXT;
                    """
            )
        }
        m.registerMigration("v37: the PIN a person chose on a phone") { db in
            // Not the directory's: an import never writes it, so a re-import keeps what they chose.
            try db.execute(sql: "ALTER TABLE extensions ADD COLUMN own_pin_hash TEXT")
        }
        m.registerMigration("v38: who last logged in on each phone") { db in
            try db.execute(sql: "ALTER TABLE devices ADD COLUMN last_user TEXT")
        }
        registerV39on(&m)
    }

    /// The migrations from v39 on.
    static func registerV39on(_ m: inout DatabaseMigrator) {
        m.registerMigration("v39: a workspace's room type and capacity, a shared line's licences") { db in
            try db.execute(
                sql: """
                    ALTER TABLE workspaces ADD COLUMN room_type TEXT;
                    ALTER TABLE workspaces ADD COLUMN capacity INTEGER;
                    ALTER TABLE shared_lines ADD COLUMN licences INTEGER;
                    """
            )
        }
        m.registerMigration("v40: a workspace's own line") { db in
            try db.execute(
                sql: """
                    ALTER TABLE workspaces ADD COLUMN line_number TEXT;
                    ALTER TABLE workspaces ADD COLUMN line_name TEXT;
                    ALTER TABLE workspaces ADD COLUMN line_sip_password_sealed BLOB;
                    CREATE INDEX workspaces_line_number ON workspaces(line_number) WHERE line_number IS NOT NULL;
                    """
            )
        }
        m.registerMigration("v41: a shared line's direct-dial number") { db in
            try db.execute(
                sql: """
                    ALTER TABLE shared_lines ADD COLUMN direct_dial TEXT;
                    CREATE INDEX shared_lines_direct_dial ON shared_lines(direct_dial) WHERE direct_dial IS NOT NULL;
                    """
            )
        }
        m.registerMigration("v42: an extension's direct-dial number") { db in
            try db.execute(
                sql: """
                    ALTER TABLE extensions ADD COLUMN direct_dial TEXT;
                    CREATE INDEX extensions_direct_dial ON extensions(direct_dial) WHERE direct_dial IS NOT NULL;
                    """
            )
        }
    }

    /// v32: the calls the PBX reports on each phone (until it reports their end), and admins'
    /// logouts of phones on a call, carried out when the call ends.
    static let callTables = """
        ALTER TABLE settings ADD COLUMN auto_logout_wait_for_call BOOLEAN NOT NULL DEFAULT 1;
        ALTER TABLE settings ADD COLUMN auto_logout_call_wait_minutes INTEGER NOT NULL DEFAULT 60;
        CREATE TABLE calls (
            call_id TEXT NOT NULL,
            mac TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
            started_at REAL NOT NULL,
            PRIMARY KEY (call_id, mac)
        );
        CREATE INDEX calls_mac ON calls(mac);
        CREATE TABLE waiting_logouts (
            mac TEXT PRIMARY KEY REFERENCES devices(mac) ON DELETE CASCADE,
            session_started_at REAL NOT NULL,
            actor TEXT NOT NULL,
            requested_at REAL NOT NULL
        );
        """
}
