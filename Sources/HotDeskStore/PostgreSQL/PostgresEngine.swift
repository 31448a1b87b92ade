import Dispatch
import Foundation
import HotDeskCore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// PostgreSQL through PostgresNIO as the role code's `SQLEngine`. A few connections, each with a
/// serial queue of its own: a read or transaction runs its closure there, statement by
/// statement, waiting for each on that queue's thread (never on an event loop, never on Swift's
/// cooperative pool). Writes run `SERIALIZABLE` and run again when PostgreSQL says two
/// transactions collided: what SQLite's one writer gives, across every node (a write ordered
/// by node locks runs `READ COMMITTED` holding them: `SQLIsolation.underNodeLocks`).
final class PostgresEngine: SQLEngine {
    let location: PostgresLocation
    private let links: [PostgresLink]
    let watchdog: PostgresWatchdog
    private let idle: Mutex<(free: [Int], waiting: [CheckedContinuation<Int, Never>])>
    /// One transaction per node lock waits for it inside PostgreSQL at a time, the others here,
    /// holding no connection (waiters never take every connection from the work that needs none).
    private let turns = KeyedGate()

    var dialect: SQLDialect { .postgres }

    /// Connects `size` connections (at least one now, so a wrong address or password is said at
    /// start-up; the others on first use).
    /// `watchdog`: one shared with the store's other connections (else one of its own).
    init(_ location: PostgresLocation, size: Int = 4, watchdog: PostgresWatchdog? = nil) throws {
        self.location = location
        let watchdog = watchdog ?? PostgresWatchdog(seconds: location.deadline)
        self.watchdog = watchdog
        links = (0..<max(1, size)).map { PostgresLink(location: location, id: $0, watchdog: watchdog) }
        idle = Mutex((Array(links.indices), []))
        let first = links[0]
        try first.queue.sync { try first.connectIfNeeded() }
    }

    /// Closes every connection after what its queue is running now, without waiting: the last
    /// reference to a store can go on one of these queues (a closure that held it ends there),
    /// and a close that waited on its own queue there would trap (seen in a PostgreSQL pass).
    func close() {
        for link in links { link.closeSoon() }
    }

    /// Runs `body` on the first connection before the engine serves anything (opening: migrations, the key check).
    func onFirstLink<T>(_ body: (PostgresLink) throws -> T) throws -> T {
        try links[0].queue.sync { try body(links[0]) }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) throws -> T) async throws -> T {
        try await withLink { link in
            try link.transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { db in (try body(db), .rollback) }
        }
    }

    func rows(_ sql: String, _ arguments: SQLArguments) async throws -> [SQLRow] {
        try await withLink { link in try link.alone { db in try db.rows(sql, arguments) } }
    }

    func transaction<T: Sendable>(
        _ isolation: SQLIsolation,
        _ body: @escaping @Sendable (any SQLDatabase) throws -> (T, SQLCompletion)
    ) async throws -> T {
        guard case .underNodeLocks(let keys) = isolation else {
            return try await withLink { link in try Self.again(link, begin: "BEGIN ISOLATION LEVEL SERIALIZABLE", body) }
        }
        let numbers = Set(keys.map(PostgresNodeLocks.number)).sorted()
        let lock = "SELECT " + numbers.map { "pg_advisory_xact_lock(\($0))" }.joined(separator: ", ")
        return try await turns.withKeys(keys) {
            try await withLink { link in
                try Self.again(link, begin: "BEGIN ISOLATION LEVEL READ COMMITTED") { db in
                    try db.execute(lock)
                    return try body(db)
                }
            }
        }
    }

    /// One transaction on `link`, run again when PostgreSQL says it collided with another.
    private static func again<T>(_ link: PostgresLink, begin: String, _ body: (any SQLDatabase) throws -> (T, SQLCompletion)) throws -> T {
        var attempt = 0
        while true {
            do {
                return try link.transaction(begin: begin, body)
            } catch let error as PostgresFailure where error.isCollision && attempt < 30 {
                // Another node (or connection) changed what this one read: do it again on
                // the new state, after a short random pause so the two do not collide again.
                attempt += 1
                usleep(UInt32.random(in: 200...(2000 * UInt32(min(attempt, 10)))))
            }
        }
    }

    /// Runs `body` holding a free connection for as long as it runs (the cluster's locks: a
    /// session's advisory locks are held by its connection).
    func holdingLink<T: Sendable>(_ body: @Sendable (PostgresLink) async throws -> T) async throws -> T {
        let index = await checkOut()
        defer { checkIn(index) }
        return try await body(links[index])
    }

    /// Runs `body` on a free connection's queue.
    private func withLink<T: Sendable>(_ body: @escaping @Sendable (PostgresLink) throws -> T) async throws -> T {
        let index = await checkOut()
        defer { checkIn(index) }
        let link = links[index]
        return try await withCheckedThrowingContinuation { continuation in
            link.queue.async { continuation.resume(with: Result { try body(link) }) }
        }
    }

    private func checkOut() async -> Int {
        if let index = idle.withLock({ $0.free.popLast() }) { return index }
        return await withCheckedContinuation { continuation in
            let index: Int? = idle.withLock { state in
                if let index = state.free.popLast() { return index }
                state.waiting.append(continuation)
                return nil
            }
            if let index { continuation.resume(returning: index) }
        }
    }

    private func checkIn(_ index: Int) {
        let waiter: CheckedContinuation<Int, Never>? = idle.withLock { state in
            if state.waiting.isEmpty {
                state.free.append(index)
                return nil
            }
            return state.waiting.removeFirst()
        }
        waiter?.resume(returning: index)
    }
}

