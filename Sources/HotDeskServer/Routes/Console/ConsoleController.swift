import AdminConsole
import Foundation
import HTTPTypes
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird
import NIOCore
import Synchronization

/// The web console at `/admin`: its page, script and style (compiled in), sign-in and sign-out.
/// Everything it shows and changes goes through `/api/v1`, opened by the session cookie this
/// controller sets (`ConsoleAuth`); nothing is private to the console.
struct ConsoleController: Sendable {
    let store: any Store
    let auth: ConsoleAuth
    let addresses: PhoneAddressResolver
    /// The console answers only HotDesk's own names (a DNS-rebinding page uses its own).
    let hosts: HostPolicy
    let security: SecurityLog
    /// Throttled attempts: only the first of a window per source is audited (by each node), so a
    /// loop (with a new account name each time or not) fills no log.
    let throttledAudit = RefusalThrottle(limit: 1, window: ConsoleAuth.failureWindow)
    /// Holds this node found in the store, until they end: a hold only ends when its window
    /// does (nothing clears it sooner), so the attempts it refuses need no read at all.
    let holds = Holds()
    /// Count → check → record for one account and one source runs as one step, on this node (the
    /// gate) and across nodes (the store's node locks): concurrent wrong passwords are evaluated
    /// up to the limit, no more. The wrong passwords are counted in the store (every node's):
    /// per account and source address (three hold that pair), per account from every address (a
    /// slower hold: three guesses from anywhere must not keep a named admin out), and per address.
    let gate = KeyedGate()
    let clock: @Sendable () -> Date

