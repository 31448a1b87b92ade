import Foundation
import HotDeskCore
import Yams

/// `hotdesk export`: the directory as the YAML file `hotdesk import` reads (docs/directory.md),
/// from one consistent read of the store. Every setting is written, defaults too, and lists are
/// sorted by their key, so exporting what an export imported gives the same file.
///
/// Secrets are left out unless `withSecrets`: then SIP passwords, phones' web logins and the
/// provisioning secrets of claimed phones (with where they claimed from) are written in clear
/// (they are stored sealed and opened with the key file), and PINs and the global
/// passwords as their keyed hashes (`voicemail_pin_hash`, …: one-way, so only a store with the
/// same key file checks them). Without secrets the file is for reading and comparing: `import`
/// needs the SIP passwords it leaves out.
extension SQLStore {
    public struct ExportSummary: Sendable {
        public var extensions = 0
        public var devices = 0
        /// Phones that enrolled themselves (`default_login`): not in the directory, not exported.
        public var selfEnrolled = 0
    }

    public func exportedDirectory() async throws -> String { try await exportDirectory(withSecrets: false).yaml }

    public func exportDirectory(withSecrets: Bool) async throws -> (yaml: String, summary: ExportSummary) {
        let secrets = secretBox
        let catalog = self.catalog
        return try await engine.read { db -> (String, ExportSummary) in
            let writer = DirectoryWriter(withSecrets: withSecrets, secrets: secrets)
            var summary = ExportSummary()
            let settings = try Self.readSettings(db, secrets: secrets)
            let book = try Self.readCoSBook(db)
            var top: [(String, Node?)] = [("settings", writer.settings(settings, numberClasses: book.numberClasses))]
            top.append(("sites", writer.list(settings.sites.values.sorted { $0.name < $1.name }.map(writer.site))))
            let extensions = try db.rows("SELECT * FROM extensions ORDER BY number")
            summary.extensions = extensions.count
            top.append(("extensions", try writer.list(extensions.map(writer.extensionEntry))))
            top.append(("schedules", writer.list(book.schedules.values.sorted { $0.name < $1.name }.map(writer.schedule))))
            top.append(("classes_of_service", writer.list(book.classes.values.sorted { $0.name < $1.name }.map(writer.classOfService))))
            let workspaces = try db.rows("SELECT * FROM workspaces ORDER BY name")
            top.append(("workspaces", writer.list(try workspaces.map(writer.workspace))))
            let members = try db.rows("SELECT * FROM shared_line_members ORDER BY line, extension")
            let lines = try db.rows("SELECT * FROM shared_lines ORDER BY number")
            top.append(("shared_lines", try writer.list(lines.map { try writer.sharedLine($0, members: members) })))
            let users = Dictionary(
                grouping: try db.rows("SELECT mac, extension FROM device_users ORDER BY extension"),
                by: { $0["mac"] as String }
            )
            var devices: [Node] = []
            for row in try db.rows("SELECT * FROM devices ORDER BY mac") {
                let device = try Self.device(row, secrets: secrets, catalog: catalog)
                // With secrets, a phone that enrolled itself and proved itself is written too, with
                // its secret and claim: the file rebuilds a site whose phones keep working (a URL-key
                // phone knows only its old secret). Without, or never claimed, it is left out.
                guard !device.selfEnrolled || (withSecrets && device.claimedAt != nil) else {
                    summary.selfEnrolled += 1
                    continue
                }
                devices.append(
                    writer.device(device, users: (users[device.mac.canonical] ?? []).map { $0["extension"] }, claimedFrom: row["claimed_from"])
                )
            }
            summary.devices = devices.count
            top.append(("devices", writer.list(devices)))
            top.append(("templates", writer.list(try db.rows("SELECT * FROM templates ORDER BY name").map(writer.template))))
            top.append(
                ("mappings", writer.list(try db.rows("SELECT * FROM mappings ORDER BY extension, model, mac").map(writer.mapping)))
            )
            return (try Yams.serialize(node: writer.map(top), indent: 2, width: -1, allowUnicode: true), summary)
        }
    }
}

/// A section of the directory file whose entries are edited one at a time (the console's forms,
/// `/api/v1/directory/{section}/{key}`), by the name the file gives it.
public enum DirectorySection: String, CaseIterable, Sendable {
    case extensions, devices, workspaces
    case sharedLines = "shared_lines"
    case templates, sites

