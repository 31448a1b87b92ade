import Foundation
import HotDeskCore
import HotDeskServer
import HotDeskStore
import Synchronization

extension StoreOptions {
    /// The same options for organisation `name` (`""`: the main directory).
    func forOrganisation(_ name: String) -> StoreOptions {
        var options = StoreOptions()
        (options.db, options.keyFile, options.org) = (mainDatabase, keyFile, name)
        return options
    }

    /// Organisation `name`'s store as `serve` holds it: opened (made, with `create`) and, for a
    /// SQLite file, locked against a second server for as long as this one runs (`locks`).
    func serveOrganisation(_ name: String, create: Bool, catalog: PhoneCatalog, caches: CacheLimits, locks: ServerLocks) throws -> any Store {
        let options = forOrganisation(name)
        let store = try options.openReporting(catalog: catalog, create: create, caches: caches).store
        guard !options.isPostgres else { return store }  // several nodes serve the same databases
        guard let lock = try ServerLock(database: options.databasePath) else {
            throw Failure(description: "another HotDesk server is running on \(options.databasePath)")
        }
        locks.hold(lock)
        return store
    }

    /// Where `serve` finds organisations made after it started (`hotdesk import --org`, here or on
    /// another node) and makes those a partner asks for: beside the main database, as `--org` names them.
    func organisationStores(catalog: PhoneCatalog, caches: CacheLimits, locks: ServerLocks) -> OrganisationStores {
        let main = forOrganisation("")
        return OrganisationStores(
            open: { name in
                guard try main.organisationNames().contains(name) else { return nil }
                return try main.serveOrganisation(name, create: false, catalog: catalog, caches: caches, locks: locks)
            },
            create: { name in try main.serveOrganisation(name, create: true, catalog: catalog, caches: caches, locks: locks) }
        )
    }
}

/// The SQLite locks `serve` holds for its organisations, taken as they are opened.
final class ServerLocks: Sendable {
    private let held = Mutex<[ServerLock]>([])

    func hold(_ lock: ServerLock) { held.withLock { $0.append(lock) } }
}
