import Foundation
import Synchronization

/// Counts refused admin API calls per source address, so that a client sending wrong keys in a
/// loop cannot fill the audit log: up to `limit` refusals per `window` are audited one by one,
/// the one that goes over is audited once as a summary, the rest get 429 and no audit entry
/// until the window has passed. A valid key is always let through.
final class RefusalThrottle: Sendable {
    enum Verdict: Equatable {
        /// Audit this refusal and answer 401.
        case withinLimit
        /// The limit was just reached: audit it once, answer 429.
        case limitReached
        /// Over the limit: answer 429, no audit entry.
        case overLimit
    }

    let limit: Int
    let window: TimeInterval
    /// Sources remembered at most; beyond it the oldest are forgotten.
    let maxSources: Int
    private let refusals = Mutex<[String: [Date]]>([:])

    init(limit: Int = 10, window: TimeInterval = 60, maxSources: Int = 10_000) {
        self.limit = limit
        self.window = window
        self.maxSources = maxSources
    }

    func refuse(source: String, now: Date) -> Verdict {
        refusals.withLock { table in
            if table[source] == nil, table.count >= maxSources {
                table = table.filter { now.timeIntervalSince($0.value.last ?? .distantPast) < window }
                if table.count >= maxSources { table.removeAll() }
            }
            var times = (table[source] ?? []).filter { now.timeIntervalSince($0) < window }
            times.append(now)
            // Keep one more than the limit: enough to know the source is over it.
            table[source] = Array(times.suffix(limit + 1))
            if times.count <= limit { return .withinLimit }
            return times.count == limit + 1 ? .limitReached : .overLimit
        }
    }

    /// Refusals of `source` within the window.
    func recent(source: String, now: Date) -> Int {
        refusals.withLock { table in (table[source] ?? []).filter { now.timeIntervalSince($0) < window }.count }
    }

    /// Seconds until `source` is below the limit again.
    func retryAfter(source: String, now: Date) -> Int {
        refusals.withLock { table in
            guard let oldest = table[source]?.first else { return 0 }
            return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }
}
