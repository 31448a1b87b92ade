import Dispatch
import NIOCore
import PostgresNIO
import Synchronization

/// No statement waits for ever: one without an answer after `seconds` (`PostgresLocation.deadline`:
/// a server that stopped answering, a network that drops packets, a lock held by a node that
/// hangs) fails, its connection closed (the next use connects again), so that a request ends
/// with an error instead of holding a connection and a thread for good. A statement costs a
/// ticket (its start, noted); a timer looks at the waiting ones a few times per deadline. (A
/// timer per statement cost a fifth of a statement's CPU.)
final class PostgresWatchdog: @unchecked Sendable {
    let seconds: Int64
    private struct Waiting {
        let connection: PostgresConnection
        let since: ContinuousClock.Instant
    }
    private struct State {
        var next = 0
        var waiting: [Int: Waiting] = [:]
        var expired: Set<Int> = []
    }
    private let state = Mutex(State())
    /// Touched at `init` and `deinit` only.
    private let timer: DispatchSourceTimer

    init(seconds: Int64) {
        self.seconds = seconds
        timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        let period = max(0.25, min(1, Double(seconds) / 4))
        timer.schedule(deadline: .now() + period, repeating: period)
        timer.setEventHandler { [weak self] in self?.giveUpLate() }
        timer.resume()
    }

    deinit { timer.cancel() }

    /// `future`'s value, waited for on this thread (a link's queue).
    func wait<T: Sendable>(_ future: EventLoopFuture<T>, on connection: PostgresConnection) throws -> T {
        let ticket = begin(connection)
        do {
            let value = try future.wait()
            _ = end(ticket)
            return value
        } catch {
            throw failure(error, expired: end(ticket))
        }
    }

    /// `future`'s value, awaited.
    func value<T: Sendable>(_ future: EventLoopFuture<T>, on connection: PostgresConnection) async throws -> T {
        let ticket = begin(connection)
        do {
            let value = try await future.get()
            _ = end(ticket)
            return value
        } catch {
            throw failure(error, expired: end(ticket))
        }
    }

    private func failure(_ error: any Error, expired: Bool) -> any Error {
        if expired { return PostgresUnavailable(reason: "no answer within \(seconds) s") }
        if let error = error as? PSQLError { return PostgresFailure(error) }
        return error
    }

    private func begin(_ connection: PostgresConnection) -> Int {
        let now = ContinuousClock.now
        return state.withLock { s in
            s.next &+= 1
            s.waiting[s.next] = Waiting(connection: connection, since: now)
            return s.next
        }
    }

    /// Whether the statement was given up.
    private func end(_ ticket: Int) -> Bool {
        state.withLock { s in
            s.waiting[ticket] = nil
            return s.expired.remove(ticket) != nil
        }
    }

    private func giveUpLate() {
        let limit = ContinuousClock.now - .seconds(seconds)
        let late: [PostgresConnection] = state.withLock { s in
            var late: [PostgresConnection] = []
            for (ticket, waiting) in s.waiting where waiting.since < limit {
                s.waiting[ticket] = nil
                s.expired.insert(ticket)
                late.append(waiting.connection)
            }
            return late
        }
        for connection in late { connection.close().whenComplete { _ in } }
    }
}
