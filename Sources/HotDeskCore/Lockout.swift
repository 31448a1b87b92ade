import Foundation

/// What a locked login looks like to the person at the phone.
public enum LockReason: Hashable, Sendable {
    /// Too many wrong passwords for this extension, on any phone.
    case extensionLocked(number: String, until: Date)
    /// Too many wrong passwords on this phone, for any extension.
    case deviceLocked(until: Date)

    public var until: Date {
        switch self {
        case .extensionLocked(_, let until), .deviceLocked(let until): until
        }
    }
}

/// A wrong password (or unknown extension) the store counted.
public struct CountedFailure: Hashable, Sendable {
    public var at: Date
    public var mac: MACAddress?
    public var extensionNumber: String?
    /// The address whose failures count toward `source_failures`; `nil` where the attempt came
    /// through a relay many phones share (the PBX's star code).
    public var source: String?
    /// A global password (the admin or the user password) was checked and did not match: counted
    /// against the global budget.
    public var globalGuess: Bool

    public init(at: Date, mac: MACAddress?, extensionNumber: String?, source: String? = nil, globalGuess: Bool = false) {
        self.at = at
        self.mac = mac
        self.extensionNumber = extensionNumber
        self.source = source
        self.globalGuess = globalGuess
    }
}

/// The counted failures one login attempt is decided on: its extension's (on any phone), its
/// phone's (for any extension), its address's, and every global guess (with its address, for
/// each address's share of the budget). Read from the store, so every node decides alike.
public struct RecentFailures: Sendable {
    public var extensionFailures: [Date]
    public var device: [Date]
    public var source: [Date]
    public var global: [(at: Date, source: String?)]

    public init(extensionFailures: [Date] = [], device: [Date] = [], source: [Date] = [], global: [(at: Date, source: String?)] = []) {
        self.extensionFailures = extensionFailures
        self.device = device
        self.source = source
        self.global = global
    }
}

/// Decides locks from the recent failures the store counted. Pure: the store supplies the
/// failure times, this type supplies the rule.
public struct LockoutRule: Sendable {
    public let policy: LockoutPolicy

    public init(policy: LockoutPolicy) { self.policy = policy }

    /// The earliest time a failure still counts at `now`.
    public func windowStart(now: Date) -> Date { now.addingTimeInterval(-max(policy.window, policy.duration)) }

    /// A lock is in force if, at some failure within the lookback, `limit` failures fell inside
    /// one window ending at that failure, and that failure was less than `duration` ago.
    public func lockedUntil(failures: [Date], limit: Int, now: Date) -> Date? {
        guard limit > 0, failures.count >= limit else { return nil }
        let sorted = failures.sorted()
        var until: Date?
        for end in (limit - 1)..<sorted.count {
            let first = sorted[end - limit + 1]
            if sorted[end].timeIntervalSince(first) <= policy.window {
                let lockEnd = sorted[end].addingTimeInterval(policy.duration)
                if lockEnd > now { until = max(until ?? lockEnd, lockEnd) }
            }
        }
        return until
    }

    /// The lock that stops a login now, if any: the phone's first (it blocks every extension),
    /// then the extension's.
    public func lock(extensionNumber: String?, extensionFailures: [Date], deviceFailures: [Date], now: Date) -> LockReason? {
        if let until = lockedUntil(failures: deviceFailures, limit: policy.deviceFailures, now: now) {
            return .deviceLocked(until: until)
        }
        if let number = extensionNumber,
            let until = lockedUntil(failures: extensionFailures, limit: policy.extensionFailures, now: now)
        {
            return .extensionLocked(number: number, until: until)
        }
        return nil
    }

    /// Until when this address is locked out of the Login app, if it is.
    public func sourceLockedUntil(_ failures: [Date], now: Date) -> Date? {
        lockedUntil(failures: failures, limit: policy.sourceFailures, now: now)
    }

    /// Until when the global passwords stop working, if they do: the global budget spent within
    /// one window, less than `duration` ago (the same rule as a lock).
    public func globalBlockedUntil(_ failures: [Date], now: Date) -> Date? {
        lockedUntil(failures: failures, limit: policy.globalFailures, now: now)
    }

    /// How many more wrong passwords this extension may have before it is locked.
    public func triesLeft(extensionFailures: [Date], now: Date) -> Int {
        let recent = extensionFailures.filter { now.timeIntervalSince($0) <= policy.window }
        return max(0, policy.extensionFailures - recent.count)
    }
}

/// What a lock holds: an extension on every phone, a phone for every extension, or an address
/// for the Login app.
public enum LockSubject: Hashable, Sendable, CustomStringConvertible {
    case `extension`(String)
    case device(MACAddress)
    case source(String)

    public var kind: String {
        switch self {
        case .extension: "extension"
        case .device: "device"
        case .source: "source"
        }
    }

    public var key: String {
        switch self {
        case .extension(let number): number
        case .device(let mac): mac.colonSeparated
        case .source(let address): address
        }
    }

    public var description: String { "\(kind) \(key)" }

    /// The phone a device lock holds (for the audit and the counted failures).
    public var mac: MACAddress? { if case .device(let mac) = self { mac } else { nil } }
    /// The extension an extension lock holds.
    public var extensionNumber: String? { if case .extension(let number) = self { number } else { nil } }
}

/// A lock in force now.
public struct ActiveLock: Hashable, Sendable {
    public var subject: LockSubject
    /// Wrong passwords counted in the lookback.
    public var failures: Int
    public var until: Date

    public init(subject: LockSubject, failures: Int, until: Date) {
        self.subject = subject
        self.failures = failures
        self.until = until
    }
}

extension LockoutRule {
    /// The extension, phone and address locks in force at `now`, from the failures since
    /// `windowStart`.
    public func locks(failures: [CountedFailure], now: Date) -> [ActiveLock] {
        var byExtension: [String: [Date]] = [:]
        var byDevice: [MACAddress: [Date]] = [:]
        var bySource: [String: [Date]] = [:]
        for f in failures {
            if let number = f.extensionNumber { byExtension[number, default: []].append(f.at) }
            if let mac = f.mac { byDevice[mac, default: []].append(f.at) }
            if let source = f.source { bySource[source, default: []].append(f.at) }
        }
        var locks: [ActiveLock] = []
        for (source, times) in bySource {
            if let until = sourceLockedUntil(times, now: now) {
                locks.append(ActiveLock(subject: .source(source), failures: times.count, until: until))
            }
        }
        for (number, times) in byExtension {
            if let until = lockedUntil(failures: times, limit: policy.extensionFailures, now: now) {
                locks.append(ActiveLock(subject: .extension(number), failures: times.count, until: until))
            }
        }
        for (mac, times) in byDevice {
            if let until = lockedUntil(failures: times, limit: policy.deviceFailures, now: now) {
                locks.append(ActiveLock(subject: .device(mac), failures: times.count, until: until))
            }
        }
        return locks.sorted { ($0.subject.kind, $0.subject.key) < ($1.subject.kind, $1.subject.key) }
    }
}
