import Foundation
import Synchronization

/// This node's share of the enrolment rate (`settings.enrolment.per_minute`), in memory: unknown
/// phones it admitted in the last minute (a flood is shed here, without the database; the
/// database then counts every node's enrolments, `DeviceStore.enrol`), and those refused since
/// the last summary, so that a flood of fake MACs is audited as one row per episode, not one row
/// per MAC.
final class EnrolmentGate: Sendable {
    enum Verdict: Equatable {
        case admit
        /// Refused; `first`: the first refusal of an episode (one audit row; the others are
        /// counted and summarised when enrolment goes on).
        case refuse(retryAfter: Int, first: Bool)
    }

    private struct State {
        var admitted: [Date] = []
        var refused = 0
    }

    private let state = Mutex(State())

    func admit(perMinute: Int, now: Date) -> Verdict {
        state.withLock { s in
            s.admitted.removeAll { now.timeIntervalSince($0) >= 60 }
            guard s.admitted.count < perMinute else {
                s.refused += 1
                let retry = max(1, Int((60 - now.timeIntervalSince(s.admitted[0])).rounded(.up)))
                return .refuse(retryAfter: retry, first: s.refused == 1)
            }
            s.admitted.append(now)
            return .admit
        }
    }

    /// Refusals counted since the last call (after an episode is over, for the summary row).
    func refusedSinceLastSummary() -> Int {
        state.withLock { s in
            defer { s.refused = 0 }
            return s.refused
        }
    }

    /// Counts one refusal for a reason other than the rate (the cap on unclaimed phones), giving
    /// back the slot `admit` took: `true` if it is the first of an episode.
    func countRefusal() -> Bool {
        state.withLock { s in
            if !s.admitted.isEmpty { s.admitted.removeLast() }
            s.refused += 1
            return s.refused == 1
        }
    }
}
