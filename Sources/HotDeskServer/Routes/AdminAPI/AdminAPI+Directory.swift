import Foundation
import HTTPTypes
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import PhonePush

// The directory, accounts, keys, locks and the audit log as the admin API shows and changes them.
extension AdminAPIController {
    // MARK: console

    /// Server-sent events: `event: change` whenever sessions, push jobs, devices, the directory
    /// or the audit log changed (re-read what you show), a comment line every few seconds. At
    /// most `ConsoleEvents.perOwner` streams per key or account and `total` in all (429 past
    /// either); a stream ends when its key is revoked or its console session ends.
    func eventStream(_ context: HotDeskRequestContext) throws -> Response {
        guard let stream = events.subscribe(owner: context.apiActor) else {
            throw APIError(
                .tooManyRequests,
                "too_many_streams",
                "at most \(events.perOwner) event streams per key or account and \(events.total) in all; close one first",
                retryAfter: 10
            )
        }
        let stillAuthorized = context.stillAuthorized
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"]
        return Response(
            status: .ok,
            headers: headers,
            body: .init { writer in
                try await writer.write(ByteBuffer(string: "retry: 2000\n: HotDesk events\n\n"))
                // Ends when the page goes, or when the server begins to stop (`HotDeskService`).
                for await event in stream {
                    if let stillAuthorized, await !stillAuthorized() { break }
                    switch event {
                    case .change(let mark): try await writer.write(ByteBuffer(string: "event: change\ndata: {\"mark\":\(Int64(mark))}\n\n"))
                    case .keepAlive: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                try await writer.finish(nil)
            }
        )
    }

    /// Extensions by number with where each is logged in and whether it is locked; `limit` and
    /// `after` (an extension number) page them.
    func listExtensions(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let params = request.uri.queryParameters
        let limit = try Self.limit(params, default: Int.max, max: 10_000)
        var all = try await store.extensionSummaries()
        let shown = SiteScope(sites: try await sitesShown(request, context))
        all.removeAll { !shown.contains($0.site) }
        if let after = params.get("after") {
            guard Extension.isValidNumber(after) else { throw APIError(.badRequest, "bad_extension", "after is an extension number (2-6 digits)") }
            all.removeAll { $0.number <= after }
        }
        let page = all.prefix(limit)
        var phones: [String: [String]] = [:]
        for session in try await store.sessions() { phones[session.extensionNumber, default: []].append(session.mac.colonSeparated) }
        let now = clock()
        let rule = LockoutRule(policy: try await store.settings().lockout)
        var lockedUntil: [String: Date] = [:]
        for lock in rule.locks(failures: try await store.failures(since: rule.windowStart(now: now)), now: now) {
            if let number = lock.subject.extensionNumber { lockedUntil[number] = lock.until }
        }
        let views = page.map { ExtensionView($0, loggedInOn: (phones[$0.number] ?? []).sorted(), lockedUntil: lockedUntil[$0.number]) }
        let next = all.count > limit ? page.last.map { Self.page("extensions", params, setting: ["after": $0.number]) } : nil
        return .json(.ok, ExtensionList(extensions: Array(views), next: next))
    }

    /// Creates a console account, or gives an existing one a new password and/or role (which
    /// signs it out everywhere). Admins only; audited.
    func saveAccount(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(
            AdminAccountRequest.self,
            expected: "{\"name\": \"…\", \"role\": \"auditor|helpdesk|admin\", \"password\": \"…\", \"sites\": [\"…\"]}"
        )
        if let problem = AdminAccountInfo.nameProblem(body.name) { throw APIError(.badRequest, "bad_name", problem) }
        var role: AdminRole?
        if let text = body.role {
            guard let r = AdminRole(rawValue: text) else { throw APIError(.badRequest, "bad_role", "role is auditor, helpdesk, admin or partner") }
            role = r
        }
        if let password = body.password, let problem = AdminAccountInfo.passwordProblem(password) {
            throw APIError(.badRequest, "bad_password", problem)
        }
        let scope = try await accountScope(body)
        try await guardPartners(account: body.name, giving: role, scope: scope, context)
        if "console:\(body.name)" == context.apiActor, role.map({ $0 < .admin }) == true || scope?.isLimited == true {
            throw APIError(.conflict, "own_account", "an account cannot lower its own role or limit its own sites: another admin can")
        }
        switch try await store.saveAdminAccount(
            name: body.name,
            password: body.password,
            role: role,
            scope: scope,
            actor: context.apiActor,
            at: clock()
        ) {
        case .unknownAccount:
            throw APIError(.notFound, "unknown_account", "there is no account \"\(body.name)\"; a new one needs a role and a password")
        case let change:
            guard let account = try await store.adminAccounts().first(where: { $0.name == body.name }) else {
                throw APIError(.notFound, "unknown_account", "there is no account \"\(body.name)\"")
            }
            if change == .created, body.password == nil { throw APIError(.badRequest, "bad_password", "a new account needs a password") }
            return .json(change == .created ? .created : .ok, AdminAccountView(account))
        }
    }

    /// A partner manages every organisation: only a partner makes one, changes one or removes
    /// one (an admin who could set a partner's password would become one), and only in the main
    /// directory; a partner is of every site.
    private func guardPartners(account: String, giving role: AdminRole?, scope: SiteScope?, _ context: HotDeskRequestContext) async throws {
        let existing = try await store.adminAccounts().first { $0.name == account }
        guard role == .partner || existing?.role == .partner else { return }
        if partnerKey != nil {
            throw APIError(.forbidden, "partner", "partners belong to the main directory (they manage every organisation), not to an organisation")
        }
        guard context.role == .partner else { throw APIError(.forbidden, "partner", "only a partner makes, changes or removes a partner") }
        if scope?.isLimited == true || existing?.scope.isLimited == true, role ?? existing?.role == .partner {
            throw APIError(.badRequest, "bad_sites", "a partner is of every site")
        }
    }

    /// The sites a request gives an account: `sites` (each a site of the directory), or
    /// `every_site: true`; nil when it gives neither (unchanged).
    private func accountScope(_ body: AdminAccountRequest) async throws -> SiteScope? {
        if body.everySite == true {
            guard body.sites == nil else { throw APIError(.badRequest, "bad_sites", "give sites or every_site, not both") }
            return .everySite
        }
        guard let names = body.sites else { return nil }
        guard !names.isEmpty else { throw APIError(.badRequest, "bad_sites", "sites names at least one site (every_site: true for all)") }
        if let problem = SiteScope.problem(names, known: try await store.settings().sites.keys) {
            throw APIError(.badRequest, "unknown_site", problem)
        }
        return SiteScope(sites: names)
    }

    func removeAccount(_ context: HotDeskRequestContext) async throws -> Response {
        let name = (context.parameters.get("name") ?? "").removingPercentEncoding ?? ""
        guard "console:\(name)" != context.apiActor else {
            throw APIError(.conflict, "own_account", "an account cannot remove itself: another admin can")
        }
        try await guardPartners(account: name, giving: nil, scope: nil, context)
        guard try await store.removeAdminAccount(name: name, actor: context.apiActor, at: clock()) else {
            throw APIError(.notFound, "unknown_account", "there is no account \"\(name.prefix(64))\"")
        }
        return Response(status: .noContent)
    }

    // MARK: classes of service

    func listCoS() async throws -> Response {
        let book = try await store.cosBook()
        let views = book.classes.values.sorted { $0.name < $1.name }.map(Self.view)
        return .json(.ok, CoSList(classesOfService: views, emergencyNumbers: book.emergencyNumbers.sorted()))
    }

    /// One class of service (`/cos/check` is the check, so a class named "check" shows in the list only).
    func showCoS(_ context: HotDeskRequestContext) async throws -> Response {
        let name = context.parameters.get("name") ?? ""
        guard let cos = try await store.cosBook().classes[name] else {
            throw APIError(.notFound, "unknown_cos", "there is no class of service \(name)")
        }
        return .json(.ok, Self.view(cos))
    }

    static func view(_ cos: ClassOfService) -> CoSView {
        CoSView(
            name: cos.name,
            default: cos.defaultAction.rawValue,
            rules: cos.rules.map { r in
                switch r.match {
                case .pattern(let p): .init(pattern: p.description, class: nil, action: r.action.rawValue, schedule: r.schedule)
                case .numberClass(let c): .init(pattern: nil, class: c, action: r.action.rawValue, schedule: r.schedule)
                }
            },
            featureCodes: cos.featureCodes,
            includes: cos.includes.map { .init(cos: $0.cos, schedule: $0.schedule) },
            schedule: cos.schedule
        )
    }

    /// `?extension=5501&number=0044…[&at=ISO8601]` or `?cos=staff&number=…`: which class and rule decide.
    func checkCoS(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let q = request.uri.queryParameters
        guard let number = q.get("number"), (1...64).contains(number.count), number.allSatisfy({ $0.isASCII && ($0.isNumber || "*#+".contains($0)) })
        else {
            throw APIError(.badRequest, "bad_number", "number: 1-64 of digits * # +")
        }
        var at = clock()
        if let text = q.get("at") {
            guard let date = try? Date(text, strategy: .iso8601) else {
                throw APIError(.badRequest, "bad_time", "at: an ISO 8601 time, e.g. 2026-12-25T10:00:00Z")
            }
            at = date
        }
        let name: String
        if let cos = q.get("cos") {
            name = cos
        } else if let ext = q.get("extension") {
            try await requireScope(extension: ext, request, context)
            guard let found = try await store.findExtension(ext) else {
                throw APIError(.notFound, "unknown_extension", "there is no extension \(ext)")
            }
            guard let cos = found.cos else {
                throw APIError(.notFound, "no_cos", "extension \(ext) has no class of service (its calls are not restricted)")
            }
            name = cos
        } else {
            throw APIError(.badRequest, "bad_query", "give extension= or cos=, and number=")
        }
        let book = try await store.cosBook()
        guard book.classes[name] != nil || book.emergencyNumbers.contains(number) else {
            throw APIError(.notFound, "unknown_cos", "there is no class of service \(name)")
        }
        let d = book.decide(cosName: name, number: number, at: at)
        return .json(.ok, CoSCheckView(decision: d.action.rawValue, cos: d.cos, rule: d.rule, reason: d.reason, at: at))
    }

    // MARK: deletions

    /// Removes one directory entry; the phones whose config changed are pushed. 200 with the
    /// sessions ended and the jobs; 404 when there is no such entry; 409 when a template is still mapped.
    func delete(_ context: HotDeskRequestContext, _ parameter: String, _ parse: (String) -> DirectoryItem?) async throws -> Response {
        let key = (context.parameters.get(parameter) ?? "").removingPercentEncoding ?? ""
        guard let item = parse(key) else { throw APIError(.badRequest, "bad_key", "\"\(key.prefix(40))\" is not a key of that kind") }
        switch try await changes.delete(item, actor: context.apiActor) {
        case .notFound:
            throw APIError(.notFound, "not_found", "there is no \(item)")
        case .inUse(let why):
            throw APIError(.conflict, "in_use", why)
        case .deleted(let loggedOut, let jobs):
            return .json(
                .ok,
                DeletionView(
                    deleted: item.description,
                    loggedOut: loggedOut.map { LogoutView(mac: $0.mac.colonSeparated, extension: $0.extensionNumber, job: nil) },
                    jobs: jobs.map(PushJobView.init)
                )
            )
        }
    }

    // MARK: audit

    /// The audit log, newest first, filtered; `format=csv` for a spreadsheet.
    func listAudit(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let params = request.uri.queryParameters
        var query = AuditQuery()
        query.sites = try await sitesShown(request, context)
        query.actor = params.get("actor")
        if let text = params.get("action") {
            guard let action = AuditEntry.Action(rawValue: text) else {
                throw APIError(.badRequest, "bad_action", "action is one of \(AuditEntry.Action.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.action = action
        }
        if let text = params.get("mac") {
            guard let mac = MACAddress(text) else { throw APIError.badMAC }
            query.mac = mac
        }
        if let text = params.get("extension") {
            guard Extension.isValidNumber(text) else { throw APIError(.badRequest, "bad_extension", "extension is 2-6 digits") }
            query.extensionNumber = text
        }
        for (name, keyPath) in [("since", \AuditQuery.since), ("until", \AuditQuery.until)] {
            guard let text = params.get(name) else { continue }
            guard let date = try? Date(text, strategy: .iso8601) else {
                throw APIError(.badRequest, "bad_time", "\(name) is an ISO 8601 time, e.g. 2026-11-25T09:00:00Z")
            }
            query[keyPath: keyPath] = date
        }
        if let text = params.get("before_id") {
            guard let id = Int64(text), id > 0 else { throw APIError(.badRequest, "bad_id", "before_id is an entry id") }
            query.beforeID = id
        }
        query.limit = try Self.limit(params, default: query.limit, max: 10_000)
        let csv = params.get("format") == "csv"
        if let format = params.get("format"), format != "csv", format != "json" { throw APIError(.badRequest, "bad_format", "format is json or csv") }
        let found = try await store.auditEntries(query)
        let entries = found.map { AuditEntryView(id: $0.id, $0.entry) }
        let next = found.count == query.limit ? found.last.map { Self.page("audit", params, setting: ["before_id": "\($0.id)"]) } : nil
        guard csv else { return .json(.ok, AuditList(entries: entries, next: next)) }
        let body = ([CSV.line(AuditEntryView.csvHeader)] + entries.map { CSV.line($0.csvFields) }).joined(separator: "\r\n") + "\r\n"
        var headers: HTTPFields = [.contentDisposition: "attachment; filename=\"hotdesk-audit.csv\""]
        if let next { headers[HTTPField.Name("Link")!] = "<\(next)>; rel=\"next\"" }
        return .text(.ok, body, contentType: "text/csv; charset=UTF-8", headers: headers)
    }

    // MARK: keys

    /// Revokes an admin or PBX key by name, audited. The key making the request cannot revoke
    /// itself (409: an admin would lock themselves out; use another key or the CLI).
    func revokeKey(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let name = (context.parameters.get("name") ?? "").removingPercentEncoding ?? ""
        guard context.apiActor != "api:\(name)" else {
            throw APIError(.conflict, "own_key", "a key cannot revoke itself: use another admin key, or hotdesk apikey revoke on the server")
        }
        if context.role != .partner, try await store.apiKeys().contains(where: { $0.name == name && $0.role == .partner }) {
            throw APIError(.forbidden, "partner", "only a partner revokes a partner's key")
        }
        guard try await store.revokeAPIKey(name: name, actor: context.apiActor, source: addresses.address(of: request, context: context), at: clock())
        else {
            throw APIError(.notFound, "unknown_key", "there is no key named \"\(name.prefix(64))\"")
        }
        return .json(.ok, RevokedKeyView(name: name, revoked: true))
    }

    // MARK: locks

    /// Extensions and phones locked by wrong passwords, and addresses locked out of the Login app.
    func listLocks(_ context: HotDeskRequestContext) async throws -> Response {
        let now = clock()
        let rule = LockoutRule(policy: try await store.settings().lockout)
        var shown: [ActiveLock] = []
        for lock in rule.locks(failures: try await store.failures(since: rule.windowStart(now: now)), now: now)
        where try await sees(lock.subject, context) {
            shown.append(lock)
        }
        return .json(.ok, LockList(locks: shown.map(LockView.init)))
    }

    /// Clears a lock now (a helpdesk need not wait for it to expire): forgets the subject's counted
    /// wrong passwords and what the Login app remembers of it. Audited. 404 when nothing was locked
    /// or counted.
    /// The PIN a person chose on a phone, forgotten (they forgot it): their voicemail PIN, or the
    /// user password, logs them in again. Audited; 404 `no_pin` when they chose none.
    func clearPIN(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let number = context.parameters.get("number") ?? ""
        guard Extension.isValidNumber(number) else { throw APIError(.badRequest, "bad_number", "an extension is 2-6 digits") }
        try await requireScope(extension: number, request, context)
        guard let ext = try await store.findExtension(number) else {
            throw APIError(.notFound, "unknown_extension", "there is no extension \(number)")
        }
        guard ext.ownPIN != nil else {
            throw APIError(.notFound, "no_pin", "\(number) has chosen no PIN: it logs in with its voicemail PIN or the user password")
        }
        let audit = AuditEntry(
            at: clock(),
            actor: context.apiActor,
            action: .pinChanged,
            extensionNumber: number,
            source: addresses.address(of: request, context: context),
            outcome: .success,
            detail: "the PIN \(number) chose cleared: its \(ext.voicemailPIN != nil ? "voicemail PIN" : "user password") logs it in again"
        )
        guard try await store.setOwnPIN(nil, extensionNumber: number, audit: audit) else {
            throw APIError(.notFound, "unknown_extension", "there is no extension \(number)")
        }
        return .json(.ok, PINClearedView(extension: number, logsInWith: ext.voicemailPIN != nil ? "voicemail_pin" : "user_password"))
    }

    func clearLock(_ request: Request, _ context: HotDeskRequestContext, _ parse: (String) -> LockSubject?) async throws -> Response {
        let key = (context.parameters.get("key") ?? "").removingPercentEncoding ?? ""
        guard let subject = parse(key) else { throw APIError(.badRequest, "bad_key", "\"\(key.prefix(40))\" is not a key of that kind") }
        switch subject {
        case .extension(let number): try await requireScope(extension: number, request, context)
        case .device(let mac): try await requireScope(mac: mac, request, context)
        case .source: break  // for keys of every site (the middleware)
        }
        let now = clock()
        let rule = LockoutRule(policy: try await store.settings().lockout)
        let failures = try await store.failures(since: rule.windowStart(now: now))
        let wasLocked = rule.locks(failures: failures, now: now).first { $0.subject == subject }
        let counted = failures.contains { f in
            switch subject {
            case .extension(let number): f.extensionNumber == number
            case .device(let mac): f.mac == mac
            case .source(let address): f.source == address
            }
        }
        let remembered = locks.forget(subject)
        guard wasLocked != nil || remembered || counted else { throw APIError(.notFound, "not_locked", "\(subject) is not locked") }
        let audit = AuditEntry(
            at: now,
            actor: context.apiActor,
            action: .unlock,
            mac: subject.mac,
            extensionNumber: subject.extensionNumber,
            source: addresses.address(of: request, context: context),
            outcome: .success,
            detail: "\(subject) unlocked" + (wasLocked.map { " (locked until \($0.until.formatted(.iso8601)))" } ?? " (was not locked)")
        )
        let forgotten = try await store.clearFailures(of: subject, audit: audit)
        return .json(.ok, UnlockView(kind: subject.kind, key: subject.key, wasLocked: wasLocked != nil, failuresForgotten: forgotten))
    }
}
