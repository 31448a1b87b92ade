import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Reads `change_generation.n`, which triggers move on every change a phone's config, its
/// authentication or a push confirmation depends on — by this process or another (`hotdesk
/// import`) — but not on the fetch times written in batches. One read-only connection of its own
/// and one prepared statement: a few microseconds, no thread hop.
final class ChangeCounter: Sendable {
    private struct Handles: @unchecked Sendable {
        var db: OpaquePointer?
        var statement: OpaquePointer?
    }

    private let handles: Mutex<Handles>

    init(path: String) throws {
        var h = Handles()
        guard sqlite3_open_v2(path, &h.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
            sqlite3_prepare_v2(h.db, "SELECT n FROM change_generation WHERE id = 1", -1, &h.statement, nil) == SQLITE_OK
        else {
            let message = h.db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(h.db)
            throw DatabaseError(message: "change counter: \(message)")
        }
        sqlite3_busy_timeout(h.db, 5000)
        handles = Mutex(h)
    }

    deinit {
        handles.withLock { h in
            sqlite3_finalize(h.statement)
            sqlite3_close(h.db)
        }
    }

    func read() throws -> Int {
        try handles.withLock { h in
            defer { sqlite3_reset(h.statement) }
            guard sqlite3_step(h.statement) == SQLITE_ROW else { throw DatabaseError(message: "change counter: \(String(cString: sqlite3_errmsg(h.db)))") }
            return Int(sqlite3_column_int64(h.statement, 0))
        }
    }

    /// The triggers, for the migration that creates the counter. A migration that adds a column
    /// to `devices` calls `deviceTrigger` again, so the new column counts too.
    static func createTriggers(_ db: Database) throws {
        try db.execute(sql: "CREATE TABLE change_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL); INSERT INTO change_generation VALUES (1, 0);")
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

    /// Any column of `devices` but `last_fetch_at` (written in batches, nothing depends on it).
    static func deviceTrigger(_ db: Database) throws {
        let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(devices)").map { $0["name"] as String }.filter { $0 != "last_fetch_at" }
        try db.execute(sql: "DROP TRIGGER IF EXISTS devices_update_changes")
        try db.execute(sql: "CREATE TRIGGER devices_update_changes AFTER UPDATE OF \(columns.joined(separator: ", ")) ON devices BEGIN \(bump) END")
    }

    private static let bump = "UPDATE change_generation SET n = n + 1 WHERE id = 1;"
}
