/// One holder at a time per key, in this process: a login's count → check → record for an
/// extension and a phone runs as one step, so concurrent guesses cannot all read "4 failures"
/// and all be evaluated; PostgreSQL's store lets one transaction per node lock wait inside the
/// database at a time, the others here.
/// Keys are taken in sorted order (no deadlock between two logins that share both keys); a
/// released key passes straight to the next waiter (first come, first served).
public actor KeyedGate {
    private var held: Set<String> = []
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    public func withKeys<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        let sorted = Array(Set(keys)).sorted()
        for key in sorted { await acquire(key) }
        do {
            let result = try await body()
            for key in sorted { release(key) }
            return result
        } catch {
            for key in sorted { release(key) }
            throw error
        }
    }

    private func acquire(_ key: String) async {
        guard held.contains(key) else {
            held.insert(key)
            return
        }
        await withCheckedContinuation { waiting[key, default: []].append($0) }
    }

    private func release(_ key: String) {
        guard var queue = waiting[key], !queue.isEmpty else {
            held.remove(key)
            return
        }
        let next = queue.removeFirst()
        waiting[key] = queue.isEmpty ? nil : queue
        next.resume()  // the key stays held: it is the next one's now
    }

    /// Keys held or waited for (for tests and metrics).
    public var busyKeys: Int { held.count }
}
