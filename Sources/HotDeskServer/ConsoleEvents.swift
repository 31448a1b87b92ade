import Foundation
import HotDeskStore
import Logging
import ServiceLifecycle
import Synchronization

/// Tells the signed-in consoles that what they show changed, as server-sent events on
/// `GET /api/v1/events`: one store read per `interval` for every console together (not one per
/// open page), `event: change` when the store's activity mark moved, a comment line now and then
/// so that proxies and the idle timeout keep the stream open. The streams end when the server stops.
final class ConsoleEvents: Service, Sendable {
    enum Event: Sendable {
        case change
        case keepAlive
    }

    private struct Subscribers {
        var next = 0
        var streams: [Int: AsyncStream<Event>.Continuation] = [:]
        var stopped = false
    }

    let store: any Store
    let interval: TimeInterval
    /// Ticks between keep-alive comments.
    let keepAliveTicks: Int
    let logger: Logger
    private let subscribers = Mutex(Subscribers())

    init(store: any Store, interval: TimeInterval = 1, keepAlive: TimeInterval = 10, logger: Logger) {
        self.store = store
        self.interval = interval
        self.keepAliveTicks = max(1, Int(keepAlive / interval))
        self.logger = logger
    }

    /// A stream of events for one open page; it ends when the page goes or the server stops.
    func subscribe() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1))
        let id: Int? = subscribers.withLock { s in
            guard !s.stopped else { return nil }
            s.next += 1
            s.streams[s.next] = continuation
            return s.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in _ = self?.subscribers.withLock { $0.streams.removeValue(forKey: id) } }
        return stream
    }

    var subscriberCount: Int { subscribers.withLock { $0.streams.count } }

    func run() async throws {
        let last = Mutex<Double?>(nil)
        let tick = Mutex(0)
        await repeatUntilShutdown(every: interval) { [self] in
            let count = tick.withLock { t in
                t += 1
                return t
            }
            if count % keepAliveTicks == 0 { broadcast(.keepAlive) }
            // Nobody watching: nothing to read.
            guard subscriberCount > 0 else { return }
            do {
                let mark = try await store.activityMark()
                let moved = last.withLock { l in
                    defer { l = mark }
                    return l != nil && l != mark
                }
                if moved { broadcast(.change) }
            } catch {
                logger.warning("console events: cannot read the store: \(error)")
            }
        }
        stop()
    }

    /// Ends every stream, now and for pages that come later. Called as the server begins to
    /// stop: it waits for open requests, and these would never end.
    func stop() {
        let streams = subscribers.withLock { s in
            s.stopped = true
            defer { s.streams = [:] }
            return Array(s.streams.values)
        }
        for stream in streams { stream.finish() }
    }

    private func broadcast(_ event: Event) {
        for stream in subscribers.withLock({ Array($0.streams.values) }) { stream.yield(event) }
    }
}
