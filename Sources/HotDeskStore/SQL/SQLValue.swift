import Crypto
import Foundation

// The values and rows the store's role code reads and writes, whatever the database: SQLite
// (GRDB) and PostgreSQL (PostgresNIO) each turn their own into these. Times are seconds since
// 1970 as `Double`, booleans are `Bool` (SQLite stores 0 and 1, PostgreSQL `boolean`).

/// One value of a column or an argument.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
    case bool(Bool)
}

/// A Swift value the store binds as an argument and reads back from a column.
public protocol SQLValueConvertible: Sendable {
    var sqlValue: SQLValue { get }
    /// `nil` when the value is NULL or of another kind.
    init?(sqlValue: SQLValue)
}

extension String: SQLValueConvertible {
    public var sqlValue: SQLValue { .text(self) }
    public init?(sqlValue: SQLValue) {
        guard case .text(let text) = sqlValue else { return nil }
        self = text
    }
}

extension Int64: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .integer(let n): self = n
        case .bool(let b): self = b ? 1 : 0
        case .real(let d) where d.rounded() == d && abs(d) < 9e18: self = Int64(d)
        default: return nil
        }
    }
}

extension Int: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(Int64(self)) }
    public init?(sqlValue: SQLValue) {
        guard let n = Int64(sqlValue: sqlValue) else { return nil }
        self = Int(n)
    }
}

extension Double: SQLValueConvertible {
    public var sqlValue: SQLValue { .real(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .real(let d): self = d
        case .integer(let n): self = Double(n)
        default: return nil
        }
    }
}

extension Bool: SQLValueConvertible {
    public var sqlValue: SQLValue { .bool(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .bool(let b): self = b
        case .integer(let n): self = n != 0
        default: return nil
        }
    }
}

extension Data: SQLValueConvertible {
    public var sqlValue: SQLValue { .blob(self) }
    public init?(sqlValue: SQLValue) {
        guard case .blob(let data) = sqlValue else { return nil }
        self = data
    }
}

extension SQLValue: SQLValueConvertible {
    public var sqlValue: SQLValue { self }
    public init?(sqlValue: SQLValue) { self = sqlValue }
}

/// The arguments of one statement, bound to its `?` in order (`nil`: NULL).
public typealias SQLArguments = [(any SQLValueConvertible)?]

extension Array where Element == (any SQLValueConvertible)? {
    var sqlValues: [SQLValue] { map { $0?.sqlValue ?? .null } }
}

/// The column names of one statement's rows, shared by all of them.
public final class SQLColumns: Sendable {
    public let names: [String]

    public init(_ names: [String]) { self.names = names }

    /// The first column of that name (a join's `l.*, m.button` names each once).
    @inline(__always)
    func index(of name: String) -> Int? { names.firstIndex(of: name) }
}

/// One row of a result.
public struct SQLRow: Sendable {
    public let columns: SQLColumns
    public let values: [SQLValue]

    public init(columns: SQLColumns, values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    /// The value of `column`; `.null` when the row has no such column.
    public func value(_ column: String) -> SQLValue {
        columns.index(of: column).map { values[$0] } ?? .null
    }

    /// A column that the schema makes NOT NULL and of this type: anything else is a broken
    /// schema, stopped here as GRDB would.
    public subscript<T: SQLValueConvertible>(_ column: String) -> T {
        guard let value = T(sqlValue: value(column)) else {
            preconditionFailure("column \(column) is \(value(column)), not \(T.self)")
        }
        return value
    }

    public subscript<T: SQLValueConvertible>(_ column: String) -> T? { T(sqlValue: value(column)) }

    public subscript<T: SQLValueConvertible>(_ index: Int) -> T {
        guard let value = T(sqlValue: values[index]) else { preconditionFailure("column \(index) is \(values[index]), not \(T.self)") }
        return value
    }

    public subscript<T: SQLValueConvertible>(_ index: Int) -> T? { T(sqlValue: values[index]) }
}

extension SQLRow: CustomStringConvertible {
    /// `name:value` pairs, a blob (a sealed secret) as its size and digest: for tests and diagnostics.
    public var description: String {
        zip(columns.names, values).map { name, value in
            switch value {
            case .null: "\(name):NULL"
            case .integer(let n): "\(name):\(n)"
            case .real(let d): "\(name):\(d)"
            case .text(let s): "\(name):\(s.debugDescription)"
            case .blob(let b): "\(name):<\(b.count) bytes \(SHA256.hash(data: b).prefix(6).map { String($0, radix: 16) }.joined())>"
            case .bool(let b): "\(name):\(b ? 1 : 0)"
            }
        }.joined(separator: " ")
    }
}
