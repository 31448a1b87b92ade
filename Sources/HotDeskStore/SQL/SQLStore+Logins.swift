import Foundation
import HotDeskCore

// SessionStore, LoginRecordStore and AuditStore: who is logged in where, counted wrong passwords, the audit log.
extension SQLStore {
    public func upgradeSecretHash(_ credential: Credential, extensionNumber: String, secret: String) async throws {
        let hash = SecretHash(hashing: secret, key: secrets.hashKey).encoded
        let (sql, arguments): (String, SQLArguments) =
            switch credential {
            case .voicemailPIN:
                (
                    "UPDATE extensions SET voicemail_pin_hash = ? WHERE number = ? AND voicemail_pin_hash LIKE 'pbkdf2-sha256$%'",
                    [hash, extensionNumber]
                )
            case .ownPIN:
                ("UPDATE extensions SET own_pin_hash = ? WHERE number = ? AND own_pin_hash LIKE 'pbkdf2-sha256$%'", [hash, extensionNumber])
            case .userPassword: ("UPDATE settings SET user_password_hash = ? WHERE id = 1 AND user_password_hash LIKE 'pbkdf2-sha256$%'", [hash])
            case .adminPassword: ("UPDATE settings SET admin_password_hash = ? WHERE id = 1 AND admin_password_hash LIKE 'pbkdf2-sha256$%'", [hash])
            }
        try await engine.write { db in try db.execute(sql, arguments) }
    }

    public func setOwnPIN(_ pin: String?, extensionNumber: String, audit entry: AuditEntry) async throws -> Bool {
        let hash = pin.map { SecretHash(hashing: $0, key: secrets.hashKey).encoded }
        return try await engine.write { db in
            guard try db.row("SELECT number FROM extensions WHERE number = ?", [extensionNumber]) != nil else { return false }
            try db.execute("UPDATE extensions SET own_pin_hash = ? WHERE number = ?", [hash, extensionNumber])
            try Self.insert(entry, db)
            return true
        }
    }

    public func session(mac: MACAddress) async throws -> Session? {
        try await engine.rows("SELECT * FROM sessions WHERE mac = ?", [mac.canonical]).first.flatMap(Self.session)
    }

    public func sessions(extensionNumber: String) async throws -> [Session] {
        try await engine.rows("SELECT * FROM sessions WHERE extension = ? ORDER BY started_at", [extensionNumber]).compactMap(Self.session)
    }

    public func sessions() async throws -> [Session] {
        try await engine.read { db in
            try db.rows("SELECT * FROM sessions ORDER BY started_at").compactMap(Self.session)
        }
    }

    public func failures(since: Date) async throws -> [CountedFailure] {
        try await engine.read { db in
            try db.rows("SELECT mac, extension, source, global_guess, at FROM login_failures WHERE at >= ?", [since.timeIntervalSince1970]).map {
                row in
                CountedFailure(
                    at: Date(timeIntervalSince1970: row["at"]),
                    mac: (row["mac"] as String?).flatMap(MACAddress.init),
                    extensionNumber: row["extension"],
                    source: row["source"],
                    globalGuess: row["global_guess"]
                )
            }
        }
    }

    public func clearFailures(of subject: LockSubject, audit: AuditEntry) async throws -> Int {
        try await engine.write { db in
            // An extension's or an address's failures stop counting against it and still count for
            // their phones (a phone's own lock stays); a phone's are forgotten (its row is the failure).
            switch subject {
            case .extension(let number): try db.execute("UPDATE login_failures SET extension = NULL WHERE extension = ?", [number])
            case .device(let mac): try db.execute("DELETE FROM login_failures WHERE mac = ?", [mac.canonical])
            case .source(let address): try db.execute("UPDATE login_failures SET source = NULL WHERE source = ?", [address])
            }
            let cleared = db.changesCount
            // Every node remembers the locks it decided (`LoginGuard`), under this stamp.
            try db.execute("UPDATE shared_changes SET n = n + 1 WHERE id = 1")
            try Self.insert(audit, db)
            return cleared
        }
    }

    /// One statement (one round trip on PostgreSQL): each row tagged with the list it belongs to.
    public func failures(mac: MACAddress, extensionNumber: String?, source: String?, global: Bool, since: Date) async throws -> RecentFailures {
        let start = since.timeIntervalSince1970
        var sql = "SELECT 'd' AS list, at, source FROM login_failures WHERE mac = ? AND at >= ?"
        var arguments: SQLArguments = [mac.canonical, start]
        if let extensionNumber {
            sql += " UNION ALL SELECT 'e', at, source FROM login_failures WHERE extension = ? AND at >= ?"
            arguments += [extensionNumber, start]
        }
        if let source {
            sql += " UNION ALL SELECT 's', at, source FROM login_failures WHERE source = ? AND at >= ?"
            arguments += [source, start]
        }
        if global {
            sql += " UNION ALL SELECT 'g', at, source FROM login_failures WHERE global_guess AND at >= ?"
            arguments += [start]
        }
        var recent = RecentFailures()
        for row in try await engine.rows(sql, arguments) {
            let at = Date(timeIntervalSince1970: row["at"])
            switch row["list"] as String {
            case "d": recent.device.append(at)
            case "e": recent.extensionFailures.append(at)
            case "s": recent.source.append(at)
            default: recent.global.append((at, row["source"]))
            }
        }
        return recent
    }

    public func auditEntries(_ query: AuditQuery) async throws -> [(id: Int64, entry: AuditEntry)] {
        var conditions: [String] = []
        var arguments: SQLArguments = []
        func add(_ condition: String, _ value: (any SQLValueConvertible)?) {
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
        if let sites = query.sites {
            // Its phone's site, or (an entry about a user, on any phone or none) its user's.
            let (condition, values) = Self.inSites("site", sites)
            conditions.append(
                "(mac IN (SELECT mac FROM devices WHERE \(condition)) OR extension IN (SELECT number FROM extensions WHERE \(condition)))"
            )
            arguments += values + values
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [query.limit]
        let sql = "SELECT * FROM audit \(filter) ORDER BY id DESC LIMIT ?"
        let bound = arguments
        return try await engine.read { db in
            try db.rows(sql, bound).compactMap { row in
                Self.auditEntry(row).map { (row["id"] as Int64, $0) }
            }
        }
    }

    public func auditLog(limit: Int) async throws -> [AuditEntry] {
        try await engine.read { db in
            try db.rows("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [limit]).compactMap(
                Self.auditEntry
            )
        }
    }

    /// At every failed login, through `login_failures_at` (the table is largest during an attack).
    static let expiredFailuresSQL = "DELETE FROM login_failures WHERE at < ?"

    public func recordFailure(_ audit: AuditEntry, guessingSource: String?, globalGuess: Bool) async throws {
        guard let mac = audit.mac else { return try await self.audit(audit) }
        try await engine.write { db in
            try db.execute(
                "INSERT INTO login_failures (at, mac, extension, source, global_guess) VALUES (?, ?, ?, ?, ?)",
                [audit.at.timeIntervalSince1970, mac.canonical, audit.extensionNumber, guessingSource, globalGuess]
            )
            // Old failures no longer count for anything: keep the table small.
            try db.execute(Self.expiredFailuresSQL, [audit.at.timeIntervalSince1970 - 7 * 86400])
            try Self.insert(audit, db)
        }
    }

    public func audit(_ entry: AuditEntry) async throws {
        try await engine.write { db in try Self.insert(entry, db) }
    }
}
