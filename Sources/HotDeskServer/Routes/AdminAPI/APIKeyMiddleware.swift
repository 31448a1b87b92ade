import Foundation
import HTTPTypes
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import PhonePush

/// Checks `Authorization: Bearer <key>` against the stored key hashes, or (admin API only) the
/// web console's session cookie, whose changes must also carry the page's `X-CSRF-Token`;
/// refusals are audited. Also turns any `APIError` a handler throws into its JSON answer.
struct APIKeyMiddleware: RouterMiddleware {
    let store: any AccountStore & AuditStore
    let addresses: PhoneAddressResolver
    let clock: @Sendable () -> Date
    let throttle: RefusalThrottle
    /// The console's cookie check; nil where only keys open (`/pbx/v1`).
    var console: ConsoleAuth?
    /// Refusals from every address together: rotating addresses does not flood the audit either.
    var globalThrottle = RefusalThrottle(limit: 100, window: 60, maxSources: 1)
    /// Which keys open this group: admin keys `/api/v1`, PBX keys `/pbx/v1`.
    var kind: APIKeyKind = .admin
    typealias PartnerKeyLookup = @Sendable (String) async throws -> (name: String, role: AdminRole)?

    /// An organisation's admin API: the main directory's key of this hash, if it is a partner's
    /// (a partner's key opens every organisation's API).
    var partnerKey: APIKeyMiddleware.PartnerKeyLookup?

    /// The key sent as a bearer token, or — for a PBX, whose HTTP clients put credentials in a
    /// URL (`http://user:KEY@host/…`) — as the password of HTTP Basic with any user name.
    func key(_ header: String) -> String? {
        if header.lowercased().hasPrefix("bearer ") { return header.dropFirst(7).trimmingCharacters(in: .whitespaces) }
        guard kind == .pbx, header.lowercased().hasPrefix("basic "),
            let data = Data(base64Encoded: header.dropFirst(6).trimmingCharacters(in: .whitespaces)),
            let pair = String(data: data, encoding: .utf8), let colon = pair.firstIndex(of: ":")
        else { return nil }
        return String(pair[pair.index(after: colon)...])
    }

