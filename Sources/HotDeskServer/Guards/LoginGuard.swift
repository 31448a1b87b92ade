import Foundation
import HotDeskCore
import Synchronization

/// What the Login app keeps in memory against guessing, beside the failures the store counts:
/// - locks already decided, so attempts on a locked extension, phone or source address are
///   answered without a database read and summarised in the audit (one row per lock, with a
///   count) instead of one row each;
/// - failures per source address (a guesser rotating extensions and phones);
/// - the global budget: failures that could have matched a global password (the admin password,
///   the user password). Once spent, global passwords stop working for the lock duration while
///   voicemail PINs still do. Reservations are taken before a check, so concurrent guesses never
///   evaluate more than the budget.
/// In memory on purpose: a restart forgets the source and global counts (the per-extension and
/// per-phone failures are in the store and survive it).
final class LoginGuard: Sendable {
    /// A lock remembered with the attempts refused under it.
    struct RememberedLock: Sendable {
        var reason: LockReason
        var refused = 0
        var mac: MACAddress?
        var extensionNumber: String?
        var source: String?
        var what: String
    }

    /// An expired lock under which attempts were refused: one audit row.
    struct LockSummary: Sendable {
        var lock: RememberedLock
    }

    private struct State {
        var locks: [String: RememberedLock] = [:]
        var sourceFailures: [String: [Date]] = [:]
        var globalFailures: [Date] = []
        var globalInFlight = 0
        /// Each source's part of the global count (failures in the window, reservations in flight).
        var globalBySource: [String: [Date]] = [:]
        var globalInFlightBySource: [String: Int] = [:]
        var globalBlockedUntil: Date?
    }

    let gate = KeyedGate()
    /// Source addresses remembered at most; beyond it, the oldest are forgotten.
    let maxSources: Int
    private let state = Mutex(State())

    init(maxSources: Int = 50_000) { self.maxSources = maxSources }

    static func key(extension number: String) -> String { "ext:\(number)" }
    static func key(device mac: MACAddress) -> String { "dev:\(mac.canonical)" }
    static func key(source: String) -> String { "src:\(source)" }

    // MARK: remembered locks

    /// The first lock in force among `keys`, counted as one more refused attempt.
    func lockInForce(_ keys: [String], now: Date) -> LockReason? {
        state.withLock { s in
            for key in keys {
                guard var lock = s.locks[key], lock.reason.until > now else { continue }
                lock.refused += 1
                s.locks[key] = lock
                return lock.reason
            }
            return nil
        }
    }

    func remember(_ lock: RememberedLock, key: String) {
        state.withLock { s in
            if let old = s.locks[key], old.reason.until >= lock.reason.until { return }
            s.locks[key] = lock
        }
    }

    /// Forgets what is remembered of `subject`: its lock (without a summary) and, for an address,
    /// its failures. Returns whether anything was remembered.
    @discardableResult
    func forget(_ subject: LockSubject) -> Bool {
        let key: String =
            switch subject {
            case .extension(let number): Self.key(extension: number)
            case .device(let mac): Self.key(device: mac)
            case .source(let address): Self.key(source: address)
            }
        return state.withLock { s in
            var found = s.locks.removeValue(forKey: key) != nil
            if case .source(let address) = subject { found = s.sourceFailures.removeValue(forKey: address) != nil || found }
            return found
        }
    }

