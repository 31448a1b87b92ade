import Foundation
import HotDeskCore
import HotDeskStore
import Testing

@Suite("Class of Service: pure evaluation, rule by rule")
struct ClassOfServiceTests {
    @Test(
        "dial patterns as Asterisk writes them",
        arguments: [
            ("XXXX", "5501", true), ("XXXX", "550", false), ("_NXXNXXXXXX", "2125551234", true), ("_NXXNXXXXXX", "1125551234", false),
            ("Z.", "7", false), ("Z.", "71", true), ("0!", "0", true), ("0!", "0123", true), ("[1-3]X", "29", true), ("[1-3]X", "49", false),
            ("[135]", "3", true), ("[135]", "2", false), ("*22", "*22", true), ("00.", "0044123", true), ("00.", "00", false),
        ]
    )
    func patterns(pattern: String, number: String, matches: Bool) throws {
        #expect(try #require(DialPattern(pattern)).matches(number) == matches, "\(pattern) vs \(number)")
    }

    @Test("bad patterns are refused", arguments: ["", "[", "[]", "12a", "[a-b]"])
    func badPatterns(pattern: String) {
        #expect(DialPattern(pattern) == nil)
    }

    static let paris = TimeZone(identifier: "Europe/Paris")!
    /// 2026-11-25 is a Wednesday.
    static func at(_ day: Int, _ hour: Int, _ minute: Int = 0, month: Int = 11) -> Date {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = paris
        return c.date(from: DateComponents(year: 2026, month: month, day: day, hour: hour, minute: minute))!
    }

    static let officeHours = Schedule(
        name: "office-hours",
        timeZone: paris,
        open: [.init(weekdays: [2, 3, 4, 5, 6], from: 8 * 60, to: 18 * 60)],
        exceptions: [DateComponents(year: 2026, month: 12, day: 25)]
    )
    static let night = Schedule(name: "night", timeZone: paris, open: [.init(from: 22 * 60, to: 6 * 60)])

    @Test("schedules: week days and hours, overnight periods, exception dates, in the schedule's time zone")
    func schedules() {
        #expect(Self.officeHours.isOpen(at: Self.at(25, 9)))
        #expect(!Self.officeHours.isOpen(at: Self.at(25, 18)), "18:00 is closed")
        #expect(!Self.officeHours.isOpen(at: Self.at(28, 10)), "Saturday")
        #expect(!Self.officeHours.isOpen(at: Self.at(25, 10, month: 12)), "a holiday, though a Friday")
        #expect(Self.night.isOpen(at: Self.at(25, 23)) && Self.night.isOpen(at: Self.at(26, 5)) && !Self.night.isOpen(at: Self.at(26, 7)))
        let march = Schedule(name: "m", timeZone: Self.paris, open: [.init(monthDays: [1], months: [3])])
        #expect(march.isOpen(at: Self.at(1, 12, month: 3)) && !march.isOpen(at: Self.at(2, 12, month: 3)))
    }

    static let book = CoSBook(
        classes: [
            "staff": ClassOfService(
                name: "staff",
                defaultAction: .deny,
                rules: [.init(match: .pattern(DialPattern("XXXX")!), action: .allow), .init(match: .numberClass("international"), action: .deny)],
                featureCodes: ["*22"],
                includes: [.init(cos: "after-hours-intl", schedule: "night"), .init(cos: "national")]
            ),
            "after-hours-intl": ClassOfService(
                name: "after-hours-intl",
                defaultAction: .deny,
                rules: [.init(match: .pattern(DialPattern("0044.")!), action: .allow)]
            ),
            "national": ClassOfService(
                name: "national",
                defaultAction: .allow,
                rules: [
                    .init(match: .numberClass("premium"), action: .deny),
                    .init(match: .pattern(DialPattern("0Z.")!), action: .allow, schedule: "office-hours"),
                ]
            ),
            "lobby": ClassOfService(name: "lobby", defaultAction: .deny),
        ],
        numberClasses: [
            "international": try! NSRegularExpression(pattern: "^00[0-9]+$"), "premium": try! NSRegularExpression(pattern: "^0900[0-9]+$"),
        ],
        schedules: ["office-hours": officeHours, "night": night],
        emergencyNumbers: ["112", "911"]
    )

    @Test("first matching rule of the class, then its includes in order, then the default; the answer names the class and the rule")
    func decisions() {
        let day = Self.at(25, 10)
        let night = Self.at(25, 23)
        var d = Self.book.decide(cosName: "staff", number: "5502", at: day)
        #expect(d.action == .allow && d.cos == "staff" && d.rule.hasPrefix("rule 1"))
        d = Self.book.decide(cosName: "staff", number: "0044123456", at: day)
        #expect(d.action == .deny && d.rule.hasPrefix("rule 2") && d.rule.contains("international"), "the class's own rule comes before any include")
        d = Self.book.decide(cosName: "staff", number: "0900123", at: day)
        #expect(d.action == .deny && d.cos == "national" && d.rule.contains("premium"), "an include's rule decides, named")
        d = Self.book.decide(cosName: "staff", number: "0612345678", at: day)
        #expect(d.action == .allow && d.cos == "national" && d.rule.hasPrefix("rule 2"), "a scheduled rule in office hours")
        d = Self.book.decide(cosName: "staff", number: "0612345678", at: night)
        #expect(d.action == .deny && d.cos == "staff" && d.rule == "default", "outside its schedule the rule does not apply")
        #expect(Self.book.decide(cosName: "staff", number: "*22*5501*1234", at: day).rule == "feature code *22")
        #expect(Self.book.decide(cosName: "lobby", number: "*22", at: day).action == .deny)
        for cos in ["lobby", "staff", "nonexistent"] {
            let e = Self.book.decide(cosName: cos, number: "112", at: day)
            #expect(e.action == .allow && e.rule == "emergency number", "\(cos): emergency numbers always")
        }
        #expect(Self.book.decide(cosName: "nonexistent", number: "5501", at: day).action == .deny, "an unknown class allows nothing but emergencies")
    }

