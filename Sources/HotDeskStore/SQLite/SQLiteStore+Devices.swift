import Foundation
import GRDB
import HotDeskCore

// DeviceStore: enrolment and claims, fetches, a phone's config and app state.
extension SQLiteStore {
    public func device(mac: MACAddress) async throws -> Device? {
        let secrets = self.secrets
        let catalog = self.catalog
        return try await pool.read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM devices WHERE mac = ?"), arguments: [mac.canonical]).map {
                try Self.device($0, secrets: secrets, catalog: catalog)
            }
        }
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
}