/// One connection and the queue its statements wait on. Reconnects on the next use after the
/// server closed it (a restart, a failover).
final class PostgresLink: @unchecked Sendable {
    let queue: DispatchQueue
    private let location: PostgresLocation
    private let id: Int
    private let watchdog: PostgresWatchdog
    private let logger: Logger
    /// Touched on `queue` only.
    private var connection: PostgresConnection?

    /// `watchdog`: the engine's (none: the deadline of `location`, watched by a watchdog of its own).
    init(location: PostgresLocation, id: Int, watchdog: PostgresWatchdog? = nil) {
        self.location = location
        self.id = id
        self.watchdog = watchdog ?? PostgresWatchdog(seconds: location.deadline)
        queue = DispatchQueue(label: "hotdesk.postgres.\(id)")
        var logger = Logger(label: "hotdesk.postgres")
        logger.logLevel = .critical
        self.logger = logger
    }

    func connectIfNeeded() throws {
        if let connection, !connection.isClosed { return }
        if let connection { try? connection.close().wait() }
        connection = nil
        connection = try PostgresSession.wait(location.connect(id: id, logger: logger))
    }

    func close() {
        queue.sync { closeHere() }
    }

    /// `close`, queued: from anywhere, this queue included.
    func closeSoon() {
        queue.async { self.closeHere() }
    }

    /// On `queue` (or when nothing else can use the link).
    private func closeHere() {
        try? connection?.close().wait()
        connection = nil
    }

    deinit { closeHere() }

    /// One transaction opened with `begin`, on this queue. `BEGIN` is sent with the first
    /// statement rather than waited for (the connection keeps them in order), and so is the
    /// shared change stamp's query (most reads and writes key a memo on it: its answer comes
    /// with the first statement's, no round trip of its own); a transaction that keeps nothing
    /// ends without waiting either: a read costs the round trips of its own statements only.
    /// `askingStamp: false` where the table may not be there yet (migrations).
    func transaction<T>(begin: String, askingStamp: Bool = true, _ body: (any SQLDatabase) throws -> (T, SQLCompletion)) throws -> T {
        try connectIfNeeded()
        guard let connection else { throw PostgresUnavailable(reason: "no connection") }
        let began = connection.query(PostgresQuery(unsafeSQL: begin), logger: logger)
        let stamp = askingStamp ? connection.query(PostgresQuery(unsafeSQL: PostgresSession.sharedStampQuery), logger: logger) : nil
        let db = PostgresSession(connection: connection, watchdog: watchdog, logger: logger, stampAsked: stamp)
        do {
            let (value, completion) = try body(db)
            _ = try PostgresSession.wait(began)
            if completion == .commit {
                try db.execute("COMMIT")
            } else {
                _ = connection.query(PostgresQuery(unsafeSQL: "ROLLBACK"), logger: logger)
            }
            return value
        } catch {
            if !connection.isClosed { _ = connection.query(PostgresQuery(unsafeSQL: "ROLLBACK"), logger: logger) }
            throw error
        }
    }

    /// One statement on its own, outside any transaction (`CREATE DATABASE` must be), on this queue.
    func autocommit(_ sql: String) throws {
        try alone { db in try db.execute(sql) }
    }

    /// `body` on the connection outside any transaction, on this queue.
    func alone<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try connectIfNeeded()
        guard let connection else { throw PostgresUnavailable(reason: "no connection") }
        return try body(PostgresSession(connection: connection, watchdog: watchdog, logger: logger))
    }

    /// `autocommit`, from anywhere: run on this queue, awaited.
    func run(_ sql: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async { continuation.resume(with: Result { try self.autocommit(sql) }) }
        }
    }

}

/// One connection inside a transaction, as the role code sees it.
final class PostgresSession: SQLDatabase {
    let connection: PostgresConnection
    let watchdog: PostgresWatchdog
    let logger: Logger
    private(set) var changesCount = 0
    /// The shared stamp's query, sent as the transaction began (its answer not waited for yet).
    private let stampAsked: EventLoopFuture<PostgresQueryResult>?

