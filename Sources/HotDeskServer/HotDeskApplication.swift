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

/// How to run the server.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The language of the app's screens (`Screens/locales/<language>.json`).
    public var language: String
    /// The zone lock times are shown in and `settings.auto_logout.daily_at` is read in.
    public var timeZone: TimeZone
    /// Timeouts, retries and limits for pushes to phones.
    public var push: PushPolicy
    /// Proxies whose `X-Forwarded-For` is believed when learning a phone's address.
    public var trustedProxies: Set<String>
    /// Seconds between checks of the auto-logout policy.
    public var autoLogoutInterval: TimeInterval
    /// HTTPS: the certificate chain and private key files (PEM). `nil`: plain HTTP (behind a
    /// TLS proxy, or on a trusted LAN only).
    public var tls: TLSFiles?
    /// Open connections at most, and how long one may wait for a request.
    public var connections = ConnectionLimits()
    /// Seconds between writes of the fetch times kept in memory.
    public var fetchTimesInterval: TimeInterval = 5
    /// Seconds between housekeeping sweeps (lock summaries, unclaimed phones forgotten).
    public var housekeepingInterval: TimeInterval = 60
    /// Host names phones may reach HotDesk by besides the directory's internal and external
    /// addresses (any other `Host` is answered as if it were the internal address).
    public var acceptedHosts: Set<String> = []
    /// How many entries the server's caches keep (the store's own are given when it is opened).
    public var caches = CacheLimits()

    public init(
        host: String = "0.0.0.0",
        port: Int = 8080,
        language: String = "en",
        timeZone: TimeZone = .current,
        push: PushPolicy = .standard,
        trustedProxies: Set<String> = [],
        autoLogoutInterval: TimeInterval = 30,
        acceptedHosts: Set<String> = [],
        connections: ConnectionLimits = ConnectionLimits()
    ) {
        self.connections = connections
        self.acceptedHosts = acceptedHosts
        self.autoLogoutInterval = autoLogoutInterval
        self.host = host
        self.port = port
        self.language = language
        self.timeZone = timeZone
        self.push = push
        self.trustedProxies = trustedProxies
    }
}

/// The PEM files of `hotdesk serve --tls-cert --tls-key`.
public struct TLSFiles: Sendable {
    public var certificateChain: String
    public var privateKey: String

    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }

    /// Reads the files as `serve` does: a readable `TLSFileError`, or nothing.
    public func validate() throws { _ = try configuration() }

    /// Readable errors for files that are missing or not PEM.
    func configuration() throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateChain) } catch {
            throw TLSFileError(message: "--tls-cert \(certificateChain): not a readable PEM certificate chain (\(error))")
        }
        do { key = try NIOSSLPrivateKey(file: privateKey, format: .pem) } catch {
            throw TLSFileError(message: "--tls-key \(privateKey): not a readable PEM private key (\(error))")
        }
        guard !chain.isEmpty else { throw TLSFileError(message: "--tls-cert \(certificateChain): no certificate in it") }
        return .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }
}

