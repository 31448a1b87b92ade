import Foundation
import GRDB
import GRDBSQLite
import HotDeskCore
import Synchronization

/// SQLite's change stamps: counters that triggers move on every change a phone's config, its
/// authentication or a push confirmation depends on — by this process or another (`hotdesk
/// import`) — but not on the fetch times written in batches: `shared_changes.n` for what all
/// phones share, `device_changes.n` per phone for its own row, session and push jobs. Read-only
/// connections of its own (one per core, so the event loops do not queue for one) and prepared
/// statements: a few microseconds, no thread hop.
/// Inside a transaction of the store's pool, `shared(in:)` reads the same counter as that
/// transaction sees it (its own changes included).
final class SQLiteChangeStamps: ChangeStamps {
    private struct Handles: @unchecked Sendable {
        var db: OpaquePointer?
        var statement: OpaquePointer?
        var stampStatement: OpaquePointer?
        var versionStatement: OpaquePointer?
    }

    private final class Connection: Sendable {
        let handles: Mutex<Handles>
        init(_ handles: Handles) { self.handles = Mutex(handles) }
    }

    private let connections: [Connection]
    private let next = Atomic<Int>(0)

    init(path: String, connections count: Int = min(4, max(1, ProcessInfo.processInfo.activeProcessorCount))) throws {
        var opened: [Connection] = []
        for _ in 0..<count { opened.append(Connection(try Self.open(path))) }
        connections = opened
    }

