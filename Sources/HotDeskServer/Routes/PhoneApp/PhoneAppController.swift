import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import PhonePush
import PhoneXML
import Provisioning

/// The on-phone Login/Logout app under `/app/<device token>`. The token is the per-device
/// secret written into the phone's config; the MAC is never an identity here. `PhoneAppMiddleware`
/// resolves the token once; each route is a handler of its own.
struct PhoneAppController: Sendable {
    let store: any DeviceStore & StampedStore & CallStore
    let catalog: PhoneCatalog
    let screens: ScreenLibrary
    let login: LoginService
    let changes: PhoneChanges
    /// What each family does to apply a config (the "Done" screen says "reloading" or "restarting").
    let recipes: PushRecipeBook
    /// Whether a PBX carries NOTIFYs now (a family the PBX alone can reach is then reloaded too).
    let pbxConnected: @Sendable () async -> Bool
    let addresses: PhoneAddressResolver
    let hosts: HostPolicy
    let language: String
    let timeZone: TimeZone
    let clock: @Sendable () -> Date
    /// The phone a token names (its state and dialect), while its change stamp stays the same.
    let states: StampedCache<String, ChangeStamp, ResolvedPhone>
    /// The screens that only show (menu, forms, confirmations), as rendered for a token, host
    /// and query while its stamp stays the same: a phone paging through the app renders nothing
    /// twice (issue 12: rendering was a third of an app request).
    let documents: StampedCache<DocumentKey, ChangeStamp, ServedDocument>

    /// Longer query strings are refused before anything is parsed.
    static let maxQueryBytes = 2048

    func register(with router: Router<HotDeskRequestContext>) {
        let app = router.group("/app/{token}").add(middleware: PhoneAppMiddleware(app: self)).group(context: PhoneAppContext.self)
        app.get { request, context in try self.menu(request, context) }
        app.get("choose") { request, context in try self.chooseNetwork(request, context) }
        app.get("login") { request, context in try self.loginForm(request, context) }
        app.get("password") { request, context in try self.passwordForm(request, context) }
        app.get("submit") { request, context in try await self.submit(request, context) }
        app.get("logout") { request, context in try self.confirmLogout(request, context) }
        app.get("logout/confirm") { request, context in try await self.logout(request, context) }
        app.get("pin") { request, context in try self.pinForm(request, context) }
        app.get("pin/submit") { request, context in try await self.changePIN(request, context) }
    }

    /// The screens that only show, each a key of the screens' cache.
    enum Step: Hashable, Sendable {
        case menu, choose, form, password, confirmLogout, pin
    }

    /// A screen that only shows is the same for the same token, step, `Host` and query.
    struct DocumentKey: Hashable, Sendable {
        let token: String
        let step: Step
        let host: String?
        let query: String?
    }

    // MARK: the routes

    /// Logged in: who, and Logout. Logged out: the choice of network.
    func menu(_ request: Request, _ context: PhoneAppContext) throws -> Response {
        try show(.menu, request, context) { app in
            let state = context.phone.state
            guard let session = state.session else { return offersLogin(state) ? app.chooseNetwork() : loginOff(app) }
            return app.loggedInMenu(number: session.extensionNumber, name: state.sessionExtension?.name ?? "")
        }
    }

    func chooseNetwork(_ request: Request, _ context: PhoneAppContext) throws -> Response {
        try show(.choose, request, context) { app in offersLogin(context.phone.state) ? app.chooseNetwork() : loginOff(app) }
    }

    func loginForm(_ request: Request, _ context: PhoneAppContext) throws -> Response {
        try show(.form, request, context) { app in
            guard offersLogin(context.phone.state) else { return loginOff(app) }
            let params = request.uri.queryParameters
            let ext = params.get("ext").flatMap { Extension.isValidNumber($0) ? $0 : nil } ?? remembered(context.phone.state.device) ?? ""
            return app.loginForm(network: network(request), extensionValue: ext, maxInputFields: context.phone.dialect.maxInputFields)
        }
    }

    /// "Remember me": a personal device's Login form offers the user who last logged in on it
    /// (one of its users), else its only user. A shared desk offers no one.
    private func remembered(_ device: Device) -> String? {
        let users = device.assignedUsers
        if let last = device.lastUser, users.contains(last) { return last }
        return users.count == 1 ? users[0] : nil
    }

    /// The second chained screen: the extension is only carried here, checked on "Done".
    func passwordForm(_ request: Request, _ context: PhoneAppContext) throws -> Response {
        try show(.password, request, context) { app in
            guard offersLogin(context.phone.state) else { return loginOff(app) }
            let ext = (request.uri.queryParameters.get("ext") ?? "").prefix(LoginService.maxInput)
            return app.passwordForm(network: network(request), extensionValue: String(ext.filter(\.isNumber)))
        }
    }

