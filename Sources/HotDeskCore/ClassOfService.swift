import Foundation

/// A dial pattern as Asterisk and Wazo write them: digits, `*` and `#` stand for themselves; `X`
/// any digit, `Z` 1–9, `N` 2–9, `[1-5]` (or `[135]`) one of a set, `.` one or more of anything,
/// `!` zero or more. A leading `_` (Asterisk's marker) is allowed and ignored.
public struct DialPattern: Hashable, Sendable, CustomStringConvertible {
    enum Part: Hashable, Sendable {
        case literal(Character)
        case set(Set<Character>)
        case oneOrMore
        case zeroOrMore
    }

    let parts: [Part]
    public let description: String

    public init?(_ text: String) {
        var chars = Array(text.hasPrefix("_") ? text.dropFirst() : Substring(text))
        guard !chars.isEmpty, chars.count <= 64 else { return nil }
        var parts: [Part] = []
        let digits = Set("0123456789")
        while !chars.isEmpty {
            let c = chars.removeFirst()
            switch c {
            case "X", "x": parts.append(.set(digits))
            case "Z", "z": parts.append(.set(Set("123456789")))
            case "N", "n": parts.append(.set(Set("23456789")))
            case ".": parts.append(.oneOrMore)
            case "!": parts.append(.zeroOrMore)
            case "[":
                guard let close = chars.firstIndex(of: "]") else { return nil }
                let inside = Array(chars[..<close])
                chars.removeFirst(close + 1)
                var set = Set<Character>()
                var i = 0
                while i < inside.count {
                    if i + 2 < inside.count, inside[i + 1] == "-", let lo = inside[i].wholeNumberValue, let hi = inside[i + 2].wholeNumberValue,
                        lo <= hi
                    {
                        for d in lo...hi { set.insert(Character("\(d)")) }
                        i += 3
                    } else {
                        guard inside[i].isNumber || inside[i] == "*" || inside[i] == "#" else { return nil }
                        set.insert(inside[i])
                        i += 1
                    }
                }
                guard !set.isEmpty else { return nil }
                parts.append(.set(set))
            default:
                guard c.isASCII, c.isNumber || c == "*" || c == "#" || c == "+" else { return nil }
                parts.append(.literal(c))
            }
        }
        self.parts = parts
        self.description = text
    }

    public func matches(_ number: String) -> Bool { Self.match(parts[...], Array(number)[...]) }

    private static func match(_ parts: ArraySlice<Part>, _ rest: ArraySlice<Character>) -> Bool {
        guard let part = parts.first else { return rest.isEmpty }
        switch part {
        case .literal(let c): return rest.first == c && match(parts.dropFirst(), rest.dropFirst())
        case .set(let s): return rest.first.map(s.contains) == true && match(parts.dropFirst(), rest.dropFirst())
        case .oneOrMore: return !rest.isEmpty && (1...rest.count).contains { match(parts.dropFirst(), rest.dropFirst($0)) }
        case .zeroOrMore: return (0...rest.count).contains { match(parts.dropFirst(), rest.dropFirst($0)) }
        }
    }
}

/// When a rule, an include or a whole class of service applies: open periods in a time zone,
/// minus exception dates (holidays).
public struct Schedule: Hashable, Sendable {
    public struct Period: Hashable, Sendable {
        /// 1 = Sunday … 7 = Saturday (Gregorian weekday); empty: every day.
        public var weekdays: Set<Int>
        /// Minutes after midnight; `to <= from` runs overnight into the next day.
        public var from: Int
        public var to: Int
        /// Days of the month (1–31) and months (1–12); empty: any.
        public var monthDays: Set<Int>
        public var months: Set<Int>

        public init(weekdays: Set<Int> = [], from: Int = 0, to: Int = 24 * 60, monthDays: Set<Int> = [], months: Set<Int> = []) {
            self.weekdays = weekdays
            self.from = from
            self.to = to
            self.monthDays = monthDays
            self.months = months
        }
    }

    public var name: String
    public var timeZone: TimeZone
    public var open: [Period]
    /// Dates (year, month, day in the schedule's zone) on which the schedule is closed.
    public var exceptions: Set<DateComponents>

