import Foundation
import GRDB
import HotDeskCore

// Workspaces: which devices they hold, within their licence.
extension SQLiteStore {
    public func workspaces() async throws -> [(workspace: Workspace, devices: Int)] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT w.*, (SELECT COUNT(*) FROM devices d WHERE d.workspace = w.name) AS devices FROM workspaces w ORDER BY w.name"
            ).compactMap { row in
                Workspace.Licence(rawValue: row["licence"]).map {
                    (Workspace(name: row["name"], licence: $0, hotDesking: row["hot_desking"]), row["devices"])
                }
            }
        }
    }

    public func assignWorkspace(mac: MACAddress, workspace: String?, actor: String, at: Date) async throws -> WorkspaceAssignment {
        try await pool.write { db in
            guard let current = try Row.fetchOne(db, sql: "SELECT workspace FROM devices WHERE mac = ?", arguments: [mac.canonical]) else {
                return .unknownDevice
            }
            let old: String? = current["workspace"]
            if let workspace {
                guard let w = try Self.readWorkspace(db, workspace) else { return .unknownWorkspace }
                let count =
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM devices WHERE workspace = ? AND mac != ?", arguments: [workspace, mac.canonical])
                    ?? 0
                guard count < w.licence.maxDevices else { return .full(devices: count, licence: w.licence) }
            }
            guard old != workspace else { return .done }
            try db.execute(sql: "UPDATE devices SET workspace = ? WHERE mac = ?", arguments: [workspace, mac.canonical])
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: actor,
                    action: .deviceChanged,
                    mac: mac,
                    outcome: .success,
                    detail: workspace.map { "put in workspace \"\($0)\"" } ?? "taken out of workspace \"\(old ?? "")\""
                ),
                db
            )
            return .done
        }
    }
}
