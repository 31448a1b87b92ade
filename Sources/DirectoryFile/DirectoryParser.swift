import Foundation
import HotDeskCore
import HotDeskStore
import Provisioning
import Yams

/// Reading and checking a directory file (YAML) into the `DirectoryDocument` the store imports.
extension DirectoryDocument {
    /// Reads a directory file. Every problem is collected (not just the first); any problem
    /// means no document. `file:` paths of templates are read relative to `baseDirectory`.
    /// Names that must exist (extensions and templates in mappings) may also exist already in
    /// the store: pass them as `knownExtensions` and `knownTemplates`.
    /// `catalog` and `configs` say which families, models and config formats exist (the phone
    /// family descriptors).
    public static func parse(
        yaml: String,
        file: String,
        baseDirectory: URL,
        catalog: PhoneCatalog,
        configs: ConfigFamilies,
        knownExtensions: Set<String> = [],
        knownTemplates: [String: Brand] = [:],
        knownWorkspaces: Set<String> = []
    ) throws(DirectoryError) -> DirectoryDocument {
        var reader = Reader(catalog: catalog, configs: configs)
        let document = reader.read(
            yaml: yaml,
            baseDirectory: baseDirectory,
            knownExtensions: knownExtensions,
            knownTemplates: knownTemplates,
            knownWorkspaces: knownWorkspaces
        )
        if let document, reader.problems.isEmpty { return document }
        throw DirectoryError(file: file, problems: reader.problems)
    }
}

/// Walks the YAML node tree, checking each field and remembering where problems are.
private struct Reader {
    let catalog: PhoneCatalog
    let configs: ConfigFamilies
    var problems: [DirectoryProblem] = []

    init(catalog: PhoneCatalog, configs: ConfigFamilies) {
        self.catalog = catalog
        self.configs = configs
    }

    var brandList: String { catalog.brands.map(\.rawValue).joined(separator: ", ") }

    mutating func problem(_ path: String, _ node: Node?, _ message: String) {
        problems.append(DirectoryProblem(path: path, line: node?.mark.map { $0.line }, message: message))
    }