    init(connection: PostgresConnection, watchdog: PostgresWatchdog, logger: Logger, stampAsked: EventLoopFuture<PostgresQueryResult>? = nil) {
        self.connection = connection
        self.watchdog = watchdog
        self.logger = logger
        self.stampAsked = stampAsked
    }

    var dialect: SQLDialect { .postgres }

    func sharedStamp() throws -> Int {
        guard let stampAsked else { return try value(Int.self, Self.sharedStampQuery) ?? -1 }
        let row = try Self.rows(try watchdog.wait(stampAsked, on: connection)).first
        return row.flatMap { Int(sqlValue: $0.values[0]) } ?? -1
    }

    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int {
        let result = try run(sql, arguments)
        changesCount = result.metadata.rows ?? 0
        return changesCount
    }

    func rows(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow] {
        let result = try run(sql, arguments)
        changesCount = result.metadata.rows ?? 0
        return try Self.rows(result)
    }

    private func run(_ sql: String, _ arguments: SQLArguments) throws -> PostgresQueryResult {
        try watchdog.wait(connection.query(PostgresStatements.query(sql, arguments), logger: logger), on: connection)
    }

    /// A statement's result, PostgreSQL's errors as `PostgresFailure`.
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        do {
            return try future.wait()
        } catch let error as PSQLError {
            throw PostgresFailure(error)
        }
    }

    /// Every row of a result, as the role code reads rows.
    static func rows(_ result: PostgresQueryResult) throws -> [SQLRow] {
        guard let first = result.rows.first else { return [] }
        let columns = SQLColumns(first.map(\.columnName))
        return try result.rows.map { row in SQLRow(columns: columns, values: try row.map(Self.value)) }
    }

    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2: return .integer(Int64(try cell.decode(Int16.self)))
        case .int4: return .integer(Int64(try cell.decode(Int32.self)))
        case .int8: return .integer(try cell.decode(Int64.self))
        case .float4: return .real(Double(try cell.decode(Float.self)))
        case .float8: return .real(try cell.decode(Double.self))
        case .numeric: return .real(NSDecimalNumber(decimal: try cell.decode(Decimal.self)).doubleValue)
        case .bool: return .bool(try cell.decode(Bool.self))
        case .bytea: return .blob(Data(try cell.decode(ByteBuffer.self).readableBytesView))
        default: return .text(try cell.decode(String.self))
        }
    }
}

/// The role code writes `?`; PostgreSQL numbers its arguments (`$1`, `$2`…), rewritten at each
/// statement (a pass over a few hundred bytes: nothing beside a round trip to the server).
enum PostgresStatements {
    /// The statement with its arguments bound.
    static func query(_ sql: String, _ arguments: SQLArguments) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument?.sqlValue ?? .null {
            case .null: bindings.appendNull()
            case .integer(let n): bindings.append(n)
            case .real(let d): bindings.append(d)
            case .text(let s): bindings.append(s)
            case .blob(let b): bindings.append(ByteBuffer(bytes: b))
            case .bool(let b): bindings.append(b)
            }
        }
        return PostgresQuery(unsafeSQL: numbered(sql), binds: bindings)
    }

    static func numbered(_ sql: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        var quoted = false
        for byte in sql.utf8 {
            if byte == UInt8(ascii: "'") { quoted.toggle() }
            if byte == UInt8(ascii: "?") && !quoted {
                n += 1
                out.append(UInt8(ascii: "$"))
                out.append(contentsOf: String(n).utf8)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The database cannot be reached (down, restarting, unreachable): a store failure, said in one line.
struct PostgresUnavailable: StoreError, CustomStringConvertible {
    var reason: String
    var description: String { "PostgreSQL is unavailable: \(reason)" }
}

/// PostgreSQL's answer to a statement, or the connection's failure, in words that may be logged:
/// the server's message and SQLSTATE, never the statement's arguments (PSQLError's own
/// description says nothing, on purpose; its reflection carries the arguments).
struct PostgresFailure: StoreError, CustomStringConvertible {
    var state: String?
    var message: String

    init(_ error: PSQLError) {
        state = error.serverInfo?[.sqlState]
        if let message = error.serverInfo?[.message] {
            self.message = message
        } else {
            switch error.code {
            case .connectionError: message = "cannot reach the server" + (error.underlying.map { " (\($0))" } ?? "")
            case .serverClosedConnection, .uncleanShutdown: message = "the server closed the connection"
            case .clientClosedConnection: message = "the connection was closed"
            default: message = "\(error.code)"
            }
        }
    }

    /// A serialization failure or a deadlock: the transaction can be run again as it is.
    var isCollision: Bool { state == "40001" || state == "40P01" }

    var description: String { "PostgreSQL: \(message)" + (state.map { " (SQLSTATE \($0))" } ?? "") }
}