    /// "Done": the login itself.
    func submit(_ request: Request, _ context: PhoneAppContext) async throws -> Response {
        let (state, app) = (context.phone.state, appScreens(request, context.phone))
        // A workspace phone with hot desking off offers no login (a crafted URL gets no further).
        guard offersLogin(state) else { return try render(loginOff(app), context) }
        let params = request.uri.queryParameters
        let ext = params.get("ext") ?? ""
        let outcome = try await login.login(
            device: state.device,
            workspace: state.workspace,
            settings: state.settings,
            network: network(request),
            extensionInput: ext,
            password: params.get("pw") ?? "",
            source: addresses.address(of: request, context: context),
            now: clock()
        )
        guard case .loggedIn(let result) = outcome else {
            let kept = Extension.isValidNumber(ext) ? ext : ""
            return try render(app.loginError(app.describe(outcome), network: network(request), extensionValue: kept), context)
        }
        return try render(
            app.loggedIn(number: result.session.extensionNumber, action: recipes.configAction(for: state.device.model, viaPBX: await pbxConnected())),
            context
        )
    }

    func confirmLogout(_ request: Request, _ context: PhoneAppContext) throws -> Response {
        try show(.confirmLogout, request, context) { app in
            let state = context.phone.state
            guard let session = state.session else { return app.message(app.texts["logout.not_logged_in"]) }
            return app.confirmLogout(number: session.extensionNumber, name: state.sessionExtension?.name ?? "")
        }
    }

    func logout(_ request: Request, _ context: PhoneAppContext) async throws -> Response {
        let (state, app) = (context.phone.state, appScreens(request, context.phone))
        let ended = try await changes.logout(
            mac: state.device.mac,
            actor: state.session?.extensionNumber ?? "phone",
            source: addresses.address(of: request, context: context),
            why: .fromPhone,
            reason: .logout,
            delay: login.pushDelay
        )
        guard let ended else { return try render(app.message(app.texts["logout.not_logged_in"]), context) }
        return try render(
            app.loggedOut(number: ended.session.extensionNumber, action: recipes.configAction(for: state.device.model, viaPBX: await pbxConnected())),
            context
        )
    }

    /// Change PIN's form (logged in only). On a phone that takes one field per screen, the next
    /// screen carries the PINs typed so far: such a screen is rendered for this request alone,
    /// never kept in the screens' cache.
    func pinForm(_ request: Request, _ context: PhoneAppContext) throws -> Response {
        let phone = context.phone
        let params = request.uri.queryParameters
        let typed = ["old", "new"].compactMap { name in params.get(name).map { (name, String($0.prefix(LoginService.maxInput))) } }
        guard typed.isEmpty else {
            let app = appScreens(request, phone)
            guard phone.state.session != nil else { return try render(app.message(app.texts["logout.not_logged_in"]), context) }
            return try render(app.pinForm(maxInputFields: phone.dialect.maxInputFields, typed: typed), context)
        }
        return try show(.pin, request, context) { app in
            guard phone.state.session != nil else { return app.message(app.texts["logout.not_logged_in"]) }
            return app.pinForm(maxInputFields: phone.dialect.maxInputFields)
        }
    }

    /// Change PIN's "Done": the current PIN checked as a login's password is, then replaced.
    func changePIN(_ request: Request, _ context: PhoneAppContext) async throws -> Response {
        let (state, app) = (context.phone.state, appScreens(request, context.phone))
        guard let session = state.session else { return try render(app.message(app.texts["logout.not_logged_in"]), context) }
        let params = request.uri.queryParameters
        let outcome = try await login.changePIN(
            device: state.device,
            settings: state.settings,
            extensionNumber: session.extensionNumber,
            old: params.get("old") ?? "",
            new: params.get("new") ?? "",
            again: params.get("again") ?? "",
            source: addresses.address(of: request, context: context),
            now: clock()
        )
        return try render(app.pinChanged(outcome), context)
    }

    // MARK: resolving the token (`PhoneAppMiddleware`)

    enum Resolution {
        case phone(ResolvedPhone)
        /// The token names no current state, or the request is refused: this screen.
        case answer(Response)
    }

    /// A token's phone is kept while nothing it depends on changed (a person paging through the
    /// app's screens reads the database once; a login on another phone changes nothing here).
    func resolve(_ request: Request, _ context: HotDeskRequestContext) async throws -> Resolution {
        let token = context.parameters.get("token") ?? ""
        var stamp: ChangeStamp?
        if let mac = store.device(ofAppToken: token) { stamp = try? await store.stamps.stamp(of: mac) }
        var phone = states.value(token, at: stamp)
        var lookup = AppLookup.unknown
        if phone == nil, RandomToken.isWellFormed(token) {
            lookup = try await store.appState(token: token)
            if case .current(let state) = lookup {
                guard let dialect = screens.dialects[state.device.model.brand.rawValue] else {
                    return .answer(.text(.notImplemented, "no XML browser dialect for \(state.device.model.brand.rawValue)\n"))
                }
                phone = ResolvedPhone(token: token, stamp: stamp, state: state, dialect: dialect)
                states.keep(phone!, for: token, at: stamp)
            }
        }
        guard let phone else { return .answer(try notCurrent(token, lookup, request, context)) }
        // The person at the desk uses the app: not idle (written only when an idle rule is on).
        if phone.state.session != nil, phone.state.settings.autoLogout.idleAfter != nil {
            try await store.noteActivity(mac: phone.state.device.mac, at: clock())
        }
        if let query = request.uri.query, query.utf8.count > Self.maxQueryBytes {
            let app = appScreens(request, phone)
            return .answer(try render(app.message(app.texts["error.too_long"], title: app.texts["error.title"]), context, dialect: phone.dialect))
        }
        return .phone(phone)
    }

