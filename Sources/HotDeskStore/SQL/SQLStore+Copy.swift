import Foundation
import HotDeskCore

// `hotdesk db copy`: everything one store holds, into another that holds nothing yet (a site
// moving from its SQLite file to PostgreSQL for several nodes; any direction works). Rows go as
// they are stored: ids, tokens, hashes and sealed secrets unchanged (both stores use the same
// key), so phones go on working without noticing: the same provisioning secrets, the same app
// tokens, the same sessions.
extension SQLStore {
    /// The tables copied, each after the tables it refers to.
    static let copiedTables = [
        "settings", "phone_credentials", "sites", "extensions", "workspaces", "devices", "sessions", "device_users", "templates", "mappings",
        "shared_lines", "shared_line_members", "classes_of_service", "schedules", "push_jobs", "audit", "login_failures", "api_keys",
        "admin_accounts", "console_sessions", "sign_in_failures",
    ]

    /// What each store makes for itself: the counters its triggers move, its key check, the health
    /// probe's row, its migrations' records.
    static let tablesNotCopied: Set<String> = [
        "shared_changes", "device_changes", "key_check", "health_probe", "grdb_migrations", "hotdesk_migrations",
        // Live for the seconds of one push.
        "push_logins", "pbx_notifies", "pbx_polls",
        // Live for the length of a call.
        "calls", "waiting_logouts", "phone_activity",
    ]

    /// Rows copied, by table, in copy order.
    public struct CopySummary: Sendable {
        public var rows: [(table: String, count: Int)]
        public var total: Int { rows.reduce(0) { $0 + $1.count } }
    }

    /// Why a copy did not start (nothing was written).
    public struct CopyRefused: Error, CustomStringConvertible {
        public var description: String
    }

    /// Copies every row of this store into `target`, in one transaction of the target (all or
    /// nothing) from one snapshot of this one. `target` must hold no directory, phones or log.
    public func copy(into target: SQLStore) async throws -> CopySummary {
        let tables = Self.copiedTables
        let source: [String: [SQLRow]] = try await engine.read { db in
            let present = try Self.tableNames(db)
            let unknown = present.subtracting(tables).subtracting(Self.tablesNotCopied)
            guard unknown.isEmpty else {
                throw CopyRefused(description: "the source has tables this version does not copy: \(unknown.sorted().joined(separator: ", "))")
            }
            var rows: [String: [SQLRow]] = [:]
            for table in tables where present.contains(table) { rows[table] = try db.rows("SELECT * FROM \(table)") }
            return rows
        }
        return try await target.engine.write { db in
            for table in ["extensions", "devices", "push_jobs", "audit", "api_keys", "admin_accounts"] {
                let count = try db.value(Int.self, "SELECT COUNT(*) FROM \(table)") ?? 0
                guard count == 0 else {
                    throw CopyRefused(description: "the target already holds \(table) (\(count)): copy into a database HotDesk has not used yet")
                }
            }
            let booleans = try Self.booleanColumns(db)
            // The target's own default row gives way to the source's.
            try db.execute("DELETE FROM settings")
            var summary = CopySummary(rows: [])
            for table in tables {
                let rows = source[table] ?? []
                for row in rows { try Self.insert(row, into: table, booleans: booleans[table] ?? [], db) }
                summary.rows.append((table, rows.count))
            }
            // A session inserted moved its phone's app-token generation (the target's trigger):
            // the phone's token must stay the one it holds.
            for device in source["devices"] ?? [] {
                let generation: Int64 = device["token_generation"]
                let mac: String = device["mac"]
                try db.execute("UPDATE devices SET token_generation = ? WHERE mac = ?", [generation, mac])
            }
            try Self.moveIdentitiesPastCopiedRows(db)
            return summary
        }
    }

    private static func tableNames(_ db: any SQLDatabase) throws -> Set<String> {
        let sql =
            db.dialect == .sqlite
            ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            : "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        return Set(try db.values(String.self, sql))
    }

    /// PostgreSQL's boolean columns by table (SQLite keeps booleans as integers; PostgreSQL
    /// takes no integer for a boolean).
    private static func booleanColumns(_ db: any SQLDatabase) throws -> [String: Set<String>] {
        guard db.dialect == .postgres else { return [:] }
        let sql = "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND data_type = 'boolean'"
        var columns: [String: Set<String>] = [:]
        for row in try db.rows(sql) { columns[row["table_name"] as String, default: []].insert(row["column_name"]) }
        return columns
    }

    private static func insert(_ row: SQLRow, into table: String, booleans: Set<String>, _ db: any SQLDatabase) throws {
        let names = row.columns.names
        let values: SQLArguments = zip(names, row.values).map { name, value in
            if booleans.contains(name), case .integer(let n) = value { return SQLValue.bool(n != 0) }
            return value
        }
        let placeholders = Array(repeating: "?", count: names.count).joined(separator: ", ")
        try db.execute("INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(placeholders))", values)
    }

    /// PostgreSQL's identity columns continue after the ids copied (SQLite's do by themselves).
    private static func moveIdentitiesPastCopiedRows(_ db: any SQLDatabase) throws {
        guard db.dialect == .postgres else { return }
        let sql = "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'"
        for row in try db.rows(sql) {
            let (table, column): (String, String) = (row["table_name"], row["column_name"])
            try db.execute(
                "SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), (SELECT COALESCE(MAX(\(column)), 0) + 1 FROM \(table)), false)"
            )
        }
    }
}
