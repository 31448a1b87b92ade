import Foundation
import GRDB
import HotDeskCore
import Synchronization

/// The embedded store: one SQLite file in WAL mode, reads in parallel, writes serialised, every
/// multi-row change in one transaction.
public final class SQLiteStore: Store {
    private let pool: DatabasePool
    let changeStamps: SQLiteChangeStamps
    private let secrets: SecretBox
    /// `currentSettings`: the settings last decoded, at the shared stamp they were read at.
    let settingsMemo = StampedValue<Settings>()
    /// `cosBook()`: the classes of service as last built (JSON decoded, number classes compiled
    /// to regular expressions), at the shared stamp they were read at.
    private let cosBookMemo = StampedValue<CoSBook>()
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

    public func settings() async throws -> Settings {
        if let kept = settingsMemo.value(at: try? changeStamps.shared()) { return kept }
        let secrets = self.secrets
        return try await pool.read { db in try self.currentSettings(db, secrets: secrets) }
    }

    public func device(mac: MACAddress) async throws -> Device? {
        let secrets = self.secrets
        let catalog = self.catalog
        return try await pool.read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM devices WHERE mac = ?"), arguments: [mac.canonical]).map {
                try Self.device($0, secrets: secrets, catalog: catalog)
            }
        }
    }

    public func upgradeSecretHash(_ credential: Credential, extensionNumber: String, secret: String) async throws {
        let hash = SecretHash(hashing: secret, key: secrets.hashKey).encoded
        let (sql, arguments): (String, StatementArguments) =
            switch credential {
            case .voicemailPIN:
                (
                    "UPDATE extensions SET voicemail_pin_hash = ? WHERE number = ? AND voicemail_pin_hash LIKE 'pbkdf2-sha256$%'",
                    [hash, extensionNumber]
                )
            case .userPassword: ("UPDATE settings SET user_password_hash = ? WHERE id = 1 AND user_password_hash LIKE 'pbkdf2-sha256$%'", [hash])
            case .adminPassword: ("UPDATE settings SET admin_password_hash = ? WHERE id = 1 AND admin_password_hash LIKE 'pbkdf2-sha256$%'", [hash])
            }
        try await writer.write { db in try db.execute(sql: sql, arguments: arguments) }
    }

    public func deviceConfigState(mac: MACAddress) async throws -> DeviceConfigState? {
        let secrets = self.secrets
        let catalog = self.catalog
        return try await pool.read { db -> DeviceConfigState? in
            guard let row = try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM devices WHERE mac = ?"), arguments: [mac.canonical]) else {
                return nil
            }
            let device = try Self.device(row, secrets: secrets, catalog: catalog)
            let settings = try self.currentSettings(db, secrets: secrets)
            return try Self.configState(
                db,
                device,
                row,
                settings: settings,
                templates: try self.currentTemplates(db, brand: device.model.brand),
                secrets: secrets
            )
        }
    }

    public func servedConfigStates(after: MACAddress?, limit: Int) async throws -> [DeviceConfigState] {
        let secrets = self.secrets
        let catalog = self.catalog
        return try await pool.read { db in
            let settings = try self.currentSettings(db, secrets: secrets)
            var templates: [Brand: [Template]] = [:]
            return try Row.fetchAll(
                db,
                sql: "SELECT * FROM devices WHERE last_config_hash IS NOT NULL AND mac > ? ORDER BY mac LIMIT ?",
                arguments: [after?.canonical ?? "", limit]
            ).map { row in
                let device = try Self.device(row, secrets: secrets, catalog: catalog)
                let brand = device.model.brand
                if templates[brand] == nil { templates[brand] = try self.currentTemplates(db, brand: brand) }
                return try Self.configState(db, device, row, settings: settings, templates: templates[brand] ?? [], secrets: secrets)
            }
        }
    }

    /// The rest of a device's config state, its row, the settings and its brand's templates read.
    static func configState(
        _ db: Database,
        _ device: Device,
        _ row: Row,
        settings: Settings,
        templates: [Template],
        secrets: SecretBox
    ) throws -> DeviceConfigState {
        let session = try readSession(db, sql: "SELECT * FROM sessions WHERE mac = ?", device.mac.canonical)
        var line: Extension?
        var mappings: [Mapping] = []
        var memberships: [LineMembership] = []
        if let session {
            line = try readExtension(db, session.extensionNumber, secrets: secrets)
            mappings = try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT * FROM mappings WHERE extension = ?"),
                arguments: [session.extensionNumber]
            ).map(mapping)
            memberships = try Self.memberships(db, of: session.extensionNumber, secrets: secrets)
        }
        return DeviceConfigState(
            settings: settings,
            device: device,
            session: session,
            line: line,
            memberships: memberships,
            templates: templates,
            mappings: mappings,
            lastHost: row["last_host"],
            lastConfigAddress: row["last_config_address"],
            lastConfigHash: row["last_config_hash"],
            hasPendingPush: try Bool.fetchOne(
                try db.cachedStatement(sql: OpenPushJobs.exists),
                arguments: [device.mac.canonical]
            )
                ?? false
        )
    }

    public func appState(token: String) async throws -> AppLookup {
        let secrets = self.secrets
        let catalog = self.catalog
        guard let named = secrets.readAppToken(token) else { return .unknown }
        return try await pool.read { db -> AppLookup in
            guard let row = try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM devices WHERE mac = ?"), arguments: [named.mac.canonical])
            else { return .unknown }
            guard (row["token_generation"] as Int) == named.generation else { return named.generation < row["token_generation"] ? .stale : .unknown }
            var device = try Self.device(row, secrets: secrets, catalog: catalog)
            device.assignedUsers = try String.fetchAll(
                try db.cachedStatement(sql: "SELECT extension FROM device_users WHERE mac = ? ORDER BY extension"),
                arguments: [device.mac.canonical]
            )
            let session = try Self.readSession(db, sql: "SELECT * FROM sessions WHERE mac = ?", device.mac.canonical)
            let ext = try session.flatMap { try Self.readExtension(db, $0.extensionNumber, secrets: secrets) }
            let workspace = try device.workspace.flatMap { try Self.readWorkspace(db, $0) }
            return .current(
                AppState(
                    settings: try self.currentSettings(db, secrets: secrets),
                    device: device,
                    session: session,
                    sessionExtension: ext,
                    workspace: workspace
                )
            )
        }
    }

    public func findExtension(_ number: String) async throws -> Extension? {
        let secrets = self.secrets
        return try await pool.read { db in try Self.readExtension(db, number, secrets: secrets) }
    }

    public func session(mac: MACAddress) async throws -> Session? {
        try await pool.read { db in try Self.readSession(db, sql: "SELECT * FROM sessions WHERE mac = ?", mac.canonical) }
    }

    public func sessions(extensionNumber: String) async throws -> [Session] {
        try await pool.read { db in
            try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT * FROM sessions WHERE extension = ? ORDER BY started_at"),
                arguments: [extensionNumber]
            ).compactMap(Self.session)
        }
    }

    public func sessions() async throws -> [Session] {
        try await pool.read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM sessions ORDER BY started_at")).compactMap(Self.session)
        }
    }

    public func failures(since: Date) async throws -> [(mac: MACAddress?, extensionNumber: String?, at: Date)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT mac, extension, at FROM login_failures WHERE at >= ?", arguments: [since.timeIntervalSince1970]).map {
                row in
                ((row["mac"] as String?).flatMap(MACAddress.init), row["extension"] as String?, Date(timeIntervalSince1970: row["at"]))
            }
        }
    }

    public func clearFailures(of subject: LockSubject, audit: AuditEntry) async throws -> Int {
        try await writer.write { db in
            switch subject {
            case .extension(let number): try db.cachedStatement(sql: "DELETE FROM login_failures WHERE extension = ?").execute(arguments: [number])
            case .device(let mac): try db.cachedStatement(sql: "DELETE FROM login_failures WHERE mac = ?").execute(arguments: [mac.canonical])
            case .source: break
            }
            let cleared = db.changesCount
            try Self.insert(audit, db)
            return cleared
        }
    }

    public func failures(mac: MACAddress, extensionNumber: String?, since: Date) async throws -> (extension: [Date], device: [Date]) {
        try await pool.read { db in
            let device = try Double.fetchAll(
                try db.cachedStatement(sql: "SELECT at FROM login_failures WHERE mac = ? AND at >= ?"),
                arguments: [mac.canonical, since.timeIntervalSince1970]
            )
            let ext =
                try extensionNumber.map {
                    try Double.fetchAll(
                        try db.cachedStatement(sql: "SELECT at FROM login_failures WHERE extension = ? AND at >= ?"),
                        arguments: [$0, since.timeIntervalSince1970]
                    )
                } ?? []
            return (ext.map(Date.init(timeIntervalSince1970:)), device.map(Date.init(timeIntervalSince1970:)))
        }
    }

    public func auditEntries(_ query: AuditQuery) async throws -> [(id: Int64, entry: AuditEntry)] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        func add(_ condition: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            conditions.append(condition)
            arguments += [value]
        }
        add("actor = ?", query.actor)
        add("action = ?", query.action?.rawValue)
        add("mac = ?", query.mac?.canonical)
        add("extension = ?", query.extensionNumber)
        add("at >= ?", query.since?.timeIntervalSince1970)
        add("at < ?", query.until?.timeIntervalSince1970)
        add("id < ?", query.beforeID)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [query.limit]
        let sql = "SELECT * FROM audit \(filter) ORDER BY id DESC LIMIT ?"
        let bound = arguments
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).compactMap { row in
                Self.auditEntry(row).map { (row["id"] as Int64, $0) }
            }
        }
    }

    public func auditLog(limit: Int) async throws -> [AuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM audit ORDER BY id DESC LIMIT ?"), arguments: [limit]).compactMap(
                Self.auditEntry
            )
        }
    }

    // MARK: writes

    public func enrol(_ device: Device, audit: AuditEntry, maxUnclaimed: Int?) async throws -> Device? {
        let secrets = self.secrets
        let catalog = self.catalog
        return try await pool.write { db in
            if let existing = try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM devices WHERE mac = ?"), arguments: [device.mac.canonical])
            {
                return try Self.device(existing, secrets: secrets, catalog: catalog)
            }
            if let maxUnclaimed {
                let unclaimed =
                    try Int.fetchOne(try db.cachedStatement(sql: "SELECT COUNT(*) FROM devices WHERE claimed_at IS NULL AND enrolled_by = 'phone'"))
                    ?? 0
                if unclaimed >= maxUnclaimed { return nil }
            }
            var device = device
            device.provisioningSecret = device.provisioningSecret ?? RandomToken.make()
            try db.cachedStatement(
                sql:
                    "INSERT INTO devices (mac, model, brand, token, enrolled_at, provisioning_secret_sealed, enrolled_by) VALUES (?, ?, ?, ?, ?, ?, 'phone')"
            ).execute(
                arguments: [
                    device.mac.canonical, device.model.name, device.model.brand.rawValue, device.token, audit.at.timeIntervalSince1970,
                    try secrets.seal(device.provisioningSecret!),
                ])
            try Self.insert(audit, db)
            return device
        }
    }

    public func reenrol(mac: MACAddress, model: PhoneModel, audit: AuditEntry) async throws -> Bool {
        let sealed = try secrets.seal(RandomToken.make())
        return try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE devices SET model = ?, brand = ?, provisioning_secret_sealed = ?, secret_issued_at = NULL
                    WHERE mac = ? AND claimed_at IS NULL AND enrolled_by = 'phone'
                    """,
                arguments: [model.name, model.brand.rawValue, sealed, mac.canonical]
            )
            guard db.changesCount > 0 else { return false }
            try Self.insert(audit, db)
            return true
        }
    }

    public func expireUnclaimed(enrolledBefore: Date, at: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM devices WHERE enrolled_by = 'phone' AND claimed_at IS NULL AND enrolled_at < ?
                    AND mac NOT IN (SELECT mac FROM sessions)
                    """,
                arguments: [enrolledBefore.timeIntervalSince1970]
            )
            let removed = db.changesCount
            if removed > 0 {
                try Self.insert(
                    AuditEntry(
                        at: at,
                        actor: "system",
                        action: .directoryDelete,
                        outcome: .success,
                        detail:
                            "\(removed) enrolled phone(s) that never fetched their config with their secret forgotten (enrolled before \(enrolledBefore.formatted(.iso8601)))"
                    ),
                    db
                )
            }
            return removed
        }
    }

    public func ensureProvisioningSecret(mac: MACAddress) async throws {
        let sealed = try secrets.seal(RandomToken.make())
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE devices SET provisioning_secret_sealed = ? WHERE mac = ? AND provisioning_secret_sealed IS NULL")
                .execute(arguments: [sealed, mac.canonical])
        }
    }

    public func secretIssued(mac: MACAddress, at: Date) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE devices SET secret_issued_at = ? WHERE mac = ? AND secret_issued_at IS NULL").execute(arguments: [
                at.timeIntervalSince1970, mac.canonical,
            ])
        }
    }

    public func claim(mac: MACAddress, address: String?, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.cachedStatement(
                sql:
                    "UPDATE devices SET claimed_at = ?, claimed_from = ?, claim_pending_from = NULL, claim_approved_from = NULL WHERE mac = ? AND claimed_at IS NULL"
            ).execute(
                arguments: [at.timeIntervalSince1970, address, mac.canonical])
            guard db.changesCount > 0 else { return false }
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: "system",
                    action: .deviceClaimed,
                    mac: mac,
                    source: address,
                    outcome: .success,
                    detail: "first config fetch with the phone's provisioning secret: its configs now need it"
                ),
                db
            )
            return true
        }
    }

    public func release(mac: MACAddress, actor: String, source: String?, at: Date) async throws -> Bool {
        let sealed = try secrets.seal(RandomToken.make())
        return try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE devices SET claimed_at = NULL, claimed_from = NULL, secret_issued_at = NULL, provisioning_secret_sealed = ?, last_address = NULL,
                        claim_pending_from = NULL, claim_approved_from = NULL
                    WHERE mac = ?
                    """,
                arguments: [sealed, mac.canonical]
            )
            guard db.changesCount > 0 else { return false }
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: actor,
                    action: .deviceReleased,
                    mac: mac,
                    source: source,
                    outcome: .success,
                    detail: "released: a new provisioning secret; the next phone to fetch this MAC's config claims it"
                ),
                db
            )
            return true
        }
    }

    public func noteClaimPending(mac: MACAddress, address: String?, at: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE devices SET claim_pending_from = ? WHERE mac = ? AND claimed_at IS NULL AND claim_pending_from IS NOT ?",
                arguments: [address, mac.canonical, address]
            )
            guard db.changesCount > 0 else { return }
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: "system",
                    action: .claimPending,
                    mac: mac,
                    source: address,
                    outcome: .refused,
                    detail: "an unclaimed phone asked for its config; claims need an admin's approval (hotdesk device approve)"
                ),
                db
            )
        }
    }

    public func approveClaim(mac: MACAddress, actor: String, source: String?, at: Date) async throws -> String? {
        try await pool.write { db in
            guard
                let pending = try String.fetchOne(
                    db,
                    sql: "SELECT claim_pending_from FROM devices WHERE mac = ? AND claimed_at IS NULL AND claim_pending_from IS NOT NULL",
                    arguments: [mac.canonical]
                )
            else { return nil }
            try db.execute(sql: "UPDATE devices SET claim_approved_from = ? WHERE mac = ?", arguments: [pending, mac.canonical])
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: actor,
                    action: .claimApproved,
                    mac: mac,
                    source: source,
                    outcome: .success,
                    detail: "claim approved for the phone at \(pending): its next fetch from there gets its secret"
                ),
                db
            )
            return pending
        }
    }

    public func updateModel(mac: MACAddress, model: PhoneModel) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE devices SET model = ?, brand = ? WHERE mac = ?").execute(arguments: [
                model.name, model.brand.rawValue, mac.canonical,
            ])
        }
    }

    public func recordFetch(
        mac: MACAddress,
        address: String?,
        host: String?,
        configHash: String,
        configAddress: String?,
        at: Date
    ) async throws -> [PushJob] {
        try await pool.write { db in
            let previousHash = try String.fetchOne(
                try db.cachedStatement(sql: "SELECT last_config_hash FROM devices WHERE mac = ?"),
                arguments: [mac.canonical]
            )
            try db.execute(
                sql: """
                    UPDATE devices SET last_address = ?, last_host = ?, last_fetch_at = ?, last_config_hash = ?, last_config_address = ?
                    WHERE mac = ?
                    """,
                arguments: [address, host, at.timeIntervalSince1970, configHash, configAddress, mac.canonical]
            )
            // A fetch proves a pending push for this config done when it shows the phone acted:
            // the push was sent before it, or the phone took a config new to it. A fetch of the
            // config the phone already had proves nothing about a job not yet sent (an admin's
            // reboot of an unchanged phone must still happen).
            let isNewToPhone = previousHash != configHash
            let applied = try Row.fetchAll(
                try db.cachedStatement(sql: OpenPushJobs.confirmedByFetch),
                arguments: [mac.canonical, configHash, configHash, isNewToPhone]
            ).compactMap(Self.pushJob).map { job in
                var job = job
                job.state = .applied
                job.appliedAt = at
                job.updatedAt = at
                return job
            }
            for job in applied {
                try Self.write(job, db)
                try Self.insert(
                    AuditEntry(
                        at: at,
                        actor: "system",
                        action: .push,
                        mac: mac,
                        source: address,
                        outcome: .success,
                        detail: "job \(job.id) \(job.action.rawValue) (\(job.reason.rawValue)) applied: the phone fetched its new config"
                    ),
                    db
                )
            }
            return applied
        }
    }

    public func recordFetchTimes(_ times: [MACAddress: Date]) async throws {
        guard !times.isEmpty else { return }
        try await pool.write { db in
            let update = try db.makeStatement(sql: "UPDATE devices SET last_fetch_at = MAX(COALESCE(last_fetch_at, 0), ?) WHERE mac = ?")
            for (mac, at) in times { try update.execute(arguments: [at.timeIntervalSince1970, mac.canonical]) }
        }
    }

    public func recordAddress(mac: MACAddress, address: String) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE devices SET last_address = ? WHERE mac = ? AND last_address IS NOT ?").execute(arguments: [
                address, mac.canonical, address,
            ])
        }
    }

    /// At every failed login, through `login_failures_at` (the table is largest during an attack).
    static let expiredFailuresSQL = "DELETE FROM login_failures WHERE at < ?"

    public func recordFailure(_ audit: AuditEntry) async throws {
        guard let mac = audit.mac else { return try await self.audit(audit) }
        try await pool.write { db in
            try db.cachedStatement(sql: "INSERT INTO login_failures (at, mac, extension) VALUES (?, ?, ?)").execute(
                arguments: [audit.at.timeIntervalSince1970, mac.canonical, audit.extensionNumber])
            // Old failures no longer count for anything: keep the table small.
            try db.cachedStatement(sql: Self.expiredFailuresSQL).execute(arguments: [audit.at.timeIntervalSince1970 - 7 * 86400])
            try Self.insert(audit, db)
        }
    }

    public func audit(_ entry: AuditEntry) async throws {
        try await pool.write { db in try Self.insert(entry, db) }
    }

    // MARK: row mapping

    /// The settings as of the shared stamp read in the same transaction: decoded (and
    /// the phones' web logins opened) once per change, not on every state read (issue 12).
    func currentSettings(_ db: Database, secrets: SecretBox) throws -> Settings {
        try settingsMemo.value(at: SQLiteChangeStamps.shared(in: db)) { try Self.readSettings(db, secrets: secrets) }
    }

    /// A brand's templates as of the shared stamp: read once per change and shared by every
    /// phone's cached state (one copy of each template text, not one per phone: at 100,000 phones
    /// that was tens of megabytes).
    func currentTemplates(_ db: Database, brand: Brand) throws -> [Template] {
        try templatesMemo.value(brand, at: SQLiteChangeStamps.shared(in: db)) {
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM templates WHERE brand = ?"), arguments: [brand.rawValue]).map(Self.template)
        }
    }

    static func readSettings(_ db: Database, secrets: SecretBox) throws -> Settings {
        guard let row = try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM settings WHERE id = 1")) else { return Settings() }
        var credentials: [Brand: PhoneCredentials] = [:]
        for c in try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM phone_credentials")) {
            credentials[Brand(rawValue: c["brand"])] = PhoneCredentials(username: c["username"], password: try secrets.open(c["password_sealed"]))
        }
        var settings = Settings(
            defaultLogin: row["default_login"],
            internalAddress: (row["internal_address"] as String?).flatMap(ServerAddress.init),
            externalAddress: (row["external_address"] as String?).flatMap(ServerAddress.init),
            userPassword: (row["user_password_hash"] as String?).flatMap { SecretHash(encoded: $0, key: secrets.hashKey) },
            adminPassword: (row["admin_password_hash"] as String?).flatMap { SecretHash(encoded: $0, key: secrets.hashKey) },
            emergencyCallerID: row["emergency_caller_id"],
            lockout: LockoutPolicy(
                extensionFailures: row["lockout_extension_failures"],
                deviceFailures: row["lockout_device_failures"],
                window: TimeInterval(row["lockout_window_seconds"] as Int),
                duration: TimeInterval(row["lockout_duration_seconds"] as Int),
                sourceFailures: row["lockout_source_failures"],
                globalFailures: row["lockout_global_failures"]
            ),
            pushPort: row["push_port"],
            phoneCredentials: credentials,
            pushFrom: row["push_from"],
            autoLogout: AutoLogoutPolicy(
                maxDuration: Self.minutes(row["auto_logout_after_minutes"]),
                dailyAt: (row["auto_logout_daily_at"] as String?).flatMap(DailyTime.init)
            ),
            multiLogin: MultiLoginPolicy(row["multi_login"] as String) ?? .move,
            emergencyNumbers: JSONText.decode([String].self, row["emergency_numbers"]) ?? [],
            sip: (row["sip_server"] as String?).flatMap { server -> SIPSettings? in
                guard var sip = SIPSettings(server: server, transport: SIPSettings.Transport(rawValue: row["sip_transport"]) ?? .udp) else {
                    return nil
                }
                sip.realm = row["sip_realm"]
                sip.outboundProxy = row["sip_outbound_proxy"]
                return sip
            }
        )
        settings.enrolment = EnrolmentPolicy(
            perMinute: row["enrolment_per_minute"],
            maxUnclaimed: row["enrolment_max_unclaimed"],
            expireUnclaimedAfter: (row["enrolment_expire_hours"] as Int) > 0 ? TimeInterval((row["enrolment_expire_hours"] as Int) * 3600) : nil,
            claims: EnrolmentPolicy.Claims(rawValue: row["enrolment_claims"]) ?? .approval,
            claimsUntil: (row["enrolment_claims_until"] as Double?).map(Date.init(timeIntervalSince1970:))
        )
        return settings
    }

    /// Minutes as seconds; 0 (off) as `nil`.
    static func minutes(_ value: Int) -> TimeInterval? { value > 0 ? TimeInterval(value * 60) : nil }

    static func device(_ row: Row, secrets: SecretBox, catalog: PhoneCatalog) throws -> Device {
        let mac = MACAddress(row["mac"] as String)!
        let modelName: String = row["model"]
        let brand = Brand(rawValue: row["brand"])
        let model = catalog.model(named: modelName).flatMap { $0.brand == brand ? $0 : nil } ?? PhoneModel.generic(brand)
        var credentials: PhoneCredentials?
        if let username = row["phone_username"] as String?, let sealed = row["phone_password_sealed"] as Data? {
            credentials = PhoneCredentials(username: username, password: try secrets.open(sealed))
        }
        var device = Device(
            mac: mac,
            model: model,
            token: secrets.appToken(mac: mac, generation: row["token_generation"] ?? 0),
            pushPort: row["push_port"],
            credentials: credentials,
            lastAddress: row["last_address"]
        )
        device.workspace = row["workspace"]
        device.cos = row["cos"]
        device.cosIfNotLogged = row["cos_if_not_logged"]
        if let sealed = row["provisioning_secret_sealed"] as Data? { device.provisioningSecret = try secrets.open(sealed) }
        device.claimedAt = (row["claimed_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        device.secretIssuedAt = (row["secret_issued_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        device.claimPendingFrom = row["claim_pending_from"]
        device.claimApprovedFrom = row["claim_approved_from"]
        device.selfEnrolled = (row["enrolled_by"] as String?) == "phone"
        if let number = row["line_number"] as String?, let sealed = row["line_sip_password_sealed"] as Data? {
            device.ownLine = DeviceLine(number: number, name: row["line_name"] ?? number, sipPassword: try secrets.open(sealed))
        }
        return device
    }

    static func readExtension(_ db: Database, _ number: String, secrets: SecretBox) throws -> Extension? {
        guard let row = try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM extensions WHERE number = ?"), arguments: [number]) else {
            return nil
        }
        var ext = Extension(
            number: row["number"],
            name: row["name"],
            voicemailPIN: (row["voicemail_pin_hash"] as String?).flatMap { SecretHash(encoded: $0, key: secrets.hashKey) },
            sipPassword: try secrets.open(row["sip_password_sealed"])
        )
        ext.cos = row["cos"]
        return ext
    }

    /// Every class of service with the schedules, number classes and emergency numbers they use.
    static func readCoSBook(_ db: Database) throws -> CoSBook {
        let classes = try String.fetchAll(try db.cachedStatement(sql: "SELECT definition FROM classes_of_service")).compactMap {
            JSONText.decode(StoredCoS.self, $0)?.cos
        }
        let schedules = try String.fetchAll(try db.cachedStatement(sql: "SELECT definition FROM schedules")).compactMap {
            JSONText.decode(StoredSchedule.self, $0)?.schedule
        }
        let settings = try Row.fetchOne(try db.cachedStatement(sql: "SELECT emergency_numbers, number_classes FROM settings WHERE id = 1"))
        let numberClasses = (settings.flatMap { JSONText.decode([String: String].self, $0["number_classes"]) } ?? [:])
            .compactMapValues { try? NSRegularExpression(pattern: $0) }
        return CoSBook(
            classes: Dictionary(classes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }),
            numberClasses: numberClasses,
            schedules: Dictionary(schedules.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }),
            emergencyNumbers: Set(settings.flatMap { JSONText.decode([String].self, $0["emergency_numbers"]) } ?? [])
        )
    }

    /// The PBX asks at every call setup: built once per change of the classes, schedules or
    /// settings (they move the shared counter), not at every call.
    public func cosBook() async throws -> CoSBook {
        if let kept = cosBookMemo.value(at: try? changeStamps.shared()) { return kept }
        return try await pool.read { db in try self.cosBookMemo.value(at: SQLiteChangeStamps.shared(in: db)) { try Self.readCoSBook(db) } }
    }

    static func readWorkspace(_ db: Database, _ name: String) throws -> Workspace? {
        try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM workspaces WHERE name = ?"), arguments: [name]).flatMap { row in
            Workspace.Licence(rawValue: row["licence"]).map { Workspace(name: row["name"], licence: $0, hotDesking: row["hot_desking"]) }
        }
    }

    /// The shared lines an extension is a member of, with its key and ring option.
    static func memberships(_ db: Database, of extensionNumber: String, secrets: SecretBox) throws -> [LineMembership] {
        try Row.fetchAll(
            try db.cachedStatement(
                sql: """
                    SELECT l.*, m.button, m.ring FROM shared_line_members m JOIN shared_lines l ON l.number = m.line
                    WHERE m.extension = ? ORDER BY m.button, l.number
                    """
            ),
            arguments: [extensionNumber]
        ).map { row in
            let line = SharedLine(
                number: row["number"],
                name: row["name"],
                sipPassword: try secrets.open(row["sip_password_sealed"]),
                callerID: row["caller_id"],
                members: []
            )
            return LineMembership(line: line, button: row["button"], ring: RingOption(row["ring"] as String) ?? .ring)
        }
    }

    /// `sql`: a literal (its statement is kept prepared).
    static func readSession(_ db: Database, sql: String, _ key: String) throws -> Session? {
        try Row.fetchOne(try db.cachedStatement(sql: sql), arguments: [key]).flatMap(session)
    }

    static func session(_ row: Row) -> Session? { (try? SessionRecord(row: row))?.session }

    static func template(_ row: Row) -> Template {
        Template(name: row["name"], brand: Brand(rawValue: row["brand"]), isDefault: row["is_default"], body: row["body"])
    }

    static func mapping(_ row: Row) -> Mapping {
        let model: String = row["model"]
        let mac: String = row["mac"]
        return Mapping(extensionNumber: row["extension"], templateName: row["template"], model: model.isEmpty ? nil : model, mac: MACAddress(mac))
    }

    static func auditEntry(_ row: Row) -> AuditEntry? { (try? AuditRecord(row: row))?.entry }

    static func insert(_ entry: AuditEntry, _ db: Database) throws { try AuditRecord(entry).insert(db) }
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
