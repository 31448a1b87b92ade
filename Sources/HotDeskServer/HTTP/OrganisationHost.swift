import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import Provisioning
import ServiceLifecycle
import Synchronization

/// Where organisations' databases are, for a server that also serves those found or made while it
/// runs: the command line's `orgs/NAME.sqlite` beside a SQLite file, or `<DATABASE>_org_NAME` on
/// the same PostgreSQL server.
public struct OrganisationStores: Sendable {
    /// Organisation `name`'s store when its database exists; nil when it does not.
    public var open: @Sendable (String) throws -> (any Store)?
    /// Makes organisation `name`'s database (empty: its admins import into it) and opens it.
    public var create: @Sendable (String) throws -> any Store

    public init(open: @escaping @Sendable (String) throws -> (any Store)?, create: @escaping @Sendable (String) throws -> any Store) {
        self.open = open
        self.create = create
    }
}

/// The organisations a server answers under `/o/NAME`: those it started with, those another
/// process made since (`hotdesk import --org`, here or on another node: found at their first
/// request) and those a partner makes (`POST /api/v1/organisations`). Each is mounted with its own
/// server parts — routes, caches, console, push worker, auto logout — no restart needed.
final class OrganisationHost: Service, Sendable {
    typealias Responder = RouterResponder<HotDeskRequestContext>
    typealias Build = @Sendable (String, any Store, DeviceOwners) -> ServerParts

    private struct Mounted {
        let responder: Responder
        let store: any Store
        let events: ConsoleEvents
        let provisioning: ProvisioningController
    }

    private let main: any Store
    private let stores: OrganisationStores?
    private let build = Mutex<Build?>(nil)
    private let logger: Logger
    private let mounted = Mutex<[String: Mounted]>([:])
    private let finder: Finder
    private let started: AsyncStream<[any Service]>
    private let start: AsyncStream<[any Service]>.Continuation

    init(main: any Store, stores: OrganisationStores?, logger: Logger) {
        (self.main, self.stores, self.logger) = (main, stores, logger)
        finder = Finder()
        (started, start) = AsyncStream.makeStream(of: [any Service].self)
    }

    /// How an organisation's parts are made (by the main directory's parts, which need the host
    /// first: their imports ask it whose a phone is).
    func building(_ make: @escaping Build) { build.withLock { $0 = make } }

    /// The organisations served now, by name.
    var names: [String] { mounted.withLock { $0.keys.sorted() } }

    /// Every directory but `name`'s (`""`: the main one): whose phones `name`'s may not take.
    func directories(besides name: String) -> [(name: String, store: any DirectoryStore)] {
        let all: [(name: String, store: any DirectoryStore)] =
            [("", main)] + mounted.withLock { $0.map { ($0.key, $0.value.store) } }.sorted { $0.name < $1.name }
        return all.filter { $0.name != name }
    }

    /// A phone belongs to one directory: `name`'s imports and enrolments are checked against the
    /// others served now.
    func owners(besides name: String) -> DeviceOwners {
        DeviceOwners { [weak self] in self?.directories(besides: name) ?? [] }
    }

    /// Serves organisation `name` from `store` from now on (its services start with the host's).
    func mount(_ name: String, store: any Store) {
        guard let make = build.withLock({ $0 }) else { preconditionFailure("OrganisationHost.building was not called") }
        let parts = make(name, store, owners(besides: name))
        let router = Router(context: HotDeskRequestContext.self)
        parts.registerRoutes(on: router)
        let fresh = mounted.withLock { all -> Bool in
            guard all[name] == nil else { return false }
            all[name] = Mounted(responder: router.buildResponder(), store: store, events: parts.events, provisioning: parts.provisioning)
            return true
        }
        if fresh { start.yield(parts.services(onTFTPRunning: { _ in })) }
    }