    @Test("unknown names and include cycles are problems")
    func problems() {
        var book = Self.book
        #expect(book.problems().isEmpty)
        book.classes["a"] = ClassOfService(name: "a", defaultAction: .deny, includes: [.init(cos: "b")])
        book.classes["b"] = ClassOfService(name: "b", defaultAction: .deny, includes: [.init(cos: "a")], schedule: "holidays")
        book.classes["c"] = ClassOfService(
            name: "c",
            defaultAction: .deny,
            rules: [.init(match: .numberClass("mobile"), action: .allow)],
            includes: [.init(cos: "zz")]
        )
        let problems = book.problems()
        #expect(problems.contains { $0.hasPrefix("include cycle: a → b → a") || $0.hasPrefix("include cycle: b → a → b") })
        #expect(
            problems.contains("b: unknown schedule \"holidays\"") && problems.contains("c: unknown number class \"mobile\"")
                && problems.contains("c includes unknown class of service \"zz\""),
            "\(problems)"
        )
        // A cycle never loops forever at evaluation either.
        #expect(book.decide(cosName: "a", number: "5501", at: Date()).action == .deny)
    }
}

/// The Class of Service document's directory shape.
let cosDirectory =
    withSettings(
        flowDirectory,
        """
          emergency_numbers: ["112", "911"]
          number_classes: {international: "^(00|011)[0-9]+$", premium: "^(0900|1900)[0-9]+$"}

        """
    ) + """

        classes_of_service:
          - name: hotdesk-phone
            default: deny
            feature_codes: ["*22"]
          - name: staff
            default: deny
            rules: [{pattern: "XXXX", action: allow}, {class: international, action: deny}]
            includes: [{cos: after-hours-intl, schedule: office-hours}]
          - name: after-hours-intl
            default: deny
            rules: [{pattern: "0044.", action: allow}]
        schedules:
          - name: office-hours
            time_zone: Europe/Paris
            open: [{days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00"}]
            exceptions: [{date: "2026-12-25"}]
        """

@Suite("Classes of service in the directory")
struct CoSImportTests {
    @Test("the document's shape imports, reads back and decides; importing it again changes nothing")
    func shape() async throws {
        let dir = try TempDir()
        let store = try dir.store("db")
        let yaml = cosDirectory.replacingOccurrences(of: "{PORT}", with: "8080").replacingOccurrences(of: "{PUSH_PORT}", with: "8081")
            .replacingOccurrences(of: "    sip_password: \"sip-secret-5501\"", with: "    sip_password: \"sip-secret-5501\"\n    cos: staff")
        _ = try await importDirectory(yaml, into: store, base: dir.url)
        let book = try await store.cosBook()
        #expect(book.classes.count == 3 && book.emergencyNumbers == ["112", "911"] && book.schedules["office-hours"] != nil)
        let wednesday10 = ClassOfServiceTests.at(25, 10)
        #expect(book.decide(cosName: "staff", number: "0044207", at: wednesday10).action == .deny, "its own rule denies international first")
        #expect(try await store.findExtension("5501")?.cos == "staff")
        let again = try await importDirectory(yaml, into: store, base: dir.url)
        #expect(again.created == 0 && again.updated == 0)
    }

    @Test(
        "unknown names, cycles, bad patterns, bad time zones, empty periods: refused with place, nothing written",
        arguments: [
            ("classes_of_service:\n  - {name: a, default: deny, includes: [nope]}\n", "a includes unknown class of service \"nope\""),
            ("classes_of_service:\n  - {name: a, default: deny, includes: [b]}\n  - {name: b, default: deny, includes: [a]}\n", "include cycle"),
            (
                "classes_of_service:\n  - {name: a, default: deny, rules: [{pattern: \"12a\", action: allow}]}\n",
                "classes_of_service[0].rules[0].pattern"
            ),
            ("classes_of_service:\n  - {name: a, default: maybe}\n", "classes_of_service[0].default: allow or deny"),
            ("classes_of_service:\n  - {name: a, default: deny, rules: [{class: mobile, action: allow}]}\n", "unknown number class \"mobile\""),
            ("schedules:\n  - {name: s, time_zone: Mars/Olympus, open: [{from: \"08:00\", to: \"18:00\"}]}\n", "schedules[0].time_zone"),
            ("schedules:\n  - {name: s, time_zone: UTC, open: [{from: \"08:00\", to: \"08:00\"}]}\n", "an empty period"),
            ("schedules:\n  - {name: s, time_zone: UTC, open: [{days: [someday]}]}\n", "schedules[0].open[0].days[0]"),
            (
                "extensions:\n  - {number: \"7001\", name: A, sip_password: \"long-enough\", cos: ghost}\n",
                "extension 7001: unknown class of service \"ghost\""
            ),
            ("settings:\n  number_classes: {bad: \"([\"}\n", "settings.number_classes.bad: not a regular expression"),
        ]
    )
    func refused(yaml: String, expected: String) async throws {
        let dir = try TempDir()
        let store = try dir.store("db")
        do {
            _ = try await importDirectory(yaml, into: store, base: dir.url)
            Issue.record("imported")
        } catch let error as DirectoryError {
            #expect(error.description.contains(expected), "\(error.description)")
        }
        let classes = try await store.cosBook().classes
        let ext = try await store.findExtension("7001")
        #expect(classes.isEmpty && ext == nil, "nothing written")
    }
}
