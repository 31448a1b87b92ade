import Foundation
import GRDB
import HotDeskCore
import Synchronization

extension SQLiteStore {
    public func workspaces() async throws -> [(workspace: Workspace, devices: Int)] {
        try await reader.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT w.*, (SELECT COUNT(*) FROM devices d WHERE d.workspace = w.name) AS devices FROM workspaces w ORDER BY w.name"
            ).compactMap { row in
                Workspace.Licence(rawValue: row["licence"]).map {
                    (Workspace(name: row["name"], licence: $0, hotDesking: row["hot_desking"]), row["devices"])
                }
            }
        }
    }

    public func assignWorkspace(mac: MACAddress, workspace: String?, actor: String, at: Date) async throws -> WorkspaceAssignment {
        try await writer.write { db in
            guard let current = try Row.fetchOne(db, sql: "SELECT workspace FROM devices WHERE mac = ?", arguments: [mac.canonical]) else {
                return .unknownDevice
            }
            let old: String? = current["workspace"]
            if let workspace {
                guard let w = try Self.readWorkspace(db, workspace) else { return .unknownWorkspace }
                let count =
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM devices WHERE workspace = ? AND mac != ?", arguments: [workspace, mac.canonical])
                    ?? 0
                guard count < w.licence.maxDevices else { return .full(devices: count, licence: w.licence) }
            }
            guard old != workspace else { return .done }
            try db.execute(sql: "UPDATE devices SET workspace = ? WHERE mac = ?", arguments: [workspace, mac.canonical])
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: actor,
                    action: .deviceChanged,
                    mac: mac,
                    outcome: .success,
                    detail: workspace.map { "put in workspace \"\($0)\"" } ?? "taken out of workspace \"\(old ?? "")\""
                ),
                db
            )
            return .done
        }
    }

    public func delete(_ item: DirectoryItem, actor: String, at: Date, outbox: Outbox) async throws -> DeletionResult {
        try await writer.write { db in
            var loggedOut: [Session] = []
            var toPush: [MACAddress] = []
            func endSessions(_ sql: String, _ key: String) throws {
                for row in try Row.fetchAll(db, sql: sql, arguments: [key]) {
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
                try db.execute(sql: "DELETE FROM extensions WHERE number = ?", arguments: [number])
            case .device(let mac):
                try endSessions("SELECT * FROM sessions WHERE mac = ?", mac.canonical)
                try db.execute(sql: "DELETE FROM devices WHERE mac = ?", arguments: [mac.canonical])
            case .sharedLine(let number):
                toPush = try String.fetchAll(
                    db,
                    sql: "SELECT s.mac FROM sessions s JOIN shared_line_members m ON m.extension = s.extension WHERE m.line = ?",
                    arguments: [number]
                ).compactMap { MACAddress($0) }
                try db.execute(sql: "DELETE FROM shared_lines WHERE number = ?", arguments: [number])
            case .workspace(let name):
                try db.execute(sql: "DELETE FROM workspaces WHERE name = ?", arguments: [name])
            case .template(let name):
                let users = try String.fetchAll(
                    db,
                    sql: "SELECT DISTINCT extension FROM mappings WHERE template = ? ORDER BY extension",
                    arguments: [name]
                )
                if !users.isEmpty { return .inUse("\(item) is still mapped for extension(s) \(users.joined(separator: ", "))") }
                try db.execute(sql: "DELETE FROM templates WHERE name = ?", arguments: [name])
            }
            guard db.changesCount > 0 else { return .notFound }
            try Self.insert(AuditEntry(at: at, actor: actor, action: .directoryDelete, outcome: .success, detail: "\(item) removed"), db)
            return .deleted(loggedOut: loggedOut, jobs: try enqueue(toPush, outbox, db).map(\.job))
        }
    }

    public func workspaceNames() async throws -> Set<String> {
        try await reader.read { db in Set(try String.fetchAll(db, sql: "SELECT name FROM workspaces")) }
    }

    public func directoryNames() async throws -> (extensions: Set<String>, templates: [String: Brand]) {
        try await reader.read { db in
            let extensions = try String.fetchAll(db, sql: "SELECT number FROM extensions")
            let templates = try Row.fetchAll(db, sql: "SELECT name, brand FROM templates").map { row -> (String, Brand) in
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
        return try await writer.writeWithoutTransaction { db in
            var summary = ImportSummary()
            try db.inTransaction {
                summary = try Self.importDirectory(directory, db, actor: actor, at: at, options: options, secrets: secrets)
                // A dry run did it all (so that it met every check) and keeps none of it.
                if options.dryRun { return .rollback }
                // The phones a prune logged out are pushed, written with the import itself.
                summary.jobs = try self.enqueue(summary.endedSessions.map(\.mac), outbox, db).map(\.job)
                return .commit
            }
            return summary
        }
    }

    private static func importDirectory(
        _ directory: DirectoryDocument,
        _ db: Database,
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
        for w in directory.workspaces { count(try upsert(w, db)) }
        for sch in directory.schedules { count(try upsertDefinition("schedules", sch.name, StoredSchedule(sch), db)) }
        for c in directory.classesOfService { count(try upsertDefinition("classes_of_service", c.name, StoredCoS(c), db)) }
        for d in directory.devices { count(try upsert(d, db, at: at, secrets: secrets)) }
        for t in directory.templates { count(try upsert(t, db)) }
        for m in directory.mappings { count(try upsert(m, db)) }
        if options.prune { try prune(directory, db, actor: actor, at: at, into: &summary) }
        try checkWorkspaceLimits(directory, db)
        try checkClassesOfService(db)
        try insert(
            AuditEntry(
                at: at,
                actor: actor,
                action: .directoryImport,
                outcome: .success,
                detail: summary.description + (options.prune ? " (prune)" : "")
                    + (summary.removed.isEmpty ? "" : ": removed \(summary.removed.joined(separator: ", "))")
            ),
            db
        )
        return summary
    }

    /// Removes what the file's sections no longer list. A removed extension or device is logged
    /// out first (audited); a template a remaining mapping still names is refused.
    private static func prune(_ d: DirectoryDocument, _ db: Database, actor: String, at: Date, into summary: inout ImportSummary) throws {
        /// `scope`: which rows are the directory's to remove (phones that enrolled themselves are
        /// not in any directory file, an export's included: pruning never removes them).
        func remove(_ what: String, table: String, key: String, keep: [String], scope: String = "1", ending sessionsSQL: String?) throws {
            let keepSet = Set(keep)
            for value in try String.fetchAll(db, sql: "SELECT \(key) FROM \(table) WHERE \(scope) ORDER BY \(key)") where !keepSet.contains(value) {
                if let sessionsSQL {
                    for row in try Row.fetchAll(db, sql: sessionsSQL, arguments: [value]) {
                        guard let session = session(row), try end(session, .removed("\(what) \(value)"), actor: actor, source: nil, at: at, db) else {
                            continue
                        }
                        summary.endedSessions.append(session)
                    }
                }
                try db.execute(sql: "DELETE FROM \(table) WHERE \(key) = ?", arguments: [value])
                summary.deleted += 1
                summary.removed.append("\(what) \(what == "device" ? MACAddress(value)?.colonSeparated ?? value : value)")
            }
        }
        if d.sections.contains("mappings") {
            let keep = Set(d.mappings.map { "\($0.extensionNumber)/\($0.model ?? "")/\($0.mac?.canonical ?? "")" })
            for row in try Row.fetchAll(db, sql: "SELECT * FROM mappings") {
                let key = "\(row["extension"] as String)/\(row["model"] as String)/\(row["mac"] as String)"
                guard !keep.contains(key) else { continue }
                try db.execute(
                    sql: "DELETE FROM mappings WHERE extension = ? AND model = ? AND mac = ?",
                    arguments: [row["extension"], row["model"], row["mac"]] as StatementArguments
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
        if d.sections.contains("templates") {
            let keep = Set(d.templates.map(\.name))
            var problems: [DirectoryProblem] = []
            for name in try String.fetchAll(db, sql: "SELECT name FROM templates ORDER BY name") where !keep.contains(name) {
                let users = try String.fetchAll(db, sql: "SELECT extension FROM mappings WHERE template = ?", arguments: [name])
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
                try db.execute(sql: "DELETE FROM templates WHERE name = ?", arguments: [name])
                summary.deleted += 1
                summary.removed.append("template \(name)")
            }
            if !problems.isEmpty { throw DirectoryError(file: "", problems: problems) }
        }
    }

    /// `nil` when nothing in the patch; else whether anything changed.
    private static func apply(_ patch: DirectoryDocument.SettingsPatch, _ db: Database, secrets: SecretBox) throws -> Bool? {
        let current = try readSettings(db, secrets: secrets)
        var assignments: [(String, (any DatabaseValueConvertible)?)] = []
        var mentioned = false
        func set<T: Equatable>(_ column: String, _ new: T?, _ old: T?, _ value: (T) -> (any DatabaseValueConvertible)?) {
            guard let new else { return }
            mentioned = true
            if new != old { assignments.append((column, value(new))) }
        }
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
        set("multi_login", patch.multiLogin, current.multiLogin) { $0.description }
        if let numbers = patch.emergencyNumbers {
            mentioned = true
            if numbers != current.emergencyNumbers { assignments.append(("emergency_numbers", try JSONText.encode(numbers))) }
        }
        if let classes = patch.numberClasses {
            mentioned = true
            let old = try String.fetchOne(db, sql: "SELECT number_classes FROM settings WHERE id = 1")
            let new = try JSONText.encode(classes)
            if old != new { assignments.append(("number_classes", new)) }
        }
        if let sip = patch.sip, sip != current.sip {
            mentioned = true
            assignments += [
                ("sip_server", sip.port.map { "\(sip.host):\($0)" } ?? sip.host), ("sip_transport", sip.transport.rawValue), ("sip_realm", sip.realm),
                ("sip_outbound_proxy", sip.outboundProxy),
            ]
        } else if patch.sip != nil {
            mentioned = true
        }
        var credentialsChanged = false
        for (brand, login) in patch.phoneCredentials.sorted(by: { $0.key < $1.key }) {
            mentioned = true
            if let old = current.phoneCredentials[brand], old.username == login.username, ConstantTime.equal(old.password, login.password) {
                continue
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO phone_credentials (brand, username, password_sealed) VALUES (?, ?, ?)",
                arguments: [brand.rawValue, login.username, try secrets.seal(login.password)]
            )
            credentialsChanged = true
        }
        let changes = assignments.count
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
        guard mentioned else { return nil }
        guard !assignments.isEmpty else { return credentialsChanged }
        let sql = "UPDATE settings SET " + assignments.map { "\($0.0) = ?" }.joined(separator: ", ") + " WHERE id = 1"
        try db.execute(sql: sql, arguments: StatementArguments(assignments.map { $0.1 }))
        return credentialsChanged || changes > 0
    }

    /// The PIN hashes an import writes, worked out on every core before the writes (checking an
    /// old PBKDF2 hash is about a millisecond: 100,000 of them would take minutes on one core).
    /// For each entry with a PIN: the new hash, or no entry when the stored hash already matches
    /// (an old PBKDF2 one that matches is replaced, without counting as a change).
    private static func pinHashes(_ entries: [DirectoryDocument.ExtensionEntry], _ db: Database, key: HashKey) throws -> [String: NewPINHash] {
        let stored = Dictionary(
            try Row.fetchAll(db, sql: "SELECT number, voicemail_pin_hash FROM extensions WHERE voicemail_pin_hash IS NOT NULL").map {
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

    /// `pinHash`: the entry's new PIN hash (`nil`: it has no PIN, or the stored hash matches it).
    private static func upsert(_ e: DirectoryDocument.ExtensionEntry, _ db: Database, pinHash: NewPINHash?, secrets: SecretBox) throws -> Bool? {
        guard let old = try readExtension(db, e.number, secrets: secrets) else {
            try db.execute(
                sql: "INSERT INTO extensions (number, name, voicemail_pin_hash, sip_password_sealed, cos) VALUES (?, ?, ?, ?, ?)",
                arguments: [e.number, e.name, pinHash?.encoded, try secrets.seal(e.sipPassword), e.cos]
            )
            return nil
        }
        var changed = false
        if old.name != e.name {
            try db.execute(sql: "UPDATE extensions SET name = ? WHERE number = ?", arguments: [e.name, e.number])
            changed = true
        }
        if pinHash != nil || (e.voicemailPIN == nil && e.voicemailPINHash == nil && old.voicemailPIN != nil) {
            try db.execute(sql: "UPDATE extensions SET voicemail_pin_hash = ? WHERE number = ?", arguments: [pinHash?.encoded, e.number])
            changed = changed || pinHash?.changed != false
        }
        if old.cos != e.cos {
            try db.execute(sql: "UPDATE extensions SET cos = ? WHERE number = ?", arguments: [e.cos, e.number])
            changed = true
        }
        if !ConstantTime.equal(old.sipPassword, e.sipPassword) {
            try db.execute(
                sql: "UPDATE extensions SET sip_password_sealed = ? WHERE number = ?",
                arguments: [try secrets.seal(e.sipPassword), e.number]
            )
            changed = true
        }
        return changed
    }

    /// A definition kept as JSON (a class of service, a schedule), by name.
    private static func upsertDefinition(_ table: String, _ name: String, _ value: some Encodable, _ db: Database) throws -> Bool? {
        let json = try JSONText.encode(value)
        guard let old = try String.fetchOne(db, sql: "SELECT definition FROM \(table) WHERE name = ?", arguments: [name]) else {
            try db.execute(sql: "INSERT INTO \(table) (name, definition) VALUES (?, ?)", arguments: [name, json])
            return nil
        }
        guard old != json else { return false }
        try db.execute(sql: "UPDATE \(table) SET definition = ? WHERE name = ?", arguments: [json, name])
        return true
    }

    /// After the import's writes: every name a class of service, an extension or a device uses
    /// exists, and no class includes itself; else nothing is written.
    static func checkClassesOfService(_ db: Database) throws {
        let book = try readCoSBook(db)
        var problems = book.problems().map { DirectoryProblem(path: "classes_of_service", line: nil, message: $0) }
        for row in try Row.fetchAll(db, sql: "SELECT number, cos FROM extensions WHERE cos IS NOT NULL") where book.classes[row["cos"]] == nil {
            problems.append(
                DirectoryProblem(
                    path: "extensions",
                    line: nil,
                    message: "extension \(row["number"] as String): unknown class of service \"\(row["cos"] as String)\""
                )
            )
        }
        for row in try Row.fetchAll(db, sql: "SELECT mac, cos, cos_if_not_logged FROM devices WHERE cos IS NOT NULL OR cos_if_not_logged IS NOT NULL")
        {
            for key in ["cos", "cos_if_not_logged"] {
                if let name = row[key] as String?, book.classes[name] == nil {
                    problems.append(
                        DirectoryProblem(
                            path: "devices",
                            line: nil,
                            message: "device \(MACAddress(row["mac"] as String)?.colonSeparated ?? ""): \(key): unknown class of service \"\(name)\""
                        )
                    )
                }
            }
        }
        if !problems.isEmpty { throw DirectoryError(file: "", problems: problems) }
    }

    private static func setLine(_ d: DirectoryDocument.DeviceEntry, _ db: Database, secrets: SecretBox) throws {
        try db.execute(
            sql: "UPDATE devices SET line_number = ?, line_name = ?, line_sip_password_sealed = ? WHERE mac = ?",
            arguments: [d.line?.number, d.line?.name, try d.line.map { try secrets.seal($0.sipPassword) }, d.mac.canonical]
        )
    }

    private static func setUsers(_ d: DirectoryDocument.DeviceEntry, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM device_users WHERE mac = ?", arguments: [d.mac.canonical])
        for user in Set(d.users) {
            try db.execute(sql: "INSERT INTO device_users (mac, extension) VALUES (?, ?)", arguments: [d.mac.canonical, user])
        }
    }

    private static func upsert(_ w: Workspace, _ db: Database) throws -> Bool? {
        guard let old = try readWorkspace(db, w.name) else {
            try db.execute(
                sql: "INSERT INTO workspaces (name, licence, hot_desking) VALUES (?, ?, ?)",
                arguments: [w.name, w.licence.rawValue, w.hotDesking]
            )
            return nil
        }
        guard old != w else { return false }
        try db.execute(
            sql: "UPDATE workspaces SET licence = ?, hot_desking = ? WHERE name = ?",
            arguments: [w.licence.rawValue, w.hotDesking, w.name]
        )
        return true
    }

    /// After the import's writes (in its transaction): no workspace holds more devices than its
    /// licence allows. A problem names the file's device that went over, so nothing is written.
    static func checkWorkspaceLimits(_ directory: DirectoryDocument, _ db: Database) throws {
        var problems: [DirectoryProblem] = []
        for row in try Row.fetchAll(
            db,
            sql: "SELECT w.name, w.licence, COUNT(d.mac) AS devices FROM workspaces w JOIN devices d ON d.workspace = w.name GROUP BY w.name"
        ) {
            guard let licence = Workspace.Licence(rawValue: row["licence"]), (row["devices"] as Int) > licence.maxDevices else { continue }
            let name: String = row["name"]
            let entry = directory.devices.last { $0.workspace == name }
            problems.append(
                DirectoryProblem(
                    path: entry.map { "\($0.path).workspace" } ?? "workspaces",
                    line: entry?.fileLine,
                    message:
                        "workspace \"\(name)\" would hold \(row["devices"] as Int) devices; a \(licence.rawValue) licence allows \(licence.maxDevices) (workspace_full)"
                )
            )
        }
        if !problems.isEmpty { throw DirectoryError(file: "", problems: problems) }
    }

    /// A shared line and exactly the members the file lists for it.
    private static func upsert(_ l: SharedLine, _ db: Database, secrets: SecretBox) throws -> Bool? {
        let members = l.members.map { "\($0.extensionNumber)/\($0.button)/\($0.ring)" }.sorted()
        let old = try Row.fetchOne(db, sql: "SELECT * FROM shared_lines WHERE number = ?", arguments: [l.number])
        let oldMembers = try Row.fetchAll(db, sql: "SELECT * FROM shared_line_members WHERE line = ?", arguments: [l.number])
            .map { "\($0["extension"] as String)/\($0["button"] as Int)/\($0["ring"] as String)" }.sorted()
        if let old {
            let oldPassword = try secrets.open(old["sip_password_sealed"])
            let same =
                (old["name"] as String) == l.name && (old["caller_id"] as String?) == l.callerID
                && ConstantTime.equal(oldPassword, l.sipPassword) && oldMembers == members
            if same { return false }
            try db.execute(
                sql: "UPDATE shared_lines SET name = ?, caller_id = ?, sip_password_sealed = ? WHERE number = ?",
                arguments: [l.name, l.callerID, try secrets.seal(l.sipPassword), l.number]
            )
        } else {
            try db.execute(
                sql: "INSERT INTO shared_lines (number, name, sip_password_sealed, caller_id) VALUES (?, ?, ?, ?)",
                arguments: [l.number, l.name, try secrets.seal(l.sipPassword), l.callerID]
            )
        }
        try db.execute(sql: "DELETE FROM shared_line_members WHERE line = ?", arguments: [l.number])
        for m in l.members {
            try db.execute(
                sql: "INSERT INTO shared_line_members (line, extension, button, ring) VALUES (?, ?, ?, ?)",
                arguments: [l.number, m.extensionNumber, m.button, m.ring.description]
            )
        }
        return old == nil ? nil : true
    }

    /// A provisioning secret (or, for an address-bound phone, an address) set in the file: the
    /// device is claimed with it from now on — no trust on first use. Unchanged when the file
    /// says what is stored already (an export imported again changes nothing).
    @discardableResult
    private static func setClaim(_ d: DirectoryDocument.DeviceEntry, _ db: Database, at: Date, secrets: SecretBox) throws -> Bool {
        guard d.provisioningSecret != nil || d.claimedFrom != nil else { return false }
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM devices WHERE mac = ?", arguments: [d.mac.canonical]) else { return false }
        let stored = try (row["provisioning_secret_sealed"] as Data?).map { try secrets.open($0) }
        let sameSecret = d.provisioningSecret.map { new in stored.map { ConstantTime.equal($0, new) } ?? false } ?? true
        let claimed = (row["claimed_at"] as Double?) != nil
        guard !sameSecret || !claimed || (d.claimedFrom != nil && d.claimedFrom != row["claimed_from"]) else { return false }
        try db.execute(
            sql: """
                UPDATE devices SET provisioning_secret_sealed = COALESCE(?, provisioning_secret_sealed), claimed_at = COALESCE(claimed_at, ?),
                    secret_issued_at = COALESCE(secret_issued_at, ?), claimed_from = COALESCE(?, claimed_from), last_address = COALESCE(?, last_address)
                WHERE mac = ?
                """,
            arguments: [
                try d.provisioningSecret.map { try secrets.seal($0) }, at.timeIntervalSince1970, at.timeIntervalSince1970, d.claimedFrom,
                d.claimedFrom,
                d.mac.canonical,
            ]
        )
        return true
    }

    private static func upsert(_ d: DirectoryDocument.DeviceEntry, _ db: Database, at: Date, secrets: SecretBox) throws -> Bool? {
        let sealed = try d.phoneCredentials.map { try secrets.seal($0.password) }
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM devices WHERE mac = ?", arguments: [d.mac.canonical]) else {
            try db.execute(
                sql: """
                    INSERT INTO devices (mac, model, brand, token, enrolled_at, push_port, phone_username, phone_password_sealed, provisioning_secret_sealed)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    d.mac.canonical, d.model.name, d.model.brand.rawValue, RandomToken.make(), at.timeIntervalSince1970, d.pushPort,
                    d.phoneCredentials?.username, sealed,
                    try secrets.seal(d.provisioningSecret ?? RandomToken.make()),
                ]
            )
            try db.execute(
                sql: "UPDATE devices SET workspace = ?, cos = ?, cos_if_not_logged = ? WHERE mac = ?",
                arguments: [d.workspace, d.cos, d.cosIfNotLogged, d.mac.canonical]
            )
            try setUsers(d, db)
            try setLine(d, db, secrets: secrets)
            try setClaim(d, db, at: at, secrets: secrets)
            return nil
        }
        // A phone the directory lists is the directory's: never forgotten as an unclaimed enrolment.
        try db.execute(sql: "UPDATE devices SET enrolled_by = 'directory' WHERE mac = ? AND enrolled_by != 'directory'", arguments: [d.mac.canonical])
        let old = try device(row, secrets: secrets, catalog: .empty)
        let sameLogin: Bool =
            switch (old.credentials, d.phoneCredentials) {
            case (nil, nil): true
            case (let a?, let b?): a.username == b.username && ConstantTime.equal(a.password, b.password)
            default: false
            }
        let oldModel: String = row["model"]
        let oldUsers = try String.fetchAll(
            db,
            sql: "SELECT extension FROM device_users WHERE mac = ? ORDER BY extension",
            arguments: [d.mac.canonical]
        )
        let usersSame = oldUsers == Array(Set(d.users)).sorted()
        let workspaceSame = (row["workspace"] as String?) == d.workspace
        let deviceSame = oldModel == d.model.name && old.model.brand == d.model.brand && old.pushPort == d.pushPort && sameLogin
        let oldLine = try device(row, secrets: secrets, catalog: .empty).ownLine
        let lineSame =
            oldLine?.number == d.line?.number && oldLine?.name == d.line?.name
            && ConstantTime.equal(oldLine?.sipPassword ?? "", d.line?.sipPassword ?? "")
        let cosSame = (row["cos"] as String?) == d.cos && (row["cos_if_not_logged"] as String?) == d.cosIfNotLogged
        let claimChanged = try setClaim(d, db, at: at, secrets: secrets)
        guard !(usersSame && workspaceSame && deviceSame && lineSame && cosSame) || claimChanged else { return false }
        if !cosSame {
            try db.execute(
                sql: "UPDATE devices SET cos = ?, cos_if_not_logged = ? WHERE mac = ?",
                arguments: [d.cos, d.cosIfNotLogged, d.mac.canonical]
            )
        }
        if !lineSame { try setLine(d, db, secrets: secrets) }
        if !usersSame { try setUsers(d, db) }
        try db.execute(
            sql: "UPDATE devices SET model = ?, brand = ?, push_port = ?, workspace = ? WHERE mac = ?",
            arguments: [d.model.name, d.model.brand.rawValue, d.pushPort, d.workspace, d.mac.canonical]
        )
        if !sameLogin {
            try db.execute(
                sql: "UPDATE devices SET phone_username = ?, phone_password_sealed = ? WHERE mac = ?",
                arguments: [d.phoneCredentials?.username, sealed, d.mac.canonical]
            )
        }
        return true
    }

    private static func upsert(_ t: Template, _ db: Database) throws -> Bool? {
        if t.isDefault {
            // The file names the brand's default: any other default of that brand steps down.
            try db.execute(
                sql: "UPDATE templates SET is_default = 0 WHERE brand = ? AND name != ? AND is_default",
                arguments: [t.brand.rawValue, t.name]
            )
        }
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM templates WHERE name = ?", arguments: [t.name]) else {
            try db.execute(
                sql: "INSERT INTO templates (name, brand, is_default, body) VALUES (?, ?, ?, ?)",
                arguments: [t.name, t.brand.rawValue, t.isDefault, t.body]
            )
            return nil
        }
        guard template(row) != t else { return false }
        try db.execute(
            sql: "UPDATE templates SET brand = ?, is_default = ?, body = ? WHERE name = ?",
            arguments: [t.brand.rawValue, t.isDefault, t.body, t.name]
        )
        return true
    }

    private static func upsert(_ m: Mapping, _ db: Database) throws -> Bool? {
        let key: StatementArguments = [m.extensionNumber, m.model ?? "", m.mac?.canonical ?? ""]
        guard
            let current = try String.fetchOne(db, sql: "SELECT template FROM mappings WHERE extension = ? AND model = ? AND mac = ?", arguments: key)
        else {
            try db.execute(sql: "INSERT INTO mappings (template, extension, model, mac) VALUES (?, ?, ?, ?)", arguments: [m.templateName] + key)
            return nil
        }
        guard current != m.templateName else { return false }
        try db.execute(sql: "UPDATE mappings SET template = ? WHERE extension = ? AND model = ? AND mac = ?", arguments: [m.templateName] + key)
        return true
    }
}
