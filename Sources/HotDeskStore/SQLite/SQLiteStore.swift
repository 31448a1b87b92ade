import Foundation
import GRDB
import HotDeskCore
import Synchronization

/// The embedded store: one SQLite file in WAL mode, reads in parallel, writes serialised, every
/// multi-row change in one transaction.
public final class SQLiteStore: Store {
    let pool: DatabasePool
    let changeStamps: SQLiteChangeStamps
    let secrets: SecretBox
    /// `currentSettings`: the settings last decoded, at the shared stamp they were read at.
    let settingsMemo = StampedValue<Settings>()
    /// `cosBook()`: the classes of service as last built (JSON decoded, number classes compiled
    /// to regular expressions), at the shared stamp they were read at.
    let cosBookMemo = StampedValue<CoSBook>()
    /// `apiKey(hash:kind:at:)`: the stored keys as of the shared stamp (a key made, revoked or
    /// changed moves it, from any process), and when this process last wrote each one's use.
    let apiKeysMemo = StampedValue<[StoredAPIKey]>()
    let apiKeyUseWritten = Mutex<[Int64: Double]>([:])
    /// `currentTemplates`: each brand's templates, at the shared stamp they were read at.
    let templatesMemo = StampedCache<Brand, Int, [Template]>(limit: 256)
    /// Turns stored model names into models; a name it does not know (a family removed from
    /// `Screens/families/`) reads as the generic model of the device's stored brand.
    let catalog: PhoneCatalog

    var reader: any DatabaseReader { pool }
    var writer: any DatabaseWriter { pool }
    var secretBox: SecretBox { secrets }

    /// Opens (and creates or migrates) the database at `path`.
    public init(path: String, secrets: SecretBox, catalog: PhoneCatalog = .empty) throws {
        self.catalog = catalog
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
        pool = try DatabasePool(path: path, configuration: config)
        self.secrets = secrets
        try Self.migrator.migrate(pool)
        // A read at every open; a write only the first time (every CLI command opens the store).
        if try pool.read({ db in try Self.checkKeyReadOnly(db, secrets: secrets) }) == .unrecorded {
            try pool.write { db in try Self.checkKey(db, secrets: secrets) }
        }
        changeStamps = try SQLiteChangeStamps(path: path)
    }

    /// The key given is not the one the database's secrets were sealed with.
    public struct WrongKey: Error, CustomStringConvertible {
        public var description: String {
            "the secret key (key file or HOTDESK_SECRET_KEY) is not the one this database's secrets were sealed with: "
                + "use the key file that was made with it (a backup restores only with its own key)"
        }
    }

    /// Refuses a key that is not the database's; a database without a check value (made before
    /// there was one) takes this key's when one of its sealed secrets opens with it.
    static func checkKey(_ db: Database, secrets: SecretBox) throws {
        guard try checkKeyReadOnly(db, secrets: secrets) == .unrecorded else { return }
        try db.execute(sql: "INSERT INTO key_check (id, value) VALUES (1, ?)", arguments: [secrets.keyCheck])
    }

    enum KeyCheck { case recorded, unrecorded }

    /// `checkKey` without writing: whether the database names this key (or, naming none, one of
    /// its sealed secrets opens with it); throws `WrongKey` otherwise.
    @discardableResult
    static func checkKeyReadOnly(_ db: Database, secrets: SecretBox) throws -> KeyCheck {
        if try db.tableExists("key_check"), let stored = try String.fetchOne(db, sql: "SELECT value FROM key_check WHERE id = 1") {
            guard ConstantTime.equal(stored, secrets.keyCheck) else { throw WrongKey() }
            return .recorded
        }
        let sample = try Data.fetchOne(
            db,
            sql: """
                SELECT sip_password_sealed FROM extensions UNION ALL SELECT provisioning_secret_sealed FROM devices
                WHERE provisioning_secret_sealed IS NOT NULL LIMIT 1
                """
        )
        if let sample, (try? secrets.open(sample)) == nil { throw WrongKey() }
        return .unrecorded
    }

    public var stamps: any ChangeStamps { changeStamps }

    public func probeWrite(at: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO health_probe (id, at) VALUES (1, ?)", arguments: [at.timeIntervalSince1970])
        }
    }

    /// Makes every later write fail as a full or read-only disk would (tests of what the server
    /// does then).
    func refuseWrites() async throws {
        try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = 1") }
    }

    public func population() async throws -> (sessions: Int, devices: Int) {
        try await pool.read { db in
            (
                try Int.fetchOne(try db.cachedStatement(sql: "SELECT COUNT(*) FROM sessions")) ?? 0,
                try Int.fetchOne(try db.cachedStatement(sql: "SELECT COUNT(*) FROM devices")) ?? 0
            )
        }
    }
    public func device(ofAppToken token: String) -> MACAddress? { secrets.readAppToken(token)?.mac }

    // MARK: reads

    // MARK: writes

    // MARK: row mapping

}

/// The queries for a phone's open (queued or sent) push jobs, asked at every config fetch, login
/// and push. Each names `state IN ('queued', 'sent')` word for word: that is what lets SQLite use
/// the partial index `push_jobs_open` instead of reading every job the phone ever had.
enum OpenPushJobs {
    static let exists = "SELECT EXISTS (SELECT 1 FROM push_jobs WHERE mac = ? AND state IN ('queued', 'sent'))"
    /// A fetch of config `?` (either hash) confirms the phone's sent jobs for it, and its queued
    /// ones when the config is new to the phone (last argument).
    static let confirmedByFetch = """
        SELECT * FROM push_jobs
        WHERE mac = ? AND state IN ('queued', 'sent') AND (config_hash = ? OR alt_config_hash = ?) AND action != 'xml' AND (state = 'sent' OR ?)
        """
    /// A new config push replaces the phone's earlier open ones (not messages).
    static let supersede = """
        UPDATE push_jobs SET state = 'superseded', last_error = ?, updated_at = ?
        WHERE mac = ? AND id < ? AND state IN ('queued', 'sent') AND action != 'xml'
        """
    static let all = [exists, confirmedByFetch, supersede]
}

/// SQLite's own failures (a full disk, a read-only file, an I/O error) are the store's.
extension DatabaseError: StoreError {}