    /// The addresses locked out of the Login app now (kept in memory only).
    func sourceLocks(now: Date) -> [ActiveLock] {
        state.withLock { s in
            s.locks.compactMap { key, lock in
                guard key.hasPrefix("src:"), lock.reason.until > now else { return nil }
                return ActiveLock(subject: .source(String(key.dropFirst(4))), failures: 0, until: lock.reason.until)
            }.sorted { $0.subject.key < $1.subject.key }
        }
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

    // MARK: source addresses

    /// Records a failure from `source`; returns when the source is locked until, if this failure
    /// reached the limit.
    func recordSourceFailure(_ source: String, policy: LockoutPolicy, now: Date) -> Date? {
        state.withLock { s in
            if s.sourceFailures[source] == nil, s.sourceFailures.count >= maxSources {
                s.sourceFailures = s.sourceFailures.filter { now.timeIntervalSince($0.value.last ?? .distantPast) < policy.window }
                if s.sourceFailures.count >= maxSources { s.sourceFailures.removeAll() }
            }
            var times = (s.sourceFailures[source] ?? []).filter { now.timeIntervalSince($0) < policy.window }
            times.append(now)
            s.sourceFailures[source] = Array(times.suffix(policy.sourceFailures))
            return times.count >= policy.sourceFailures ? now.addingTimeInterval(policy.duration) : nil
        }
    }

    // MARK: the global budget

    /// Whether a global password may be checked for this attempt.
    enum GlobalReservation: Equatable {
        /// Yes: one unit of the budget is reserved, to be settled with `settleGlobal`.
        case reserved
        /// No: the budget is spent; global passwords work again at `until`.
        case blocked(until: Date)
        /// No: this source has spent its share of the budget (others still have theirs).
        case sourceSpent(until: Date)
    }

    /// One source's share of the global budget: a quarter, so one guesser cannot spend it all
    /// and lock the shared passwords out for everyone (at least 2).
    static func globalShare(_ policy: LockoutPolicy) -> Int { max(2, policy.globalFailures / 4) }

    func reserveGlobal(source: String?, policy: LockoutPolicy, now: Date) -> GlobalReservation {
        state.withLock { s in
            if let until = s.globalBlockedUntil {
                if until > now { return .blocked(until: until) }
                s.globalBlockedUntil = nil
            }
            s.globalFailures.removeAll { now.timeIntervalSince($0) >= policy.window }
            guard s.globalFailures.count + s.globalInFlight < policy.globalFailures else {
                return .blocked(until: (s.globalFailures.first ?? now).addingTimeInterval(policy.window))
            }
            let key = source ?? "-"
            var mine = (s.globalBySource[key] ?? []).filter { now.timeIntervalSince($0) < policy.window }
            s.globalBySource[key] = mine.isEmpty ? nil : mine
            if s.globalBySource.count > 10_000 { s.globalBySource = s.globalBySource.filter { !$0.value.isEmpty } }
            guard mine.count + (s.globalInFlightBySource[key] ?? 0) < Self.globalShare(policy) else {
                mine.sort()
                return .sourceSpent(until: (mine.first ?? now).addingTimeInterval(policy.window))
            }
            s.globalInFlight += 1
            s.globalInFlightBySource[key, default: 0] += 1
            return .reserved
        }
    }

    /// Settles a reservation. Returns the time global passwords are blocked until, when this
    /// failure spent the budget (exactly once per block).
    func settleGlobal(source: String?, failed: Bool, policy: LockoutPolicy, now: Date) -> Date? {
        state.withLock { s in
            let key = source ?? "-"
            s.globalInFlight = max(0, s.globalInFlight - 1)
            let left = (s.globalInFlightBySource[key] ?? 1) - 1
            s.globalInFlightBySource[key] = left > 0 ? left : nil
            guard failed else { return nil }
            s.globalFailures.append(now)
            s.globalBySource[key, default: []].append(now)
            guard s.globalFailures.count >= policy.globalFailures, s.globalBlockedUntil == nil else { return nil }
            let until = now.addingTimeInterval(policy.duration)
            s.globalBlockedUntil = until
            s.globalFailures.removeAll()
            s.globalBySource.removeAll()
            return until
        }
    }

    /// Until when global passwords are blocked, if they are.
    func globalBlockedUntil(now: Date) -> Date? {
        state.withLock { s in s.globalBlockedUntil.flatMap { $0 > now ? $0 : nil } }
    }
}
