import Foundation
import HotDeskCore

// The rows an import writes, one kind at a time (each an upsert that reports whether it changed anything).
extension SQLStore {
    /// `pinHash`: the entry's new PIN hash (`nil`: it has no PIN, or the stored hash matches it).
    static func upsert(_ e: DirectoryDocument.ExtensionEntry, _ db: any SQLDatabase, pinHash: NewPINHash?, secrets: SecretBox) throws -> Bool? {
        guard let old = try readExtension(db, e.number, secrets: secrets) else {
            try db.execute(
                """
                INSERT INTO extensions (number, name, voicemail_pin_hash, sip_password_sealed, cos, caller_id, site, roaming, language, direct_dial)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    e.number, e.name, pinHash?.encoded, try secrets.seal(e.sipPassword), e.cos, e.callerID, e.site, StoredRoaming.text(e.roaming),
                    e.language, e.directDial,
                ]
            )
            return nil
        }
        var changed = false
        if old.name != e.name {
            try db.execute("UPDATE extensions SET name = ? WHERE number = ?", [e.name, e.number])
            changed = true
        }
        if pinHash != nil || (e.voicemailPIN == nil && e.voicemailPINHash == nil && old.voicemailPIN != nil) {
            try db.execute("UPDATE extensions SET voicemail_pin_hash = ? WHERE number = ?", [pinHash?.encoded, e.number])
            changed = changed || pinHash?.changed != false
        }
        if old.cos != e.cos || old.callerID != e.callerID || old.site != e.site || old.roaming != e.roaming || old.language != e.language
            || old.directDial != e.directDial
        {
            try db.execute(
                "UPDATE extensions SET cos = ?, caller_id = ?, site = ?, roaming = ?, language = ?, direct_dial = ? WHERE number = ?",
                [e.cos, e.callerID, e.site, StoredRoaming.text(e.roaming), e.language, e.directDial, e.number]
            )
            changed = true
        }
        if !ConstantTime.equal(old.sipPassword, e.sipPassword) {
            try db.execute("UPDATE extensions SET sip_password_sealed = ? WHERE number = ?", [try secrets.seal(e.sipPassword), e.number])
            changed = true
        }
        return changed
    }

    /// A definition kept as JSON (a class of service, a schedule), by name.
    static func upsertDefinition(_ table: String, _ name: String, _ value: some Encodable, _ db: any SQLDatabase) throws -> Bool? {
        let json = try JSONText.encode(value)
        guard let old = try db.value(String.self, "SELECT definition FROM \(table) WHERE name = ?", [name]) else {
            try db.execute("INSERT INTO \(table) (name, definition) VALUES (?, ?)", [name, json])
            return nil
        }
        guard old != json else { return false }
        try db.execute("UPDATE \(table) SET definition = ? WHERE name = ?", [json, name])
        return true
    }

    /// After the import's writes: every name a class of service, an extension or a device uses
    /// exists, and no class includes itself; else nothing is written.
    static func checkClassesOfService(_ db: any SQLDatabase) throws {
        let book = try readCoSBook(db)
        var problems = book.problems().map { DirectoryProblem(path: "classes_of_service", line: nil, message: $0) }
        for row in try db.rows("SELECT number, cos FROM extensions WHERE cos IS NOT NULL") where book.classes[row["cos"]] == nil {
            problems.append(
                DirectoryProblem(
                    path: "extensions",
                    line: nil,
                    message: "extension \(row["number"] as String): unknown class of service \"\(row["cos"] as String)\""
                )
            )
        }
        for row in try db.rows("SELECT mac, cos, cos_if_not_logged FROM devices WHERE cos IS NOT NULL OR cos_if_not_logged IS NOT NULL") {
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
        for site in try readSites(db, secrets: nil) {
            guard let name = site.visitorCoS, book.classes[name] == nil else { continue }
            problems.append(
                DirectoryProblem(path: "sites", line: nil, message: "site \(site.name): visitor_cos: unknown class of service \"\(name)\"")
            )
        }
        if !problems.isEmpty { throw DirectoryError(file: "", problems: problems) }
    }

    static func setLine(_ d: DirectoryDocument.DeviceEntry, _ db: any SQLDatabase, secrets: SecretBox) throws {
        try db.execute(
            "UPDATE devices SET line_number = ?, line_name = ?, line_sip_password_sealed = ? WHERE mac = ?",
            [d.line?.number, d.line?.name, try d.line.map { try secrets.seal($0.sipPassword) }, d.mac.canonical]
        )
    }

    static func setUsers(_ d: DirectoryDocument.DeviceEntry, _ db: any SQLDatabase) throws {
        try db.execute("DELETE FROM device_users WHERE mac = ?", [d.mac.canonical])
        for user in Set(d.users) {
            try db.execute("INSERT INTO device_users (mac, extension) VALUES (?, ?)", [d.mac.canonical, user])
        }
    }

    static func upsert(_ w: Workspace, _ db: any SQLDatabase, secrets: SecretBox) throws -> Bool? {
        let old = try readWorkspace(db, w.name, secrets: secrets)
        if old == nil {
            try db.execute("INSERT INTO workspaces (name, licence, hot_desking) VALUES (?, ?, ?)", [w.name, w.licence.rawValue, w.hotDesking])
        }
        guard old != w else { return false }
        try db.execute(
            "UPDATE workspaces SET licence = ?, hot_desking = ?, emergency_caller_id = ?, site = ?, room_type = ?, capacity = ? WHERE name = ?",
            [w.licence.rawValue, w.hotDesking, w.emergencyCallerID, w.site, w.roomType?.rawValue, w.capacity, w.name]
        )
        // The line is sealed again only when it changed (a sealing differs every time).
        if old?.line != w.line {
            try db.execute(
                "UPDATE workspaces SET line_number = ?, line_name = ?, line_sip_password_sealed = ? WHERE name = ?",
                [w.line?.number, w.line?.name, try w.line.map { try secrets.seal($0.sipPassword) }, w.name]
            )
        }
        return old == nil ? nil : true
    }

    /// After the import's writes (in its transaction): no workspace holds more devices than its
    /// licence allows. A problem names the file's device that went over, so nothing is written.
    static func checkWorkspaceLimits(_ directory: DirectoryDocument, _ db: any SQLDatabase) throws {
        var problems: [DirectoryProblem] = []
        for row in try db.rows(
            "SELECT w.name, w.licence, COUNT(d.mac) AS devices FROM workspaces w JOIN devices d ON d.workspace = w.name GROUP BY w.name"
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

    /// After the import's writes: each device in a workspace is in the workspace's site.
    static func placeDevicesInTheirWorkspacesSites(_ db: any SQLDatabase) throws {
        var sites: [String: String?] = [:]
        for row in try db.rows("SELECT name, site FROM workspaces") { sites[row["name"] as String] = .some(row["site"] as String?) }
        for row in try db.rows("SELECT mac, workspace, site FROM devices WHERE workspace IS NOT NULL") {
            guard let site = sites[row["workspace"] as String], site != (row["site"] as String?) else { continue }
            try db.execute("UPDATE devices SET site = ? WHERE mac = ?", [site, row["mac"] as String])
        }
    }

    /// After the import's writes: every site an extension, a device or a workspace names exists
    /// (a site still in use cannot be pruned); else nothing is written.
    static func checkSites(_ db: any SQLDatabase) throws {
        let sites = Set(try db.values(String.self, "SELECT name FROM sites"))
        var problems: [DirectoryProblem] = []
        for (table, key) in [("extensions", "number"), ("workspaces", "name"), ("devices", "mac")] {
            for row in try db.rows("SELECT \(key) AS name, site FROM \(table) WHERE site IS NOT NULL") where !sites.contains(row["site"] as String) {
                problems.append(
                    DirectoryProblem(
                        path: table,
                        line: nil,
                        message: "\(row["name"] as String) is in site \(row["site"] as String), which is not in the directory"
                    )
                )
            }
        }
        for row in try db.rows("SELECT number, roaming FROM extensions WHERE roaming IS NOT NULL") {
            guard case .sites(let names) = StoredRoaming.roaming(row["roaming"]) else { continue }
            for name in names.sorted() where !sites.contains(name) {
                problems.append(
                    DirectoryProblem(
                        path: "extensions",
                        line: nil,
                        message: "\(row["number"] as String) roams to site \(name), which is not in the directory"
                    )
                )
            }
        }
        // A key or account limited to a site keeps it: else it would see nothing, or (the site
        // made again) see what it was never meant to.
        for (table, what) in [("api_keys", "API key"), ("admin_accounts", "console account")] {
            for row in try db.rows("SELECT name, sites FROM \(table) WHERE sites IS NOT NULL") {
                for name in SiteScope(stored: row["sites"]).sites ?? [] where !sites.contains(name) {
                    problems.append(
                        DirectoryProblem(
                            path: "sites",
                            line: nil,
                            message: "site \(name) is the scope of \(what) \"\(row["name"] as String)\": revoke or change it first"
                        )
                    )
                }
            }
        }
        if !problems.isEmpty { throw DirectoryError(file: "", problems: problems) }
    }

    /// After the import's writes: a number is one SIP user — an extension, a shared line, a phone's
    /// or a workspace's own line — and a direct-dial number rings one extension or shared line, so
    /// the PBX's questions about either have one answer; else nothing is written.
    static func checkLineNumbers(_ db: any SQLDatabase) throws {
        let dialled = """
            SELECT direct_dial AS number, 'extension ' || number AS owner FROM extensions WHERE direct_dial IS NOT NULL
            UNION ALL SELECT direct_dial, 'shared line ' || number FROM shared_lines WHERE direct_dial IS NOT NULL
            """
        let lines = """
            SELECT number, 'extension ' || number AS owner FROM extensions
            UNION ALL SELECT number, 'shared line ' || number FROM shared_lines
            UNION ALL SELECT line_number, 'the line of device ' || mac FROM devices WHERE line_number IS NOT NULL
            UNION ALL SELECT line_number, 'the line of workspace ' || name FROM workspaces WHERE line_number IS NOT NULL
            """
        let problems =
            try clashes(db, among: dialled) { "\($0) would be the direct-dial number of \($1): it rings one line" }
            + clashes(db, among: lines) { "\($0) would be \($1): a number is one line" }
        if !problems.isEmpty { throw DirectoryError(file: "", problems: problems) }
    }

    /// The numbers `owners` (a query of `number, owner`) holds more than once, each said with its
    /// owners joined by "and" (20 at most).
    private static func clashes(
        _ db: any SQLDatabase,
        among owners: String,
        _ message: (_ number: String, _ owners: String) -> String
    ) throws -> [DirectoryProblem] {
        try db.values(String.self, "SELECT number FROM (\(owners)) AS o GROUP BY number HAVING COUNT(*) > 1 ORDER BY 1 LIMIT 20").map { number in
            let named = try db.values(String.self, "SELECT owner FROM (\(owners)) AS o WHERE number = ? ORDER BY owner", [number])
            return DirectoryProblem(path: "(directory)", line: nil, message: message(number, named.joined(separator: " and ")))
        }
    }

    /// A shared line and exactly the members the file lists for it.
    static func upsert(_ l: SharedLine, _ db: any SQLDatabase, secrets: SecretBox) throws -> Bool? {
        let members = l.members.map { "\($0.extensionNumber)/\($0.button)/\($0.ring)" }.sorted()
        let old = try db.row("SELECT * FROM shared_lines WHERE number = ?", [l.number])
        let oldMembers = try db.rows("SELECT * FROM shared_line_members WHERE line = ?", [l.number])
            .map { "\($0["extension"] as String)/\($0["button"] as Int)/\($0["ring"] as String)" }.sorted()
        if let old {
            let oldPassword = try secrets.open(old["sip_password_sealed"])
            let same =
                (old["name"] as String) == l.name && (old["caller_id"] as String?) == l.callerID && (old["licences"] as Int?) == l.licences
                && (old["direct_dial"] as String?) == l.directDial && ConstantTime.equal(oldPassword, l.sipPassword) && oldMembers == members
            if same { return false }
            try db.execute(
                "UPDATE shared_lines SET name = ?, caller_id = ?, sip_password_sealed = ?, licences = ?, direct_dial = ? WHERE number = ?",
                [l.name, l.callerID, try secrets.seal(l.sipPassword), l.licences, l.directDial, l.number]
            )
        } else {
            try db.execute(
                "INSERT INTO shared_lines (number, name, sip_password_sealed, caller_id, licences, direct_dial) VALUES (?, ?, ?, ?, ?, ?)",
                [l.number, l.name, try secrets.seal(l.sipPassword), l.callerID, l.licences, l.directDial]
            )
        }
        try db.execute("DELETE FROM shared_line_members WHERE line = ?", [l.number])
        for m in l.members {
            try db.execute(
                "INSERT INTO shared_line_members (line, extension, button, ring) VALUES (?, ?, ?, ?)",
                [l.number, m.extensionNumber, m.button, m.ring.description]
            )
        }
        return old == nil ? nil : true
    }

    /// A provisioning secret (or, for an address-bound phone, an address) set in the file: the
    /// device is claimed with it from now on — no trust on first use. Unchanged when the file
    /// says what is stored already (an export imported again changes nothing).
    @discardableResult
    static func setClaim(_ d: DirectoryDocument.DeviceEntry, _ db: any SQLDatabase, at: Date, secrets: SecretBox) throws -> Bool {
        guard d.provisioningSecret != nil || d.claimedFrom != nil else { return false }
        guard let row = try db.row("SELECT * FROM devices WHERE mac = ?", [d.mac.canonical]) else { return false }
        let stored = try (row["provisioning_secret_sealed"] as Data?).map { try secrets.open($0) }
        let sameSecret = d.provisioningSecret.map { new in stored.map { ConstantTime.equal($0, new) } ?? false } ?? true
        let claimed = (row["claimed_at"] as Double?) != nil
        guard !sameSecret || !claimed || (d.claimedFrom != nil && d.claimedFrom != row["claimed_from"]) else { return false }
        try db.execute(
            """
            UPDATE devices SET provisioning_secret_sealed = COALESCE(?, provisioning_secret_sealed), claimed_at = COALESCE(claimed_at, ?),
                secret_issued_at = COALESCE(secret_issued_at, ?), claimed_from = COALESCE(?, claimed_from), last_address = COALESCE(?, last_address)
            WHERE mac = ?
            """,
            [
                try d.provisioningSecret.map { try secrets.seal($0) }, at.timeIntervalSince1970, at.timeIntervalSince1970, d.claimedFrom,
                d.claimedFrom,
                d.mac.canonical,
            ]
        )
        return true
    }

    static func upsert(_ d: DirectoryDocument.DeviceEntry, _ db: any SQLDatabase, at: Date, secrets: SecretBox) throws -> Bool? {
        let sealed = try d.phoneCredentials.map { try secrets.seal($0.password) }
        guard let row = try db.row("SELECT * FROM devices WHERE mac = ?", [d.mac.canonical]) else {
            try db.execute(
                """
                INSERT INTO devices (mac, model, brand, token, enrolled_at, push_port, phone_username, phone_password_sealed, provisioning_secret_sealed)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    d.mac.canonical, d.model.name, d.model.brand.rawValue, RandomToken.make(), at.timeIntervalSince1970, d.pushPort,
                    d.phoneCredentials?.username, sealed,
                    try secrets.seal(d.provisioningSecret ?? RandomToken.make()),
                ]
            )
            try db.execute(
                "UPDATE devices SET workspace = ?, cos = ?, cos_if_not_logged = ?, emergency_caller_id = ?, site = ? WHERE mac = ?",
                [d.workspace, d.cos, d.cosIfNotLogged, d.emergencyCallerID, d.site, d.mac.canonical]
            )
            try setUsers(d, db)
            try setLine(d, db, secrets: secrets)
            try setClaim(d, db, at: at, secrets: secrets)
            return nil
        }
        // A phone the directory lists is the directory's: never forgotten as an unclaimed enrolment.
        try db.execute("UPDATE devices SET enrolled_by = 'directory' WHERE mac = ? AND enrolled_by != 'directory'", [d.mac.canonical])
        let old = try device(row, secrets: secrets, catalog: .empty)
        let sameLogin: Bool =
            switch (old.credentials, d.phoneCredentials) {
            case (nil, nil): true
            case (let a?, let b?): a.username == b.username && ConstantTime.equal(a.password, b.password)
            default: false
            }
        let oldModel: String = row["model"]
        let oldUsers = try db.values(String.self, "SELECT extension FROM device_users WHERE mac = ? ORDER BY extension", [d.mac.canonical])
        let usersSame = oldUsers == Array(Set(d.users)).sorted()
        let workspaceSame = (row["workspace"] as String?) == d.workspace
        let deviceSame = oldModel == d.model.name && old.model.brand == d.model.brand && old.pushPort == d.pushPort && sameLogin
        let oldLine = try device(row, secrets: secrets, catalog: .empty).ownLine
        let lineSame =
            oldLine?.number == d.line?.number && oldLine?.name == d.line?.name
            && ConstantTime.equal(oldLine?.sipPassword ?? "", d.line?.sipPassword ?? "")
        // A device in a workspace takes the workspace's site after the writes.
        let cosSame =
            (row["cos"] as String?) == d.cos && (row["cos_if_not_logged"] as String?) == d.cosIfNotLogged
            && (row["emergency_caller_id"] as String?) == d.emergencyCallerID && (d.workspace != nil || (row["site"] as String?) == d.site)
        let claimChanged = try setClaim(d, db, at: at, secrets: secrets)
        guard !(usersSame && workspaceSame && deviceSame && lineSame && cosSame) || claimChanged else { return false }
        if !cosSame {
            try db.execute(
                "UPDATE devices SET cos = ?, cos_if_not_logged = ?, emergency_caller_id = ? WHERE mac = ?",
                [d.cos, d.cosIfNotLogged, d.emergencyCallerID, d.mac.canonical]
            )
            if d.workspace == nil { try db.execute("UPDATE devices SET site = ? WHERE mac = ?", [d.site, d.mac.canonical]) }
        }
        if !lineSame { try setLine(d, db, secrets: secrets) }
        if !usersSame { try setUsers(d, db) }
        try db.execute(
            "UPDATE devices SET model = ?, brand = ?, push_port = ?, workspace = ? WHERE mac = ?",
            [d.model.name, d.model.brand.rawValue, d.pushPort, d.workspace, d.mac.canonical]
        )
        if !sameLogin {
            try db.execute(
                "UPDATE devices SET phone_username = ?, phone_password_sealed = ? WHERE mac = ?",
                [d.phoneCredentials?.username, sealed, d.mac.canonical]
            )
        }
        return true
    }

    static func upsert(_ t: Template, _ db: any SQLDatabase) throws -> Bool? {
        if t.isDefault {
            // The file names the brand's default: any other default of that brand steps down.
            try db.execute("UPDATE templates SET is_default = FALSE WHERE brand = ? AND name != ? AND is_default", [t.brand.rawValue, t.name])
        }
        guard let row = try db.row("SELECT * FROM templates WHERE name = ?", [t.name]) else {
            try db.execute(
                "INSERT INTO templates (name, brand, is_default, body) VALUES (?, ?, ?, ?)",
                [t.name, t.brand.rawValue, t.isDefault, t.body]
            )
            return nil
        }
        guard template(row) != t else { return false }
        try db.execute("UPDATE templates SET brand = ?, is_default = ?, body = ? WHERE name = ?", [t.brand.rawValue, t.isDefault, t.body, t.name])
        return true
    }

    static func upsert(_ m: Mapping, _ db: any SQLDatabase) throws -> Bool? {
        let key: SQLArguments = [m.extensionNumber, m.model ?? "", m.mac?.canonical ?? ""]
        guard
            let current = try db.value(String.self, "SELECT template FROM mappings WHERE extension = ? AND model = ? AND mac = ?", key)
        else {
            try db.execute("INSERT INTO mappings (template, extension, model, mac) VALUES (?, ?, ?, ?)", [m.templateName] + key)
            return nil
        }
        guard current != m.templateName else { return false }
        try db.execute("UPDATE mappings SET template = ? WHERE extension = ? AND model = ? AND mac = ?", [m.templateName] + key)
        return true
    }
}
