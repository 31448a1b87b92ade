import Synchronization

/// Values that never change while the server runs, computed once per key. Bounded: past `limit`
/// keys an eighth of them make room (file names asked by phones that do not exist should not grow
/// it forever).
public final class Memo<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public let limit: Int
    private let entries = Mutex<[Key: Value]>([:])

    public init(limit: Int) { self.limit = limit }

    public func value(_ key: Key, compute: () -> Value) -> Value {
        if let value = entries.withLock({ $0[key] }) { return value }
        let value = compute()
        entries.withLock { e in
            e.makeRoom(limit: limit)
            e[key] = value
        }
        return value
    }
}

extension Dictionary {
    /// At `limit` entries, drops an eighth of them to make room: those first in the dictionary's
    /// own order, which has nothing to do with age or use, so a random eighth. A cache holding
    /// fewer keys than are asked for then still answers most of what it holds, where starting
    /// over would empty it again and again (100,000 phones asking in turn of a 10,000-entry cache).
    public mutating func makeRoom(limit: Int) {
        guard count >= limit else { return }
        for key in Array(keys.prefix(Swift.max(1, limit / 8))) { removeValue(forKey: key) }
    }
}
