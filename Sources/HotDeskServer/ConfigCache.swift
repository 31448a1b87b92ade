import HotDeskCore
import HotDeskStore
import Provisioning
import Synchronization

/// What serving a phone's config read and rendered, kept while the store has not changed since
/// (`Store.changeCounter`, which any commit by any process moves): a phone asking again — the
/// Digest challenge and its answer, a boot storm, periodic checks — costs no read and no render.
/// Bounded: past `maxDevices` phones it starts over.
final class ConfigCache: Sendable {
    private struct Entry {
        var generation: Int
        var state: DeviceConfigState
        /// By file, address and whether the fetch was proven.
        var configs: [String: RenderedConfig] = [:]
    }

    let maxDevices: Int
    private let entries = Mutex<[MACAddress: Entry]>([:])

    init(maxDevices: Int = 20_000) { self.maxDevices = maxDevices }

    func state(_ mac: MACAddress, generation: Int?) -> DeviceConfigState? {
        guard let generation else { return nil }
        return entries.withLock { e in e[mac].flatMap { $0.generation == generation ? $0.state : nil } }
    }

    /// Keeps a state read at (or after) `generation`.
    func keep(_ state: DeviceConfigState, generation: Int?) {
        guard let generation else { return }
        entries.withLock { e in
            if e[state.device.mac]?.generation == generation { return }
            if e.count >= maxDevices { e.removeAll(keepingCapacity: true) }
            e[state.device.mac] = Entry(generation: generation, state: state)
        }
    }

    func config(_ mac: MACAddress, generation: Int?, key: String) -> RenderedConfig? {
        guard let generation else { return nil }
        return entries.withLock { e in e[mac].flatMap { $0.generation == generation ? $0.configs[key] : nil } }
    }

    func keep(_ config: RenderedConfig, for mac: MACAddress, generation: Int?, key: String) {
        guard let generation else { return }
        entries.withLock { e in
            guard e[mac]?.generation == generation else { return }
            e[mac]?.configs[key] = config
        }
    }
}