    func handle(
        _ request: Request,
        context: HotDeskRequestContext,
        next: (Request, HotDeskRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        do {
            if let console, request.headers[.authorization] == nil {
                let token = console.token(of: request)
                if let token, let (_, session) = try await console.session(token: token) {
                    return try await next(request, try await consoleContext(request, context, console, token: token, session: session))
                }
                // An organisation's own cookie that has ended does not hide a partner's session of
                // the main console (a partner once signed in here, then came back through the main one).
                if let partnerSession = console.partnerSession, let (_, session) = try await partnerSession(request) {
                    return try await next(request, try await partnerContext(request, context, console, session, recheck: partnerSession))
                }
                if token != nil { throw APIError(.unauthorized, "signed_out", "the console session has ended: sign in again") }
            }
            guard let key = key(request.headers[.authorization] ?? "") else {
                throw APIError(
                    .unauthorized,
                    "unauthorized",
                    kind == .pbx
                        ? "send the PBX key as 'Authorization: Bearer <key>' or as the Basic password (hotdesk pbxkey create)"
                        : "send the API key as 'Authorization: Bearer <key>' (hotdesk apikey create)"
                )
            }
            guard APIKey.isWellFormed(key) else { throw try await refused(request, context, kind == .pbx ? "wrong PBX key" : "wrong API key") }
            guard let found = try await store.apiKey(hash: APIKey.hash(key), kind: kind, at: clock()) else {
                if let partnerKey, let partner = try await partnerKey(APIKey.hash(key)), partner.role == .partner {
                    context.apiActor = "partner:\(partner.name)"
                    context.role = .partner
                    context.stillAuthorized = { (try? await partnerKey(APIKey.hash(key)))?.role == .partner }
                    return try await next(request, context)
                }
                throw try await refused(request, context, kind == .pbx ? "wrong PBX key" : "wrong API key")
            }
            context.apiActor = "\(kind == .pbx ? "pbx" : "api"):\(found.name)"
            context.role = found.role
            let (store, hash, kind, clock) = (store, APIKey.hash(key), kind, clock)
            context.stillAuthorized = { (try? await store.apiKey(hash: hash, kind: kind, at: clock())) != nil }
            context.scope = found.scope
            if kind == .admin { try await checkRole(found.role, of: "key \"\(found.name)\"", request, context) }
            return try await next(request, context)
        } catch let error as APIError {
            var response = error.response
            // A PBX's HTTP client negotiates: it sends its key only to a scheme the 401 offers.
            if kind == .pbx, response.status == .unauthorized {
                response.headers.append(.init(name: .wwwAuthenticate, value: "Basic realm=\"hotdesk-pbx\""))
            }
            return response
        }
    }

    /// Refuses (403, audited) a request the role may not make, or that a key or account limited
    /// to some sites may not make at all (the directory, settings, keys: for every site's).
    private func checkRole(_ role: AdminRole, of who: String, _ request: Request, _ context: HotDeskRequestContext) async throws {
        let path = String(request.uri.path.dropFirst("/api/v1/".count))
        let needed = AdminRole.needed(method: request.method.rawValue, path: path)
        let whose = who.hasPrefix("key") ? "key" : "account"
        let printable = "\(request.method) /api/v1/\(TextSafety.printable(String(path.prefix(80))))"
        if role < needed {
            try await refuse(request, context, "\(printable) needs the \(needed.rawValue) role; \(who) is \(role.rawValue)")
            throw APIError(.forbidden, "forbidden", "this \(whose)'s role (\(role.rawValue)) may not do that: it needs \(needed.rawValue)")
        }
        if context.scope.isLimited, !SiteScope.opens(method: request.method.rawValue, path: path) {
            try await refuse(request, context, "\(printable) is for keys and accounts of every site; \(who) has \(context.scope.description)")
            throw APIError(
                .forbidden,
                "forbidden_scope",
                "this \(whose) is limited to \(context.scope.description): that is for a \(whose) of every site"
            )
        }
    }

    private func refuse(_ request: Request, _ context: HotDeskRequestContext, _ detail: String) async throws {
        try await store.auditRefusal(request, context, addresses: addresses, at: clock(), detail)
    }

    /// A request of the signed-in console: its account as actor (`console:<name>`) and role;
    /// a change without the session's CSRF token is refused (403, audited).
    private func consoleContext(
        _ request: Request,
        _ context: HotDeskRequestContext,
        _ console: ConsoleAuth,
        token: String,
        session: ConsoleSession
    ) async throws -> HotDeskRequestContext {
        var context = context
        context.apiActor = "console:\(session.account)"
        context.role = session.role
        context.scope = session.scope
        context.stillAuthorized = { (try? await console.session(token: token)) != nil }
        try await requireCSRFToken(request, context, console, of: session)
        try await checkRole(session.role, of: "account \"\(session.account)\"", request, context)
        return context
    }

    /// A request of a partner signed in to the main console, in an organisation's console: an
    /// admin here (`partner:<name>`), changes only with that session's CSRF token.
    private func partnerContext(
        _ request: Request,
        _ context: HotDeskRequestContext,
        _ console: ConsoleAuth,
        _ session: ConsoleSession,
        recheck: @escaping @Sendable (Request) async throws -> (String, ConsoleSession)?
    ) async throws -> HotDeskRequestContext {
        guard session.role == .partner else { throw APIError(.unauthorized, "signed_out", "sign in to this organisation's console") }
        var context = context
        context.apiActor = "partner:\(session.account)"
        context.role = .partner
        context.stillAuthorized = { (try? await recheck(request)) != nil }
        // The main console's session: its token, checked as the main console checks it.
        try await requireCSRFToken(request, context, console, of: session)
        return context
    }

    /// A change (not a GET) made with a console session carries that session's CSRF token;
    /// else it is refused, audited.
    private func requireCSRFToken(
        _ request: Request,
        _ context: HotDeskRequestContext,
        _ console: ConsoleAuth,
        of session: ConsoleSession
    ) async throws {
        guard request.method != .get, request.method != .head, !console.carriesCSRFToken(request, of: session) else { return }
        try await refuse(
            request,
            context,
            "\(request.method) \(TextSafety.printable(String(request.uri.path.prefix(80)))) without the console's CSRF token"
        )
        throw APIError(.forbidden, "csrf", "a change from the console must carry its X-CSRF-Token")
    }

    /// Audits a refusal (or, past the throttle's limit, only the first one) and says what to answer.
    private func refused(_ request: Request, _ context: HotDeskRequestContext, _ why: String) async throws -> APIError {
        let now = clock()
        let source = addresses.address(of: request, context: context)
        let path = RequestRecordMiddleware<HotDeskRequestContext>.redact(request.uri.path)
        SecurityLog(logger: context.logger).record(.keyRefused, source: source, detail: "\(request.method) \(path): \(why)")
        let verdict = throttle.refuse(source: source ?? "unknown", now: now)
        let everyone = globalThrottle.refuse(source: "*", now: now)
        let detail: String =
            switch (verdict, everyone) {
            case (.withinLimit, .withinLimit): "\(request.method) \(path): \(why)"
            case (.withinLimit, _):
                "\(request.method) \(path): \(why); \(globalThrottle.limit) refusals from all addresses within \(Int(globalThrottle.window)) s, "
                    + "the next ones are answered 429 and not audited"
            default:
                "\(request.method) \(path): \(why); \(throttle.limit) refusals within \(Int(throttle.window)) s, the next ones from this address are answered 429 and not audited"
            }
        if verdict != .overLimit, everyone != .overLimit {
            try await store.audit(AuditEntry(at: now, actor: "unknown", action: .apiRefused, source: source, outcome: .refused, detail: detail))
        }
        guard verdict == .withinLimit, everyone == .withinLimit else {
            let wait = max(
                verdict == .withinLimit ? 0 : throttle.retryAfter(source: source ?? "unknown", now: now),
                everyone == .withinLimit ? 0 : globalThrottle.retryAfter(source: "*", now: now)
            )
            return APIError(.tooManyRequests, "too_many_attempts", "too many refused keys; try again in \(wait) s", retryAfter: wait)
        }
        return APIError(.unauthorized, "unauthorized", "the API key is not valid")
    }
}

extension AuditStore {
    /// Audits an authenticated request refused (`api_refused`): its key or account as actor.
    func auditRefusal(
        _ request: Request,
        _ context: HotDeskRequestContext,
        addresses: PhoneAddressResolver,
        at: Date,
        _ detail: String
    ) async throws {
        try await audit(
            AuditEntry(
                at: at,
                actor: context.apiActor,
                action: .apiRefused,
                source: addresses.address(of: request, context: context),
                outcome: .refused,
                detail: detail
            )
        )
    }
}
