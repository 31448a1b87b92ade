import Synchronization

// The caching kit: every cache in HotDesk is one of these two, over one bounded table.
//
// - `Memo`: a value that never changes for its key while the process runs (a User-Agent's
//   brand, a rendered template for one context, a checked app token).
// - `StampedCache`: a value read from the store, good while the change stamp it was read at
//   stays the same (a phone's config state, its rendered config, the settings). The stamps are
//   the store's (`ChangeStamps`): a commit that changes what the value depends on moves them.
//
// Both are instances owned by whoever serves with them (no process-global cache), bounded by a
// `CacheLimits` of the server's configuration, and keep what was used lately (`BoundedTable`).

/// How many entries the caches keep at most (`ServerConfiguration.caches`, `hotdesk serve
/// --cache-phones`). Past a limit a cache keeps what was used lately: a miss costs one store
/// read or one render, never a wrong answer.
public struct CacheLimits: Hashable, Sendable {
    /// Entries of each small cache keyed by phone (app states and screens, app tokens, Digest
    /// HA1s): the phones answered from memory alone. A site with more phones than this still
    /// works; the least recently seen ones cost a store read.
    public var phones: Int
    /// Entries of the two config caches (what the store holds for a phone, its rendered files):
    /// the largest entries, sized for memory (Benchmarks/scale: 20,000 each put a 100,000-phone
    /// server near 190 MB).
    public var phoneConfigs: Int
    /// Configs rendered by template and context, and compiled templates.
    public var renders: Int
    /// Small lookups by request text: User-Agents, config file names, nonces, `Host` headers.
    public var requests: Int

    public init(phones: Int = 10_000, phoneConfigs: Int = 5_000, renders: Int = 1_024, requests: Int = 4_096) {
        self.phones = phones
        self.phoneConfigs = phoneConfigs
        self.renders = renders
        self.requests = requests
    }
}

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

    /// The key's value, computed (outside the lock) the first time. A computation that throws
    /// keeps nothing: the next ask tries again.
    @inlinable
    public func value<Failure: Error>(_ key: Key, compute: () throws(Failure) -> Value) throws(Failure) -> Value {
        if let value = entries.withLock({ $0[key] }) { return value }
        let value = try compute()
        entries.withLock { $0[key] = value }
        return value
    }
}

/// Values read from the store (or made from what it held), each kept with the change stamp it
/// was read at and answered only while the stamp asked with is the same. The stamp must be read
/// *before* the value (a value newer than its stamp is harmless, one older would be kept for
/// ever). A `nil` stamp (the store could not say) answers and keeps nothing.
public final class StampedCache<Key: Hashable & Sendable, Stamp: Equatable & Sendable, Value: Sendable>: Sendable {
    public let limit: Int
    @usableFromInline let entries: Mutex<BoundedTable<Key, Entry>>

    public struct Entry: Sendable {
        @usableFromInline var stamp: Stamp
        @usableFromInline var value: Value

        @usableFromInline init(stamp: Stamp, value: Value) {
            self.stamp = stamp
            self.value = value
        }
    }

    public init(limit: Int) {
        self.limit = limit
        entries = Mutex(BoundedTable(limit: limit))
    }

    @inlinable
    public func value(_ key: Key, at stamp: Stamp?) -> Value? {
        guard let stamp else { return nil }
        return entries.withLock { e in e[key].flatMap { $0.stamp == stamp ? $0.value : nil } }
    }

    @inlinable
    public func keep(_ value: Value, for key: Key, at stamp: Stamp?) {
        guard let stamp else { return }
        entries.withLock { $0[key] = Entry(stamp: stamp, value: value) }
    }

    /// The value kept for `key` whatever its stamp: what to answer with while the store cannot
    /// be reached (its stamps unknown), the last state this node saw.
    @inlinable
    public func lastKnown(_ key: Key) -> Value? {
        entries.withLock { $0.peek(key)?.value }
    }

    /// The value at `stamp`, built (outside the lock) and kept when there is none.
    @inlinable
    public func value(_ key: Key, at stamp: Stamp?, build: () throws -> Value) rethrows -> Value {
        if let kept = value(key, at: stamp) { return kept }
        let value = try build()
        keep(value, for: key, at: stamp)
        return value
    }
}

/// The key of a `StampedCache` that holds one value (the settings, the classes of service).
public enum WholeValue: Hashable, Sendable { case whole }

/// One value kept with the stamp it was read at.
public typealias StampedValue<Value: Sendable> = StampedCache<WholeValue, Int, Value>

extension StampedCache where Key == WholeValue {
    public convenience init() { self.init(limit: 2) }

    @inlinable
    public func value(at stamp: Stamp?) -> Value? { value(.whole, at: stamp) }

    @inlinable
    public func value(at stamp: Stamp?, build: () throws -> Value) rethrows -> Value { try value(.whole, at: stamp, build: build) }

    @inlinable
    public var lastKnown: Value? { lastKnown(.whole) }
}

/// A table of at most `limit` entries that keeps what was used lately: two halves, the newer
/// one written to, the older one read from (an entry read there moves to the newer). When the
/// newer holds half the limit, the older is dropped and the newer becomes the older. Every step
/// is O(1); a cache holding fewer keys than are asked for still answers what was asked lately,
/// where starting over would empty it again and again (100,000 phones asking in turn of a
/// 10,000-entry cache). (Dropping a random eighth of one table was tried: Swift's
/// open-addressing dictionary made each removal near the front cost a long shift — 60 µs.)
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