    private static func open(_ path: String) throws -> Handles {
        var h = Handles()
        guard sqlite3_open_v2(path, &h.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
            sqlite3_prepare_v2(h.db, GRDBConnection.sharedStampQuery, -1, &h.statement, nil) == SQLITE_OK,
            sqlite3_prepare_v2(
                h.db,
                "SELECT (SELECT n FROM shared_changes WHERE id = 1), (SELECT n FROM device_changes WHERE mac = ?)",
                -1,
                &h.stampStatement,
                nil
            )
                == SQLITE_OK,
            sqlite3_prepare_v2(h.db, "PRAGMA data_version", -1, &h.versionStatement, nil) == SQLITE_OK
        else {
            let message = h.db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(h.db)
            throw DatabaseError(message: "change stamps: \(message)")
        }
        sqlite3_busy_timeout(h.db, 5000)
        return h
    }

    deinit {
        for connection in connections {
            connection.handles.withLock { h in
                sqlite3_finalize(h.statement)
                sqlite3_finalize(h.stampStatement)
                sqlite3_finalize(h.versionStatement)
                sqlite3_close(h.db)
            }
        }
    }

    /// `body` on a connection no other thread is using, or (all busy) on the next in turn.
    private func withConnection<T: Sendable>(_ body: (inout Handles) throws -> T) throws -> T {
        for connection in connections {
            if let result = try connection.handles.withLockIfAvailable({ h in try body(&h) }) { return result }
        }
        let turn = next.add(1, ordering: .relaxed).oldValue
        return try connections[turn % connections.count].handles.withLock { h in try body(&h) }
    }

    func shared() throws -> Int {
        try withConnection { h in
            defer { sqlite3_reset(h.statement) }
            guard sqlite3_step(h.statement) == SQLITE_ROW else {
                throw DatabaseError(message: "change stamps: \(String(cString: sqlite3_errmsg(h.db)))")
            }
            return Int(sqlite3_column_int64(h.statement, 0))
        }
    }

    /// SQLite's `data_version` of the first connection (each connection counts its own: always
    /// the same one is asked): it moves whenever another connection commits (any write at all,
    /// the batched fetch times too). Microseconds: cheap to ask every second.
    func commits() throws -> Int {
        try connections[0].handles.withLock { h in
            defer { sqlite3_reset(h.versionStatement) }
            guard sqlite3_step(h.versionStatement) == SQLITE_ROW else {
                throw DatabaseError(message: "data version: \(String(cString: sqlite3_errmsg(h.db)))")
            }
            return Int(sqlite3_column_int64(h.versionStatement, 0))
        }
    }

    /// Both counters, read in one statement: one read transaction (one snapshot, one round of
    /// WAL locks; two statements took two, ≈ 3 % of a config fetch). A phone without a counter
    /// row yet (nothing of its own ever changed) reads as 0.
    func stamp(of mac: MACAddress) throws -> ChangeStamp {
        try withConnection { h in
            defer {
                sqlite3_reset(h.stampStatement)
                sqlite3_clear_bindings(h.stampStatement)
            }
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            sqlite3_bind_text(h.stampStatement, 1, mac.canonical, -1, transient)
            guard sqlite3_step(h.stampStatement) == SQLITE_ROW else {
                throw DatabaseError(message: "change stamps: \(String(cString: sqlite3_errmsg(h.db)))")
            }
            return ChangeStamp(shared: Int(sqlite3_column_int64(h.stampStatement, 0)), device: Int(sqlite3_column_int64(h.stampStatement, 1)))
        }
    }

    /// The shared stamp as the transaction `db` sees it (what the store's own memos key on
    /// inside a read or a write).
    static func shared(in db: Database) throws -> Int {
        try Int.fetchOne(try db.cachedStatement(sql: GRDBConnection.sharedStampQuery)) ?? -1
    }

    /// The triggers, for the migration that creates the counter (v15, when it was still called
    /// `change_generation`; v24 renames it and SQLite rewrites the triggers). A migration that adds a column
    /// to `devices` calls `deviceTrigger` again, so the new column counts too.
    static func createTriggers(_ db: Database) throws {
        try db.execute(
            sql:
                "CREATE TABLE change_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL); INSERT INTO change_generation VALUES (1, 0);"
        )
        let tables = [
            "settings", "phone_credentials", "extensions", "sessions", "templates", "mappings", "shared_lines", "shared_line_members", "device_users",
            "workspaces", "push_jobs", "classes_of_service", "schedules",
        ]
        for table in tables {
            for event in ["INSERT", "UPDATE", "DELETE"] {
                try db.execute(sql: "CREATE TRIGGER \(table)_\(event.lowercased())_changes AFTER \(event) ON \(table) BEGIN \(bump) END")
            }
        }
        try db.execute(sql: "CREATE TRIGGER devices_insert_changes AFTER INSERT ON devices BEGIN \(bump) END")
        try db.execute(sql: "CREATE TRIGGER devices_delete_changes AFTER DELETE ON devices BEGIN \(bump) END")
        try deviceTrigger(db)
    }

    /// Any column of `devices` but `last_fetch_at` (v15's shared trigger; v16 replaces it by
    /// `deviceUpdateTrigger`).
    static func deviceTrigger(_ db: Database) throws {
        let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(devices)").map { $0["name"] as String }.filter { $0 != "last_fetch_at" }
        try db.execute(sql: "DROP TRIGGER IF EXISTS devices_update_changes")
        try db.execute(sql: "CREATE TRIGGER devices_update_changes AFTER UPDATE OF \(columns.joined(separator: ", ")) ON devices BEGIN \(bump) END")
    }

    /// API and PBX keys (v20): made, revoked or changed; not the minute-by-minute `last_used_at`.
    static func createAPIKeyTriggers(_ db: Database) throws {
        try db.execute(sql: "CREATE TRIGGER api_keys_insert_changes AFTER INSERT ON api_keys BEGIN \(bump) END")
        try db.execute(sql: "CREATE TRIGGER api_keys_delete_changes AFTER DELETE ON api_keys BEGIN \(bump) END")
        try db.execute(sql: "CREATE TRIGGER api_keys_update_changes AFTER UPDATE OF kind, name, role, key_hash ON api_keys BEGIN \(bump) END")
    }

    /// The shared counter's bump as the migrations before v24 wrote it (they run on a database
    /// of their time, before the rename).
    private static let bump = "UPDATE change_generation SET n = n + 1 WHERE id = 1;"

    private static func bumpDevice(_ row: String) -> String {
        "INSERT INTO device_changes (mac, n) VALUES (\(row).mac, 1) ON CONFLICT (mac) DO UPDATE SET n = n + 1;"
    }

    /// Per-phone counters (v16): a phone's row, session and push jobs move its own counter, not
    /// the shared one, so one login does not empty every phone's cache. Replaces those tables'
    /// shared triggers.
    static func createDeviceCounters(_ db: Database) throws {
        try db.execute(sql: "CREATE TABLE device_changes (mac TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
        for table in ["sessions", "push_jobs", "device_users", "devices"] {
            for event in ["insert", "update", "delete"] {
                try db.execute(sql: "DROP TRIGGER IF EXISTS \(table)_\(event)_changes")
            }
            try db.execute(sql: "CREATE TRIGGER \(table)_insert_device_changes AFTER INSERT ON \(table) BEGIN \(bumpDevice("NEW")) END")
            try db.execute(sql: "CREATE TRIGGER \(table)_delete_device_changes AFTER DELETE ON \(table) BEGIN \(bumpDevice("OLD")) END")
            if table != "devices" {
                try db.execute(
                    sql: "CREATE TRIGGER \(table)_update_device_changes AFTER UPDATE ON \(table) BEGIN \(bumpDevice("OLD")) \(bumpDevice("NEW")) END"
                )
            }
        }
        try deviceUpdateTrigger(db)
    }

    /// Any column of `devices` but `last_fetch_at` (written in batches, nothing depends on it)
    /// moves the phone's counter. A migration that adds a column to `devices` calls this again.
    static func deviceUpdateTrigger(_ db: Database) throws {
        let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(devices)").map { $0["name"] as String }.filter { $0 != "last_fetch_at" }
        try db.execute(sql: "DROP TRIGGER IF EXISTS devices_update_changes")
        try db.execute(sql: "DROP TRIGGER IF EXISTS devices_update_device_changes")
        try db.execute(
            sql:
                "CREATE TRIGGER devices_update_device_changes AFTER UPDATE OF \(columns.joined(separator: ", ")) ON devices BEGIN \(bumpDevice("OLD")) \(bumpDevice("NEW")) END"
        )
    }
}