    mutating func read(
        yaml: String,
        baseDirectory: URL,
        knownExtensions: Set<String>,
        knownTemplates: [String: Brand],
        knownWorkspaces: Set<String>
    ) -> DirectoryDocument? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            problem("(file)", nil, "not valid YAML: \(error)")
            return nil
        } catch {
            problem("(file)", nil, "not valid YAML: \(error)")
            return nil
        }
        guard let root,
            let top = mapping(
                root,
                path: "(top)",
                allowed: [
                    "settings", "extensions", "shared_lines", "workspaces", "devices", "templates", "mappings", "classes_of_service", "schedules",
                ]
            )
        else {
            if root == nil { problem("(file)", nil, "the file is empty") }
            return nil
        }
        var doc = DirectoryDocument()
        doc.sections = Set(top.keys)
        if let node = top["settings"] { doc.settings = readSettings(node) }
        doc.extensions = list(top["extensions"], path: "extensions").compactMap { readExtension($0.node, path: $0.path) }
        doc.schedules = list(top["schedules"], path: "schedules").compactMap { readSchedule($0.node, path: $0.path) }
        checkUnique(doc.schedules.map(\.name), what: "schedule name", list: "schedules", nodes: top["schedules"])
        doc.classesOfService = list(top["classes_of_service"], path: "classes_of_service").compactMap { readCoS($0.node, path: $0.path) }
        checkUnique(doc.classesOfService.map(\.name), what: "class of service name", list: "classes_of_service", nodes: top["classes_of_service"])
        doc.workspaces = list(top["workspaces"], path: "workspaces").compactMap { readWorkspace($0.node, path: $0.path) }
        checkUnique(doc.workspaces.map(\.name), what: "workspace name", list: "workspaces", nodes: top["workspaces"])
        let knownExtensionsNow = knownExtensions.union(doc.extensions.map(\.number))
        let workspaceNames = knownWorkspaces.union(doc.workspaces.map(\.name))
        doc.devices = list(top["devices"], path: "devices").compactMap {
            readDevice($0.node, path: $0.path, extensions: knownExtensionsNow, workspaces: workspaceNames)
        }
        doc.templates = list(top["templates"], path: "templates").compactMap { readTemplate($0.node, path: $0.path, base: baseDirectory) }
        checkUnique(doc.extensions.map(\.number), what: "extension number", list: "extensions", nodes: top["extensions"])
        checkUnique(doc.devices.map(\.mac.colonSeparated), what: "device MAC", list: "devices", nodes: top["devices"])
        checkUnique(doc.devices.compactMap(\.line?.number), what: "device line number", list: "devices", nodes: top["devices"])
        checkUnique(doc.templates.map(\.name), what: "template name", list: "templates", nodes: top["templates"])
        for brand in catalog.brands {
            let defaults = doc.templates.filter { $0.brand == brand && $0.isDefault }.map(\.name)
            if defaults.count > 1 {
                problem(
                    "templates",
                    top["templates"],
                    "\(defaults.count) default templates for \(brand.rawValue) (\(defaults.joined(separator: ", "))); at most one"
                )
            }
        }
        let extensions = knownExtensions.union(doc.extensions.map(\.number))
        doc.sharedLines = list(top["shared_lines"], path: "shared_lines").compactMap {
            readSharedLine($0.node, path: $0.path, extensions: extensions)
        }
        checkUnique(doc.sharedLines.map(\.number), what: "shared line number", list: "shared_lines", nodes: top["shared_lines"])
        checkButtons(doc.sharedLines, nodes: top["shared_lines"])
        var templates = knownTemplates
        for t in doc.templates { templates[t.name] = t.brand }
        doc.mappings = list(top["mappings"], path: "mappings").compactMap {
            readMapping($0.node, path: $0.path, extensions: extensions, templates: templates)
        }
        let mappingKeys = doc.mappings.map { "\($0.extensionNumber)/\($0.model ?? "-")/\($0.mac?.canonical ?? "-")" }
        checkUnique(mappingKeys, what: "mapping (extension, model, mac)", list: "mappings", nodes: top["mappings"])
        return doc
    }

    // MARK: sections

    mutating func readSettings(_ node: Node) -> DirectoryDocument.SettingsPatch {
        var s = DirectoryDocument.SettingsPatch()
        let allowed: Set<String> = [
            "default_login", "internal_address", "external_address", "user_password", "admin_password", "user_password_hash", "admin_password_hash",
            "emergency_caller_id", "lockout",
            "push_port", "push_from", "phone_credentials", "auto_logout", "multi_login", "sip", "emergency_numbers", "number_classes", "enrolment",
        ]
        guard let map = mapping(node, path: "settings", allowed: allowed) else { return s }
        if let n = map["default_login"] { s.defaultLogin = bool(n, path: "settings.default_login") }
        s.internalAddress = address(map["internal_address"], path: "settings.internal_address")
        s.externalAddress = address(map["external_address"], path: "settings.external_address")
        if let n = map["user_password"] { s.userPassword = secret(n, path: "settings.user_password", minLength: 4) }
        if let n = map["admin_password"] { s.adminPassword = secret(n, path: "settings.admin_password", minLength: 12) }
        if let n = map["user_password_hash"] { s.userPasswordHash = hash(n, path: "settings.user_password_hash", instead: map["user_password"]) }
        if let n = map["admin_password_hash"] { s.adminPasswordHash = hash(n, path: "settings.admin_password_hash", instead: map["admin_password"]) }
        if let n = map["emergency_caller_id"] {
            if let v = string(n, path: "settings.emergency_caller_id") {
                if v.allSatisfy({ $0.isNumber || $0 == "+" }), (3...20).contains(v.count) {
                    s.emergencyCallerID = v
                } else {
                    problem("settings.emergency_caller_id", n, "\"\(v)\" is not a phone number (digits, optional +)")
                }
            }
        }
        if let n = map["lockout"],
            let lock = mapping(
                n,
                path: "settings.lockout",
                allowed: [
                    "extension_failures", "device_failures", "window_minutes", "duration_minutes", "source_failures", "global_failures",
                ]
            )
        {
            s.lockoutExtensionFailures = int(lock["extension_failures"], path: "settings.lockout.extension_failures", range: 1...1000)
            s.lockoutDeviceFailures = int(lock["device_failures"], path: "settings.lockout.device_failures", range: 1...1000)
            s.lockoutWindowMinutes = int(lock["window_minutes"], path: "settings.lockout.window_minutes", range: 1...10080)
            s.lockoutDurationMinutes = int(lock["duration_minutes"], path: "settings.lockout.duration_minutes", range: 1...10080)
            s.lockoutSourceFailures = int(lock["source_failures"], path: "settings.lockout.source_failures", range: 1...100_000)
            s.lockoutGlobalFailures = int(lock["global_failures"], path: "settings.lockout.global_failures", range: 1...100_000)
        }
        s.pushPort = int(map["push_port"], path: "settings.push_port", range: 1...65535)
        if let n = map["auto_logout"], let auto = mapping(n, path: "settings.auto_logout", allowed: ["after_hours", "daily_at"]) {
            s.autoLogoutAfterHours = int(auto["after_hours"], path: "settings.auto_logout.after_hours", range: 0...168)
            if let d = auto["daily_at"], let v = string(d, path: "settings.auto_logout.daily_at") {
                if v.isEmpty || v == "none" {
                    s.autoLogoutDailyAt = .some(nil)
                } else if let time = DailyTime(v) {
                    s.autoLogoutDailyAt = time
                } else {
                    problem("settings.auto_logout.daily_at", d, "\"\(v.prefix(20))\" is not a time of day HH:MM (24-hour), or none")
                }
            }
        }
        if let n = map["enrolment"],
            let e = mapping(
                n,
                path: "settings.enrolment",
                allowed: ["per_minute", "max_unclaimed", "expire_unclaimed_hours", "claims", "claims_until"]
            )
        {
            if let c = e["claims"], let v = string(c, path: "settings.enrolment.claims") {
                if let claims = EnrolmentPolicy.Claims(rawValue: v) {
                    s.enrolmentClaims = claims
                } else {
                    problem("settings.enrolment.claims", c, "\"\(v.prefix(20))\" is not first_fetch or approval")
                }
            }
            if let u = e["claims_until"], let v = string(u, path: "settings.enrolment.claims_until") {
                if v == "none" {
                    s.enrolmentClaimsUntil = .some(nil)
                } else if let date = try? Date(v, strategy: .iso8601) {
                    s.enrolmentClaimsUntil = .some(date)
                } else {
                    problem("settings.enrolment.claims_until", u, "\"\(v.prefix(30))\" is not a time like 2026-12-10T18:00:00Z, or none")
                }
            }
            s.enrolmentPerMinute = int(e["per_minute"], path: "settings.enrolment.per_minute", range: 1...100_000)
            s.enrolmentMaxUnclaimed = int(e["max_unclaimed"], path: "settings.enrolment.max_unclaimed", range: 0...1_000_000)
            s.enrolmentExpireHours = int(e["expire_unclaimed_hours"], path: "settings.enrolment.expire_unclaimed_hours", range: 0...87_600)
        }
        if let n = map["multi_login"], let m = mapping(n, path: "settings.multi_login", allowed: ["policy", "max_phones"]) {
            let policy = required(m, "policy", path: "settings.multi_login").flatMap { string($0, path: "settings.multi_login.policy") }
            let max = int(m["max_phones"], path: "settings.multi_login.max_phones", range: 1...50)
            switch policy {
            case "move"?, "deny"?:
                if m["max_phones"] != nil { problem("settings.multi_login.max_phones", m["max_phones"], "goes with policy allow only") }
                s.multiLogin = policy == "move" ? .move : .deny
            case "allow"?:
                if let max {
                    s.multiLogin = .allow(maxPhones: max)
                } else if m["max_phones"] == nil {
                    problem("settings.multi_login.max_phones", n, "missing: allow says how many phones at most")
                }
            case let other?:
                problem("settings.multi_login.policy", m["policy"], "\"\(other.prefix(20))\" is not move, deny or allow")
            case nil:
                break
            }
        }
        if let n = map["emergency_numbers"] {
            let numbers = list(n, path: "settings.emergency_numbers").compactMap { item -> String? in
                guard let v = string(item.node, path: item.path) else { return nil }
                guard (2...15).contains(v.count), v.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "+") }) else {
                    problem(item.path, item.node, "\"\(v.prefix(20))\" is not a number to dial")
                    return nil
                }
                return v
            }
            s.emergencyNumbers = numbers
        }
        if let n = map["number_classes"], let classes = freeMapping(n, path: "settings.number_classes") {
            var result: [String: String] = [:]
            for (name, value) in classes {
                guard let v = string(value, path: "settings.number_classes.\(name)") else { continue }
                if (try? NSRegularExpression(pattern: v)) == nil {
                    problem("settings.number_classes.\(name)", value, "not a regular expression")
                } else {
                    result[name] = v
                }
            }
            s.numberClasses = result
        }
        if let n = map["sip"], let m = mapping(n, path: "settings.sip", allowed: ["server", "transport", "realm", "outbound_proxy"]) {
            var transport = SIPSettings.Transport.udp
            if let t = m["transport"], let v = string(t, path: "settings.sip.transport") {
                if let known = SIPSettings.Transport(rawValue: v.lowercased()) {
                    transport = known
                } else {
                    problem("settings.sip.transport", t, "\"\(v.prefix(10))\" is not udp, tcp or tls")
                }
            }
            if let server = required(m, "server", path: "settings.sip").flatMap({ string($0, path: "settings.sip.server") }) {
                if var sip = SIPSettings(server: server, transport: transport) {
                    sip.realm = m["realm"].flatMap { string($0, path: "settings.sip.realm", maxLength: 253) }
                    if let p = m["outbound_proxy"], let v = string(p, path: "settings.sip.outbound_proxy") {
                        if SIPSettings(server: v) != nil {
                            sip.outboundProxy = v
                        } else {
                            problem("settings.sip.outbound_proxy", p, "not host[:port]")
                        }
                    }
                    s.sip = sip
                } else {
                    problem("settings.sip.server", m["server"], "\"\(server.prefix(60))\" is not host[:port] (a name or an IP address, port 1-65535)")
                }
            }
        }
        if let n = map["push_from"], let v = string(n, path: "settings.push_from") {
            if IPAddressLiteral.isValid(v) {
                s.pushFrom = v
            } else {
                problem(
                    "settings.push_from",
                    n,
                    "\"\(v.prefix(60))\" is not an IP address (HotDesk sends pushes from it; phones take remote commands only from it)"
                )
            }
        }
        if let n = map["phone_credentials"], let brands = mapping(n, path: "settings.phone_credentials", allowed: Set(catalog.brands.map(\.rawValue)))
        {
            for (name, node) in brands {
                let brand = Brand(name)
                guard let login = credentials(node, path: "settings.phone_credentials.\(name)") else { continue }
                s.phoneCredentials[brand] = login
            }
        }
        return s
    }

    /// A shared line: number (not an extension's), name, SIP password, caller ID, members with
    /// their key (2 up to the largest model's last key but one) and ring option.
    mutating func readSharedLine(_ node: Node, path: String, extensions: Set<String>) -> SharedLine? {
        guard let map = mapping(node, path: path, allowed: ["number", "name", "sip_password", "caller_id", "members"]) else { return nil }
        let number = required(map, "number", path: path).flatMap {
            lineNumber($0, path: "\(path).number", extensions: extensions, what: "a shared line")
        }
        let name = required(map, "name", path: path).flatMap { string($0, path: "\(path).name", maxLength: 64) }
        let sip = required(map, "sip_password", path: path).flatMap { secret($0, path: "\(path).sip_password", minLength: 8) }
        var callerID: String?
        if let n = map["caller_id"], let v = string(n, path: "\(path).caller_id") {
            if v.allSatisfy({ $0.isNumber || $0 == "+" }), (3...20).contains(v.count) {
                callerID = v
            } else {
                problem("\(path).caller_id", n, "\"\(v)\" is not a phone number (digits, optional +)")
            }
        }
        let highest = catalog.mostLineKeys - 1
        let members = list(map["members"], path: "\(path).members").compactMap { item -> SharedLine.Member? in
            guard let m = mapping(item.node, path: item.path, allowed: ["extension", "button", "ring"]) else { return nil }
            let ext = required(m, "extension", path: item.path).flatMap { n -> String? in
                guard let v = string(n, path: "\(item.path).extension") else { return nil }
                guard extensions.contains(v) else {
                    problem("\(item.path).extension", n, "no extension \(v) (in this file or already imported)")
                    return nil
                }
                return v
            }
            var button: Int?
            if let n = required(m, "button", path: item.path) {
                if let v = n.scalar?.string, let b = Int(v), b == 1 {
                    problem("\(item.path).button", n, "key 1 is the member's own line; a shared line takes key 2 or higher")
                } else {
                    button = int(n, path: "\(item.path).button", range: 2...max(2, highest))
                }
            }
            let ring = readRing(m["ring"], path: "\(item.path).ring")
            guard let ext, let button, m["ring"] == nil || ring != nil else { return nil }
            return .init(extensionNumber: ext, button: button, ring: ring ?? .ring)
        }
        checkUnique(members.map(\.extensionNumber), what: "member extension", list: "\(path).members", nodes: map["members"])
        guard let number, let name, let sip, map["caller_id"] == nil || callerID != nil else { return nil }
        return SharedLine(number: number, name: name, sipPassword: sip, callerID: callerID, members: members)
    }

    /// The number of a line that is not an extension's own (a shared line, a device's line): 2-6
    /// digits, not an extension's number.
    mutating func lineNumber(_ node: Node, path: String, extensions: Set<String>, what: String) -> String? {
        guard let v = string(node, path: path) else { return nil }
        guard Extension.isValidNumber(v) else {
            problem(path, node, "\"\(v)\" is not 2-6 digits")
            return nil
        }
        guard !extensions.contains(v) else {
            problem(path, node, "\(v) is an extension's number; \(what) has its own")
            return nil
        }
        return v
    }

    /// A mapping of free keys (names the admin chooses).
    mutating func freeMapping(_ node: Node, path: String) -> [String: Node]? {
        guard let map = node.mapping else {
            problem(path, node, "expected a mapping of names to values")
            return nil
        }
        var result: [String: Node] = [:]
        for (k, v) in map { if let key = k.scalar?.string { result[key] = v } }
        return result
    }

    /// A class of service: name, default, ordered rules (pattern or class, action, schedule),
    /// feature codes, includes (cos, schedule), schedule. Names it uses are checked against the
    /// whole directory when it is stored.
    mutating func readCoS(_ node: Node, path: String) -> ClassOfService? {
        guard let map = mapping(node, path: path, allowed: ["name", "default", "rules", "feature_codes", "includes", "schedule"]) else { return nil }
        let name = required(map, "name", path: path).flatMap { string($0, path: "\(path).name", maxLength: 64) }
        let defaultAction = required(map, "default", path: path).flatMap { action($0, "\(path).default") }
        var ok = true
        let rules = list(map["rules"], path: "\(path).rules").compactMap { item -> ClassOfService.Rule? in
            guard let r = mapping(item.node, path: item.path, allowed: ["pattern", "class", "action", "schedule"]) else {
                ok = false
                return nil
            }
            let act = required(r, "action", path: item.path).flatMap { action($0, "\(item.path).action") }
            let schedule = r["schedule"].flatMap { string($0, path: "\(item.path).schedule") }
            var match: ClassOfService.Rule.Match?
            switch (r["pattern"], r["class"]) {
            case (let p?, nil):
                if let v = string(p, path: "\(item.path).pattern") {
                    if let pattern = DialPattern(v) {
                        match = .pattern(pattern)
                    } else {
                        problem("\(item.path).pattern", p, "\"\(v.prefix(30))\" is not a dial pattern (digits * # + X Z N . ! [1-5])")
                    }
                }
            case (nil, let c?):
                match = string(c, path: "\(item.path).class").map { .numberClass($0) }
            default:
                problem(item.path, item.node, "a rule has a pattern or a class (one of them)")
            }
            guard let act, let match else {
                ok = false
                return nil
            }
            return .init(match: match, action: act, schedule: schedule)
        }
        let codes = list(map["feature_codes"], path: "\(path).feature_codes").compactMap { item -> String? in
            guard let v = string(item.node, path: item.path) else { return nil }
            guard v.hasPrefix("*") || v.hasPrefix("#"), v.count <= 12 else {
                problem(item.path, item.node, "a feature code starts with * or #")
                return nil
            }
            return v
        }
        let includes = list(map["includes"], path: "\(path).includes").compactMap { item -> ClassOfService.Include? in
            if let v = item.node.scalar?.string { return .init(cos: v) }
            guard let m = mapping(item.node, path: item.path, allowed: ["cos", "schedule"]),
                let cos = required(m, "cos", path: item.path).flatMap({ string($0, path: "\(item.path).cos") })
            else {
                ok = false
                return nil
            }
            return .init(cos: cos, schedule: m["schedule"].flatMap { string($0, path: "\(item.path).schedule") })
        }
        let schedule = map["schedule"].flatMap { string($0, path: "\(path).schedule") }
        guard let name, let defaultAction, ok else { return nil }
        return ClassOfService(name: name, defaultAction: defaultAction, rules: rules, featureCodes: codes, includes: includes, schedule: schedule)
    }

    mutating func action(_ n: Node, _ p: String) -> ClassOfService.Action? {
        guard let v = string(n, path: p) else { return nil }
        guard let a = ClassOfService.Action(rawValue: v) else {
            problem(p, n, "allow or deny")
            return nil
        }
        return a
    }

    /// `HH:MM` as minutes after midnight; `24:00` is the end of the day.
    mutating func minutes(_ n: Node?, _ p: String) -> Int? {
        guard let n else { return nil }
        guard let v = string(n, path: p) else { return nil }
        if v == "24:00" { return 24 * 60 }
        guard let t = DailyTime(v) else {
            problem(p, n, "HH:MM (24-hour)")
            return nil
        }
        return t.hour * 60 + t.minute
    }

    static let weekdays = ["sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat": 7]

    /// A schedule: name, IANA time zone, open periods (days, from–to, month days, months),
    /// exception dates.
    mutating func readSchedule(_ node: Node, path: String) -> Schedule? {
        guard let map = mapping(node, path: path, allowed: ["name", "time_zone", "open", "exceptions"]) else { return nil }
        let name = required(map, "name", path: path).flatMap { string($0, path: "\(path).name", maxLength: 64) }
        let zone = required(map, "time_zone", path: path).flatMap { n -> TimeZone? in
            guard let v = string(n, path: "\(path).time_zone") else { return nil }
            guard let z = TimeZone(identifier: v) else {
                problem("\(path).time_zone", n, "\"\(v.prefix(40))\" is not an IANA time zone (Europe/Paris, America/New_York)")
                return nil
            }
            return z
        }
        var ok = true
        let open = list(map["open"], path: "\(path).open").compactMap { item -> Schedule.Period? in
            guard let m = mapping(item.node, path: item.path, allowed: ["days", "from", "to", "month_days", "months"]) else {
                ok = false
                return nil
            }
            var days: Set<Int> = []
            for d in list(m["days"], path: "\(item.path).days") {
                guard let v = string(d.node, path: d.path), let day = Self.weekdays[v.lowercased()] else {
                    problem(d.path, d.node, "mon, tue, wed, thu, fri, sat or sun")
                    ok = false
                    continue
                }
                days.insert(day)
            }
            let from = minutes(m["from"], "\(item.path).from") ?? (m["from"] == nil ? 0 : nil)
            let to = minutes(m["to"], "\(item.path).to") ?? (m["to"] == nil ? 24 * 60 : nil)
            let monthDays = Set(list(m["month_days"], path: "\(item.path).month_days").compactMap { int($0.node, path: $0.path, range: 1...31) })
            let months = Set(list(m["months"], path: "\(item.path).months").compactMap { int($0.node, path: $0.path, range: 1...12) })
            guard let from, let to else {
                ok = false
                return nil
            }
            if from == to && m["from"] != nil {
                problem(item.path, item.node, "an empty period (from and to are the same time)")
                ok = false
            }
            return .init(weekdays: days, from: from, to: to, monthDays: monthDays, months: months)
        }
        if map["open"] != nil && open.isEmpty && ok { problem("\(path).open", map["open"], "at least one open period") }
        var exceptions: Set<DateComponents> = []
        for item in list(map["exceptions"], path: "\(path).exceptions") {
            guard let m = mapping(item.node, path: item.path, allowed: ["date"]),
                let v = required(m, "date", path: item.path).flatMap({ string($0, path: "\(item.path).date") }),
                let date = DirectoryDocument.exceptionDate(v)
            else {
                problem(item.path, item.node, "{date: YYYY-MM-DD}")
                ok = false
                continue
            }
            exceptions.insert(date)
        }
        guard let name, let zone, ok else { return nil }
        return Schedule(name: name, timeZone: zone, open: open, exceptions: exceptions)
    }

    /// `ring`, `no_ring` or `{after_seconds: N}`.
    mutating func readRing(_ node: Node?, path: String) -> RingOption? {
        guard let node else { return nil }
        if let v = node.scalar?.string {
            if v == "ring" { return .ring }
            if v == "no_ring" { return .noRing }
        } else if let m = mapping(node, path: path, allowed: ["after_seconds"]),
            let s = int(m["after_seconds"], path: "\(path).after_seconds", range: 1...120)
        {
            return .after(seconds: s)
        }
        problem(path, node, "ring, no_ring or {after_seconds: N}")
        return nil
    }

    /// Two lines on one key of the same member clash.
    mutating func checkButtons(_ lines: [SharedLine], nodes: Node?) {
        var seen: [String: String] = [:]
        for line in lines {
            for m in line.members {
                let key = "\(m.extensionNumber)/\(m.button)"
                if let other = seen[key] {
                    problem("shared_lines", nodes, "extension \(m.extensionNumber) has shared lines \(other) and \(line.number) on key \(m.button)")
                }
                seen[key] = line.number
            }
        }
    }

    mutating func readExtension(_ node: Node, path: String) -> DirectoryDocument.ExtensionEntry? {
        guard let map = mapping(node, path: path, allowed: ["number", "name", "voicemail_pin", "voicemail_pin_hash", "sip_password", "cos"]) else {
            return nil
        }
        let cos = map["cos"].flatMap { string($0, path: "\(path).cos", maxLength: 64) }
        let number = required(map, "number", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).number") else { return nil }
            guard Extension.isValidNumber(v) else {
                problem("\(path).number", n, "\"\(v)\" is not 2-6 digits")
                return nil
            }
            return v
        }
        let name = required(map, "name", path: path).flatMap { string($0, path: "\(path).name", maxLength: 64) }
        var pin: String?
        if let n = map["voicemail_pin"] {
            if let v = string(n, path: "\(path).voicemail_pin") {
                if (4...12).contains(v.count), v.allSatisfy(\.isASCIIDigit) {
                    pin = v
                } else {
                    problem("\(path).voicemail_pin", n, "a voicemail PIN is 4-12 digits")
                }
            }
        }
        let pinHash = map["voicemail_pin_hash"].flatMap { hash($0, path: "\(path).voicemail_pin_hash", instead: map["voicemail_pin"]) }
        let sip = required(map, "sip_password", path: path).flatMap { secret($0, path: "\(path).sip_password", minLength: 8) }
        guard let number, let name, let sip, map["voicemail_pin"] == nil || pin != nil, map["voicemail_pin_hash"] == nil || pinHash != nil else {
            return nil
        }
        return .init(number: number, name: name, voicemailPIN: pin, sipPassword: sip, cos: cos, voicemailPINHash: pinHash)
    }

    /// A workspace: a name (at most 30 characters, none of % # < > , \ "), a licence, hot desking on or off.
    mutating func readWorkspace(_ node: Node, path: String) -> Workspace? {
        guard let map = mapping(node, path: path, allowed: ["name", "licence", "hot_desking"]) else { return nil }
        let name = required(map, "name", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).name") else { return nil }
            if let why = Workspace.nameProblem(v) {
                problem("\(path).name", n, why)
                return nil
            }
            return v
        }
        let licence = required(map, "licence", path: path).flatMap { n -> Workspace.Licence? in
            guard let v = string(n, path: "\(path).licence") else { return nil }
            guard let l = Workspace.Licence(rawValue: v) else {
                problem("\(path).licence", n, "\"\(v.prefix(20))\" is not professional (up to 5 devices) or common_area (1 device)")
                return nil
            }
            return l
        }
        var hotDesking: Bool? = true
        if let n = map["hot_desking"] { hotDesking = bool(n, path: "\(path).hot_desking") }
        guard let name, let licence, let hotDesking else { return nil }
        return Workspace(name: name, licence: licence, hotDesking: hotDesking)
    }

    mutating func readDevice(_ node: Node, path: String, extensions: Set<String>, workspaces: Set<String>) -> DirectoryDocument.DeviceEntry? {
        guard
            let map = mapping(
                node,
                path: path,
                allowed: [
                    "mac", "model", "push_port", "phone_credentials", "workspace", "users", "line", "cos", "cos_if_not_logged", "provisioning_secret",
                    "claimed_from",
                ]
            )
        else { return nil }
        let cos = map["cos"].flatMap { string($0, path: "\(path).cos", maxLength: 64) }
        let cosIfNotLogged = map["cos_if_not_logged"].flatMap { string($0, path: "\(path).cos_if_not_logged", maxLength: 64) }
        var line: DeviceLine?
        if let n = map["line"], let l = mapping(n, path: "\(path).line", allowed: ["number", "name", "sip_password"]) {
            let number = required(l, "number", path: "\(path).line").flatMap {
                lineNumber($0, path: "\(path).line.number", extensions: extensions, what: "a device's line")
            }
            let name = l["name"].flatMap { string($0, path: "\(path).line.name", maxLength: 64) }
            let sip = required(l, "sip_password", path: "\(path).line").flatMap { secret($0, path: "\(path).line.sip_password", minLength: 8) }
            if let number, let sip { line = DeviceLine(number: number, name: name ?? number, sipPassword: sip) }
        }
        var workspace: String?
        if let n = map["workspace"], let v = string(n, path: "\(path).workspace") {
            if workspaces.contains(v) {
                workspace = v
            } else {
                problem("\(path).workspace", n, "no workspace \"\(v.prefix(30))\" (in this file or already imported)")
            }
        }
        var users: [String] = []
        var usersOK = true
        for item in list(map["users"], path: "\(path).users") {
            guard let v = string(item.node, path: item.path) else {
                usersOK = false
                continue
            }
            if extensions.contains(v) {
                users.append(v)
            } else {
                problem(item.path, item.node, "no extension \(v) (in this file or already imported)")
                usersOK = false
            }
        }
        let mac = required(map, "mac", path: path).flatMap { self.mac($0, path: "\(path).mac") }
        let model = required(map, "model", path: path).flatMap { self.model($0, path: "\(path).model") }
        let port = int(map["push_port"], path: "\(path).push_port", range: 1...65535)
        let login = map["phone_credentials"].flatMap { credentials($0, path: "\(path).phone_credentials") }
        var provisioningSecret: String?
        if let n = map["provisioning_secret"], let v = string(n, path: "\(path).provisioning_secret", maxLength: 128) {
            // It can stand in a URL path (`/provision/<secret>/…`) and is blanked from the request log there.
            if v.utf8.count >= 32, v.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == 0x2D || $0 == 0x5F }) {
                provisioningSecret = v
            } else {
                problem(
                    "\(path).provisioning_secret",
                    n,
                    "32 to 128 of letters, digits, - and _ (a secret a phone can send in its provisioning path)"
                )
            }
        }
        var claimedFrom: String?
        if let n = map["claimed_from"], let v = string(n, path: "\(path).claimed_from", maxLength: 45) {
            if IPAddressLiteral.isValid(v) { claimedFrom = v } else { problem("\(path).claimed_from", n, "\"\(v.prefix(45))\" is not an IP address") }
        }
        if let model, provisioningSecret != nil, claimedFrom == nil, configs[model.brand]?.provisioningAuth == .address {
            problem(path, node, "\(model.brand.rawValue) phones prove themselves by their address: give claimed_from with provisioning_secret")
        }
        guard let mac, let model, map["push_port"] == nil || port != nil, map["phone_credentials"] == nil || login != nil,
            map["workspace"] == nil || workspace != nil, usersOK, map["line"] == nil || line != nil,
            map["provisioning_secret"] == nil || provisioningSecret != nil, map["claimed_from"] == nil || claimedFrom != nil
        else { return nil }
        return .init(
            mac: mac,
            model: model,
            pushPort: port,
            phoneCredentials: login,
            workspace: workspace,
            users: users,
            line: line,
            cos: cos,
            cosIfNotLogged: cosIfNotLogged,
            provisioningSecret: provisioningSecret,
            claimedFrom: claimedFrom,
            path: path,
            fileLine: node.mark.map { $0.line }
        )
    }

    mutating func readTemplate(_ node: Node, path: String, base: URL) -> Template? {
        guard let map = mapping(node, path: path, allowed: ["name", "brand", "default", "body", "file"]) else { return nil }
        let name = required(map, "name", path: path).flatMap { string($0, path: "\(path).name", maxLength: 64) }
        let brand = required(map, "brand", path: path).flatMap { n -> Brand? in
            guard let v = string(n, path: "\(path).brand") else { return nil }
            let b = Brand(v.lowercased())
            guard catalog.families[b] != nil else {
                problem("\(path).brand", n, "unknown brand \"\(v)\"; one of \(brandList)")
                return nil
            }
            return b
        }
        let isDefault = map["default"].flatMap { bool($0, path: "\(path).default") } ?? false
        var body: String?
        switch (map["body"], map["file"]) {
        case (let b?, nil):
            body = string(b, path: "\(path).body", maxLength: 256 * 1024, multiline: true)
        case (nil, let f?):
            if let relative = string(f, path: "\(path).file") {
                let url = relative.hasPrefix("/") ? URL(fileURLWithPath: relative) : base.appendingPathComponent(relative)
                if let text = try? String(contentsOf: url, encoding: .utf8) {
                    body = text
                } else {
                    problem("\(path).file", f, "cannot read \(url.path)")
                }
            }
        case (.some, .some):
            problem(path, node, "give either body or file, not both")
        case (nil, nil):
            problem(path, node, "missing body (or file)")
        }
        guard let name, let brand, let body else { return nil }
        guard body.contains("app_url") else {
            problem("\(path).body", map["body"] ?? map["file"], "does not use {{app_url}}: phones would lose their Login/Logout key")
            return nil
        }
        // The phone's own provisioning secret must reach it, or it can never fetch its logged-in config.
        switch configs[brand]?.provisioningAuth {
        case .digest? where !(body.contains("provisioning.username") && body.contains("provisioning.password")):
            problem(
                "\(path).body",
                map["body"] ?? map["file"],
                "does not use {{provisioning.username}} and {{provisioning.password}}: \(brand.rawValue) phones fetch their configs with them (docs/security.md)"
            )
            return nil
        case .urlKey? where !body.contains("provision_url"):
            problem(
                "\(path).body",
                map["body"] ?? map["file"],
                "does not use {{provision_url}}: \(brand.rawValue) phones fetch their configs at the per-device address it holds (docs/security.md)"
            )
            return nil
        default: break
        }
        do {
            try ConfigRenderer.validate(body, format: configs[brand]?.format ?? .keyValue, name: name)
        } catch {
            problem("\(path).body", map["body"] ?? map["file"], "not a valid template: \(error.reason)")
            return nil
        }
        return Template(name: name, brand: brand, isDefault: isDefault, body: body)
    }

    mutating func readMapping(_ node: Node, path: String, extensions: Set<String>, templates: [String: Brand]) -> Mapping? {
        guard let map = mapping(node, path: path, allowed: ["extension", "template", "model", "mac"]) else { return nil }
        let number = required(map, "extension", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).extension") else { return nil }
            guard extensions.contains(v) else {
                problem("\(path).extension", n, "no extension \(v) in this file or the store")
                return nil
            }
            return v
        }
        let template = required(map, "template", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).template") else { return nil }
            guard templates[v] != nil else {
                problem("\(path).template", n, "no template \"\(v)\" in this file or the store")
                return nil
            }
            return v
        }
        let model = map["model"].flatMap { self.model($0, path: "\(path).model") }
        let mac = map["mac"].flatMap { self.mac($0, path: "\(path).mac") }
        if let model, let template, let brand = templates[template], model.brand != brand {
            problem(
                "\(path).model",
                map["model"],
                "\(model.name) is a \(model.brand.rawValue) phone but template \"\(template)\" is for \(brand.rawValue)"
            )
            return nil
        }
        guard let number, let template, map["model"] == nil || model != nil, map["mac"] == nil || mac != nil else { return nil }
        return Mapping(extensionNumber: number, templateName: template, model: model?.name, mac: mac)
    }

    // MARK: field readers

    mutating func mapping(_ node: Node, path: String, allowed: Set<String>) -> [String: Node]? {
        guard let map = node.mapping else {
            problem(path, node, "expected a mapping of keys to values")
            return nil
        }
        var result: [String: Node] = [:]
        for (key, value) in map {
            guard let k = key.scalar?.string else {
                problem(path, key, "keys must be plain names")
                continue
            }
            guard allowed.contains(k) else {
                problem("\(path).\(k)", key, "unknown key; expected one of \(allowed.sorted().joined(separator: ", "))")
                continue
            }
            if value.scalar != nil, value.null != nil { continue }  // `key:` with nothing after it counts as absent
            result[k] = value
        }
        return result
    }

    mutating func list(_ node: Node?, path: String) -> [(node: Node, path: String)] {
        guard let node else { return [] }
        if node.null != nil { return [] }
        guard let seq = node.sequence else {
            problem(path, node, "expected a list")
            return []
        }
        return seq.enumerated().map { ($0.element, "\(path)[\($0.offset)]") }
    }

    mutating func required(_ map: [String: Node], _ key: String, path: String) -> Node? {
        if let n = map[key] { return n }
        problem("\(path).\(key)", nil, "missing")
        return nil
    }

    /// A single value. Control and invisible characters (`TextSafety`: C0 and C1, DEL, NUL, the
    /// Unicode line and paragraph separators, the bidirectional overrides, zero-width ones) are refused: they break phone XML, forge lines
    /// in logs and terminals, or truncate. `multiline` (template bodies) allows tab, LF and CR.
    mutating func string(_ node: Node, path: String, maxLength: Int = 255, multiline: Bool = false) -> String? {
        guard let s = node.scalar?.string else {
            problem(path, node, "expected a single value")
            return nil
        }
        guard s.count <= maxLength else {
            problem(path, node, "longer than \(maxLength) characters")
            return nil
        }
        if let why = TextSafety.problem(s, multiline: multiline) {
            problem(path, node, "\(why): not allowed in names, labels and texts")
            return nil
        }
        return s
    }

    mutating func secret(_ node: Node, path: String, minLength: Int) -> String? {
        guard let s = string(node, path: path, maxLength: 128) else { return nil }
        guard s.count >= minLength else {
            problem(path, node, "at least \(minLength) characters")  // never echo a secret
            return nil
        }
        return s
    }

    /// A stored secret hash as `hotdesk export --with-secrets` writes it (`hmac-sha256$…`); never
    /// beside the secret itself (`instead`). It only works with the key file it was made under.
    mutating func hash(_ node: Node, path: String, instead secret: Node?) -> String? {
        guard let v = string(node, path: path, maxLength: 256) else { return nil }
        if secret != nil {
            problem(path, node, "give the secret or its hash, not both")
            return nil
        }
        guard SecretHash(encoded: v, key: nil) != nil else {
            problem(path, node, "not a hash written by hotdesk export (hmac-sha256$salt$hash)")  // never echo it
            return nil
        }
        return v
    }

    /// `{username: admin, password: "..."}`: a phone's web login.
    mutating func credentials(_ node: Node, path: String) -> PhoneCredentials? {
        guard let map = mapping(node, path: path, allowed: ["username", "password"]) else { return nil }
        let username = required(map, "username", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).username", maxLength: 64) else { return nil }
            guard !v.isEmpty, !v.contains(":"), v.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                problem("\(path).username", n, "a phone login is ASCII without spaces or ':'")
                return nil
            }
            return v
        }
        let password = required(map, "password", path: path).flatMap { secret($0, path: "\(path).password", minLength: 4) }
        guard let username, let password else { return nil }
        return PhoneCredentials(username: username, password: password)
    }

    mutating func bool(_ node: Node, path: String) -> Bool? {
        guard let s = node.scalar?.string else {
            problem(path, node, "expected true or false")
            return nil
        }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            problem(path, node, "\"\(s)\" is not true or false")
            return nil
        }
    }

    mutating func int(_ node: Node?, path: String, range: ClosedRange<Int>) -> Int? {
        guard let node else { return nil }
        guard let s = node.scalar?.string, let v = Int(s), range.contains(v) else {
            problem(path, node, "expected a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return v
    }

    mutating func address(_ node: Node?, path: String) -> ServerAddress? {
        guard let node, let s = string(node, path: path) else { return nil }
        guard let a = ServerAddress(s) else {
            problem(path, node, "\"\(s)\" is not host:port or an http(s) URL")
            return nil
        }
        return a
    }

    mutating func mac(_ node: Node, path: String) -> MACAddress? {
        guard let s = string(node, path: path) else { return nil }
        guard let m = MACAddress(s) else {
            problem(path, node, "\"\(s)\" is not a MAC address (12 hex digits, e.g. 00:15:65:aa:bb:cc)")
            return nil
        }
        return m
    }

    mutating func model(_ node: Node, path: String) -> PhoneModel? {
        guard let s = string(node, path: path) else { return nil }
        guard let m = catalog.model(named: s) else {
            problem(path, node, "unknown model \"\(s)\"; one of \(catalog.models.map(\.name).joined(separator: ", "))")
            return nil
        }
        return m
    }

    mutating func checkUnique(_ keys: [String], what: String, list: String, nodes: Node?) {
        var seen: Set<String> = []
        for key in keys where !seen.insert(key).inserted {
            problem(list, nodes, "\(what) \(key) appears more than once")
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