    /// The field that names an entry.
    public var keyField: String {
        switch self {
        case .extensions, .sharedLines: "number"
        case .devices: "mac"
        case .workspaces, .templates, .sites: "name"
        }
    }

    /// The fields that hold a secret (or its hash), nested ones dotted: kept as stored when an
    /// edited entry leaves them out, since no one is shown them back.
    public var secretFields: [String] {
        switch self {
        case .extensions: ["sip_password", "voicemail_pin"]
        case .sharedLines: ["sip_password"]
        case .sites: ["phone_credentials"]
        case .devices: ["phone_credentials", "provisioning_secret", "claimed_from", "line.sip_password"]
        case .workspaces: ["line.sip_password"]
        case .templates: []
        }
    }

    /// The item a deletion removes (sites are removed by an import with `prune`).
    public func item(_ key: String) -> DirectoryItem? {
        switch self {
        case .extensions: Extension.isValidNumber(key) ? .extension(key) : nil
        case .sharedLines: Extension.isValidNumber(key) ? .sharedLine(key) : nil
        case .devices: MACAddress(key).map(DirectoryItem.device)
        case .workspaces: Workspace.nameProblem(key) == nil ? .workspace(key) : nil
        case .templates: key.isEmpty || key.count > 64 ? nil : .template(key)
        case .sites: nil
        }
    }
}

extension SQLStore {
    /// One entry of a section as `exportDirectory` writes it (a YAML mapping, with its secrets or
    /// without), or nil when there is none by that key. A phone that enrolled itself is written
    /// too: an admin who edits it makes it the directory's.
    public func directoryEntry(_ section: DirectorySection, key: String, withSecrets: Bool) async throws -> String? {
        let writer = DirectoryWriter(withSecrets: withSecrets, secrets: secretBox)
        let (secrets, catalog) = (secretBox, self.catalog)
        return try await engine.read { db -> String? in
            try Self.entryNode(section, key: key, db, writer: writer, secrets: secrets, catalog: catalog).map {
                try Yams.serialize(node: $0, indent: 2, width: -1, allowUnicode: true)
            }
        }
    }

    /// A section's keys in order, a page at a time (`after`: the last key of the page before).
    /// Devices by their colon-separated MAC; phones that enrolled themselves are among them.
    public func directoryKeys(_ section: DirectorySection, after: String?, limit: Int) async throws -> [String] {
        let secrets = secretBox
        return try await engine.read { db -> [String] in
            let (table, column): (String, String)
            switch section {
            case .sites:
                let names = try Self.readSettings(db, secrets: secrets).sites.keys.sorted()
                return Array(names.filter { $0 > (after ?? "") }.prefix(limit))
            case .extensions: (table, column) = ("extensions", "number")
            case .sharedLines: (table, column) = ("shared_lines", "number")
            case .workspaces: (table, column) = ("workspaces", "name")
            case .templates: (table, column) = ("templates", "name")
            case .devices: (table, column) = ("devices", "mac")
            }
            let from = section == .devices ? after.flatMap(MACAddress.init)?.canonical ?? after : after
            let keys = try db.values(
                String.self,
                "SELECT \(column) FROM \(table) WHERE \(column) > ? ORDER BY \(column) LIMIT \(max(1, min(limit, 1000)))",
                [from ?? ""]
            )
            return section == .devices ? keys.compactMap { MACAddress($0)?.colonSeparated } : keys
        }
    }

    private static func entryNode(
        _ section: DirectorySection,
        key: String,
        _ db: any SQLDatabase,
        writer: DirectoryWriter,
        secrets: SecretBox,
        catalog: PhoneCatalog
    ) throws -> Node? {
        switch section {
        case .extensions:
            return try db.row("SELECT * FROM extensions WHERE number = ?", [key]).map(writer.extensionEntry)
        case .workspaces:
            return try db.row("SELECT * FROM workspaces WHERE name = ?", [key]).map(writer.workspace)
        case .templates:
            return try db.row("SELECT * FROM templates WHERE name = ?", [key]).map(writer.template)
        case .sharedLines:
            let members = try db.rows("SELECT * FROM shared_line_members WHERE line = ? ORDER BY extension", [key])
            return try db.row("SELECT * FROM shared_lines WHERE number = ?", [key]).map { try writer.sharedLine($0, members: members) }
        case .sites:
            return try Self.readSettings(db, secrets: secrets).sites[key].map(writer.site)
        case .devices:
            guard let mac = MACAddress(key), let row = try db.row("SELECT * FROM devices WHERE mac = ?", [mac.canonical]) else { return nil }
            let users = try db.values(String.self, "SELECT extension FROM device_users WHERE mac = ? ORDER BY extension", [mac.canonical])
            return writer.device(try Self.device(row, secrets: secrets, catalog: catalog), users: users, claimedFrom: row["claimed_from"])
        }
    }
}