    /// An older token (the phone has not applied its config since the last login or logout), or
    /// the placeholder of a phone that has not proved itself yet: "please wait", not the app.
    /// Anything else: an unknown phone.
    private func notCurrent(_ token: String, _ lookup: AppLookup, _ request: Request, _ context: HotDeskRequestContext) throws -> Response {
        let updating = token == ConfigContext.pendingToken || { if case .stale = lookup { true } else { false } }()
        if !updating { context.logger.notice("unknown app token", metadata: ["peer": "\(context.peerAddress ?? "?")"]) }
        let texts = screens.texts(language)
        let screen = Screen.text(
            .init(title: texts[updating ? "updating.title" : "error.title"], text: texts[updating ? "updating.text" : "error.unknown_device"])
        )
        return try render(screen, context, dialect: dialectForUnknownPhone(request))
    }

    /// "Hot desking is not available, try again", in the phone's dialect when it is known.
    func unavailable(_ request: Request, _ context: HotDeskRequestContext) throws -> Response {
        let texts = screens.texts(context.resolvedPhone.map { language(of: $0.state) } ?? language)
        let screen = Screen.text(.init(title: texts["unavailable.title"], text: texts["error.unavailable"]))
        return try render(screen, context, dialect: context.resolvedPhone?.dialect ?? dialectForUnknownPhone(request))
    }

    // MARK: rendering

    /// A screen that only shows: from the cache while the phone's stamp stays the same.
    private func show(_ step: Step, _ request: Request, _ context: PhoneAppContext, screen: (AppScreens) -> Screen) throws -> Response {
        let phone = context.phone
        let key = DocumentKey(token: phone.token, step: step, host: request.hostHeader, query: request.uri.query)
        if let served = documents.value(key, at: phone.stamp) { return served.response }
        let served = ServedDocument(try document(screen(appScreens(request, phone)), context, dialect: phone.dialect))
        documents.keep(served, for: key, at: phone.stamp)
        return served.response
    }

    /// The app's screens for this phone, with links to the address it reached HotDesk at.
    private func appScreens(_ request: Request, _ phone: ResolvedPhone) -> AppScreens {
        let prefix = changes.planner.builder.pathPrefix
        let base = hosts.address(request, settings: phone.state.settings)?.under(prefix).baseURL ?? prefix
        // Times on the screen (a lock's end) in the phone's own zone: its site's, else the settings', else the server's.
        let zone = phone.state.settings.timeZone ?? timeZone
        return AppScreens(texts: screens.texts(language(of: phone.state)), appURL: "\(base)/app/\(phone.token)", timeZone: zone)
    }

    /// The language of a phone's screens: its user's (logged in), else its site's or the
    /// settings', else the server's (`--language`); one without screen texts is passed over.
    func language(of state: AppState) -> String {
        screens.language([state.sessionExtension?.language, state.settings.language], fallback: language)
    }

    private func network(_ request: Request) -> Network { request.uri.queryParameters.get("net").flatMap { Network(rawValue: $0) } ?? .internal }

    /// A workspace phone with hot desking off offers no login.
    private func offersLogin(_ state: AppState) -> Bool { state.workspace?.hotDesking != false }

    private func loginOff(_ app: AppScreens) -> Screen { app.message(app.texts["error.hot_desking_off"]) }

    private func render(_ screen: Screen, _ context: PhoneAppContext) throws -> Response {
        try render(screen, context, dialect: context.phone.dialect)
    }

    /// Renders in the phone's dialect; a screen too big for the phone becomes a short error.
    private func render(_ screen: Screen, _ context: some RequestContext, dialect: any Dialect) throws -> Response {
        .document(try document(screen, context, dialect: dialect))
    }

    private func document(_ screen: Screen, _ context: some RequestContext, dialect: any Dialect) throws -> PhoneDocument {
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
    private func dialectForUnknownPhone(_ request: Request) -> any Dialect {
        let brand = catalog.brands(inUserAgent: request.headers.firstValue(.userAgent) ?? "").first
        return brand.flatMap { screens.dialects[$0.rawValue] } ?? screens.dialects[screens.dialects.keys.sorted()[0]]!
    }
}
