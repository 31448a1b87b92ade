import Synchronization

/// Values that never change while the server runs, computed once per key. Bounded: past `limit`
/// keys it starts over (file names asked by phones that do not exist should not grow it forever).
public final class Memo<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public let limit: Int
    private let entries = Mutex<[Key: Value]>([:])

    public init(limit: Int) { self.limit = limit }

    public func value(_ key: Key, compute: () -> Value) -> Value {
        if let value = entries.withLock({ $0[key] }) { return value }
        let value = compute()
        entries.withLock { e in
            if e.count >= limit { e.removeAll(keepingCapacity: true) }
            e[key] = value
        }
        return value
    }
}
