import Foundation
import HotDeskStore
import Logging
import ServiceLifecycle
import Synchronization

/// `GET /health` answers from memory: the database is checked every `interval` by this service,
/// not by every probe (a load balancer probing at 100/s costs nothing).
final class HealthMonitor: Service, Sendable {
    let store: any StoreHealth
    let interval: TimeInterval
    let logger: Logger
    let telemetry: Telemetry
    /// `nil` while healthy; else why not.
    private let problem = Mutex<String?>(nil)
    /// The sites counted last time (a site with no phones any more goes to 0).
    private let sitesCounted = Mutex<Set<String>>([])

    init(store: any StoreHealth, interval: TimeInterval, telemetry: Telemetry, logger: Logger) {
        self.telemetry = telemetry
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    var currentProblem: String? { problem.withLock { $0 } }

    func run() async throws {
        await repeatUntilShutdown(every: interval) { await self.check() }
    }

    /// Reads (the gauges) and writes (one row): a database that answers reads but takes no write
    /// (a full disk, a read-only file) is not healthy either.
    func check() async {
        var found: String?
        do {
            let population = try await store.population()
            telemetry.gauges(sessions: population.sessions, devices: population.devices)
            let bySite = try await store.populationBySite()
            let gone = sitesCounted.withLock { counted in
                defer { counted = Set(bySite.keys) }
                return counted.subtracting(bySite.keys)
            }
            telemetry.siteGauges(bySite, gone: gone)
            do {
                try await store.probeWrite(at: Date())
            } catch {
                found = "database_not_writable"
                report(found, error)
            }
        } catch {
            found = "database_unavailable"
            report(found, error)
        }
        let before = problem.withLock { old in
            defer { old = found }
            return old
        }
        if before != nil, found == nil { logger.notice("database answers again") }
    }

    private func report(_ found: String?, _ error: any Error) {
        telemetry.storeError()
        if problem.withLock({ $0 }) != found { logger.error("database check failed: \(found ?? "")", metadata: ["error": "\(error)"]) }
    }
}
