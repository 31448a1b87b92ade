import Foundation
import GRDB
import HotDeskCore
import Synchronization

/// The embedded store: one SQLite file in WAL mode, reads in parallel, writes serialised, every
/// multi-row change in one transaction.
public final class SQLiteStore: SQLStore, @unchecked Sendable {
    let pool: DatabasePool

    /// The pool itself, for what only SQLite does (backups, tests that read a table).
    var reader: any DatabaseReader { pool }
    var writer: any DatabaseWriter { pool }

    /// Opens (and creates or migrates) the database at `path`.
    public init(path: String, secrets: SecretBox, catalog: PhoneCatalog = .empty) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        // WAL with synchronous=NORMAL: a commit is durable once it returns as far as the process
        // is concerned (kill -9 loses nothing committed); only a power cut may lose the last
        // commits before a checkpoint, never the database's integrity. FULL would fsync every
        // commit (a phone's login waits on the disk). README, "Durability".
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        // The audit, names and sealed secrets are the owner's alone (0600, the -wal and -shm too).
        if path != ":memory:" {
            try DatabaseFiles.createPrivate(path)
            DatabaseFiles.restrict(path)
        }
        let pool = try DatabasePool(path: path, configuration: config)
        self.pool = pool
        try Self.migrator.migrate(pool)
        // A read at every open; a write only the first time (every CLI command opens the store).
        if try pool.read({ db in try Self.checkKeyReadOnly(GRDBConnection(db: db), secrets: secrets) }) == .unrecorded {
            try pool.write { db in try Self.recordKey(GRDBConnection(db: db), secrets: secrets) }
        }
        super.init(engine: GRDBEngine(pool: pool), stamps: try SQLiteChangeStamps(path: path), secrets: secrets, catalog: catalog)
    }

    /// Makes every later write fail as a full or read-only disk would (tests of what the server
    /// does then).
    override func refuseWrites() async throws {
        try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = 1") }
    }
}

/// SQLite's own failures (a full disk, a read-only file, an I/O error) are the store's.
extension DatabaseError: StoreError {}
