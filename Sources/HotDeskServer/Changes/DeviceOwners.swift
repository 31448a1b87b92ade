import HotDeskCore
import HotDeskStore

/// Which other directory — the main one or another organisation — already holds some phones: a
/// phone belongs to one organisation (issue 25), so an import that names another's is refused.
public struct DeviceOwners: Sendable {
    /// The other directories by name (`""`: the main one), as served now.
    let others: @Sendable () -> [(name: String, store: any DirectoryStore)]

    public init(others: @escaping @Sendable () -> [(name: String, store: any DirectoryStore)]) { self.others = others }

    /// Each of `macs` that another directory holds, with that directory's name.
    public func owners(of macs: [MACAddress]) async throws -> [MACAddress: String] {
        guard !macs.isEmpty else { return [:] }
        var owners: [MACAddress: String] = [:]
        for (name, store) in others() {
            for mac in try await store.storedDevices(macs) where owners[mac] == nil { owners[mac] = name }
        }
        return owners
    }

    /// How a problem names a directory.
    public static func describe(_ name: String) -> String { name.isEmpty ? "the main directory" : "organisation \(name)" }
}