    public init(name: String, timeZone: TimeZone, open: [Period], exceptions: Set<DateComponents> = []) {
        self.name = name
        self.timeZone = timeZone
        self.open = open
        self.exceptions = exceptions
    }

    public func isOpen(at date: Date) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let today = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: date)
        guard let minute = today.hour.flatMap({ h in today.minute.map { h * 60 + $0 } }) else { return false }
        if exceptions.contains(DateComponents(year: today.year, month: today.month, day: today.day)) { return false }
        let yesterday = calendar.dateComponents([.month, .day, .weekday], from: date.addingTimeInterval(-86400))
        return open.contains { p in
            if p.from < p.to || (p.from == 0 && p.to == 24 * 60) {
                return Self.day(p, today) && minute >= p.from && minute < p.to
            }
            // Overnight: the evening of a listed day, or the early morning after one.
            return (Self.day(p, today) && minute >= p.from) || (Self.day(p, yesterday) && minute < p.to)
        }
    }

    static func day(_ p: Period, _ c: DateComponents) -> Bool {
        (p.weekdays.isEmpty || c.weekday.map(p.weekdays.contains) == true) && (p.monthDays.isEmpty || c.day.map(p.monthDays.contains) == true)
            && (p.months.isEmpty || c.month.map(p.months.contains) == true)
    }
}

/// What a class of service lets a phone dial (the Class of Service document): ordered rules, each
/// a dial pattern or a named class of numbers, allowing or denying; allowed feature codes; other
/// classes it includes in order; a default. A schedule may limit a rule, an include or the class.
public struct ClassOfService: Hashable, Sendable {
    public enum Action: String, Hashable, Sendable { case allow, deny }

    public struct Rule: Hashable, Sendable, CustomStringConvertible {
        public enum Match: Hashable, Sendable {
            case pattern(DialPattern)
            /// A class of numbers defined in settings (`international`, `premium`, …).
            case numberClass(String)
        }

        public var match: Match
        public var action: Action
        public var schedule: String?

        public init(match: Match, action: Action, schedule: String? = nil) {
            self.match = match
            self.action = action
            self.schedule = schedule
        }

        public var description: String {
            let what =
                switch match {
                case .pattern(let p): "pattern \(p)"
                case .numberClass(let c): "class \(c)"
                }
            return "\(what) \(action.rawValue)" + (schedule.map { " (\($0))" } ?? "")
        }
    }

    public struct Include: Hashable, Sendable {
        public var cos: String
        public var schedule: String?

        public init(cos: String, schedule: String? = nil) {
            self.cos = cos
            self.schedule = schedule
        }
    }

    public var name: String
    public var defaultAction: Action
    public var rules: [Rule]
    public var featureCodes: [String]
    public var includes: [Include]
    public var schedule: String?

    public init(
        name: String,
        defaultAction: Action,
        rules: [Rule] = [],
        featureCodes: [String] = [],
        includes: [Include] = [],
        schedule: String? = nil
    ) {
        self.name = name
        self.defaultAction = defaultAction
        self.rules = rules
        self.featureCodes = featureCodes
        self.includes = includes
        self.schedule = schedule
    }
}

/// Every class of service with the number classes, schedules and emergency numbers they use:
/// decides a call, purely.
public struct CoSBook: Sendable {
    /// The answer to "may this phone call that number now?", with what decided it.
    public struct Decision: Hashable, Sendable {
        public var action: ClassOfService.Action
        /// The class of service that decided (the included one, when an include's rule matched).
        public var cos: String
        /// `rule 2 (pattern XXXX allow)`, `feature code *22`, `emergency number`, `default`.
        public var rule: String
        public var reason: String

        public init(action: ClassOfService.Action, cos: String, rule: String, reason: String) {
            self.action = action
            self.cos = cos
            self.rule = rule
            self.reason = reason
        }
    }

    public var classes: [String: ClassOfService]
    public var numberClasses: [String: NSRegularExpression]
    public var schedules: [String: Schedule]
    public var emergencyNumbers: Set<String>

