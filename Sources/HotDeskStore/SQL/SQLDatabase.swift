import Foundation

// The one seam between the store's role code (written once) and a database engine. The role
// code runs inside a transaction on one connection, synchronously, statement by statement, as
// GRDB runs it on SQLite; PostgreSQL's engine runs the same closure on a thread of its own and
// waits for each statement there (never on Swift's cooperative pool).

/// Which SQL a statement is written in. The role code writes the subset both understand
/// (`?` arguments, `ON CONFLICT … DO UPDATE`, `RETURNING`, `TRUE`/`FALSE`); where they differ
/// it asks `dialect`.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// The larger of two values (SQLite's scalar `MAX`, PostgreSQL's `GREATEST`).
    public var greatest: String { self == .sqlite ? "MAX" : "GREATEST" }
}

/// One connection inside a read or a transaction.
public protocol SQLDatabase {
    var dialect: SQLDialect { get }
    /// Runs one statement; returns how many rows it changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int
    /// Runs one statement and returns every row.
    func rows(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow]
    /// How many rows the last statement changed.
    var changesCount: Int { get }
    /// The shared change stamp as this read or transaction sees it (what the store's memos key on).
    func sharedStamp() throws -> Int
}

extension SQLDatabase {
    @discardableResult
    public func execute(_ sql: String) throws -> Int { try execute(sql, []) }

    public func rows(_ sql: String) throws -> [SQLRow] { try rows(sql, []) }

    /// The shared stamp, one statement (an engine that has it asked already answers from that).
    public func sharedStamp() throws -> Int { try value(Int.self, Self.sharedStampQuery) ?? -1 }

    /// The same table in every engine.
    public static var sharedStampQuery: String { "SELECT n FROM shared_changes WHERE id = 1" }

    /// The first row, if any.
    public func row(_ sql: String, _ arguments: SQLArguments = []) throws -> SQLRow? { try rows(sql, arguments).first }

    /// The first column of every row (a NULL or a value of another type is left out).
    public func values<T: SQLValueConvertible>(_ type: T.Type, _ sql: String, _ arguments: SQLArguments = []) throws -> [T] {
        try rows(sql, arguments).compactMap { T(sqlValue: $0.values[0]) }
    }

    /// The first column of the first row; `nil` when there is no row or it is NULL.
    public func value<T: SQLValueConvertible>(_ type: T.Type, _ sql: String, _ arguments: SQLArguments = []) throws -> T? {
        try rows(sql, arguments).first.flatMap { T(sqlValue: $0.values[0]) }
    }
}

/// Whether a transaction keeps what it did.
public enum SQLCompletion: Sendable {
    case commit
    case rollback
}

/// A database the store's roles run on: reads in parallel, writes in transactions that behave as
/// if they ran one after another (SQLite serialises them; PostgreSQL runs them `SERIALIZABLE`
/// and runs a closure again when the database says two transactions collided, so a closure may
/// run more than once and must not change anything outside the database before it returns).
public protocol SQLEngine: Sendable {
    var dialect: SQLDialect { get }
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) throws -> T) async throws -> T
    /// One statement on its own, outside any transaction (one statement sees one snapshot
    /// anyway): on PostgreSQL one round trip, where a `read` also sends `BEGIN`, the shared
    /// stamp's query and `ROLLBACK`. For reads that are one statement and need no memo.
    func rows(_ sql: String, _ arguments: SQLArguments) async throws -> [SQLRow]
    /// One transaction; the closure says whether to keep it.
    func transaction<T: Sendable>(
        _ isolation: SQLIsolation,
        _ body: @escaping @Sendable (any SQLDatabase) throws -> (T, SQLCompletion)
    ) async throws -> T
}

/// How a write is kept apart from the others.
public enum SQLIsolation: Sendable, Equatable {
    /// As if every write ran alone, one after another, whatever else runs (the default).
    case serializable
    /// Holding the node locks `keys` for the transaction, which every write that could change
    /// what this one reads also holds: the locks are what orders them. PostgreSQL waits for them
    /// inside the transaction (one waiter per node at a time, the others holding no connection)
    /// and runs it `READ COMMITTED`, so unrelated writes to the same tables cannot make it fail
    /// and run again while every other holder waits (a boot storm's enrolments did, again and
    /// again). SQLite's one writer runs it as any other.
    case underNodeLocks([String])
}

extension SQLEngine {
    /// One serializable transaction; the closure says whether to keep it.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) throws -> (T, SQLCompletion)) async throws -> T {
        try await transaction(.serializable, body)
    }

    /// One transaction, kept unless the closure throws.
    @discardableResult
    public func write<T: Sendable>(
        _ isolation: SQLIsolation = .serializable,
        _ body: @escaping @Sendable (any SQLDatabase) throws -> T
    ) async throws -> T {
        try await transaction(isolation) { db in (try body(db), .commit) }
    }
}
