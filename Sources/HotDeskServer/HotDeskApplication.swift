import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import PhoneFamilies
import PhonePush
import PhoneXML
import Provisioning
import ServiceLifecycle
import TFTP
import UnixSignals

/// The running HotDesk: the HTTP application and the services beside it. A service of its own so
/// that, as a stop begins, the console's event streams end first: the HTTP server waits for
/// every open request before the application's other services are told to stop.
public struct HotDeskService: Service {
    let application: any ApplicationProtocol
    /// The console's event streams: the root's (and every organisation's, through the host).
    let events: ConsoleEvents
    let organisations: OrganisationHost
    /// The one way to change a phone, as this server makes changes (its pushes go out at once).
    public let changes: PhoneChanges
    let autoLogout: AutoLogoutService
    /// Whether a PBX carries this node's NOTIFYs (tests wait for its first poll).
    let pbx: PBXNotifyRelay
    let pushes: PushService
    let logger: Logger

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await application.run()
        } onGracefulShutdown: {
            events.stop()
            organisations.stopEvents()
        }
    }

    /// One pass of the auto-logout policy now (it also runs every `autoLogoutInterval`): the
    /// sessions it ended.
    public func autoLogoutSweep() async -> [Session] { await autoLogout.sweep() }

    /// Runs until SIGTERM or SIGINT, then stops gracefully.
    public func runService() async throws {
        try await ServiceGroup(configuration: .init(services: [self], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}

/// Builds HotDesk: phone routes (`/provision`, `/app`), the admin API (`/api/v1`), the console
/// (`/admin`), `/health`, and the push worker and other services that run beside them; and the
/// same for each of `organisations` (by name, each with its own store) under `/o/NAME`, and for
/// those `organisationStores` finds or makes while it runs.
public func makeApplication(
    store: any Store,
    families: FamilyBook,
    pusher: PhonePusher,
    configuration: ServerConfiguration,
    organisations: [String: any Store] = [:],
    organisationStores: OrganisationStores? = nil,
    logger: Logger,
    clock: @escaping @Sendable () -> Date = { Date() },
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
    onTFTPRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> HotDeskService {
    let host = OrganisationHost(main: store, stores: organisationStores, logger: logger)
    var parts = ServerParts(
        store: store,
        families: families,
        pusher: pusher,
        configuration: configuration,
        owners: host.owners(besides: ""),
        logger: logger,
        clock: clock
    )
    // The main parts make each organisation's (their partners manage it), mounted by the host.
    let base = parts
    host.building { name, orgStore, owners in base.organisation(name, store: orgStore, owners: owners) }
    parts.organisations = host
    for (name, orgStore) in organisations.sorted(by: { $0.key < $1.key }) { host.mount(name, store: orgStore) }
    let router = Router(context: HotDeskRequestContext.self)
    parts.registerRoutes(on: router)
    OrganisationRouter(host: host).register(with: router)
    let book = ConnectionBook(limit: configuration.connections.maxConnections)
    let http1 = HTTPServerBuilder.http1(
        configuration: .init(
            additionalChannelHandlers: [ConnectionGuard(book: book, bodyTimeout: configuration.connections.bodyTimeout)],
            idleTimeout: configuration.connections.idleTimeout
        )
    )
    let application = Application(
        router: router,
        server: try configuration.tls.map { try .tls(http1, tlsConfiguration: try $0.configuration()) } ?? http1,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "HotDesk"),
        services: parts.services(onTFTPRunning: onTFTPRunning) + [host],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger
    )
    return HotDeskService(
        application: application,
        events: parts.events,
        organisations: host,
        changes: parts.changes,
        autoLogout: parts.autoLogout,
        pbx: parts.pushes.relay,
        pushes: parts.pushes,
        logger: logger
    )
}

/// The parts of one server, made once and shared by its routes and services.
struct ServerParts {
    let store: any Store
    let families: FamilyBook
    let pusher: PhonePusher
    let configuration: ServerConfiguration
    let logger: Logger
    let clock: @Sendable () -> Date
    let telemetry = Telemetry()
    let renderer: ConfigRenderer
    let pushes: PushService
    let changes: PhoneChanges
    let addresses: PhoneAddressResolver
    let hosts: HostPolicy
    let security: SecurityLog
    let login: LoginService
    let fetchTimes: FetchTimes
    let health: HealthMonitor
    var consoleAuth: ConsoleAuth
    /// The organisations beside the main directory (the main parts' API lists and makes them for
    /// partners); none in an organisation's parts.
    var organisations: OrganisationHost?
    /// An organisation's parts: the main directory's partner keys.
    var partnerKey: APIKeyMiddleware.PartnerKeyLookup?
    let events: ConsoleEvents
    let autoLogout: AutoLogoutService
    /// `/provision`, and what TFTP reads of it.
    let provisioning: ProvisioningController

    /// `owners`: the other directories this server serves (organisations), whose phones this
    /// one's imports and enrolments may not take.
    init(
        store: any Store,
        families: FamilyBook,
        pusher: PhonePusher,
        configuration: ServerConfiguration,
        owners: DeviceOwners? = nil,
        logger: Logger,
        clock: @escaping @Sendable () -> Date
    ) {
        (self.store, self.families, self.pusher, self.configuration, self.logger, self.clock) = (
            store, families, pusher, configuration, logger, clock
        )
        renderer = ConfigRenderer(limits: configuration.caches)
        let pushes = PushService(
            store: store,
            pusher: pusher,
            configuration: configuration,
            screens: families.screens,
            telemetry: telemetry,
            logger: logger,
            clock: clock
        )
        self.pushes = pushes
        let configStates = StampedCache<MACAddress, ChangeStamp, DeviceConfigState>(limit: configuration.caches.phoneConfigs)
        var changes = PhoneChanges(
            store: store,
            families: families,
            renderer: renderer,
            pathPrefix: configuration.pathPrefix,
            logger: logger,
            clock: clock,
            wake: { pushes.wake() },
            keep: { configStates.keep($0.state, for: $0.state.device.mac, at: $0.stamp) }
        )
        changes.owners = owners
        self.changes = changes
        addresses = PhoneAddressResolver(trustedProxies: configuration.trustedProxies)
        hosts = HostPolicy(acceptedNames: configuration.acceptedHosts, caches: configuration.caches)
        security = SecurityLog(logger: logger)
        login = LoginService(
            store: store,
            changes: changes,
            limits: LoginGuard(),
            security: security,
            telemetry: telemetry,
            pushDelay: configuration.push.delayAfterDone
        )
        fetchTimes = FetchTimes(store: store, interval: configuration.fetchTimesInterval, logger: logger)
        health = HealthMonitor(store: store, interval: 2, telemetry: telemetry, logger: logger)
        consoleAuth = ConsoleAuth(store: store, servesTLS: configuration.tls != nil, organisation: configuration.organisation, clock: clock)
        events = ConsoleEvents(store: store, logger: logger)
        autoLogout = AutoLogoutService(
            store: store,
            changes: changes,
            interval: configuration.autoLogoutInterval,
            timeZone: configuration.timeZone,
            logger: logger,
            clock: clock
        )
        var provisioning = ProvisioningController(
            store: store,
            families: families,
            renderer: renderer,
            caches: configuration.caches,
            states: configStates,
            pushes: pushes,
            telemetry: telemetry,
            addresses: addresses,
            hosts: hosts,
            digest: DigestAuth(key: store.digestNonceKey, caches: configuration.caches),
            security: security,
            refusals: RefusalThrottle(),
            enrolments: EnrolmentGate(),
            fetchTimes: fetchTimes,
            pathPrefix: configuration.pathPrefix,
            clock: clock
        )
        provisioning.owners = owners
        self.provisioning = provisioning
    }

    /// The parts of organisation `name` beside these (the main directory's): its own store and
    /// routes under `/o/NAME`; these parts' partners (console sessions and keys) manage it too.
    func organisation(_ name: String, store orgStore: any Store, owners: DeviceOwners?) -> ServerParts {
        var own = configuration
        own.organisation = name
        own.tftpPort = nil  // one TFTP server, the main parts': it serves each phone its organisation's file
        var orgLogger = logger
        orgLogger[metadataKey: "organisation"] = "\(name)"
        var tenant = ServerParts(
            store: orgStore,
            families: families,
            pusher: pusher,
            configuration: own,
            owners: owners,
            logger: orgLogger,
            clock: clock
        )
        let (mainConsole, mainStore, clock) = (consoleAuth, store, clock)
        tenant.consoleAuth.partnerSession = { request in
            try await mainConsole.session(of: request).flatMap { $0.1.role == .partner ? $0 : nil }
        }
        tenant.partnerKey = { hash in try await mainStore.apiKey(hash: hash, kind: .admin, at: clock()).map { ($0.name, $0.role) } }
        return tenant
    }

    /// What runs beside the HTTP server.
    func services(onTFTPRunning: @escaping @Sendable (Int) async -> Void) -> [any Service] {
        var services: [any Service] = [
            pushes, fetchTimes, health, events,
            HousekeepingService(store: store, login: login, interval: configuration.housekeepingInterval, logger: logger, clock: clock),
            autoLogout,
        ]
        if let port = configuration.tftpPort {
            let (provisioning, logger, organisations, configs) = (provisioning, logger, organisations, families.configs)
            let server = TFTPServer(host: configuration.host, port: port, logger: logger) { file, peer in
                // An organisation's phone is served its organisation's file (its URLs under /o/NAME).
                let owner = await organisations?.provisioning(forTFTPFile: file, configs: configs)
                return await (owner ?? provisioning).serveTFTP(file: file, peer: peer, logger: logger)
            }
            services.append(TFTPService(server: server, onBound: onTFTPRunning))
        }
        return services
    }

    func registerRoutes(on router: Router<HotDeskRequestContext>) {
        router.add(middleware: RequestRecordMiddleware(telemetry: telemetry))
        // Counts only, no names, numbers or secrets; restrict it at a proxy if even counts are private.
        router.get("/metrics") { [telemetry] _, _ -> Response in .text(.ok, telemetry.text(), contentType: "text/plain; version=0.0.4") }
        router.get("/health") { [health] _, _ -> Response in
            guard let problem = health.currentProblem else { return .text(.ok, "{\"status\":\"ok\"}\n", contentType: "application/json") }
            return .text(.serviceUnavailable, "{\"status\":\"\(problem)\"}\n", contentType: "application/json")
        }
        registerPhoneRoutes(on: router)
        ConsoleController(store: store, auth: consoleAuth, addresses: addresses, hosts: hosts, security: security, clock: clock).register(
            with: router
        )
        AdminAPIController(
            store: store,
            changes: changes,
            families: families,
            recipes: pusher.recipes,
            addresses: addresses,
            locks: login.limits,
            console: consoleAuth,
            events: events,
            timeZone: configuration.timeZone,
            organisations: organisations,
            partnerKey: partnerKey,
            clock: clock
        )
        .register(with: router)
        PBXController(
            store: store,
            addresses: addresses,
            changes: changes,
            login: login,
            pushes: pushes,
            sweep: { [autoLogout] in await autoLogout.sweep() },
            clock: clock
        )
        .register(with: router)
        // The API's OpenAPI document, made from the routes just registered (open: it holds no data).
        let openAPI = OpenAPIDocument.json(routes: OpenAPIDocument.apiRoutes(router.routes))
        router.get("/api/v1/openapi.json") { _, _ -> Response in .text(.ok, openAPI, contentType: "application/json") }
    }

    /// `/provision`, the push-auth callback and `/app`.
    private func registerPhoneRoutes(on router: Router<HotDeskRequestContext>) {
        let caches = configuration.caches
        provisioning.register(with: router)
        PushAuthController(store: store, recipes: pusher.recipes, logins: pushes.logins, addresses: addresses, security: security, clock: clock)
            .register(with: router)
        PhoneAppController(
            store: store,
            catalog: families.catalog,
            screens: families.screens,
            login: login,
            changes: changes,
            recipes: pusher.recipes,
            pbxConnected: { [pushes] in await pushes.pbxConnected() },
            addresses: addresses,
            hosts: hosts,
            language: configuration.language,
            timeZone: configuration.timeZone,
            clock: clock,
            states: StampedCache(limit: caches.phones),
            documents: StampedCache(limit: caches.phones)
        ).register(with: router)
    }
}
