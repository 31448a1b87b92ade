import Foundation

/// A time of day, `HH:MM` (24-hour), in the server's time zone.
public struct DailyTime: Hashable, Sendable, CustomStringConvertible {
    public let hour: Int
    public let minute: Int

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ (1...2).contains($0.count) && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let hour = Int(parts[0]), let minute = Int(parts[1]), (0...23).contains(hour), (0...59).contains(minute)
        else { return nil }
        self.hour = hour
        self.minute = minute
    }

    public var description: String { String(format: "%02d:%02d", hour, minute) }

    /// The latest moment at or before `now` when the clock showed this time.
    public func latest(atOrBefore now: Date, calendar: Calendar) -> Date? {
        guard let today = calendar.date(bySettingHour: hour, minute: minute, second: 0, of: now) else { return nil }
        return today <= now ? today : calendar.date(byAdding: .day, value: -1, to: today)
    }
}

/// When sessions end by themselves, so that a forgotten logout does not block the next person
/// at the desk (hot-desking-systems.md: auto-logout after a maximum duration, and at a fixed
/// daily time). Both off by default.
public struct AutoLogoutPolicy: Hashable, Sendable {
    /// A session older than this ends; `nil`: never.
    public var maxDuration: TimeInterval?
    /// Every session that was running at this time of day ends (also when the server was down
    /// then: it is caught up at start); `nil`: never.
    public var dailyAt: DailyTime?
    /// A phone on a call (as the PBX reports calls) is logged out when the call ends, not in the
    /// middle of it — waiting at most `longestCallWait`.
    public var waitForCall = true
    public var longestCallWait: TimeInterval = 3600
    /// A session with no call and no use of the phone's app for this long ends; `nil`: never.
    public var idleAfter: TimeInterval?

    public init(maxDuration: TimeInterval? = nil, dailyAt: DailyTime? = nil) {
        self.maxDuration = maxDuration
        self.dailyAt = dailyAt
    }

    public var isOff: Bool { maxDuration == nil && dailyAt == nil && idleAfter == nil }

    /// Why `session` should end at `now` (for the audit log), or `nil` when it should not.
    public func reason(toEnd session: Session, now: Date, calendar: Calendar) -> String? { due(session, now: now, calendar: calendar)?.reason }

    /// Whether `session`, last active at `activity` (its login, its app's last use, its last
    /// call's end), has been idle for `idleAfter` at `now`. A phone on a call is never idle.
    public func idle(_ session: Session, lastActive activity: Date?, onCall: Bool, now: Date) -> (since: Date, reason: String)? {
        guard let idleAfter, !onCall else { return nil }
        let since = max(session.startedAt, activity ?? session.startedAt) + idleAfter
        guard now >= since else { return nil }
        return (since, "auto logout: idle for \(Self.hours(idleAfter))")
    }

    /// Since when `session` should have ended at `now`, and why; `nil` when it should not.
    public func due(_ session: Session, now: Date, calendar: Calendar) -> (since: Date, reason: String)? {
        if let maxDuration, now.timeIntervalSince(session.startedAt) >= maxDuration {
            return (session.startedAt + maxDuration, "auto logout: logged in for more than \(Self.hours(maxDuration))")
        }
        if let dailyAt, let boundary = dailyAt.latest(atOrBefore: now, calendar: calendar), session.startedAt < boundary {
            return (boundary, "auto logout: daily logout at \(dailyAt)")
        }
        return nil
    }

    /// Whether a logout due `since` waits for the phone's call (on a call since `call`, or not).
    public func waits(since: Date, onCallSince call: Date?, now: Date) -> Bool {
        waitForCall && call != nil && now.timeIntervalSince(since) < longestCallWait
    }

    static func hours(_ seconds: TimeInterval) -> String {
        let minutes = Int(seconds / 60)
        return minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes) min"
    }
}
