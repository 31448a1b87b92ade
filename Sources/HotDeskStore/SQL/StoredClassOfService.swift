import Foundation
import HotDeskCore

/// A class of service as the store keeps it (JSON in `classes_of_service.definition`).
struct StoredCoS: Codable, Hashable {
    struct Rule: Codable, Hashable {
        var pattern: String?
        var numberClass: String?
        var action: String
        var schedule: String?
    }

    struct Include: Codable, Hashable {
        var cos: String
        var schedule: String?
    }

    var name: String
    var defaultAction: String
    var rules: [Rule]
    var featureCodes: [String]
    var includes: [Include]
    var schedule: String?

    init(_ c: ClassOfService) {
        name = c.name
        defaultAction = c.defaultAction.rawValue
        rules = c.rules.map { r in
            switch r.match {
            case .pattern(let p): Rule(pattern: p.description, numberClass: nil, action: r.action.rawValue, schedule: r.schedule)
            case .numberClass(let n): Rule(pattern: nil, numberClass: n, action: r.action.rawValue, schedule: r.schedule)
            }
        }
        featureCodes = c.featureCodes
        includes = c.includes.map { Include(cos: $0.cos, schedule: $0.schedule) }
        schedule = c.schedule
    }

    var cos: ClassOfService {
        ClassOfService(
            name: name,
            defaultAction: ClassOfService.Action(rawValue: defaultAction) ?? .deny,
            rules: rules.compactMap { r in
                let action = ClassOfService.Action(rawValue: r.action) ?? .deny
                if let p = r.pattern.flatMap(DialPattern.init) { return .init(match: .pattern(p), action: action, schedule: r.schedule) }
                if let n = r.numberClass { return .init(match: .numberClass(n), action: action, schedule: r.schedule) }
                return nil
            },
            featureCodes: featureCodes,
            includes: includes.map { .init(cos: $0.cos, schedule: $0.schedule) },
            schedule: schedule
        )
    }
}

/// A schedule as the store keeps it.
struct StoredSchedule: Codable, Hashable {
    struct Period: Codable, Hashable {
        var weekdays: [Int]
        var from: Int
        var to: Int
        var monthDays: [Int]
        var months: [Int]
    }

    var name: String
    var timeZone: String
    var open: [Period]
    /// `YYYY-MM-DD`.
    var exceptions: [String]

    init(_ s: Schedule) {
        name = s.name
        timeZone = s.timeZone.identifier
        open = s.open.map {
            Period(weekdays: $0.weekdays.sorted(), from: $0.from, to: $0.to, monthDays: $0.monthDays.sorted(), months: $0.months.sorted())
        }
        exceptions = s.exceptions.compactMap { c in
            guard let y = c.year, let m = c.month, let d = c.day else { return nil }
            return String(format: "%04d-%02d-%02d", y, m, d)
        }.sorted()
    }

    var schedule: Schedule? {
        guard let zone = TimeZone(identifier: timeZone) else { return nil }
        return Schedule(
            name: name,
            timeZone: zone,
            open: open.map { .init(weekdays: Set($0.weekdays), from: $0.from, to: $0.to, monthDays: Set($0.monthDays), months: Set($0.months)) },
            exceptions: Set(exceptions.compactMap(Self.date))
        )
    }

    /// `2026-12-25` → its year, month and day.
    static func date(_ text: String) -> DateComponents? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]), text.count == 10 else { return nil }
        return DateComponents(year: parts[0], month: parts[1], day: parts[2])
    }
}

enum JSONText {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