    /// The routes of organisation `name`: mounted, or found now when its database exists (a name
    /// that is none is asked again only after a while, and lookups are few a second: a scanner of
    /// `/o/…` reaches no database).
    func responder(for name: String) async -> Responder? {
        if let found = mounted.withLock({ $0[name]?.responder }) { return found }
        guard let stores, Organisation.nameProblem(name) == nil else { return nil }
        await finder.look(for: name, now: ContinuousClock.now) { [self] in
            // One look at a time: a name another request just mounted is not opened twice.
            guard mounted.withLock({ $0[name] == nil }) else { return true }
            do {
                guard let store = try stores.open(name) else { return false }
                mount(name, store: store)
                logger.notice("organisation found", metadata: ["organisation": "\(name)"])
                return true
            } catch {
                logger.error("organisation cannot be opened", metadata: ["organisation": "\(name)", "error": "\(error)"])
                return false
            }
        }
        return mounted.withLock { $0[name]?.responder }
    }

    enum Creation: Sendable, Equatable {
        case created
        case exists
        /// This server was not given where organisations' databases are.
        case unsupported
    }

    /// Makes organisation `name` (its database, empty) and serves it; one that exists (served,
    /// or made by another process) is left as it is.
    func create(_ name: String) async throws -> Creation {
        guard let stores else { return .unsupported }
        return try await finder.alone { [self] in
            if mounted.withLock({ $0[name] != nil }) { return .exists }
            if let store = try stores.open(name) {
                mount(name, store: store)
                return .exists
            }
            mount(name, store: try stores.create(name))
            return .created
        }
    }

    /// Where a TFTP read of `file` is served from (TFTP carries no path): the organisation that
    /// holds the phone its name names (a phone belongs to one organisation); nil, the main
    /// directory, for any other name — a phone no organisation lists yet among them.
    func provisioning(forTFTPFile file: String, configs: ConfigFamilies) async -> ProvisioningController? {
        let macs = Set(
            configs.matches(fileName: file).compactMap { match -> MACAddress? in
                if case .device(let mac, _) = match.kind { return mac }
                return nil
            }
        )
        guard !macs.isEmpty else { return nil }
        let candidates = mounted.withLock { $0.sorted { $0.key < $1.key }.map { ($0.value.store, $0.value.provisioning) } }
        for (store, provisioning) in candidates where (try? await store.storedDevices(Array(macs)))?.isEmpty == false {
            return provisioning
        }
        return nil
    }

    /// Ends the console streams of every organisation (a stop begins).
    func stopEvents() {
        for events in mounted.withLock({ $0.values.map(\.events) }) { events.stop() }
    }

    /// Runs each mounted organisation's services until the server stops.
    func run() async throws {
        try await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await services in started {
                    let logger = logger
                    group.addTask {
                        do {
                            try await ServiceGroup(configuration: .init(services: services, logger: logger)).run()
                        } catch {
                            logger.error("an organisation's services stopped", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
        } onGracefulShutdown: { [start] in
            start.finish()
        }
    }

    /// Looks for organisations one at a time (a name is never opened twice at once), at most ten
    /// looks a second, and a name found missing is not looked for again for ten seconds.
    actor Finder {
        private var missing: [String: ContinuousClock.Instant] = [:]
        private var last: ContinuousClock.Instant?
        static let spacing = Duration.milliseconds(100)
        static let forget = Duration.seconds(10)

        /// `open` (true: found) unless `name` was missing a moment ago or looks come too fast.
        func look(for name: String, now: ContinuousClock.Instant, _ open: @Sendable () -> Bool) {
            if let when = missing[name], now - when < Self.forget { return }
            if let last, now - last < Self.spacing { return }
            last = now
            if open() {
                missing[name] = nil
            } else {
                if missing.count >= 10_000 { missing.removeAll() }
                missing[name] = now
            }
        }

        /// `body` with no look under way (a partner's new organisation: made once).
        func alone<T: Sendable>(_ body: @Sendable () throws -> T) rethrows -> T { try body() }
    }
}
