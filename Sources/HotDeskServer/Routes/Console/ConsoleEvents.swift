import Foundation
import HotDeskStore
import Logging
import ServiceLifecycle
import Synchronization

/// Tells the signed-in consoles that what they show changed, as server-sent events on
/// `GET /api/v1/events`: every `interval` one look at SQLite's data version for every console
/// together (not one per open page); when something was committed, the store's activity mark
/// says whether it was something an admin sees (`event: change`, whose data names the new mark: a
/// page, or a test, can tell the changes it already read from the next). A comment line now and then
/// keeps proxies and the idle timeout from closing the stream. The streams end when the server stops.
final class ConsoleEvents: Service, Sendable {
    enum Event: Sendable {
        /// Something an admin sees changed; the store's activity mark is now `mark`.
        case change(mark: Double)
        case keepAlive
    }

    private struct Subscribers {
        var next = 0
        var streams: [Int: AsyncStream<Event>.Continuation] = [:]
        var owners: [Int: String] = [:]
        var stopped = false
    }

    let store: any AuditStore & StampedStore
    let interval: TimeInterval
    /// Ticks between keep-alive comments.
    let keepAliveTicks: Int
    let logger: Logger
    /// Open streams at most per key or console account, and in all: each holds a connection
    /// for as long as the page is open (issue 21: one auditor key opened 3,000).
    let perOwner: Int
    let total: Int
    private let subscribers = Mutex(Subscribers())

    init(
        store: any AuditStore & StampedStore,
        interval: TimeInterval = 1,
        keepAlive: TimeInterval = 10,
        perOwner: Int = 8,
        total: Int = 200,
        logger: Logger
    ) {
        self.perOwner = perOwner
        self.total = total
        self.store = store
        self.interval = interval
        self.keepAliveTicks = max(1, Int(keepAlive / interval))
        self.logger = logger
    }

    /// A stream of events for one open page of `owner` (a key's or an account's actor name); it
    /// ends when the page goes or the server stops. `nil` when the owner, or everyone, has as
    /// many streams open as allowed.
    func subscribe(owner: String) -> AsyncStream<Event>? {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1))
        enum Admission {
            case admitted(Int)
            case stopped, full
        }
        let admission: Admission = subscribers.withLock { s in
            guard !s.stopped else { return .stopped }
            guard s.streams.count < total, s.owners.values.count(where: { $0 == owner }) < perOwner else { return .full }
            s.next += 1
            s.streams[s.next] = continuation
            s.owners[s.next] = owner
            return .admitted(s.next)
        }
        switch admission {
        case .full:
            return nil
        case .stopped:
            continuation.finish()
            return stream
        case .admitted(let id):
            continuation.onTermination = { [weak self] _ in
                self?.subscribers.withLock { s in
                    s.streams.removeValue(forKey: id)
                    s.owners.removeValue(forKey: id)
                }
            }
            return stream
        }
    }

    var subscriberCount: Int { subscribers.withLock { $0.streams.count } }

    private struct Seen {
        var tick = 0
        var version: Int?
        var mark: Double?
    }

    func run() async throws {
        let seen = Mutex(Seen())
        await repeatUntilShutdown(every: interval) { [self] in
            let (tick, before) = seen.withLock { s in
                s.tick += 1
                return (s.tick, s)
            }
            if tick % keepAliveTicks == 0 { broadcast(.keepAlive) }
            do {
                // Kept up to date with nobody watching too: a page opened now hears of what
                // changes after it read its view, however soon.
                let version = try await store.stamps.commits()
                guard version != before.version else { return }
                let mark = try await store.activityMark()
                seen.withLock { s in
                    s.version = version
                    s.mark = mark
                }
                if before.mark != nil, mark != before.mark { broadcast(.change(mark: mark)) }
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
            defer {
                s.streams = [:]
                s.owners = [:]
            }
            return Array(s.streams.values)
        }
        for stream in streams { stream.finish() }
    }

    private func broadcast(_ event: Event) {
        for stream in subscribers.withLock({ Array($0.streams.values) }) { stream.yield(event) }
    }
}
