import Foundation
import HotDeskCore

// Directory reads (settings, extensions, classes of service) and the row mappings every part uses.
extension SQLStore {
    /// The settings; while the database cannot be reached, the last ones read (a phone's config
    /// is still served from the cache then, and needs them to check the `Host` it asked).
    public func settings() async throws -> Settings {
        try await settings(at: nil)
    }

    public func settings(at shared: Int?) async throws -> Settings {
        let stamp: Int
        do {
            if let shared { stamp = shared } else { stamp = try await stamps.shared() }
        } catch {
            guard let last = settingsMemo.lastKnown else { throw error }
            return last
        }
        if let kept = settingsMemo.value(at: stamp) { return kept }
        let secrets = self.secrets
        return try await engine.read { db in try self.currentSettings(db, secrets: secrets) }
    }

    public func findExtension(_ number: String) async throws -> Extension? {
        let secrets = self.secrets
        return try await engine.rows("SELECT * FROM extensions WHERE number = ?", [number]).first.map {
            try Self.extensionRecord($0, secrets: secrets)
        }
    }

    /// The settings as of the shared stamp read in the same transaction: decoded (and
    /// the phones' web logins opened) once per change, not on every state read (issue 12).
    func currentSettings(_ db: any SQLDatabase, secrets: SecretBox) throws -> Settings {
        try settingsMemo.value(at: db.sharedStamp()) { try Self.readSettings(db, secrets: secrets) }
    }

    /// A brand's templates as of the shared stamp: read once per change and shared by every
    /// phone's cached state (one copy of each template text, not one per phone: at 100,000 phones
    /// that was tens of megabytes).
    func currentTemplates(_ db: any SQLDatabase, brand: Brand) throws -> [Template] {
        try templatesMemo.value(brand, at: db.sharedStamp()) {
            try db.rows("SELECT * FROM templates WHERE brand = ?", [brand.rawValue]).map(Self.template)
        }
    }

