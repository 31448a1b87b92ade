import Foundation
import HotDeskCore

// Workspaces: which devices they hold, within their licence.
extension SQLStore {
    public func workspaces() async throws -> [(workspace: Workspace, devices: Int)] {
        let secrets = secretBox
        return try await engine.read { db in
            try db.rows("SELECT w.*, (SELECT COUNT(*) FROM devices d WHERE d.workspace = w.name) AS devices FROM workspaces w ORDER BY w.name")
                .compactMap { row in try Self.workspaceRecord(row, secrets: secrets).map { ($0, row["devices"]) } }
        }
    }

    public func assignWorkspace(mac: MACAddress, workspace: String?, actor: String, at: Date) async throws -> WorkspaceAssignment {
        let secrets = secretBox
        return try await engine.write { db in
            guard let current = try db.row("SELECT workspace FROM devices WHERE mac = ?", [mac.canonical]) else {
                return .unknownDevice
            }
            let old: String? = current["workspace"]
            var site: String?
            if let workspace {
                guard let w = try Self.readWorkspace(db, workspace, secrets: secrets) else { return .unknownWorkspace }
                let count =
                    try db.value(Int.self, "SELECT COUNT(*) FROM devices WHERE workspace = ? AND mac != ?", [workspace, mac.canonical])
                    ?? 0
                guard count < w.licence.maxDevices else { return .full(devices: count, licence: w.licence) }
                site = w.site
            }
            guard old != workspace else { return .done }
            try db.execute("UPDATE devices SET workspace = ? WHERE mac = ?", [workspace, mac.canonical])
            // In a workspace, the phone is in its site; taken out, it stays in the site it was in.
            if workspace != nil { try db.execute("UPDATE devices SET site = ? WHERE mac = ?", [site, mac.canonical]) }
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
