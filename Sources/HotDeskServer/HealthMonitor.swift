import Foundation
import HotDeskStore
import Logging
import ServiceLifecycle
import Synchronization

/// `GET /health` answers from memory: the database is checked every `interval` by this service,
/// not by every probe (a load balancer probing at 100/s costs nothing).
final class HealthMonitor: Service, Sendable {
    let store: any Store
    let interval: TimeInterval
    let logger: Logger
    /// `nil` while healthy; else why not.
    private let problem = Mutex<String?>(nil)

    init(store: any Store, interval: TimeInterval, logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    var currentProblem: String? { problem.withLock { $0 } }

    func run() async throws {
        await repeatUntilShutdown(every: interval) { await self.check() }
    }

    func check() async {
        do {
            let population = try await store.population()
            Telemetry.gauges(sessions: population.sessions, devices: population.devices)
            if problem.withLock({ $0 }) != nil { logger.notice("database answers again") }
            problem.withLock { $0 = nil }
        } catch {
            Telemetry.storeError()
            if problem.withLock({ $0 }) == nil { logger.error("database check failed", metadata: ["error": "\(error)"]) }
            problem.withLock { $0 = "database_unavailable" }
        }
    }
}