    /// Pages may run only their own script and style, be framed by nobody, send nowhere else.
    static let pageHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!:
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-store",
    ]

    func register(with router: Router<HotDeskRequestContext>) {
        let admin = router.group("/admin").add(middleware: HostCheckMiddleware(store: store, hosts: hosts))
        // (`/admin/` and `/admin` are one route to Hummingbird: the page answers both.)
        let prefix = Organisation.pathPrefix(auth.organisation)
        for (name, file) in ConsoleAssets.files {
            // The page of an organisation's console names its own files, and tells its script where it is.
            let buffer = ByteBuffer(bytes: name.isEmpty ? Self.page(file.bytes, under: prefix) : file.bytes)
            let headers = Self.pageHeaders.merging([.contentType: file.contentType])
            admin.get("\(name)") { _, _ -> Response in Response(status: .ok, headers: headers, body: .init(byteBuffer: buffer)) }
        }
        admin.post("sign-in") { request, context in try await self.signIn(request, context) }
        admin.get("session") { request, _ in try await self.current(request) }
        admin.post("sign-out") { request, context in try await self.signOut(request, context) }
    }

    /// `{"name", "password"}` as JSON (a cross-site form cannot send that): 200 with the session
    /// and its cookie; 401 for a wrong name or password; 429 after `allowedFailures` wrong ones
    /// for the account from this address (or `allowedFailuresPerAccount` from all, or 20 from the
    /// address) within the window, even with the right password.
    func signIn(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            throw APIError(.unsupportedMediaType, "bad_content_type", "send the sign-in as JSON (Content-Type: application/json)")
        }
        let body = try await request.decodeJSON(SignInRequest.self, expected: "{\"name\": \"…\", \"password\": \"…\"}")
        let now = clock()
        let source = addresses.address(of: request, context: context) ?? "unknown"
        let name = AdminAccountInfo.nameProblem(body.name) == nil ? body.name : "?"
        let printable = TextSafety.printable(String(body.name.prefix(64)))
        let keys = ["console account " + name, "console source " + source]
        // A hold this node knows of: refused at once, in no queue.
        try await refuseIfHeld(name: name, printable: printable, source: source, now: now, known: true)
        return try await gate.withKeys(keys) {
            // Held already (a count only grows within its window): refused without the nodes' locks.
            try await refuseIfHeld(name: name, printable: printable, source: source, now: now)
            return try await store.withNodeLocks(keys) {
                try await refuseIfHeld(name: name, printable: printable, source: source, now: now)
                return try await check(request, name: name, printable: printable, password: body.password, source: source, now: now)
            }
        }
    }

    /// Seconds a sign-in is held by `failures` within the window (0: not held): until enough of
    /// them leave the window to go below `limit`.
    static func hold(_ failures: [Date], limit: Int, now: Date) -> Int {
        let recent = failures.filter { now.timeIntervalSince($0) < ConsoleAuth.failureWindow }.sorted()
        guard recent.count >= limit else { return 0 }
        let frees = recent[recent.count - limit]
        return max(1, Int((ConsoleAuth.failureWindow - now.timeIntervalSince(frees)).rounded(.up)))
    }

    /// 429 while wrong passwords hold this account and address (the first refusal of a window
    /// audited): from the holds this node knows of, and unless `known`, from the store's counts.
    private func refuseIfHeld(name: String, printable: String, source: String, now: Date, known: Bool = false) async throws {
        let keys = (pair: "pair \(name) \(source)", account: "account \(name)", source: "source \(source)")
        var wait = holds.wait([keys.pair, keys.account, keys.source], now: now)
        if wait == 0, !known {
            let failures = try await store.signInFailures(account: name, source: source, since: now - ConsoleAuth.failureWindow)
            let waits = [
                (keys.pair, Self.hold(failures.account.filter { $0.source == source }.map(\.at), limit: ConsoleAuth.allowedFailures, now: now)),
                (keys.account, Self.hold(failures.account.map(\.at), limit: ConsoleAuth.allowedFailuresPerAccount, now: now)),
                (keys.source, Self.hold(failures.source, limit: ConsoleAuth.allowedFailuresPerSource, now: now)),
            ]
            for (key, seconds) in waits where seconds > 0 { holds.remember(key, until: now + TimeInterval(seconds), now: now) }
            wait = waits.map(\.1).max() ?? 0
        }
        if wait > 0 {
            if throttledAudit.refuse(source: source, now: now) == .withinLimit {
                try await store.audit(
                    AuditEntry(
                        at: now,
                        actor: "console:\(printable)",
                        action: .signIn,
                        source: source,
                        outcome: .refused,
                        detail:
                            "console sign-in throttled after \(ConsoleAuth.allowedFailures) wrong passwords; the next attempts within \(wait) s are refused unaudited"
                    )
                )
            }
            throw APIError(.tooManyRequests, "too_many_attempts", "too many wrong passwords; try again in \(wait) s", retryAfter: wait)
        }
    }

    /// The serialised part of a sign-in, once it is not held: check, record.
    private func check(_ request: Request, name: String, printable: String, password: String, source: String, now: Date) async throws -> Response {
        guard let (role, scope) = try await store.checkAdminPassword(name: name, password: password) else {
            security.record(.signInFailed, source: source, detail: "console account \"\(printable)\"")
            try await store.recordSignInFailure(
                account: name,
                source: source,
                audit: AuditEntry(
                    at: now,
                    actor: "console:\(printable)",
                    action: .signIn,
                    source: source,
                    outcome: .failure,
                    detail: "console sign-in: wrong name or password"
                )
            )
            throw APIError(.unauthorized, "wrong_password", "wrong name or password")
        }
        let token = ConsoleSession.makeToken()
        var session = ConsoleSession(
            account: name,
            role: role,
            csrfToken: RandomToken.make(bytes: 32),
            expiresAt: now.addingTimeInterval(ConsoleAuth.lifetime)
        )
        session.scope = scope
        try await store.startConsoleSession(
            tokenHash: ConsoleSession.hash(token),
            session,
            audit: AuditEntry(
                at: now,
                actor: "console:\(name)",
                action: .signIn,
                source: source,
                outcome: .success,
                detail: "console sign-in (role \(role.rawValue)\(scope.isLimited ? ", \(scope.description)" : ""))"
            )
        )
        var response = Response.json(.ok, Self.view(session))
        response.headers[.setCookie] = auth.cookie(token, request: request, maxAge: Int(ConsoleAuth.lifetime))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The signed-in session (for a page opened again): the console's own, or a partner's of the
    /// main console; else 401.
    func current(_ request: Request) async throws -> Response {
        var found = try await auth.session(of: request)
        if found == nil, let partnerSession = auth.partnerSession { found = try await partnerSession(request) }
        guard let (_, session) = found else {
            throw APIError(.unauthorized, "signed_out", "not signed in")
        }
        var response = Response.json(.ok, Self.view(session))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// Ends the session and clears the cookie — only with a live session and its CSRF token: a
    /// cross-site post (which carries the cookie but cannot know the token) changes nothing.
    func signOut(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        guard let (hash, session) = try await auth.session(of: request) else {
            if try await auth.partnerSession?(request) != nil {
                throw APIError(.conflict, "partner", "a partner signs out at the main console (/admin)")
            }
            throw APIError(.unauthorized, "signed_out", "not signed in")
        }
        guard auth.carriesCSRFToken(request, of: session) else {
            throw APIError(.forbidden, "csrf", "sign-out needs the page's X-CSRF-Token")
        }
        var response = Response(status: .noContent)
        response.headers[.setCookie] = auth.cookie("", request: request, maxAge: 0)
        try await store.endConsoleSession(
            tokenHash: hash,
            audit: AuditEntry(
                at: clock(),
                actor: "console:\(session.account)",
                action: .signOut,
                source: addresses.address(of: request, context: context),
                outcome: .success,
                detail: "console sign-out"
            )
        )
        return response
    }

    /// The console's page for a console under `prefix` (`/o/NAME`; empty: the root, as it is).
    static func page(_ bytes: [UInt8], under prefix: String) -> [UInt8] {
        guard !prefix.isEmpty else { return bytes }
        let html = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"/admin/", with: "\"\(prefix)/admin/")
            .replacingOccurrences(of: "<html lang=\"en\">", with: "<html lang=\"en\" data-base=\"\(prefix)\">")
        return Array(html.utf8)
    }

    static func view(_ session: ConsoleSession) -> ConsoleSessionView {
        var view = ConsoleSessionView(name: session.account, role: session.role.rawValue, csrfToken: session.csrfToken, expiresAt: session.expiresAt)
        view.sites = session.scope.sites
        return view
    }
}

