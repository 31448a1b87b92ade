import Foundation
import GRDB

/// SQLite through GRDB as the role code's `SQLEngine`: a WAL pool, reads in parallel, one writer.
/// Every statement is kept prepared (GRDB's statement cache, per connection).
struct GRDBEngine: SQLEngine {
    let pool: DatabasePool

    var dialect: SQLDialect { .sqlite }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) throws -> T) async throws -> T {
        try await pool.read { db in try body(GRDBConnection(db: db)) }
    }

    func rows(_ sql: String, _ arguments: SQLArguments) async throws -> [SQLRow] {
        try await pool.read { db in try GRDBConnection(db: db).rows(sql, arguments) }
    }

    /// SQLite has one writer: every transaction is serializable, whatever `isolation` says.
    func transaction<T: Sendable>(
        _ isolation: SQLIsolation,
        _ body: @escaping @Sendable (any SQLDatabase) throws -> (T, SQLCompletion)
    ) async throws -> T {
        try await pool.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction {
                let (value, completion) = try body(GRDBConnection(db: db))
                result = value
                return completion == .commit ? .commit : .rollback
            }
            return result!
        }
    }
}

/// One GRDB connection seen as an `SQLDatabase`.
struct GRDBConnection: SQLDatabase {
    let db: Database

    var dialect: SQLDialect { .sqlite }

    var changesCount: Int { db.changesCount }

    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
        return db.changesCount
    }

    func rows(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        let columns = SQLColumns(statement.columnNames)
        let cursor = try Row.fetchCursor(statement, arguments: Self.arguments(arguments))
        var rows: [SQLRow] = []
        while let row = try cursor.next() {
            var values: [SQLValue] = []
            values.reserveCapacity(row.count)
            for index in 0..<row.count {
                values.append(Self.value((row[index] as DatabaseValue).storage))
            }
            rows.append(SQLRow(columns: columns, values: values))
        }
        return rows
    }

    static func value(_ storage: DatabaseValue.Storage) -> SQLValue {
        switch storage {
        case .null: .null
        case .int64(let n): .integer(n)
        case .double(let d): .real(d)
        case .string(let s): .text(s)
        case .blob(let b): .blob(b)
        }
    }

    /// The values as GRDB's optional existentials: GRDB's init over a sequence of concrete values
    /// maps them with a key path, which (not specialised across modules) builds a key path object
    /// on every call — about 7,700 instructions, 54 times in a login cycle (callgrind).
    static func arguments(_ arguments: SQLArguments) -> StatementArguments {
        StatementArguments(
            arguments.map { argument -> (any DatabaseValueConvertible)? in
                switch argument?.sqlValue ?? .null {
                case .null: DatabaseValue.null
                case .integer(let n): n.databaseValue
                case .real(let d): d.databaseValue
                case .text(let s): s.databaseValue
                case .blob(let b): b.databaseValue
                case .bool(let b): (b ? 1 : 0).databaseValue
                }
            }
        )
    }
}
