import Foundation
import HotDeskCore
import HotDeskStore
import Logging
import ServiceLifecycle

/// Ends sessions by the directory's auto-logout policy (`settings.auto_logout`): each one is
/// audited as a logout by actor `policy`, and the phone gets its logged-out config pushed with
/// reason `policy`. Runs beside the HTTP server; a daily logout missed while the server was down
/// is caught up at start.
final class AutoLogoutService: Service, Sendable {
    let store: any SessionStore & DirectoryStore & NodeLocks
    let changes: PhoneChanges
    /// Seconds between sweeps.
    let interval: TimeInterval
    /// The server's time zone, for the daily logout time.
    let calendar: Calendar
    let logger: Logger
    let clock: @Sendable () -> Date

    init(
        store: any SessionStore & DirectoryStore & NodeLocks,
        changes: PhoneChanges,
        interval: TimeInterval,
        timeZone: TimeZone,
        logger: Logger,
        clock: @escaping @Sendable () -> Date
    ) {
        self.store = store
        self.changes = changes
        self.interval = interval
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
        self.logger = logger
        self.clock = clock
    }

    func run() async throws {
        await repeatUntilShutdown(every: interval) { await self.sweep() }
    }

    /// One pass over the sessions, on one node at a time (the others skip their turn); returns
    /// those it ended.
    @discardableResult
    func sweep() async -> [Session] {
        do {
            return try await store.unlessAnotherNodeRuns("sweep:auto-logout") { await self.sweepHere() } ?? []
        } catch {
            logger.error("auto logout sweep failed", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// One session that cannot be ended (logged) never keeps the others logged in.
    private func sweepHere() async -> [Session] {
        let policy: AutoLogoutPolicy
        let sessions: [Session]
        do {
            policy = try await store.settings().autoLogout
            guard !policy.isOff else { return [] }
            sessions = try await store.sessions()
        } catch {
            logger.error("auto logout sweep failed", metadata: ["error": "\(error)"])
            return []
        }
        let now = clock()
        var ended: [Session] = []
        for session in sessions {
            guard let reason = policy.reason(toEnd: session, now: now, calendar: calendar) else { continue }
            do {
                guard try await changes.end(session, actor: "policy", why: .policy(reason), reason: .policy) != nil else { continue }
                logger.info("auto logout", metadata: ["mac": "\(session.mac)", "extension": "\(session.extensionNumber)", "reason": "\(reason)"])
                ended.append(session)
            } catch {
                logger.error(
                    "auto logout failed",
                    metadata: ["mac": "\(session.mac)", "extension": "\(session.extensionNumber)", "error": "\(error)"]
                )
            }
        }
        return ended
    }
}
