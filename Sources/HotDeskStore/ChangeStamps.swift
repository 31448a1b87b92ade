import HotDeskCore

/// What a cached config or app state of one phone was read at: the store's shared facts
/// (settings, extensions, templates, lines, keys…) and that phone's own (its row, session, push
/// jobs). A login on one phone moves only that phone's stamp, so the other phones' caches stay
/// good.
public struct ChangeStamp: Hashable, Sendable {
    public var shared: Int
    public var device: Int

    public init(shared: Int, device: Int) {
        self.shared = shared
        self.device = device
    }
}

/// The store's change stamps: the one reader every cache keys on (`StampedCache`). A stamp
/// moves on every commit — by this process or another — that changes what a cached value
/// depends on, and not on what is written in batches and depends on nothing (fetch times, a key's
/// last use). Cheap enough to read on every request: no read transaction of the store's pool
/// (SQLite answers at once; PostgreSQL in one round trip, never blocking a thread of Swift's pool).
///
/// SQLite moves them with triggers (`SQLiteChangeStamps`); another database provides the same
/// three readings (its own counters, moved by its own triggers or notifications).
public protocol ChangeStamps: Sendable {
    /// Moves when anything all phones share changes: settings, the directory, templates, classes
    /// of service, API and PBX keys.
    func shared() async throws -> Int
    /// The shared stamp and the phone's own, read together (one snapshot).
    func stamp(of mac: MACAddress) async throws -> ChangeStamp
    /// Moves whenever another connection or process commits anything at all (the batched writes
    /// too): what a worker polls to notice work done elsewhere. Not a cache key.
    func commits() async throws -> Int
}
