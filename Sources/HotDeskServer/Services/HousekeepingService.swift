import Foundation
import HotDeskCore
import HotDeskStore
import Logging
import ServiceLifecycle

/// What runs by itself beside the server, once every `interval`: the audit summaries of locks
/// that have ended (attempts refused under them are counted, not listed), and forgetting phones
/// that enrolled but never fetched their config with their secret (`settings.enrolment`).
final class HousekeepingService: Service, Sendable {
    let store: any DeviceStore & DirectoryStore & NodeLocks
    let login: LoginService
    let interval: TimeInterval
    let logger: Logger
    let clock: @Sendable () -> Date

    init(
        store: any DeviceStore & DirectoryStore & NodeLocks,
        login: LoginService,
        interval: TimeInterval,
        logger: Logger,
        clock: @escaping @Sendable () -> Date
    ) {
        self.store = store
        self.login = login
        self.interval = interval
        self.logger = logger
        self.clock = clock
    }

    func run() async throws {
        // Once more at a clean stop: the summaries of locks that ended are not lost.
        await repeatUntilShutdown(every: interval, finally: true) { await self.sweep() }
    }

    func sweep() async {
        let now = clock()
        do {
            // The locks this node remembers are its own; the unclaimed phones are everyone's
            // (one node at a time forgets them).
            try await login.writeLockSummaries(now: now)
            let (store, logger) = (self.store, self.logger)
            _ = try await store.unlessAnotherNodeRuns("sweep:unclaimed") {
                guard let after = try await store.settings().enrolment.expireUnclaimedAfter else { return }
                let forgotten = try await store.expireUnclaimed(enrolledBefore: now.addingTimeInterval(-after), at: now)
                if forgotten > 0 { logger.info("unclaimed phones forgotten", metadata: ["count": "\(forgotten)"]) }
            }
        } catch {
            logger.error("housekeeping failed", metadata: ["error": "\(error)"])
        }
    }
}