    public init(
        classes: [String: ClassOfService] = [:],
        numberClasses: [String: NSRegularExpression] = [:],
        schedules: [String: Schedule] = [:],
        emergencyNumbers: Set<String> = []
    ) {
        self.classes = classes
        self.numberClasses = numberClasses
        self.schedules = schedules
        self.emergencyNumbers = emergencyNumbers
    }

    /// Names used but not defined, and include cycles: what an import must refuse.
    public func problems() -> [String] {
        var problems: [String] = []
        for cos in classes.values.sorted(by: { $0.name < $1.name }) {
            for include in cos.includes where classes[include.cos] == nil {
                problems.append("\(cos.name) includes unknown class of service \"\(include.cos)\"")
            }
            for rule in cos.rules {
                if case .numberClass(let c) = rule.match, numberClasses[c] == nil { problems.append("\(cos.name): unknown number class \"\(c)\"") }
            }
            let schedulesUsed = [cos.schedule] + cos.rules.map(\.schedule) + cos.includes.map(\.schedule)
            for s in schedulesUsed.compactMap({ $0 }) where schedules[s] == nil { problems.append("\(cos.name): unknown schedule \"\(s)\"") }
            if let cycle = cycle(from: cos.name, path: []) { problems.append("include cycle: \(cycle.joined(separator: " → "))") }
        }
        return Array(Set(problems)).sorted()
    }

    private func cycle(from name: String, path: [String]) -> [String]? {
        if path.contains(name) { return path + [name] }
        for include in classes[name]?.includes ?? [] {
            if let found = cycle(from: include.cos, path: path + [name]) { return found }
        }
        return nil
    }

    /// Decides a call to `number` by the class of service `cosName` at `date`: emergency numbers
    /// always; then an allowed feature code; the first matching rule (of the class, then of its
    /// includes in order, depth first); then the class's default.
    public func decide(cosName: String, number: String, at date: Date) -> Decision {
        if emergencyNumbers.contains(number) {
            return Decision(action: .allow, cos: cosName, rule: "emergency number", reason: "\(number) is an emergency number")
        }
        guard let cos = classes[cosName] else {
            return Decision(action: .deny, cos: cosName, rule: "unknown class of service", reason: "no class of service \(cosName)")
        }
        if let found = firstMatch(cos, number: number, at: date, seen: []) { return found }
        return Decision(
            action: cos.defaultAction,
            cos: cos.name,
            rule: "default",
            reason: "no rule of \(cos.name) matches \(number): its default is \(cos.defaultAction.rawValue)"
        )
    }

    private func isOpen(_ schedule: String?, at date: Date) -> Bool {
        guard let schedule else { return true }
        return schedules[schedule]?.isOpen(at: date) ?? false
    }

    private func firstMatch(_ cos: ClassOfService, number: String, at date: Date, seen: Set<String>) -> Decision? {
        guard !seen.contains(cos.name), isOpen(cos.schedule, at: date) else { return nil }
        if number.hasPrefix("*"), let code = cos.featureCodes.first(where: { number == $0 || number.hasPrefix($0 + "*") }) {
            return Decision(action: .allow, cos: cos.name, rule: "feature code \(code)", reason: "\(cos.name) allows the feature code \(code)")
        }
        for (i, rule) in cos.rules.enumerated() where isOpen(rule.schedule, at: date) {
            let matched: Bool =
                switch rule.match {
                case .pattern(let p): p.matches(number)
                case .numberClass(let c):
                    numberClasses[c].map { $0.firstMatch(in: number, range: NSRange(number.startIndex..., in: number)) != nil } ?? false
                }
            if matched {
                return Decision(
                    action: rule.action,
                    cos: cos.name,
                    rule: "rule \(i + 1) (\(rule))",
                    reason: "\(cos.name) rule \(i + 1) \(rule.action == .allow ? "allows" : "denies") \(number)"
                )
            }
        }
        for include in cos.includes where isOpen(include.schedule, at: date) {
            if let inner = classes[include.cos], let found = firstMatch(inner, number: number, at: date, seen: seen.union([cos.name])) {
                return found
            }
        }
        return nil
    }
}
