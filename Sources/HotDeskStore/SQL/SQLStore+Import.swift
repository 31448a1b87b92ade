import Foundation
import HotDeskCore
import Synchronization

extension SQLStore {
    public func delete(_ item: DirectoryItem, actor: String, at: Date, outbox: Outbox) async throws -> DeletionResult {
        try await engine.write { db in
            var loggedOut: [Session] = []
            var toPush: [MACAddress] = []
            func endSessions(_ sql: String, _ key: String) throws {
                for row in try db.rows(sql, [key]) {
                    guard let session = Self.session(row), try Self.end(session, .removed("\(item)"), actor: actor, source: nil, at: at, db) else {
                        continue
                    }
                    loggedOut.append(session)
                }
            }
            switch item {
            case .extension(let number):
                try endSessions("SELECT * FROM sessions WHERE extension = ?", number)
                toPush = loggedOut.map(\.mac)
                try db.execute("DELETE FROM extensions WHERE number = ?", [number])
            case .device(let mac):
                try endSessions("SELECT * FROM sessions WHERE mac = ?", mac.canonical)
                try db.execute("DELETE FROM devices WHERE mac = ?", [mac.canonical])
            case .sharedLine(let number):
                toPush = try db.values(
                    String.self,
                    "SELECT s.mac FROM sessions s JOIN shared_line_members m ON m.extension = s.extension WHERE m.line = ?",
                    [number]
                ).compactMap { MACAddress($0) }
                try db.execute("DELETE FROM shared_lines WHERE number = ?", [number])
            case .workspace(let name):
                try db.execute("DELETE FROM workspaces WHERE name = ?", [name])
            case .template(let name):
                let users = try db.values(String.self, "SELECT DISTINCT extension FROM mappings WHERE template = ? ORDER BY extension", [name])
                if !users.isEmpty { return .inUse("\(item) is still mapped for extension(s) \(users.joined(separator: ", "))") }
                try db.execute("DELETE FROM templates WHERE name = ?", [name])
            }
            guard db.changesCount > 0 else { return .notFound }
            try Self.insert(AuditEntry(at: at, actor: actor, action: .directoryDelete, outcome: .success, detail: "\(item) removed"), db)
            return .deleted(loggedOut: loggedOut, jobs: try self.enqueue(toPush, outbox, db).map(\.job))
        }
    }

    public func workspaceNames() async throws -> Set<String> {
        try await engine.read { db in Set(try db.values(String.self, "SELECT name FROM workspaces")) }
    }

    public func deviceSites() async throws -> [MACAddress: String] {
        try await engine.read { db in
            var sites: [MACAddress: String] = [:]
            for row in try db.rows("SELECT mac, site FROM devices WHERE site IS NOT NULL") {
                if let mac = MACAddress(row["mac"] as String) { sites[mac] = row["site"] }
            }
            return sites
        }
    }

