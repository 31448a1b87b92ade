import Foundation
import HotDeskCore
import HotDeskStore
import Provisioning
import Yams

// Classes of service, their schedules, and the shared lines with their members.
extension Reader {
    /// A shared line: number (not an extension's), name, SIP password, caller ID, members with
    /// their key (2 up to the largest model's last key but one) and ring option.
    mutating func readSharedLine(_ node: Node, path: String, extensions: Set<String>) -> SharedLine? {
        guard let map = mapping(node, path: path, allowed: ["number", "name", "sip_password", "caller_id", "members", "licences", "direct_dial"])
        else { return nil }
        let licences = map["licences"].flatMap { int($0, path: "\(path).licences", range: SharedLine.licenceCounts) }
        let number = required(map, "number", path: path).flatMap {
            lineNumber($0, path: "\(path).number", extensions: extensions, what: "a shared line")
        }
        let name = required(map, "name", path: path).flatMap { string($0, path: "\(path).name", maxLength: 64) }
        let sip = required(map, "sip_password", path: path).flatMap { secret($0, path: "\(path).sip_password", minLength: 8) }
        let callerID = map["caller_id"].flatMap { self.callerID($0, path: "\(path).caller_id") }
        let directDial = map["direct_dial"].flatMap { self.callerID($0, path: "\(path).direct_dial") }
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
        if let licences, members.count > licences, let node = map["licences"] {
            problem("\(path).licences", node, "\(members.count) members on \(licences) licences: remove members or count more licences")
            return nil
        }
        guard let number, let name, let sip, map["caller_id"] == nil || callerID != nil, map["licences"] == nil || licences != nil,
            map["direct_dial"] == nil || directDial != nil
        else { return nil }
        var line = SharedLine(number: number, name: name, sipPassword: sip, callerID: callerID, members: members)
        line.licences = licences
        line.directDial = directDial
        return line
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
}
