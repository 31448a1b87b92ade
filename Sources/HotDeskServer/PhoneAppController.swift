import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import PhonePush
import PhoneXML
import Provisioning

/// The on-phone Login/Logout app under `/app/<device token>`. The token is the per-device
/// secret written into the phone's config; the MAC is never an identity here.
struct PhoneAppController: Sendable {
    let store: any DeviceStore & StampedStore
    let catalog: PhoneCatalog
    let screens: ScreenLibrary
    let login: LoginService
    let changes: PhoneChanges
    /// What each family does to apply a config (the "Done" screen says "reloading" or "restarting").
    let recipes: PushRecipeBook
    let addresses: PhoneAddressResolver
    let hosts: HostPolicy
    let language: String
    let timeZone: TimeZone
    let clock: @Sendable () -> Date

    /// What the store holds for an app token, while its phone's change stamp stays the same.
    let states: StampedCache<String, ChangeStamp, AppState>
    /// The screens that only show (menu, forms, confirmations), as rendered for a token, host
    /// and query while its stamp stays the same: a phone paging through the app renders nothing
    /// twice (issue 12: rendering was a third of an app request).
    let documents: StampedCache<DocumentKey, ChangeStamp, ServedDocument>

    /// Longer query strings are refused before anything is parsed.
    static let maxQueryBytes = 2048

    func register(with router: Router<HotDeskRequestContext>) {
        let group = router.group("/app/{token}")
        group.get { request, context in try await self.handle(request, context, .menu) }
        group.get("choose") { request, context in try await self.handle(request, context, .choose) }
        group.get("login") { request, context in try await self.handle(request, context, .form) }
        group.get("password") { request, context in try await self.handle(request, context, .password) }
        group.get("submit") { request, context in try await self.handle(request, context, .submit) }
        group.get("logout") { request, context in try await self.handle(request, context, .confirmLogout) }
        group.get("logout/confirm") { request, context in try await self.handle(request, context, .logout) }
    }

    enum Step {
        case menu, choose, form, password, submit, confirmLogout, logout
    }

    /// A screen that only shows is the same for the same token, step, `Host` and query.
    struct DocumentKey: Hashable, Sendable {
        let token: String
        let step: Step
        let host: String?
        let query: String?
    }

