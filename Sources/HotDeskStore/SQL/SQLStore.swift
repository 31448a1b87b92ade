import Crypto
import Foundation
import HotDeskCore
import Synchronization

/// Every role of the store, written once in the SQL both databases understand, on an
/// `SQLEngine`: `SQLiteStore` (the embedded default) and `PostgresStore` (several nodes) are
/// this class on their own engine, with their own schema, change stamps and key check.
public class SQLStore: Store, @unchecked Sendable {
    let engine: any SQLEngine
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

    var secretBox: SecretBox { secrets }

    /// The engine's change stamps (each database moves its own counters).
    public let stamps: any ChangeStamps

    init(engine: any SQLEngine, stamps: any ChangeStamps, secrets: SecretBox, catalog: PhoneCatalog) {
        self.engine = engine
        self.stamps = stamps
        self.secrets = secrets
        self.catalog = catalog
    }

    /// One process holds a SQLite file: nothing beyond it to lock. (`PostgresStore` locks
    /// across nodes.)
    public func withNodeLocks<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        try await body()
    }

    public func unlessAnotherNodeRuns<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await body()
    }

    /// The secret key (key file or HOTDESK_SECRET_KEY) is not the one the database's secrets were sealed with.
    public struct WrongKey: Error, CustomStringConvertible {
        public var description: String {
            "the secret key (key file or HOTDESK_SECRET_KEY) is not the one this database's secrets were sealed with: "
                + "use the key file that was made with it (a backup restores only with its own key)"
        }
    }

    enum KeyCheck { case recorded, unrecorded }

    /// Whether the database names this key (or, naming none, one of its sealed secrets opens
    /// with it); throws `WrongKey` otherwise. Writes nothing.
    @discardableResult
    /// `column IN (?, …)` for `sites`, and its arguments: a condition that keeps the rows of those
    /// sites (none, for no sites).
    static func inSites(_ column: String, _ sites: [String]) -> (condition: String, arguments: SQLArguments) {
        guard !sites.isEmpty else { return ("1 = 0", []) }
        return ("\(column) IN (\(Array(repeating: "?", count: sites.count).joined(separator: ", ")))", sites.map { $0 })
    }

    static func checkKeyReadOnly(_ db: any SQLDatabase, secrets: SecretBox) throws -> KeyCheck {
        if let stored = try db.value(String.self, "SELECT value FROM key_check WHERE id = 1") {
            guard ConstantTime.equal(stored, secrets.keyCheck) else { throw WrongKey() }
            return .recorded
        }
        let sample = try db.value(
            Data.self,
            """
            SELECT sip_password_sealed FROM extensions UNION ALL SELECT provisioning_secret_sealed FROM devices
            WHERE provisioning_secret_sealed IS NOT NULL LIMIT 1
            """
        )
        if let sample, (try? secrets.open(sample)) == nil { throw WrongKey() }
        return .unrecorded
    }

    /// Inside a write at opening: refuses a key that is not the database's; a database without
    /// a check value (new, or made before there was one) takes this key's.
    static func recordKey(_ db: any SQLDatabase, secrets: SecretBox) throws {
        guard try checkKeyReadOnly(db, secrets: secrets) == .unrecorded else { return }
        try db.execute("INSERT INTO key_check (id, value) VALUES (1, ?)", [secrets.keyCheck])
    }

    public func probeWrite(at: Date) async throws {
        try await engine.write { db in
            try db.execute(
                "INSERT INTO health_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                [at.timeIntervalSince1970]
            )
        }
    }

    public func population() async throws -> (sessions: Int, devices: Int) {
        try await engine.read { db in
            (
                try db.value(Int.self, "SELECT COUNT(*) FROM sessions") ?? 0,
                try db.value(Int.self, "SELECT COUNT(*) FROM devices") ?? 0
            )
        }
    }

    public func populationBySite() async throws -> [String: (sessions: Int, devices: Int)] {
        try await engine.read { db in
            var counts: [String: (sessions: Int, devices: Int)] = [:]
            for row in try db.rows("SELECT site, COUNT(*) AS n FROM devices WHERE site IS NOT NULL GROUP BY site") {
                counts[row["site"] as String] = (0, row["n"])
            }
            let sessions = "SELECT d.site, COUNT(*) AS n FROM sessions s JOIN devices d ON d.mac = s.mac WHERE d.site IS NOT NULL GROUP BY d.site"
            for row in try db.rows(sessions) { counts[row["site"] as String]?.sessions = row["n"] }
            return counts
        }
    }

    public func device(ofAppToken token: String) -> MACAddress? { secrets.readAppToken(token)?.mac }

    public var digestNonceKey: SymmetricKey { secrets.nonceKey }

    /// Makes every later write fail as a full or read-only disk would (tests of what the server
    /// does then).
    func refuseWrites() async throws { fatalError("\(Self.self) names how it refuses writes") }
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

/// A row the store wrote and cannot read back as it should (a database that broke its schema).
struct SQLStoreFailure: StoreError, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
