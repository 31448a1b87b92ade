import Synchronization

/// Values that never change while the server runs, computed once per key. Bounded (file names
/// asked by phones that do not exist should not grow it forever): see `BoundedTable`.
/// `@inlinable`, like `BoundedTable`: specialised where it is used, so a lookup is a dictionary
/// probe on the concrete key type, not one through the generic witness tables (issue 12: the
/// generic lookups were 9 % of a config fetch).
public final class Memo<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public let limit: Int
    @usableFromInline let entries: Mutex<BoundedTable<Key, Value>>

    public init(limit: Int) {
        self.limit = limit
        entries = Mutex(BoundedTable(limit: limit))
    }

    @inlinable
    public func value(_ key: Key, compute: () -> Value) -> Value {
        if let value = entries.withLock({ $0[key] }) { return value }
        let value = compute()
        entries.withLock { $0[key] = value }
        return value
    }
}

/// A table of at most `limit` entries that keeps what was used lately: two generations, the
/// newer one written to, the older one read from (an entry read there moves to the newer). When
/// the newer holds half the limit, the older is dropped and the newer becomes the older. Every
/// step is O(1); a cache holding fewer keys than are asked for still answers what was asked
/// lately, where starting over would empty it again and again (100,000 phones asking in turn of
/// a 10,000-entry cache). (Dropping a random eighth of one table was tried: Swift's open-addressing
/// dictionary made each removal near the front cost a long shift — 60 µs.)
public struct BoundedTable<Key: Hashable, Value> {
    public let limit: Int
    @usableFromInline var newer: [Key: Value] = [:]
    @usableFromInline var older: [Key: Value] = [:]

    public init(limit: Int) { self.limit = Swift.max(2, limit) }

    public var count: Int { newer.count + older.count }

    @inlinable
    public subscript(key: Key) -> Value? {
        mutating get {
            if let value = newer[key] { return value }
            guard let value = older.removeValue(forKey: key) else { return nil }
            insert(key, value)
            return value
        }
        set {
            guard let newValue else {
                newer.removeValue(forKey: key)
                older.removeValue(forKey: key)
                return
            }
            insert(key, newValue)
        }
    }

    /// Reads without moving the entry (for a lookup under a lock that must stay short).
    @inlinable
    public func peek(_ key: Key) -> Value? { newer[key] ?? older[key] }

    @inlinable
    mutating func insert(_ key: Key, _ value: Value) {
        if newer[key] == nil, newer.count >= limit / 2 {
            older = newer
            newer = Dictionary(minimumCapacity: limit / 2)
        }
        newer[key] = value
    }
}

extension BoundedTable: Sendable where Key: Sendable, Value: Sendable {}
