import HotDeskCore
import HotDeskStore
import Synchronization

/// Values read from the store (or made from what it held) about one phone, kept while its change
/// stamp (`Store.changeStamp`: the shared counter and the phone's own, moved by any commit its
/// config depends on, from any process) stays the same. Bounded, keeping what was used lately (`BoundedTable`).
final class GenerationCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let limit: Int
    private let entries: Mutex<BoundedTable<Key, Entry>>

    struct Entry: Sendable {
        var generation: ChangeStamp
        var value: Value
    }

    init(limit: Int) {
        self.limit = limit
        entries = Mutex(BoundedTable(limit: limit))
    }

    func value(_ key: Key, generation: ChangeStamp?) -> Value? {
        guard let generation else { return nil }
        return entries.withLock { e in e[key].flatMap { $0.generation == generation ? $0.value : nil } }
    }

    func keep(_ value: Value, for key: Key, generation: ChangeStamp?) {
        guard let generation else { return }
        entries.withLock { $0[key] = Entry(generation: generation, value: value) }
    }
}
