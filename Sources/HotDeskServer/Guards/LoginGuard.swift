import Foundation
import HotDeskCore
import Synchronization

/// What the Login app keeps in memory against guessing, beside the failures the store counts
/// (per extension, phone and source address, and the global guesses; every node reads the same):
/// - locks already decided, so attempts on a locked extension, phone or source address are
///   answered without a database read and summarised in the audit (one row per lock, with a
///   count) instead of one row each. Each is remembered under the shared change stamp it was
///   decided at: an admin's unlock moves that stamp, and every node then asks the store again;
/// - the global budget's reservations in flight: a unit is reserved before a global password is
///   checked, so concurrent guesses on this node never evaluate more than the budget (across
///   nodes, at most one check in flight per node past it).
final class LoginGuard: Sendable {
    /// A lock remembered with the attempts refused under it.
    struct RememberedLock: Sendable {
        var reason: LockReason
        var refused = 0
        var mac: MACAddress?
        var extensionNumber: String?
        var source: String?
        var what: String
        /// The shared change stamp the lock was decided at.
        var stamp = 0
    }

    private struct State {
        var locks: [String: RememberedLock] = [:]
        var globalInFlight = 0
        var globalInFlightBySource: [String: Int] = [:]
    }

    let gate = KeyedGate()
    private let state = Mutex(State())

    static func key(extension number: String) -> String { "ext:\(number)" }
    static func key(device mac: MACAddress) -> String { "dev:\(mac.canonical)" }
    static func key(source: String) -> String { "src:\(source)" }

    // MARK: remembered locks

    /// The first lock in force among `keys` decided at the shared stamp `stamp`, counted as one
    /// more refused attempt. A lock decided at another stamp is asked of the store again.
    func lockInForce(_ keys: [String], stamp: Int, now: Date) -> LockReason? {
        state.withLock { s in
            for key in keys {
                guard var lock = s.locks[key], lock.reason.until > now, lock.stamp == stamp else { continue }
                lock.refused += 1
                s.locks[key] = lock
                return lock.reason
            }
            return nil
        }
    }

    /// Remembers a lock; returns `false` when the same lock was remembered already (decided again
    /// from the store after the shared stamp moved: not audited twice).
    @discardableResult
    func remember(_ lock: RememberedLock, key: String) -> Bool {
        state.withLock { s in
            if var old = s.locks[key], old.reason.until >= lock.reason.until {
                old.stamp = lock.stamp
                s.locks[key] = old
                return false
            }
            s.locks[key] = lock
            return true
        }
    }

    /// Forgets the lock remembered of `subject` (without a summary). Returns whether one was.
    @discardableResult
    func forget(_ subject: LockSubject) -> Bool {
        let key: String =
            switch subject {
            case .extension(let number): Self.key(extension: number)
            case .device(let mac): Self.key(device: mac)
            case .source(let address): Self.key(source: address)
            }
        return state.withLock { s in s.locks.removeValue(forKey: key) != nil }
    }

    /// Expired locks that refused attempts (each returned once), and forgets every expired lock.
    func expiredSummaries(now: Date) -> [RememberedLock] {
        state.withLock { s in
            let expired = s.locks.filter { $0.value.reason.until <= now }
            guard !expired.isEmpty else { return [] }
            for key in expired.keys { s.locks[key] = nil }
            return expired.values.filter { $0.refused > 0 }.sorted { $0.reason.until < $1.reason.until }
        }
    }

    // MARK: the global budget

    /// Whether a global password may be checked for this attempt.
    enum GlobalReservation: Equatable {
        /// Yes: one unit of the budget is reserved, to be released with `releaseGlobal`.
        case reserved
        /// No: the budget is spent; global passwords work again at `until`.
        case blocked(until: Date)
        /// No: this source has spent its share of the budget (others still have theirs).
        case sourceSpent(until: Date)
    }

    /// One source's share of the global budget: a quarter, so one guesser cannot spend it all
    /// and lock the shared passwords out for everyone (at least 2).
    static func globalShare(_ policy: LockoutPolicy) -> Int { max(2, policy.globalFailures / 4) }

    /// Reserves a unit of the global budget, given the global guesses the store counted.
    func reserveGlobal(source: String?, failures: [(at: Date, source: String?)], policy: LockoutPolicy, now: Date) -> GlobalReservation {
        let rule = LockoutRule(policy: policy)
        if let until = rule.globalBlockedUntil(failures.map(\.at), now: now) { return .blocked(until: until) }
        let recent = failures.filter { now.timeIntervalSince($0.at) < policy.window }
        let key = source ?? "-"
        let mine = recent.filter { ($0.source ?? "-") == key }.map(\.at).sorted()
        return state.withLock { s in
            guard recent.count + s.globalInFlight < policy.globalFailures else {
                return .blocked(until: (recent.map(\.at).min() ?? now).addingTimeInterval(policy.window))
            }
            guard mine.count + (s.globalInFlightBySource[key] ?? 0) < Self.globalShare(policy) else {
                return .sourceSpent(until: (mine.first ?? now).addingTimeInterval(policy.window))
            }
            s.globalInFlight += 1
            s.globalInFlightBySource[key, default: 0] += 1
            return .reserved
        }
    }

    /// Gives back a reservation, once its failure (if it failed) is counted in the store.
    func releaseGlobal(source: String?) {
        state.withLock { s in
            let key = source ?? "-"
            s.globalInFlight = max(0, s.globalInFlight - 1)
            let left = (s.globalInFlightBySource[key] ?? 1) - 1
            s.globalInFlightBySource[key] = left > 0 ? left : nil
        }
    }
}