/// Builds the YAML nodes in the order and shape `DirectoryDocument`'s reader takes them.
struct DirectoryWriter {
    let withSecrets: Bool
    let secrets: SecretBox

    // MARK: sections

    func settings(_ s: Settings, numberClasses: [String: NSRegularExpression]) -> Node {
        var pairs: [(String, Node?)] = [
            ("default_login", bool(s.defaultLogin)),
            ("internal_address", s.internalAddress.map { text($0.baseURL) }),
            ("external_address", s.externalAddress.map { text($0.baseURL) }),
        ]
        if withSecrets {
            pairs.append(("user_password_hash", s.userPassword.map { text($0.encoded) }))
            pairs.append(("admin_password_hash", s.adminPassword.map { text($0.encoded) }))
        }
        pairs += [
            ("emergency_caller_id", s.emergencyCallerID.map(text)),
            ("emergency_location", s.emergencyLocation.map(text)),
            ("time_zone", s.timeZone.map { text($0.identifier) }),
            ("language", s.language.map(text)),
            (
                "lockout",
                map([
                    ("extension_failures", int(s.lockout.extensionFailures)), ("device_failures", int(s.lockout.deviceFailures)),
                    ("window_minutes", int(Int(s.lockout.window / 60))), ("duration_minutes", int(Int(s.lockout.duration / 60))),
                    ("source_failures", int(s.lockout.sourceFailures)), ("global_failures", int(s.lockout.globalFailures)),
                ])
            ),
            ("push_port", int(s.pushPort)),
            ("push_from", s.pushFrom.map(text)),
        ]
        if withSecrets, !s.phoneCredentials.isEmpty {
            pairs.append(("phone_credentials", map(s.phoneCredentials.sorted { $0.key < $1.key }.map { ($0.key.rawValue, credentials($0.value)) })))
        }
        pairs += [
            (
                "auto_logout",
                map([
                    ("after_hours", int(Int((s.autoLogout.maxDuration ?? 0) / 3600))),
                    ("daily_at", text(s.autoLogout.dailyAt?.description ?? "none")),
                    ("idle_minutes", int(Int((s.autoLogout.idleAfter ?? 0) / 60))),
                    ("wait_for_call", bool(s.autoLogout.waitForCall)),
                    ("longest_call_wait_minutes", int(Int(s.autoLogout.longestCallWait / 60))),
                ])
            ),
            ("multi_login", multiLogin(s.multiLogin)),
            ("sip", s.sip.map(sip)),
            ("emergency_numbers", sequence(s.emergencyNumbers.map(text))),
            ("number_classes", map(numberClasses.sorted { $0.key < $1.key }.map { ($0.key, text($0.value.pattern)) })),
            (
                "enrolment",
                map([
                    ("per_minute", int(s.enrolment.perMinute)), ("max_unclaimed", int(s.enrolment.maxUnclaimed)),
                    ("expire_unclaimed_hours", int(Int((s.enrolment.expireUnclaimedAfter ?? 0) / 3600))),
                    ("claims", text(s.enrolment.claims.rawValue)),
                    ("claims_until", text(s.enrolment.claimsUntil.map { $0.formatted(.iso8601) } ?? "none")),
                ])
            ),
        ]
        return map(pairs)
    }

    func extensionEntry(_ row: SQLRow) throws -> Node {
        var pairs: [(String, Node?)] = [("number", text(row["number"])), ("name", text(row["name"]))]
        if withSecrets {
            pairs.append(("voicemail_pin_hash", (row["voicemail_pin_hash"] as String?).map(text)))
            pairs.append(("sip_password", text(try secrets.open(row["sip_password_sealed"]))))
        }
        pairs.append(("cos", (row["cos"] as String?).map(text)))
        pairs.append(("caller_id", (row["caller_id"] as String?).map(text)))
        pairs.append(("direct_dial", (row["direct_dial"] as String?).map(text)))
        pairs.append(("site", (row["site"] as String?).map(text)))
        switch StoredRoaming.roaming(row["roaming"]) {
        case .none: break
        case .everywhere: pairs.append(("roaming", bool(true)))
        case .sites(let names): pairs.append(("roaming", sequence(names.sorted().map(text))))
        }
        pairs.append(("language", (row["language"] as String?).map(text)))
        return map(pairs)
    }