    /// Any failure below (the store unreachable, a write refused) is a screen the phone shows,
    /// in its own dialect: "not available, try again", never a bare 500 the phone cannot show.
    func handle(_ request: Request, _ context: HotDeskRequestContext, _ step: Step) async throws -> Response {
        do {
            return try await answer(request, context, step)
        } catch let error as CancellationError {
            throw error
        } catch {
            context.logger.error("phone app request failed", metadata: ["error": "\(error)"])
            let texts = screens.texts(language)
            var response = try render(
                .text(.init(title: texts["unavailable.title"], text: texts["error.unavailable"])),
                dialect: dialectForUnknownPhone(request),
                context: context
            )
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    func answer(_ request: Request, _ context: HotDeskRequestContext, _ step: Step) async throws -> Response {
        let token = context.parameters.get("token") ?? ""
        // A token's state is kept while nothing it depends on changed (a person paging through the
        // app's screens reads the database once; a login on another phone changes nothing here).
        let stamp = store.device(ofAppToken: token).flatMap { try? store.stamps.stamp(of: $0) }
        var lookup = AppLookup.unknown
        if let cached = states.value(token, at: stamp) {
            lookup = .current(cached)
        } else if RandomToken.isWellFormed(token) {
            lookup = try await store.appState(token: token)
            if case .current(let state) = lookup { states.keep(state, for: token, at: stamp) }
        }
        // Screens that change nothing are a function of the token's state, the host and the query.
        let showOnly = step == .menu || step == .choose || step == .form || step == .password || step == .confirmLogout
        let documentKey = showOnly ? DocumentKey(token: token, step: step, host: request.hostHeader, query: request.uri.query) : nil
        if case .current = lookup, let documentKey, let served = documents.value(documentKey, at: stamp) {
            return served.response
        }
        guard case .current(let state) = lookup else {
            // An older token (the phone has not applied its config since the last login or logout),
            // or the placeholder of a phone that has not proved itself yet: "please wait", not the app.
            let updating = token == ConfigContext.pendingToken || { if case .stale = lookup { true } else { false } }()
            if !updating { context.logger.notice("unknown app token", metadata: ["peer": "\(context.peerAddress ?? "?")"]) }
            let dialect = dialectForUnknownPhone(request)
            let texts = screens.texts(language)
            let screen = Screen.text(
                .init(title: texts[updating ? "updating.title" : "error.title"], text: texts[updating ? "updating.text" : "error.unknown_device"])
            )
            return try render(screen, dialect: dialect, context: context)
        }
        // Where the request came from, for the audit. The phone's address for pushes is learned only
        // from its authenticated config fetches, never from here.
        let phoneAddress = addresses.address(of: request, context: context)
        guard let dialect = screens.dialects[state.device.model.brand.rawValue] else {
            return .text(.notImplemented, "no XML browser dialect for \(state.device.model.brand.rawValue)\n")
        }
        let base = hosts.address(request, settings: state.settings)?.baseURL ?? ""
        let app = AppScreens(texts: screens.texts(language), appURL: "\(base)/app/\(token)", timeZone: timeZone)
        let texts = screens.texts(language)
        if let query = request.uri.query, query.utf8.count > Self.maxQueryBytes {
            return try render(app.message(texts["error.too_long"], title: texts["error.title"]), dialect: dialect, context: context)
        }
        let params = request.uri.queryParameters
        let network = params.get("net").flatMap { Network(rawValue: $0) } ?? .internal
        // A workspace phone with hot desking off offers no login (a crafted URL gets no further).
        if state.workspace?.hotDesking == false, step != .confirmLogout, step != .logout, !(step == .menu && state.session != nil) {
            return try render(app.message(texts["error.hot_desking_off"]), dialect: dialect, context: context)
        }
        let screen: Screen
        switch step {
        case .menu:
            if let session = state.session {
                screen = app.loggedInMenu(number: session.extensionNumber, name: state.sessionExtension?.name ?? "")
            } else {
                screen = app.chooseNetwork()
            }
        case .choose:
            screen = app.chooseNetwork()
        case .form:
            let ext = params.get("ext").flatMap { Extension.isValidNumber($0) ? $0 : nil } ?? ""
            screen = app.loginForm(network: network, extensionValue: ext, maxInputFields: dialect.maxInputFields)
        case .password:
            // The second chained screen: the extension is only carried here, checked on "Done".
            let ext = (params.get("ext") ?? "").prefix(LoginService.maxInput)
            screen = app.passwordForm(network: network, extensionValue: String(ext.filter(\.isNumber)))
        case .submit:
            let ext = params.get("ext") ?? ""
            let outcome = try await login.login(
                device: state.device,
                workspace: state.workspace,
                settings: state.settings,
                network: network,
                extensionInput: ext,
                password: params.get("pw") ?? "",
                source: phoneAddress,
                now: clock()
            )
            if case .loggedIn(let result) = outcome {
                screen = app.loggedIn(number: result.session.extensionNumber, action: recipes.configAction(for: state.device.model))
            } else {
                let kept = Extension.isValidNumber(ext) ? ext : ""
                screen = app.loginError(app.describe(outcome), network: network, extensionValue: kept)
            }
        case .confirmLogout:
            if let session = state.session {
                screen = app.confirmLogout(number: session.extensionNumber, name: state.sessionExtension?.name ?? "")
            } else {
                screen = app.message(texts["logout.not_logged_in"])
            }
        case .logout:
            let ended = try await changes.logout(
                mac: state.device.mac,
                actor: state.session?.extensionNumber ?? "phone",
                source: phoneAddress,
                why: .fromPhone,
                reason: .logout,
                delay: login.pushDelay
            )
            if let ended {
                screen = app.loggedOut(number: ended.session.extensionNumber, action: recipes.configAction(for: state.device.model))
            } else {
                screen = app.message(texts["logout.not_logged_in"])
            }
        }
        let served = ServedDocument(try self.document(screen, dialect: dialect, context: context))
        if let documentKey { documents.keep(served, for: documentKey, at: stamp) }
        return served.response
    }

    /// Renders in the phone's dialect; a screen too big for the phone becomes a short error.
    func render(_ screen: Screen, dialect: any Dialect, context: HotDeskRequestContext) throws -> Response {
        .document(try document(screen, dialect: dialect, context: context))
    }

    func document(_ screen: Screen, dialect: any Dialect, context: HotDeskRequestContext) throws -> PhoneDocument {
        do {
            return try dialect.render(screen)
        } catch {
            context.logger.error("screen did not render", metadata: ["dialect": "\(dialect.name)", "error": "\(error)"])
            let texts = screens.texts(language)
            return try dialect.render(.text(.init(title: texts["error.title"], text: texts["error.internal"])))
        }
    }

    /// A phone with an unknown token still gets its own dialect when its User-Agent says which
    /// (else the first family's, by name).
    func dialectForUnknownPhone(_ request: Request) -> any Dialect {
        let brand = catalog.brands(inUserAgent: request.headers[.userAgent] ?? "").first
        return brand.flatMap { screens.dialects[$0.rawValue] } ?? screens.dialects[screens.dialects.keys.sorted()[0]]!
    }
}
