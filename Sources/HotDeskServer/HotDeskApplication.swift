import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import NIOCore
import PhoneXML

/// How to run the server.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The language of the app's screens (`Screens/locales/<language>.json`).
    public var language: String
    /// The zone lock times are shown in.
    public var timeZone: TimeZone

    public init(host: String = "0.0.0.0", port: Int = 8080, language: String = "en", timeZone: TimeZone = .current) {
        self.host = host
        self.port = port
        self.language = language
        self.timeZone = timeZone
    }
}

/// Builds the HotDesk HTTP application: phone routes (`/provision`, `/app`) and `/health`.
public func makeApplication(
    store: any Store, screens: ScreenLibrary, configuration: ServerConfiguration, logger: Logger,
    clock: @escaping @Sendable () -> Date = { Date() },
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router(context: HotDeskRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.get("/health") { _, _ -> Response in
        _ = try await store.settings()
        return .text(.ok, "{\"status\":\"ok\"}\n", contentType: "application/json")
    }
    ProvisioningController(store: store, clock: clock).register(with: router)
    PhoneAppController(
        store: store, screens: screens, login: LoginService(store: store), language: configuration.language, timeZone: configuration.timeZone,
        clock: clock
    ).register(with: router)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "HotDesk"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger)
}