    /// A site: only what it sets (what it leaves to the settings stays out).
    func site(_ s: Site) -> Node {
        var auto: [(String, Node?)] = []
        if let v = s.maxDuration { auto.append(("after_hours", int(Int((v ?? 0) / 3600)))) }
        if let v = s.dailyAt { auto.append(("daily_at", text(v?.description ?? "none"))) }
        if let v = s.idleAfter { auto.append(("idle_minutes", int(Int((v ?? 0) / 60)))) }
        return map([
            ("name", text(s.name)),
            ("internal_address", s.internalAddress.map { text($0.baseURL) }),
            ("external_address", s.externalAddress.map { text($0.baseURL) }),
            ("sip", s.sip.map(sip)),
            ("time_zone", s.timeZone.map { text($0.identifier) }),
            ("emergency_numbers", s.emergencyNumbers.map { sequence($0.map(text)) }),
            ("emergency_caller_id", s.emergencyCallerID.map(text)),
            ("emergency_location", s.emergencyLocation.map(text)),
            ("auto_logout", auto.isEmpty ? nil : map(auto)),
            ("visitor_cos", s.visitorCoS.map(text)),
            ("language", s.language.map(text)),
            (
                "phone_credentials",
                withSecrets && !s.phoneCredentials.isEmpty
                    ? map(s.phoneCredentials.sorted { $0.key < $1.key }.map { ($0.key.rawValue, credentials($0.value)) }) : nil
            ),
        ])
    }

    static let weekdays = [1: "sun", 2: "mon", 3: "tue", 4: "wed", 5: "thu", 6: "fri", 7: "sat"]

    func schedule(_ s: Schedule) -> Node {
        map([
            ("name", text(s.name)), ("time_zone", text(s.timeZone.identifier)),
            (
                "open",
                list(
                    s.open.map { p in
                        map([
                            ("days", p.weekdays.isEmpty ? nil : sequence(p.weekdays.sorted().compactMap { Self.weekdays[$0] }.map(text))),
                            ("from", text(Self.time(p.from))), ("to", text(Self.time(p.to))),
                            ("month_days", p.monthDays.isEmpty ? nil : sequence(p.monthDays.sorted().map(int))),
                            ("months", p.months.isEmpty ? nil : sequence(p.months.sorted().map(int))),
                        ])
                    }
                )
            ),
            (
                "exceptions",
                list(
                    s.exceptions.compactMap { c -> String? in
                        guard let y = c.year, let m = c.month, let d = c.day else { return nil }
                        return String(format: "%04d-%02d-%02d", y, m, d)
                    }.sorted().map { map([("date", text($0))]) }
                )
            ),
        ])
    }

    /// Minutes after midnight as `HH:MM` (`24:00`: the end of the day).
    static func time(_ minutes: Int) -> String { String(format: "%02d:%02d", minutes / 60, minutes % 60) }

    func classOfService(_ c: ClassOfService) -> Node {
        map([
            ("name", text(c.name)), ("default", text(c.defaultAction.rawValue)),
            (
                "rules",
                list(
                    c.rules.map { r in
                        let match: (String, Node) =
                            switch r.match {
                            case .pattern(let p): ("pattern", text(p.description))
                            case .numberClass(let n): ("class", text(n))
                            }
                        return map([match, ("action", text(r.action.rawValue)), ("schedule", r.schedule.map(text))])
                    }
                )
            ),
            ("feature_codes", c.featureCodes.isEmpty ? nil : sequence(c.featureCodes.map(text))),
            ("includes", list(c.includes.map { map([("cos", text($0.cos)), ("schedule", $0.schedule.map(text))]) })),
            ("schedule", c.schedule.map(text)),
        ])
    }

    func workspace(_ row: SQLRow) throws -> Node {
        let w = try SQLStore.workspaceRecord(row, secrets: secrets)
        return map([
            ("name", text(row["name"])), ("licence", text(row["licence"])), ("hot_desking", bool(row["hot_desking"])),
            ("emergency_caller_id", (row["emergency_caller_id"] as String?).map(text)),
            ("site", (row["site"] as String?).map(text)),
            ("room_type", (row["room_type"] as String?).map(text)),
            ("capacity", (row["capacity"] as Int?).map(int)),
            ("line", w?.line.map(line)),
        ])
    }

    /// A phone's or a workspace's own line (its password with secrets only).
    func line(_ l: DeviceLine) -> Node {
        map([("number", text(l.number)), ("name", text(l.name)), ("sip_password", withSecrets ? text(l.sipPassword) : nil)])
    }