    static func readSettings(_ db: any SQLDatabase, secrets: SecretBox) throws -> Settings {
        guard let row = try db.row("SELECT * FROM settings WHERE id = 1") else { return Settings() }
        var credentials: [Brand: PhoneCredentials] = [:]
        for c in try db.rows("SELECT * FROM phone_credentials") {
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
            autoLogout: Self.autoLogout(row),
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
        settings.timeZone = (row["time_zone"] as String?).flatMap(TimeZone.init(identifier:))
        settings.emergencyLocation = row["emergency_location"]
        settings.language = row["language"]
        for site in try readSites(db, secrets: secrets) { settings.sites[site.name] = site }
        return settings
    }

    /// The directory's sites, as stored.
    static func readSites(_ db: any SQLDatabase, secrets: SecretBox?) throws -> [Site] {
        try db.values(String.self, "SELECT definition FROM sites").compactMap { JSONText.decode(StoredSite.self, $0)?.site(secrets: secrets) }
    }

    /// `site` as stored: its logins sealed, or kept as stored when unchanged (so an import of
    /// the same file changes nothing).
    static func storedSite(_ site: Site, _ db: any SQLDatabase, secrets: SecretBox) throws -> StoredSite {
        let old = try db.value(String.self, "SELECT definition FROM sites WHERE name = ?", [site.name]).flatMap {
            JSONText.decode(StoredSite.self, $0)
        }
        return try StoredSite(site) { brand, login in
            if let kept = old?.phoneCredentials?[brand.rawValue], kept.username == login.username,
                let password = try? secrets.open(kept.passwordSealed), ConstantTime.equal(password, login.password)
            {
                return kept
            }
            return StoredSite.Login(username: login.username, passwordSealed: try secrets.seal(login.password))
        }
    }

    /// Minutes as seconds; 0 (off) as `nil`.
    static func autoLogout(_ row: SQLRow) -> AutoLogoutPolicy {
        var policy = AutoLogoutPolicy(
            maxDuration: minutes(row["auto_logout_after_minutes"]),
            dailyAt: (row["auto_logout_daily_at"] as String?).flatMap(DailyTime.init)
        )
        policy.idleAfter = minutes(row["auto_logout_idle_minutes"])
        policy.waitForCall = row["auto_logout_wait_for_call"]
        policy.longestCallWait = TimeInterval(row["auto_logout_call_wait_minutes"] as Int) * 60
        return policy
    }

    static func minutes(_ value: Int) -> TimeInterval? { value > 0 ? TimeInterval(value * 60) : nil }

    static func device(_ row: SQLRow, secrets: SecretBox, catalog: PhoneCatalog) throws -> Device {
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
        device.site = row["site"]
        device.cos = row["cos"]
        device.cosIfNotLogged = row["cos_if_not_logged"]
        device.emergencyCallerID = row["emergency_caller_id"]
        device.lastUser = row["last_user"]
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

    static func readExtension(_ db: any SQLDatabase, _ number: String, secrets: SecretBox) throws -> Extension? {
        try db.row("SELECT * FROM extensions WHERE number = ?", [number]).map { try extensionRecord($0, secrets: secrets) }
    }

    static func extensionRecord(_ row: SQLRow, secrets: SecretBox) throws -> Extension {
        var ext = Extension(
            number: row["number"],
            name: row["name"],
            voicemailPIN: (row["voicemail_pin_hash"] as String?).flatMap { SecretHash(encoded: $0, key: secrets.hashKey) },
            sipPassword: try secrets.open(row["sip_password_sealed"])
        )
        ext.cos = row["cos"]
        ext.callerID = row["caller_id"]
        ext.directDial = row["direct_dial"]
        ext.site = row["site"]
        ext.roaming = StoredRoaming.roaming(row["roaming"])
        ext.language = row["language"]
        ext.ownPIN = (row["own_pin_hash"] as String?).flatMap { SecretHash(encoded: $0, key: secrets.hashKey) }
        return ext
    }

    /// Every class of service with the schedules, number classes and emergency numbers they use.
    static func readCoSBook(_ db: any SQLDatabase) throws -> CoSBook {
        let classes = try db.values(String.self, "SELECT definition FROM classes_of_service").compactMap {
            JSONText.decode(StoredCoS.self, $0)?.cos
        }
        let schedules = try db.values(String.self, "SELECT definition FROM schedules").compactMap {
            JSONText.decode(StoredSchedule.self, $0)?.schedule
        }
        let settings = try db.row("SELECT emergency_numbers, number_classes FROM settings WHERE id = 1")
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
        if let kept = cosBookMemo.value(at: try? await stamps.shared()) { return kept }
        return try await engine.read { db in try self.cosBookMemo.value(at: db.sharedStamp()) { try Self.readCoSBook(db) } }
    }

    /// A shared line's row, its password opened (its members are not in the row: none here).
    static func sharedLineRecord(_ row: SQLRow, secrets: SecretBox) throws -> SharedLine {
        var line = SharedLine(
            number: row["number"],
            name: row["name"],
            sipPassword: try secrets.open(row["sip_password_sealed"]),
            callerID: row["caller_id"],
            members: []
        )
        line.licences = row["licences"]
        line.directDial = row["direct_dial"]
        return line
    }

    static func readWorkspace(_ db: any SQLDatabase, _ name: String, secrets: SecretBox) throws -> Workspace? {
        try db.row("SELECT * FROM workspaces WHERE name = ?", [name]).flatMap { try workspaceRecord($0, secrets: secrets) }
    }

    static func workspaceRecord(_ row: SQLRow, secrets: SecretBox) throws -> Workspace? {
        guard let licence = Workspace.Licence(rawValue: row["licence"]) else { return nil }
        var workspace = Workspace(name: row["name"], licence: licence, hotDesking: row["hot_desking"], emergencyCallerID: row["emergency_caller_id"])
        workspace.site = row["site"]
        workspace.roomType = (row["room_type"] as String?).flatMap(Workspace.RoomType.init(rawValue:))
        workspace.capacity = row["capacity"]
        if let number = row["line_number"] as String?, let sealed = row["line_sip_password_sealed"] as Data? {
            workspace.line = DeviceLine(number: number, name: row["line_name"] ?? number, sipPassword: try secrets.open(sealed))
        }
        return workspace
    }

    /// The shared lines an extension is a member of, with its key and ring option.
    static func memberships(_ db: any SQLDatabase, of extensionNumber: String, secrets: SecretBox) throws -> [LineMembership] {
        try db.rows(
            """
            SELECT l.*, m.button, m.ring FROM shared_line_members m JOIN shared_lines l ON l.number = m.line
            WHERE m.extension = ? ORDER BY m.button, l.number
            """,
            [extensionNumber]
        ).map { row in
            LineMembership(line: try sharedLineRecord(row, secrets: secrets), button: row["button"], ring: RingOption(row["ring"] as String) ?? .ring)
        }
    }

    /// `sql`: a literal (its statement is kept prepared).
    static func readSession(_ db: any SQLDatabase, sql: String, _ key: String) throws -> Session? {
        try db.row(sql, [key]).flatMap(session)
    }

    static func session(_ row: SQLRow) -> Session? { SessionRecord(row: row).session }

    static func template(_ row: SQLRow) -> Template {
        Template(name: row["name"], brand: Brand(rawValue: row["brand"]), isDefault: row["is_default"], body: row["body"])
    }

    static func mapping(_ row: SQLRow) -> Mapping {
        let model: String = row["model"]
        let mac: String = row["mac"]
        return Mapping(extensionNumber: row["extension"], templateName: row["template"], model: model.isEmpty ? nil : model, mac: MACAddress(mac))
    }

    static func auditEntry(_ row: SQLRow) -> AuditEntry? { AuditRecord(row: row).entry }

    static func insert(_ entry: AuditEntry, _ db: any SQLDatabase) throws { try AuditRecord(entry).insert(db) }
}
