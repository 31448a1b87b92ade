import Foundation
import HotDeskCore

// DeviceStore: enrolment and claims, fetches, a phone's config and app state.
extension SQLStore {
    public func device(mac: MACAddress) async throws -> Device? {
        let secrets = self.secrets
        let catalog = self.catalog
        return try await engine.rows("SELECT * FROM devices WHERE mac = ?", [mac.canonical]).first.map {
            try Self.device($0, secrets: secrets, catalog: catalog)
        }
    }

    public func deviceConfigState(mac: MACAddress) async throws -> DeviceConfigState? {
        let secrets = self.secrets
        let catalog = self.catalog
        return try await engine.read { db -> DeviceConfigState? in
            guard let row = try db.row("SELECT * FROM devices WHERE mac = ?", [mac.canonical]) else {
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
        return try await engine.read { db in
            let settings = try self.currentSettings(db, secrets: secrets)
            var templates: [Brand: [Template]] = [:]
            return try db.rows(
                "SELECT * FROM devices WHERE last_config_hash IS NOT NULL AND mac > ? ORDER BY mac LIMIT ?",
                [after?.canonical ?? "", limit]
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
        _ db: any SQLDatabase,
        _ device: Device,
        _ row: SQLRow,
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
            mappings = try db.rows("SELECT * FROM mappings WHERE extension = ?", [session.extensionNumber]).map(mapping)
            memberships = try Self.memberships(db, of: session.extensionNumber, secrets: secrets)
        }
        // Its emergency caller ID may be the desk's, its line the idle phone's.
        let workspace = try device.workspace.flatMap { try readWorkspace(db, $0, secrets: secrets) }
        return DeviceConfigState(
            settings: settings.forSite(device.site),
            device: device,
            session: session,
            line: line,
            memberships: memberships,
            templates: templates,
            mappings: mappings,
            lastHost: row["last_host"],
            lastConfigAddress: row["last_config_address"],
            lastConfigHash: row["last_config_hash"],
            hasPendingPush: try db.value(Bool.self, OpenPushJobs.exists, [device.mac.canonical])
                ?? false,
            workspace: workspace
        )
    }

    public func appState(token: String) async throws -> AppLookup {
        let secrets = self.secrets
        let catalog = self.catalog
        guard let named = secrets.readAppToken(token) else { return .unknown }
        return try await engine.read { db -> AppLookup in
            guard let row = try db.row("SELECT * FROM devices WHERE mac = ?", [named.mac.canonical])
            else { return .unknown }
            guard (row["token_generation"] as Int) == named.generation else { return named.generation < row["token_generation"] ? .stale : .unknown }
            var device = try Self.device(row, secrets: secrets, catalog: catalog)
            device.assignedUsers = try db.values(
                String.self,
                "SELECT extension FROM device_users WHERE mac = ? ORDER BY extension",
                [device.mac.canonical]
            )
            let session = try Self.readSession(db, sql: "SELECT * FROM sessions WHERE mac = ?", device.mac.canonical)
            let ext = try session.flatMap { try Self.readExtension(db, $0.extensionNumber, secrets: secrets) }
            let workspace = try device.workspace.flatMap { try Self.readWorkspace(db, $0, secrets: secrets) }
            return .current(
                AppState(
                    settings: try self.currentSettings(db, secrets: secrets).forSite(device.site),
                    device: device,
                    session: session,
                    sessionExtension: ext,
                    workspace: workspace
                )
            )
        }
    }

    /// One enrolment at a time over every node (node lock `enrolment`): the limits are counted
    /// in the database and the lock orders every write that adds to those counts.
    public func enrol(_ device: Device, audit: AuditEntry, limits: EnrolmentPolicy?) async throws -> Enrolment {
        let secrets = self.secrets
        let catalog = self.catalog
        return try await engine.write(.underNodeLocks(["enrolment"])) { db in
            if let existing = try db.row("SELECT * FROM devices WHERE mac = ?", [device.mac.canonical]) {
                return .enrolled(try Self.device(existing, secrets: secrets, catalog: catalog))
            }
            if let limits, let refusal = try Self.enrolmentRefusal(db, limits: limits, at: audit.at) { return refusal }
            return .enrolled(try Self.insertEnrolled(device, audit: audit, db, secrets: secrets))
        }
    }

    /// Why one more phone may not enrol now, if it may not. Each count reads at most its limit's
    /// rows of an index of its own (`devices_enrolled_by_phone`, `devices_unclaimed_by_phone`),
    /// so a storm of thousands of new phones costs each enrolment the same.
    private static func enrolmentRefusal(_ db: any SQLDatabase, limits: EnrolmentPolicy, at: Date) throws -> Enrolment? {
        let now = at.timeIntervalSince1970
        // The per_minute-th newest enrolment of the last minute, if there are that many: the
        // next one may enrol once it is a minute old.
        if let slot = try db.value(
            Double.self,
            "SELECT enrolled_at FROM devices WHERE enrolled_by = 'phone' AND enrolled_at > ? ORDER BY enrolled_at DESC LIMIT 1 OFFSET ?",
            [now - 60, max(0, limits.perMinute - 1)]
        ) {
            return .overRate(retryAfter: max(1, Int((60 - (now - slot)).rounded(.up))))
        }
        let unclaimed =
            try db.value(
                Int.self,
                "SELECT COUNT(*) FROM (SELECT 1 FROM devices WHERE enrolled_by = 'phone' AND claimed_at IS NULL LIMIT ?) AS waiting",
                [limits.maxUnclaimed]
            ) ?? 0
        return unclaimed >= limits.maxUnclaimed ? .overUnclaimed : nil
    }

    private static func insertEnrolled(_ device: Device, audit: AuditEntry, _ db: any SQLDatabase, secrets: SecretBox) throws -> Device {
        var device = device
        device.provisioningSecret = device.provisioningSecret ?? RandomToken.make()
        try db.execute(
            "INSERT INTO devices (mac, model, brand, token, enrolled_at, provisioning_secret_sealed, enrolled_by) VALUES (?, ?, ?, ?, ?, ?, 'phone')",
            [
                device.mac.canonical, device.model.name, device.model.brand.rawValue, device.token, audit.at.timeIntervalSince1970,
                try secrets.seal(device.provisioningSecret!),
            ]
        )
        try Self.insert(audit, db)
        return device
    }

    public func reenrol(mac: MACAddress, model: PhoneModel, audit: AuditEntry) async throws -> Bool {
        let sealed = try secrets.seal(RandomToken.make())
        return try await engine.write { db in
            try db.execute(
                """
                UPDATE devices SET model = ?, brand = ?, provisioning_secret_sealed = ?, secret_issued_at = NULL
                WHERE mac = ? AND claimed_at IS NULL AND enrolled_by = 'phone'
                """,
                [model.name, model.brand.rawValue, sealed, mac.canonical]
            )
            guard db.changesCount > 0 else { return false }
            try Self.insert(audit, db)
            return true
        }
    }

    public func expireUnclaimed(enrolledBefore: Date, at: Date) async throws -> Int {
        try await engine.write { db in
            try db.execute(
                """
                DELETE FROM devices WHERE enrolled_by = 'phone' AND claimed_at IS NULL AND enrolled_at < ?
                AND mac NOT IN (SELECT mac FROM sessions)
                """,
                [enrolledBefore.timeIntervalSince1970]
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
        try await engine.write { db in
            try db.execute(
                "UPDATE devices SET provisioning_secret_sealed = ? WHERE mac = ? AND provisioning_secret_sealed IS NULL",
                [sealed, mac.canonical]
            )
        }
    }

    public func secretIssued(mac: MACAddress, at: Date) async throws {
        try await engine.write { db in
            try db.execute(
                "UPDATE devices SET secret_issued_at = ? WHERE mac = ? AND secret_issued_at IS NULL",
                [
                    at.timeIntervalSince1970, mac.canonical,
                ]
            )
        }
    }

    public func claim(mac: MACAddress, address: String?, at: Date) async throws -> Bool {
        try await engine.write { db in
            try db.execute(
                "UPDATE devices SET claimed_at = ?, claimed_from = ?, claim_pending_from = NULL, claim_approved_from = NULL WHERE mac = ? AND claimed_at IS NULL",
                [at.timeIntervalSince1970, address, mac.canonical]
            )
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
        return try await engine.write { db in
            try db.execute(
                """
                UPDATE devices SET claimed_at = NULL, claimed_from = NULL, secret_issued_at = NULL, provisioning_secret_sealed = ?, last_address = NULL,
                    claim_pending_from = NULL, claim_approved_from = NULL
                WHERE mac = ?
                """,
                [sealed, mac.canonical]
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
        try await engine.write { db in
            try db.execute(
                "UPDATE devices SET claim_pending_from = ? WHERE mac = ? AND claimed_at IS NULL AND claim_pending_from IS DISTINCT FROM ?",
                [address, mac.canonical, address]
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
        try await engine.write { db in
            guard
                let pending = try db.value(
                    String.self,
                    "SELECT claim_pending_from FROM devices WHERE mac = ? AND claimed_at IS NULL AND claim_pending_from IS NOT NULL",
                    [mac.canonical]
                )
            else { return nil }
            try db.execute("UPDATE devices SET claim_approved_from = ? WHERE mac = ?", [pending, mac.canonical])
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
        try await engine.write { db in
            try db.execute(
                "UPDATE devices SET model = ?, brand = ? WHERE mac = ?",
                [
                    model.name, model.brand.rawValue, mac.canonical,
                ]
            )
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
        try await engine.write { db in
            let previousHash = try db.value(String.self, "SELECT last_config_hash FROM devices WHERE mac = ?", [mac.canonical])
            try db.execute(
                """
                UPDATE devices SET last_address = ?, last_host = ?, last_fetch_at = ?, last_config_hash = ?, last_config_address = ?
                WHERE mac = ?
                """,
                [address, host, at.timeIntervalSince1970, configHash, configAddress, mac.canonical]
            )
            // A fetch proves a pending push for this config done when it shows the phone acted:
            // the push was sent before it, or the phone took a config new to it. A fetch of the
            // config the phone already had proves nothing about a job not yet sent (an admin's
            // reboot of an unchanged phone must still happen).
            let isNewToPhone = previousHash != configHash
            let applied = try db.rows(OpenPushJobs.confirmedByFetch, [mac.canonical, configHash, configHash, isNewToPhone]).compactMap(Self.pushJob)
                .map { job in
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
        try await engine.write { db in
            let update = "UPDATE devices SET last_fetch_at = \(db.dialect.greatest)(COALESCE(last_fetch_at, 0), ?) WHERE mac = ?"
            for (mac, at) in times { try db.execute(update, [at.timeIntervalSince1970, mac.canonical]) }
        }
    }

    public func recordAddress(mac: MACAddress, address: String) async throws {
        try await engine.write { db in
            try db.execute(
                "UPDATE devices SET last_address = ? WHERE mac = ? AND last_address IS DISTINCT FROM ?",
                [
                    address, mac.canonical, address,
                ]
            )
        }
    }
}