/// The console's session cookie: set at sign-in, checked by the API's middleware beside API keys.
struct ConsoleAuth: Sendable {
    /// A signed-in console lasts a working day.
    static let lifetime: TimeInterval = 12 * 3600
    static let allowedFailures = 3
    static let allowedFailuresPerAccount = 20
    static let allowedFailuresPerSource = 20
    static let failureWindow: TimeInterval = 300

    let store: any AccountStore & AuditStore
    /// `Secure` on the cookie: HotDesk serves TLS itself (behind a TLS proxy, the proxy's
    /// `X-Forwarded-Proto: https` also sets it).
    let servesTLS: Bool
    /// The organisation whose console this is (its cookie is its own, sent under `/o/NAME/` only).
    var organisation: String?
    /// An organisation's: the main console's partner session the request carries, if any (a
    /// partner signed in there is signed in to every organisation's console).
    var partnerSession: (@Sendable (Request) async throws -> (String, ConsoleSession)?)?
    let clock: @Sendable () -> Date

    /// `hotdesk_console`, an organisation's `hotdesk_console_NAME`: a browser signed in to
    /// several keeps one session each.
    var cookieName: String { organisation.map { "hotdesk_console_\($0)" } ?? "hotdesk_console" }

    func cookie(_ value: String, request: Request, maxAge: Int) -> String {
        let secure = servesTLS || request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
        let path = Organisation.pathPrefix(organisation) + "/"
        return "\(cookieName)=\(value); Path=\(path); Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The cookie's value, if the request carries a well-formed one.
    func token(of request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName {
                    let value = parts[1].trimmingCharacters(in: .whitespaces)
                    if ConsoleSession.isWellFormedToken(value) { return value }
                }
            }
        }
        return nil
    }

    /// The live session the cookie opens, with its hash.
    func session(of request: Request) async throws -> (String, ConsoleSession)? {
        guard let token = token(of: request) else { return nil }
        return try await session(token: token)
    }

    /// The live session of a cookie value already read.
    func session(token: String) async throws -> (String, ConsoleSession)? {
        let hash = ConsoleSession.hash(token)
        return try await store.consoleSession(tokenHash: hash, at: clock()).map { (hash, $0) }
    }

    /// Whether the request carries the session's CSRF token (compared in constant time).
    func carriesCSRFToken(_ request: Request, of session: ConsoleSession) -> Bool {
        guard let sent = request.headers[HTTPField.Name("X-CSRF-Token")!] else { return false }
        return ConstantTime.equal(sent, session.csrfToken)
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var fields = self
        for field in other { fields[field.name] = field.value }
        return fields
    }
}

/// Sign-in holds known to this node, by key, until they end (at most `limit` kept: past it, the
/// ended ones are forgotten, then all — the store still has the counts).
final class Holds: Sendable {
    private let table = Mutex<[String: Date]>([:])
    let limit = 10_000

    /// Seconds until every hold among `keys` has ended (0: none is in force).
    func wait(_ keys: [String], now: Date) -> Int {
        let until = table.withLock { table in keys.compactMap { table[$0] }.max() }
        guard let until, until > now else { return 0 }
        return max(1, Int(until.timeIntervalSince(now).rounded(.up)))
    }

    func remember(_ key: String, until: Date, now: Date) {
        table.withLock { table in
            if table.count >= limit {
                table = table.filter { $0.value > now }
                if table.count >= limit { table.removeAll() }
            }
            table[key] = max(table[key] ?? until, until)
        }
    }
}