    func sharedLine(_ row: SQLRow, members: [SQLRow]) throws -> Node {
        let number: String = row["number"]
        return map([
            ("number", text(number)), ("name", text(row["name"])),
            ("sip_password", withSecrets ? text(try secrets.open(row["sip_password_sealed"])) : nil),
            ("caller_id", (row["caller_id"] as String?).map(text)),
            ("licences", (row["licences"] as Int?).map(int)),
            ("direct_dial", (row["direct_dial"] as String?).map(text)),
            (
                "members",
                list(
                    members.filter { ($0["line"] as String) == number }.map { m in
                        map([
                            ("extension", text(m["extension"])), ("button", int(m["button"])),
                            ("ring", ring(RingOption(m["ring"] as String) ?? .ring)),
                        ])
                    }
                )
            ),
        ])
    }

    func device(_ d: Device, users: [String], claimedFrom: String?) -> Node {
        let claimed = withSecrets && d.claimedAt != nil
        return map([
            ("mac", text(d.mac.colonSeparated)), ("model", text(d.model.name)), ("push_port", d.pushPort.map(int)),
            ("phone_credentials", withSecrets ? d.credentials.map(credentials) : nil),
            ("workspace", d.workspace.map(text)), ("users", users.isEmpty ? nil : sequence(users.map(text))),
            // A device in a workspace is in the workspace's site.
            ("site", d.workspace == nil ? d.site.map(text) : nil),
            ("line", d.ownLine.map(line)),
            ("cos", d.cos.map(text)), ("cos_if_not_logged", d.cosIfNotLogged.map(text)),
            ("emergency_caller_id", d.emergencyCallerID.map(text)),
            ("provisioning_secret", claimed ? d.provisioningSecret.map(text) : nil),
            ("claimed_from", claimed ? (claimedFrom ?? d.lastAddress).map(text) : nil),
        ])
    }

    func template(_ row: SQLRow) -> Node {
        map([
            ("name", text(row["name"])), ("brand", text(row["brand"])), ("default", bool(row["is_default"])),
            ("body", .scalar(.init(row["body"] as String, Tag(.str), .literal))),
        ])
    }

    func mapping(_ row: SQLRow) -> Node {
        let model: String = row["model"]
        let mac: String = row["mac"]
        return map([
            ("extension", text(row["extension"])), ("template", text(row["template"])),
            ("model", model.isEmpty ? nil : text(model)), ("mac", MACAddress(mac).map { text($0.colonSeparated) }),
        ])
    }

    // MARK: values

    func credentials(_ c: PhoneCredentials) -> Node { map([("username", text(c.username)), ("password", text(c.password))]) }

    func multiLogin(_ policy: MultiLoginPolicy) -> Node {
        switch policy {
        case .move: map([("policy", text("move"))])
        case .deny: map([("policy", text("deny"))])
        case .allow(let n): map([("policy", text("allow")), ("max_phones", int(n))])
        }
    }

    func sip(_ s: SIPSettings) -> Node {
        map([
            ("server", text(s.port.map { "\(s.host):\($0)" } ?? s.host)), ("transport", text(s.transport.rawValue)),
            ("realm", s.realm.map(text)), ("outbound_proxy", s.outboundProxy.map(text)),
        ])
    }

    func ring(_ r: RingOption) -> Node {
        switch r {
        case .ring: text("ring")
        case .noRing: text("no_ring")
        case .after(let seconds): map([("after_seconds", int(seconds))])
        }
    }

    /// Quoted: numbers such as extension `0042` or PINs stay text.
    func text(_ s: String) -> Node { .scalar(.init(s, Tag(.str), .doubleQuoted)) }
    func int(_ n: Int) -> Node { .scalar(.init(String(n), Tag(.int), .plain)) }
    func bool(_ b: Bool) -> Node { .scalar(.init(b ? "true" : "false", Tag(.bool), .plain)) }
    func sequence(_ items: [Node]) -> Node { .sequence(.init(items, Tag(.seq), .block)) }
    /// A list, or nothing when it is empty (the section is then left out).
    func list(_ items: [Node]) -> Node? { items.isEmpty ? nil : sequence(items) }
    func map(_ pairs: [(String, Node?)]) -> Node {
        .mapping(.init(pairs.compactMap { key, value in value.map { (Node.scalar(.init(key)), $0) } }, Tag(.map), .block))
    }
}
