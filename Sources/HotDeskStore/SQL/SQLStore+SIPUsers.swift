import Foundation
import HotDeskCore

// SIP users as the PBX asks for them: an extension, a phone's or a workspace's own line, a
// shared line, each with the phones that carry it now.
extension SQLStore {
    /// The phone whose own line is a SIP user, asked at every registration and call of a user that
    /// is not an extension (and at every SIP scanner's guess): through `devices_line_number`.
    static let deviceByOwnLineSQL = "SELECT * FROM devices WHERE line_number = ?"

    /// The workspace whose own line is a SIP user: through `workspaces_line_number`.
    static let workspaceByLineSQL = "SELECT * FROM workspaces WHERE line_number = ?"

    public func directDialUser(_ number: String) async throws -> String? {
        try await engine.read { db in
            try db.value(
                String.self,
                "SELECT number FROM extensions WHERE direct_dial = ? UNION ALL SELECT number FROM shared_lines WHERE direct_dial = ? LIMIT 1",
                [number, number]
            )
        }
    }

    public func sipUser(_ authUser: String) async throws -> SIPUser? {
        let secrets = secretBox
        let catalog = self.catalog
        return try await engine.read { db -> SIPUser? in
            var settings: Settings?
            func desk(_ row: SQLRow) throws -> SIPDesk {
                let device = try Self.device(row, secrets: secrets, catalog: catalog)
                if settings == nil { settings = try self.currentSettings(db, secrets: secrets) }
                let site = settings!.forSite(device.site)
                // The workspace is read only when its emergency caller ID could be the desk's.
                let workspace =
                    try device.emergencyCallerID == nil ? device.workspace.flatMap { try Self.readWorkspace(db, $0, secrets: secrets) } : nil
                return SIPDesk(
                    device: device,
                    emergencyCallerID: CallerID.emergency(of: device, workspace: workspace, settings: site),
                    emergencyLocation: site.emergencyLocation
                )
            }
            if let ext = try Self.readExtension(db, authUser, secrets: secrets) {
                let desks = try db.rows(
                    "SELECT d.* FROM devices d JOIN sessions s ON s.mac = d.mac WHERE s.extension = ? ORDER BY s.started_at",
                    [authUser]
                )
                .map(desk)
                return .extension(ext, desks: desks)
            }
            if let row = try db.row(Self.deviceByOwnLineSQL, [authUser]) {
                let busy =
                    try db.value(Bool.self, "SELECT EXISTS (SELECT 1 FROM sessions WHERE mac = ?)", [row["mac"] as String]) ?? false
                return .deviceLine(try desk(row), inUse: !busy)
            }
            if let row = try db.row(Self.workspaceByLineSQL, [authUser]), let workspace = try Self.workspaceRecord(row, secrets: secrets) {
                // Its phones that carry it now: nobody logged in, no own line of their own.
                let desks = try db.rows(
                    """
                    SELECT d.* FROM devices d WHERE d.workspace = ? AND d.line_number IS NULL
                    AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.mac = d.mac) ORDER BY d.mac
                    """,
                    [workspace.name]
                )
                .map(desk)
                return .workspaceLine(workspace, desks: desks)
            }
            if let row = try db.row("SELECT * FROM shared_lines WHERE number = ?", [authUser]) {
                let line = try Self.sharedLineRecord(row, secrets: secrets)
                let desks = try db.rows(
                    """
                    SELECT d.* FROM devices d JOIN sessions s ON s.mac = d.mac JOIN shared_line_members m ON m.extension = s.extension
                    WHERE m.line = ? ORDER BY s.started_at
                    """,
                    [authUser]
                )
                .map(desk)
                return .sharedLine(line, desks: desks)
            }
            return nil
        }
    }
}
