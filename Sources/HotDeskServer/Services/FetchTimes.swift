import Foundation
import HotDeskCore
import HotDeskStore
import Logging
import ServiceLifecycle
import Synchronization

/// The last fetch time of phones whose fetch changed nothing else (same config, same address, no
/// push to confirm): kept in memory and written in one transaction every `interval`, so that a
/// boot storm of unchanged phones costs no write per request. A crash loses at most `interval`
/// of these times; everything a fetch proves (an address, a config, a push) is written at once.
final class FetchTimes: Service, Sendable {
    let store: any DeviceStore
    let interval: TimeInterval
    let logger: Logger
    private let pending = Mutex<[MACAddress: Date]>([:])

    init(store: any DeviceStore, interval: TimeInterval, logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    func note(_ mac: MACAddress, at: Date) { pending.withLock { $0[mac] = at } }

    func run() async throws {
        await repeatUntilShutdown(every: interval, finally: true) { await self.flush() }
    }

    func flush() async {
        let times = pending.withLock { p in
            defer { p.removeAll(keepingCapacity: true) }
            return p
        }
        do { try await store.recordFetchTimes(times) } catch {
            logger.error("fetch times not written", metadata: ["count": "\(times.count)", "error": "\(error)"])
        }
    }
}