public struct TLSFileError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The running HotDesk: the HTTP application and the services beside it. A service of its own so
/// that, as a stop begins, the console's event streams end first: the HTTP server waits for
/// every open request before the application's other services are told to stop.
public struct HotDeskService: Service {
    let application: any ApplicationProtocol
    let events: ConsoleEvents
    /// The one way to change a phone, as this server makes changes (its pushes go out at once).
    public let changes: PhoneChanges
    let autoLogout: AutoLogoutService
    let logger: Logger

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await application.run()
        } onGracefulShutdown: {
            events.stop()
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
/// (`/admin`), `/health`, and the push worker and other services that run beside them.
public func makeApplication(
    store: any Store,
    families: FamilyBook,
    pusher: PhonePusher,
    configuration: ServerConfiguration,
    logger: Logger,
    clock: @escaping @Sendable () -> Date = { Date() },
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> HotDeskService {
    let screens = families.screens
    let telemetry = Telemetry()
    let pushes = PushService(
        store: store,
        pusher: pusher,
        policy: configuration.push,
        screens: screens,
        language: configuration.language,
        telemetry: telemetry,
        logger: logger,
        clock: clock
    )
    let renderer = ConfigRenderer(limits: configuration.caches)
    let changes = PhoneChanges(store: store, families: families, renderer: renderer, logger: logger, clock: clock, wake: { pushes.wake() })
    let addresses = PhoneAddressResolver(trustedProxies: configuration.trustedProxies)
    let hosts = HostPolicy(acceptedNames: configuration.acceptedHosts, caches: configuration.caches)
    let security = SecurityLog(logger: logger)
    let login = LoginService(
        store: store,
        changes: changes,
        limits: LoginGuard(),
        security: security,
        telemetry: telemetry,
        pushDelay: configuration.push.delayAfterDone
    )
    let fetchTimes = FetchTimes(store: store, interval: configuration.fetchTimesInterval, logger: logger)
    let router = Router(context: HotDeskRequestContext.self)
    router.add(middleware: RequestRecordMiddleware(telemetry: telemetry))
    // Counts only, no names, numbers or secrets; restrict it at a proxy if even counts are private.
    router.get("/metrics") { _, _ -> Response in .text(.ok, telemetry.text(), contentType: "text/plain; version=0.0.4") }
    let health = HealthMonitor(store: store, interval: 2, telemetry: telemetry, logger: logger)
    router.get("/health") { _, _ -> Response in
        guard let problem = health.currentProblem else { return .text(.ok, "{\"status\":\"ok\"}\n", contentType: "application/json") }
        return .text(.serviceUnavailable, "{\"status\":\"\(problem)\"}\n", contentType: "application/json")
    }
    ProvisioningController(
        store: store,
        families: families,
        renderer: renderer,
        caches: configuration.caches,
        pushes: pushes,
        telemetry: telemetry,
        addresses: addresses,
        hosts: hosts,
        digest: DigestAuth(caches: configuration.caches),
        security: security,
        refusals: RefusalThrottle(),
        enrolments: EnrolmentGate(),
        fetchTimes: fetchTimes,
        clock: clock
    ).register(with: router)
    PushAuthController(store: store, recipes: pusher.recipes, logins: pushes.logins, addresses: addresses, security: security, clock: clock).register(
        with: router
    )
    PhoneAppController(
        store: store,
        catalog: families.catalog,
        screens: screens,
        login: login,
        changes: changes,
        recipes: pusher.recipes,
        addresses: addresses,
        hosts: hosts,
        language: configuration.language,
        timeZone: configuration.timeZone,
        clock: clock,
        states: StampedCache(limit: configuration.caches.phones),
        documents: StampedCache(limit: configuration.caches.phones)
    ).register(with: router)
    let consoleAuth = ConsoleAuth(store: store, servesTLS: configuration.tls != nil, clock: clock)
    let events = ConsoleEvents(store: store, logger: logger)
    ConsoleController(store: store, auth: consoleAuth, addresses: addresses, hosts: hosts, security: security, clock: clock).register(with: router)
    AdminAPIController(
        store: store,
        changes: changes,
        recipes: pusher.recipes,
        addresses: addresses,
        locks: login.limits,
        console: consoleAuth,
        events: events,
        clock: clock
    )
    .register(with: router)
    PBXController(store: store, addresses: addresses, changes: changes, login: login, clock: clock).register(with: router)
    // The API's OpenAPI document, made from the routes just registered (open: it holds no data).
    let openAPI = OpenAPIDocument.json(routes: OpenAPIDocument.apiRoutes(router.routes))
    router.get("/api/v1/openapi.json") { _, _ -> Response in .text(.ok, openAPI, contentType: "application/json") }
    let book = ConnectionBook(limit: configuration.connections.maxConnections)
    let http1 = HTTPServerBuilder.http1(
        configuration: .init(
            additionalChannelHandlers: [ConnectionGuard(book: book, bodyTimeout: configuration.connections.bodyTimeout)],
            idleTimeout: configuration.connections.idleTimeout
        )
    )
    let autoLogout = AutoLogoutService(
        store: store,
        changes: changes,
        interval: configuration.autoLogoutInterval,
        timeZone: configuration.timeZone,
        logger: logger,
        clock: clock
    )
    let application = Application(
        router: router,
        server: try configuration.tls.map { try .tls(http1, tlsConfiguration: try $0.configuration()) } ?? http1,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "HotDesk"),
        services: [
            pushes,
            fetchTimes, health, events,
            HousekeepingService(store: store, login: login, interval: configuration.housekeepingInterval, logger: logger, clock: clock),
            autoLogout,
        ],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger
    )
    return HotDeskService(application: application, events: events, changes: changes, autoLogout: autoLogout, logger: logger)
}