    public func storedDevices(_ macs: [MACAddress]) async throws -> Set<MACAddress> {
        let keys = Array(Set(macs.map(\.canonical)))
        return try await engine.read { db in
            var found = Set<MACAddress>()
            for start in stride(from: 0, to: keys.count, by: 500) {
                let chunk = Array(keys[start..<min(start + 500, keys.count)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                let arguments: SQLArguments = chunk.map { $0 }
                for mac in try db.values(String.self, "SELECT mac FROM devices WHERE mac IN (\(marks))", arguments) {
                    if let m = MACAddress(mac) { found.insert(m) }
                }
            }
            return found
        }
    }

    public func siteNames() async throws -> Set<String> {
        try await engine.read { db in Set(try db.values(String.self, "SELECT name FROM sites")) }
    }

    public func directoryNames() async throws -> (extensions: Set<String>, templates: [String: Brand]) {
        try await engine.read { db in
            let extensions = try db.values(String.self, "SELECT number FROM extensions")
            let templates = try db.rows("SELECT name, brand FROM templates").map { row -> (String, Brand) in
                (row["name"], Brand(rawValue: row["brand"]))
            }
            return (Set(extensions), Dictionary(templates, uniquingKeysWith: { a, _ in a }))
        }
    }

    /// Upserts by natural key (extension number, device MAC, template name, mapping
    /// extension+model+MAC). Entries in the store but not in the file are kept. Importing the
    /// same file twice changes nothing: secrets are re-hashed or re-sealed only when they differ.
    public func importDirectory(
        _ directory: DirectoryDocument,
        actor: String,
        at: Date,
        options: ImportOptions,
        outbox: Outbox
    ) async throws -> ImportSummary {
        let secrets = self.secretBox
        return try await engine.transaction { db in
            var summary = try Self.importDirectory(directory, db, actor: actor, at: at, options: options, secrets: secrets)
            // A dry run did it all (so that it met every check) and keeps none of it.
            if options.dryRun { return (summary, .rollback) }
            // The phones a prune logged out are pushed, written with the import itself.
            summary.jobs = try self.enqueue(summary.endedSessions.map(\.mac), outbox, db).map(\.job)
            return (summary, .commit)
        }
    }

    private static func importDirectory(
        _ directory: DirectoryDocument,
        _ db: any SQLDatabase,
        actor: String,
        at: Date,
        options: ImportOptions,
        secrets: SecretBox
    ) throws -> ImportSummary {
        var summary = ImportSummary()
        func count(_ changed: Bool?) {
            switch changed {
            case nil: summary.created += 1
            case true?: summary.updated += 1
            case false?: summary.unchanged += 1
            }
        }
        if let changed = try apply(directory.settings, db, secrets: secrets) { count(changed) }
        let pins = try pinHashes(directory.extensions, db, key: secrets.hashKey)
        for e in directory.extensions { count(try upsert(e, db, pinHash: pins[e.number] ?? nil, secrets: secrets)) }
        for l in directory.sharedLines { count(try upsert(l, db, secrets: secrets)) }
        for site in directory.sites { count(try upsertDefinition("sites", site.name, try storedSite(site, db, secrets: secrets), db)) }
        for w in directory.workspaces { count(try upsert(w, db, secrets: secrets)) }
        for sch in directory.schedules { count(try upsertDefinition("schedules", sch.name, StoredSchedule(sch), db)) }
        for c in directory.classesOfService { count(try upsertDefinition("classes_of_service", c.name, StoredCoS(c), db)) }
        for d in directory.devices { count(try upsert(d, db, at: at, secrets: secrets)) }
        for t in directory.templates { count(try upsert(t, db)) }
        for m in directory.mappings { count(try upsert(m, db)) }
        if options.prune { try prune(directory, db, actor: actor, at: at, into: &summary) }
        try checkWorkspaceLimits(directory, db)
        try placeDevicesInTheirWorkspacesSites(db)
        try checkSites(db)
        try checkLineNumbers(db)
        try checkClassesOfService(db)
        try insert(
            AuditEntry(
                at: at,
                actor: actor,
                action: .directoryImport,
                outcome: .success,
                detail: (options.about.map { "\($0): " } ?? "") + summary.description + (options.prune ? " (prune)" : "")
                    + (summary.removed.isEmpty ? "" : ": removed \(summary.removed.joined(separator: ", "))")
            ),
            db
        )
        return summary
    }

    /// Removes what the file's sections no longer list. A removed extension or device is logged
    /// out first (audited); a template a remaining mapping still names is refused.
    private static func prune(_ d: DirectoryDocument, _ db: any SQLDatabase, actor: String, at: Date, into summary: inout ImportSummary) throws {
        /// `scope`: which rows are the directory's to remove (phones that enrolled themselves are
        /// not in any directory file, an export's included: pruning never removes them).
        func remove(_ what: String, table: String, key: String, keep: [String], scope: String = "TRUE", ending sessionsSQL: String?) throws {
            let keepSet = Set(keep)
            for value in try db.values(String.self, "SELECT \(key) FROM \(table) WHERE \(scope) ORDER BY \(key)") where !keepSet.contains(value) {
                if let sessionsSQL {
                    for row in try db.rows(sessionsSQL, [value]) {
                        guard let session = session(row), try end(session, .removed("\(what) \(value)"), actor: actor, source: nil, at: at, db) else {
                            continue
                        }
                        summary.endedSessions.append(session)
                    }
                }
                try db.execute("DELETE FROM \(table) WHERE \(key) = ?", [value])
                summary.deleted += 1
                summary.removed.append("\(what) \(what == "device" ? MACAddress(value)?.colonSeparated ?? value : value)")
            }
        }
        if d.sections.contains("mappings") {
            let keep = Set(d.mappings.map { "\($0.extensionNumber)/\($0.model ?? "")/\($0.mac?.canonical ?? "")" })
            for row in try db.rows("SELECT * FROM mappings") {
                let key = "\(row["extension"] as String)/\(row["model"] as String)/\(row["mac"] as String)"
                guard !keep.contains(key) else { continue }
                try db.execute(
                    "DELETE FROM mappings WHERE extension = ? AND model = ? AND mac = ?",
                    [row.value("extension"), row.value("model"), row.value("mac")]
                )
                summary.deleted += 1
                summary.removed.append("mapping \(key)")
            }
        }
        if d.sections.contains("extensions") {
            try remove(
                "extension",
                table: "extensions",
                key: "number",
                keep: d.extensions.map(\.number),
                ending: "SELECT * FROM sessions WHERE extension = ?"
            )
        }
        if d.sections.contains("devices") {
            try remove(
                "device",
                table: "devices",
                key: "mac",
                keep: d.devices.map(\.mac.canonical),
                scope: "enrolled_by = 'directory'",
                ending: "SELECT * FROM sessions WHERE mac = ?"
            )
        }
        if d.sections.contains("shared_lines") {
            try remove("shared line", table: "shared_lines", key: "number", keep: d.sharedLines.map(\.number), ending: nil)
        }
        if d.sections.contains("workspaces") {
            try remove("workspace", table: "workspaces", key: "name", keep: d.workspaces.map(\.name), ending: nil)
        }
        if d.sections.contains("sites") {
            // A site still named elsewhere is refused after the writes (`checkSites`).
            try remove("site", table: "sites", key: "name", keep: d.sites.map(\.name), ending: nil)
        }
        if d.sections.contains("templates") { try pruneTemplates(keeping: Set(d.templates.map(\.name)), db, into: &summary) }
    }

    /// Removes the templates not kept; one a remaining mapping still names is refused.
    private static func pruneTemplates(keeping keep: Set<String>, _ db: any SQLDatabase, into summary: inout ImportSummary) throws {
        var problems: [DirectoryProblem] = []
        for name in try db.values(String.self, "SELECT name FROM templates ORDER BY name") where !keep.contains(name) {
            let users = try db.values(String.self, "SELECT extension FROM mappings WHERE template = ?", [name])
            guard users.isEmpty else {
                problems.append(
                    DirectoryProblem(
                        path: "templates",
                        line: nil,
                        message:
                            "template \"\(name)\" is not in the file but still mapped (extensions \(users.joined(separator: ", "))): remove those mappings too"
                    )
                )
                continue
            }
            try db.execute("DELETE FROM templates WHERE name = ?", [name])
            summary.deleted += 1
            summary.removed.append("template \(name)")
        }
        if !problems.isEmpty { throw DirectoryError(file: "", problems: problems) }
    }

    /// `nil` when nothing in the patch; else whether anything changed.
    private static func apply(_ patch: DirectoryDocument.SettingsPatch, _ db: any SQLDatabase, secrets: SecretBox) throws -> Bool? {
        let current = try readSettings(db, secrets: secrets)
        var update = SettingsUpdate()
        update.plainColumns(patch, current)
        try update.lists(patch, current, db)
        try update.credentials(patch, current, db, secrets: secrets)
        return try update.write(db)
    }

    /// The PIN hashes an import writes, worked out on every core before the writes (checking an
    /// old PBKDF2 hash is about a millisecond: 100,000 of them would take minutes on one core).
    /// For each entry with a PIN: the new hash, or no entry when the stored hash already matches
    /// (an old PBKDF2 one that matches is replaced, without counting as a change).
    private static func pinHashes(_ entries: [DirectoryDocument.ExtensionEntry], _ db: any SQLDatabase, key: HashKey) throws -> [String: NewPINHash] {
        let stored = Dictionary(
            try db.rows("SELECT number, voicemail_pin_hash FROM extensions WHERE voicemail_pin_hash IS NOT NULL").map {
                ($0["number"] as String, $0["voicemail_pin_hash"] as String)
            },
            uniquingKeysWith: { a, _ in a }
        )
        let withPIN = entries.compactMap { e in e.voicemailPIN.map { (number: e.number, pin: $0) } }
        var given: [String: NewPINHash] = [:]
        for e in entries {
            guard let hash = e.voicemailPINHash, stored[e.number] != hash else { continue }
            given[e.number] = NewPINHash(encoded: hash, changed: true)
        }
        let hashes = Mutex<[String: NewPINHash]>(given)
        DispatchQueue.concurrentPerform(iterations: withPIN.count) { i in
            let (number, pin) = withPIN[i]
            let old = stored[number].flatMap { SecretHash(encoded: $0, key: key) }
            let same = old?.matches(pin) == true
            if same, old?.needsUpgrade == false { return }
            let new = NewPINHash(encoded: SecretHash(hashing: pin, key: key).encoded, changed: !same)
            hashes.withLock { $0[number] = new }
        }
        return hashes.withLock { $0 }
    }

    /// A PIN hash to write: `changed` false when it only replaces an old-format hash of the same PIN.
    struct NewPINHash: Sendable {
        var encoded: String
        var changed: Bool
    }

}

/// The columns of `settings` an import's patch changes, gathered for one `UPDATE`.
private struct SettingsUpdate {
    var assignments: [(String, (any SQLValueConvertible)?)] = []
    /// Whether the patch names any setting at all.
    var mentioned = false
    /// A login or password changed (phones' web logins, the user or admin password).
    var credentialsChanged = false
    /// Changes that are not credentials (counted before the password hashes are added: an
    /// upgraded hash of the same password is no change).
    var plainChanges = 0

    mutating func set<T: Equatable>(_ column: String, _ new: T?, _ old: T?, _ value: (T) -> (any SQLValueConvertible)?) {
        guard let new else { return }
        mentioned = true
        if new != old { assignments.append((column, value(new))) }
    }

    mutating func plainColumns(_ patch: DirectoryDocument.SettingsPatch, _ current: Settings) {
        set("default_login", patch.defaultLogin, current.defaultLogin) { $0 }
        set("internal_address", patch.internalAddress, current.internalAddress) { $0.baseURL }
        set("external_address", patch.externalAddress, current.externalAddress) { $0.baseURL }
        set("emergency_caller_id", patch.emergencyCallerID, current.emergencyCallerID) { $0 }
        set("lockout_extension_failures", patch.lockoutExtensionFailures, current.lockout.extensionFailures) { $0 }
        set("lockout_device_failures", patch.lockoutDeviceFailures, current.lockout.deviceFailures) { $0 }
        set("lockout_window_seconds", patch.lockoutWindowMinutes.map { $0 * 60 }, Int(current.lockout.window)) { $0 }
        set("lockout_duration_seconds", patch.lockoutDurationMinutes.map { $0 * 60 }, Int(current.lockout.duration)) { $0 }
        set("lockout_source_failures", patch.lockoutSourceFailures, current.lockout.sourceFailures) { $0 }
        set("lockout_global_failures", patch.lockoutGlobalFailures, current.lockout.globalFailures) { $0 }
        set("push_port", patch.pushPort, current.pushPort) { $0 }
        set("enrolment_per_minute", patch.enrolmentPerMinute, current.enrolment.perMinute) { $0 }
        set("enrolment_max_unclaimed", patch.enrolmentMaxUnclaimed, current.enrolment.maxUnclaimed) { $0 }
        set("enrolment_expire_hours", patch.enrolmentExpireHours, current.enrolment.expireUnclaimedAfter.map { Int($0 / 3600) } ?? 0) { $0 }
        set("enrolment_claims", patch.enrolmentClaims, current.enrolment.claims) { $0.rawValue }
        set("enrolment_claims_until", patch.enrolmentClaimsUntil, .some(current.enrolment.claimsUntil)) { $0?.timeIntervalSince1970 }
        set("push_from", patch.pushFrom, current.pushFrom) { $0 }
        set("auto_logout_after_minutes", patch.autoLogoutAfterHours.map { $0 * 60 }, current.autoLogout.maxDuration.map { Int($0 / 60) } ?? 0) { $0 }
        set("auto_logout_daily_at", patch.autoLogoutDailyAt, .some(current.autoLogout.dailyAt)) { $0?.description }
        set("auto_logout_idle_minutes", patch.autoLogoutIdleMinutes, current.autoLogout.idleAfter.map { Int($0 / 60) } ?? 0) { $0 }
        set("auto_logout_wait_for_call", patch.autoLogoutWaitForCall, current.autoLogout.waitForCall) { $0 }
        set("auto_logout_call_wait_minutes", patch.autoLogoutLongestCallWaitMinutes, Int(current.autoLogout.longestCallWait / 60)) { $0 }
        set("multi_login", patch.multiLogin, current.multiLogin) { $0.description }
        set("time_zone", patch.timeZone?.identifier, current.timeZone?.identifier) { $0 }
        set("emergency_location", patch.emergencyLocation, current.emergencyLocation) { $0 }
        set("language", patch.language, current.language) { $0 }
    }

    /// Emergency numbers, number classes and the SIP server.
    mutating func lists(_ patch: DirectoryDocument.SettingsPatch, _ current: Settings, _ db: any SQLDatabase) throws {
        if let numbers = patch.emergencyNumbers {
            mentioned = true
            if numbers != current.emergencyNumbers { assignments.append(("emergency_numbers", try JSONText.encode(numbers))) }
        }
        if let classes = patch.numberClasses {
            mentioned = true
            let old = try db.value(String.self, "SELECT number_classes FROM settings WHERE id = 1")
            let new = try JSONText.encode(classes)
            if old != new { assignments.append(("number_classes", new)) }
        }
        if let sip = patch.sip, sip != current.sip {
            assignments += [
                ("sip_server", sip.port.map { "\(sip.host):\($0)" } ?? sip.host), ("sip_transport", sip.transport.rawValue), ("sip_realm", sip.realm),
                ("sip_outbound_proxy", sip.outboundProxy),
            ]
        }
        if patch.sip != nil { mentioned = true }
    }

    /// The phones' web logins (written at once, sealed) and the user and admin passwords.
    mutating func credentials(_ patch: DirectoryDocument.SettingsPatch, _ current: Settings, _ db: any SQLDatabase, secrets: SecretBox) throws {
        for (brand, login) in patch.phoneCredentials.sorted(by: { $0.key < $1.key }) {
            mentioned = true
            if let old = current.phoneCredentials[brand], old.username == login.username, ConstantTime.equal(old.password, login.password) {
                continue
            }
            try db.execute(
                """
                INSERT INTO phone_credentials (brand, username, password_sealed) VALUES (?, ?, ?)
                ON CONFLICT (brand) DO UPDATE SET username = excluded.username, password_sealed = excluded.password_sealed
                """,
                [brand.rawValue, login.username, try secrets.seal(login.password)]
            )
            credentialsChanged = true
        }
        plainChanges = assignments.count
        for (column, password, hash) in [
            ("user_password_hash", patch.userPassword, current.userPassword), ("admin_password_hash", patch.adminPassword, current.adminPassword),
        ] {
            guard let password else { continue }
            mentioned = true
            let same = hash?.matches(password) == true
            if !same { credentialsChanged = true }
            // An old PBKDF2 hash of the same password is replaced too (the import proves the
            // secret), without counting as a change.
            if !same || hash?.needsUpgrade == true {
                assignments.append((column, SecretHash(hashing: password, key: secrets.hashKey).encoded))
            }
        }
        for (column, hash, current) in [
            ("user_password_hash", patch.userPasswordHash, current.userPassword),
            ("admin_password_hash", patch.adminPasswordHash, current.adminPassword),
        ] {
            guard let hash else { continue }
            mentioned = true
            guard hash != current?.encoded else { continue }
            credentialsChanged = true
            assignments.append((column, hash))
        }
    }

    /// `nil` when nothing in the patch; else whether anything changed.
    func write(_ db: any SQLDatabase) throws -> Bool? {
        guard mentioned else { return nil }
        guard !assignments.isEmpty else { return credentialsChanged }
        let sql = "UPDATE settings SET " + assignments.map { "\($0.0) = ?" }.joined(separator: ", ") + " WHERE id = 1"
        try db.execute(sql, SQLArguments(assignments.map { $0.1 }))
        return credentialsChanged || plainChanges > 0
    }
}
