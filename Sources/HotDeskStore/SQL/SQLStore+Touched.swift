import Foundation
import HotDeskCore

// Which phones one directory entry reaches: a form's edit pushes those, not every phone.
extension SQLStore {
    /// The phones whose config entry `key` of `section` can change as it stands now: an
    /// extension's (the phones it is logged in on), a device itself, a workspace's and a site's
    /// phones, the phones of a shared line's members logged in now. Asked before and after an
    /// edit, the two together are every phone the edit touched. nil for a template: whose it is
    /// depends on every mapping and default, so every phone is rendered again.
    public func phones(touchedBy section: DirectorySection, key: String) async throws -> Set<MACAddress>? {
        let query: (sql: String, argument: String)
        switch section {
        case .extensions: query = ("SELECT mac FROM sessions WHERE extension = ?", key)
        case .devices:
            guard let mac = MACAddress(key) else { return [] }
            return [mac]
        case .workspaces: query = ("SELECT mac FROM devices WHERE workspace = ?", key)
        case .sites: query = ("SELECT mac FROM devices WHERE site = ?", key)
        case .sharedLines:
            query = ("SELECT s.mac FROM sessions s JOIN shared_line_members m ON m.extension = s.extension WHERE m.line = ?", key)
        case .templates: return nil
        }
        return try await engine.read { db in
            Set(try db.values(String.self, query.sql, [query.argument]).compactMap(MACAddress.init))
        }
    }
}
