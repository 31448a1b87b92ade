import Foundation
import HTTPTypes
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import PhonePush

/// The admin API under `/api/v1`: JSON, bearer API key (`hotdesk apikey create`). See
/// `docs/api.md`. Every change is audited with the key's name as actor (`api:<name>`).
struct AdminAPIController: Sendable {
    let store: any Store
    let changes: PhoneChanges
    /// Which pushes each family takes (an admin's push of another is refused).
    let recipes: PushRecipeBook
    let addresses: PhoneAddressResolver
    /// The Login app's remembered locks and address counts (cleared with the store's failures).
    let locks: LoginGuard
    /// The web console's cookie, which opens the API like a key of the account's role.
    let console: ConsoleAuth
    let events: ConsoleEvents
    let clock: @Sendable () -> Date

    func register(with router: Router<HotDeskRequestContext>) {
        let api = router.group("/api/v1").add(
            middleware: APIKeyMiddleware(store: store, addresses: addresses, clock: clock, throttle: RefusalThrottle(), console: console)
        )
        api.get("events") { _, context in try self.eventStream(context) }
        api.get("extensions") { request, _ in try await self.listExtensions(request) }
        api.get("accounts") { _, _ -> Response in
            .json(.ok, AdminAccountList(accounts: try await self.store.adminAccounts().map(AdminAccountView.init)))
        }
        api.post("accounts") { request, context in try await self.saveAccount(request, context) }
        api.delete("accounts/{name}") { _, context in try await self.removeAccount(context) }
        api.get("sessions") { request, _ in try await self.listSessions(request) }
        api.delete("sessions/{mac}") { request, context in try await self.forceLogout(request, context) }
        api.post("extensions/{number}/logout") { request, context in try await self.logoutExtension(request, context) }
        api.get("push-jobs") { request, _ in try await self.listJobs(request) }
        api.get("push-jobs/{id}") { _, context in try await self.job(context) }
        api.post("devices/{mac}/push") { request, context in try await self.push(request, context) }
        api.post("devices/push-changed") { request, context in try await self.pushChanged(request, context) }
        api.post("extensions/{number}/sip-password") { request, context in try await self.resetSIPPassword(request, context, shared: false) }
        api.post("shared-lines/{number}/sip-password") { request, context in try await self.resetSIPPassword(request, context, shared: true) }
        api.post("devices/{mac}/sip-password") { request, context in try await self.resetDeviceLinePassword(request, context) }
        api.get("workspaces") { _, _ in try await self.listWorkspaces() }
        api.get("cos") { _, _ in try await self.listCoS() }
        api.get("cos/check") { request, _ in try await self.checkCoS(request) }
        api.get("cos/{name}") { _, context in try await self.showCoS(context) }
        api.get("devices") { request, _ in try await self.listDevices(request) }
        api.get("shared-lines") { _, _ in try await self.listSharedLines() }
        api.get("locks") { _, _ in try await self.listLocks() }
        api.get("audit") { request, _ in try await self.listAudit(request) }
        api.get("devices/{mac}") { _, context in try await self.device(context) }
        api.get("apikeys") { _, _ -> Response in .json(.ok, APIKeyList(keys: try await self.store.apiKeys().map(APIKeyView.init))) }
        api.delete("apikeys/{name}") { request, context in try await self.revokeKey(request, context) }
        api.delete("locks/extension/{key}") { request, context in
            try await self.clearLock(request, context) { Extension.isValidNumber($0) ? .extension($0) : nil }
        }
        api.delete("locks/device/{key}") { request, context in try await self.clearLock(request, context) { MACAddress($0).map(LockSubject.device) } }
        api.delete("locks/source/{key}") { request, context in
            try await self.clearLock(request, context) { IPAddressLiteral.isValid($0) ? .source($0) : nil }
        }
        api.post("devices/{mac}/release") { request, context in try await self.release(request, context) }
        api.post("devices/{mac}/approve-claim") { request, context in try await self.approveClaim(request, context) }
        api.put("devices/{mac}/workspace") { request, context in try await self.assignWorkspace(request, context) }
        api.delete("extensions/{number}") { _, context in
            try await self.delete(context, "number") { Extension.isValidNumber($0) ? .extension($0) : nil }
        }
        api.delete("devices/{mac}") { _, context in try await self.delete(context, "mac") { MACAddress($0).map(DirectoryItem.device) } }
        api.delete("shared-lines/{number}") { _, context in
            try await self.delete(context, "number") { Extension.isValidNumber($0) ? .sharedLine($0) : nil }
        }
        api.delete("workspaces/{name}") { _, context in
            try await self.delete(context, "name") { Workspace.nameProblem($0) == nil ? .workspace($0) : nil }
        }
        api.delete("templates/{name}") { _, context in try await self.delete(context, "name") { $0.isEmpty || $0.count > 64 ? nil : .template($0) } }
    }

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
                    case .change: try await writer.write(ByteBuffer(string: "event: change\ndata: {}\n\n"))
                    case .keepAlive: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                try await writer.finish(nil)
            }
        )
    }

    /// Extensions by number with where each is logged in and whether it is locked; `limit` and
    /// `after` (an extension number) page them.
    func listExtensions(_ request: Request) async throws -> Response {
        let params = request.uri.queryParameters
        let limit = try Self.limit(params, default: Int.max, max: 10_000)
        var all = try await store.extensionSummaries()
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
            expected: "{\"name\": \"…\", \"role\": \"auditor|helpdesk|admin\", \"password\": \"…\"}"
        )
        if let problem = AdminAccountInfo.nameProblem(body.name) { throw APIError(.badRequest, "bad_name", problem) }
        var role: AdminRole?
        if let text = body.role {
            guard let r = AdminRole(rawValue: text) else { throw APIError(.badRequest, "bad_role", "role is auditor, helpdesk or admin") }
            role = r
        }
        if let password = body.password, let problem = AdminAccountInfo.passwordProblem(password) {
            throw APIError(.badRequest, "bad_password", problem)
        }
        if "console:\(body.name)" == context.apiActor, role.map({ $0 < .admin }) == true {
            throw APIError(.conflict, "own_account", "an account cannot lower its own role: another admin can")
        }
        switch try await store.saveAdminAccount(name: body.name, password: body.password, role: role, actor: context.apiActor, at: clock()) {
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

    func removeAccount(_ context: HotDeskRequestContext) async throws -> Response {
        let name = (context.parameters.get("name") ?? "").removingPercentEncoding ?? ""
        guard "console:\(name)" != context.apiActor else {
            throw APIError(.conflict, "own_account", "an account cannot remove itself: another admin can")
        }
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
    func checkCoS(_ request: Request) async throws -> Response {
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

    // MARK: devices and lines

    /// The phones by MAC: family, model, workspace, users, address, last fetch, whether its
    /// config is current, who is logged in, its newest push. Filters `brand`, `workspace`,
    /// `state` (logged_in, idle, never_fetched, changed, current); `limit` and `after` page them
    /// (`changed` and `current` are decided per phone after the read, so such a page may hold
    /// fewer than `limit`: follow `next`).
    func listDevices(_ request: Request) async throws -> Response {
        let params = request.uri.queryParameters
        var query = DeviceQuery()
        query.limit = try Self.limit(params, default: Int.max, max: 10_000)
        if let text = params.get("after") {
            guard let mac = MACAddress(text) else { throw APIError.badMAC }
            query.after = mac
        }
        query.brand = params.get("brand").map { Brand($0.lowercased()) }
        query.workspace = params.get("workspace")
        var configState: String?
        switch params.get("state") {
        case nil: break
        case "logged_in": query.loggedIn = true
        case "idle": query.loggedIn = false
        case "never_fetched": query.neverFetched = true
        case let state? where state == "changed" || state == "current":
            query.neverFetched = false
            configState = state
        case let other?:
            throw APIError(.badRequest, "bad_state", "state is logged_in, idle, never_fetched, changed or current, not \"\(other.prefix(20))\"")
        }
        let page = try await store.deviceOverview(query)
        var views: [DeviceView] = []
        for o in page {
            let view = try await view(o)
            if configState == nil || view.config == configState { views.append(view) }
        }
        let next = page.count == query.limit ? page.last.map { Self.page("devices", params, setting: ["after": $0.device.mac.canonical]) } : nil
        return .json(.ok, DeviceList(devices: views, next: next))
    }

    /// One phone, as the list shows it; 404 for an unknown MAC.
    func device(_ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        guard let o = try await store.deviceOverview(DeviceQuery(mac: mac)).first else { throw APIError.unknownDevice(mac) }
        return .json(.ok, try await view(o))
    }

    private func view(_ o: DeviceOverview) async throws -> DeviceView {
        var config = "never_fetched"
        if let served = o.lastConfigHash, let state = try await store.deviceConfigState(mac: o.device.mac) {
            config = (try? changes.planner.builder.expected(state).contains { $0.hash == served }) == true ? "current" : "changed"
        }
        return DeviceView(
            mac: o.device.mac.colonSeparated,
            brand: o.device.model.brand.rawValue,
            model: o.device.model.name,
            workspace: o.device.workspace,
            users: o.device.assignedUsers,
            address: o.device.lastAddress,
            lastFetch: o.lastFetchAt,
            config: config,
            loggedIn: o.session.map { DeviceView.LoggedIn(extension: $0.extensionNumber, name: o.sessionName ?? "", since: $0.startedAt) },
            lastPush: o.lastPush.map(PushJobView.init),
            claimedAt: o.device.claimedAt,
            claimPendingFrom: o.device.claimedAt == nil && o.device.claimApprovedFrom == nil ? o.device.claimPendingFrom : nil
        )
    }

    // MARK: audit

    /// The audit log, newest first, filtered; `format=csv` for a spreadsheet.
    func listAudit(_ request: Request) async throws -> Response {
        let params = request.uri.queryParameters
        var query = AuditQuery()
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

    func listSharedLines() async throws -> Response {
        let lines = try await store.sharedLines().map { line in
            SharedLineView(
                number: line.number,
                name: line.name,
                callerId: line.callerID,
                members: line.members.map { .init(extension: $0.extensionNumber, button: $0.button, ring: $0.ring.description) }
            )
        }
        return .json(.ok, SharedLineList(sharedLines: lines))
    }

    /// A new SIP password for a device's own line (used while nobody is logged in on it).
    func resetDeviceLinePassword(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        let password = SIPPassword.make()
        guard
            let jobs = try await changes.resetSIPPassword(
                .deviceLine(mac),
                to: password,
                actor: context.apiActor,
                source: addresses.address(of: request, context: context)
            )
        else { throw APIError(.notFound, "no_device_line", "device \(mac.colonSeparated) is unknown or has no line of its own") }
        var response = Response.json(
            .ok,
            SIPPasswordView(line: "device", number: mac.colonSeparated, sipPassword: password, jobs: jobs.map(PushJobView.init))
        )
        response.headers[.cacheControl] = "no-store"
        return response
    }

    // MARK: workspaces

    func listWorkspaces() async throws -> Response {
        let list = try await store.workspaces().map {
            WorkspaceView(
                name: $0.workspace.name,
                licence: $0.workspace.licence.rawValue,
                hotDesking: $0.workspace.hotDesking,
                devices: $0.devices,
                maxDevices: $0.workspace.licence.maxDevices
            )
        }
        return .json(.ok, WorkspaceList(workspaces: list))
    }

    /// Puts a device in a workspace (or takes it out), within the workspace's licence.
    func assignWorkspace(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        let body = try await request.decodeJSON(WorkspaceAssignmentRequest.self, expected: "{\"workspace\": \"name\"} or {\"workspace\": null}")
        switch try await store.assignWorkspace(mac: mac, workspace: body.workspace, actor: context.apiActor, at: clock()) {
        case .done:
            return .json(.ok, WorkspaceAssignmentRequest(workspace: body.workspace))
        case .unknownDevice:
            throw APIError.unknownDevice(mac)
        case .unknownWorkspace:
            throw APIError(.notFound, "unknown_workspace", "there is no workspace \"\(body.workspace ?? "")\"")
        case .full(let devices, let licence):
            throw APIError(
                .conflict,
                "workspace_full",
                "workspace \"\(body.workspace ?? "")\" holds \(devices) device(s); a \(licence.rawValue) licence allows \(licence.maxDevices)"
            )
        }
    }

    // MARK: SIP passwords

    /// A new strong SIP password for an extension's line or a shared line, shown in this answer
    /// and never again; every phone whose config carries the line is pushed.
    func resetSIPPassword(_ request: Request, _ context: HotDeskRequestContext, shared: Bool) async throws -> Response {
        let number = context.parameters.get("number") ?? ""
        guard Extension.isValidNumber(number) else { throw APIError(.badRequest, "bad_number", "a line number is 2-6 digits") }
        let password = SIPPassword.make()
        let line: LineReference = shared ? .sharedLine(number: number) : .ownLine(extensionNumber: number)
        guard
            let jobs = try await changes.resetSIPPassword(
                line,
                to: password,
                actor: context.apiActor,
                source: addresses.address(of: request, context: context)
            )
        else {
            throw shared
                ? APIError(.notFound, "unknown_shared_line", "there is no shared line \(number)")
                : APIError(.notFound, "unknown_extension", "there is no extension \(number)")
        }
        let views = jobs.map(PushJobView.init)
        var response = Response.json(
            .ok,
            SIPPasswordView(line: shared ? "shared_line" : "extension", number: number, sipPassword: password, jobs: views)
        )
        response.headers[.cacheControl] = "no-store"
        return response
    }

    // MARK: sessions

    /// Sessions, oldest login first; `limit` pages them, `after` (the `next` of the page before:
    /// the last session's MAC) continues after that session.
    func listSessions(_ request: Request) async throws -> Response {
        let params = request.uri.queryParameters
        let limit = try Self.limit(params, default: Int.max, max: 10_000)
        var overviews = try await store.sessionOverview().sorted {
            ($0.session.startedAt, $0.session.mac.canonical) < ($1.session.startedAt, $1.session.mac.canonical)
        }
        if let text = params.get("after") {
            guard let mac = MACAddress(text) else { throw APIError.badMAC }
            // A session that ended since: nothing after it can be placed, so the page is empty.
            guard let index = overviews.firstIndex(where: { $0.session.mac == mac }) else {
                throw APIError(.notFound, "not_logged_in", "\(mac.colonSeparated) has no session any more: start again without after")
            }
            overviews.removeFirst(index + 1)
        }
        let page = overviews.prefix(limit)
        let sessions = page.map { overview in
            SessionView(
                mac: overview.session.mac.colonSeparated,
                extension: overview.session.extensionNumber,
                name: overview.extensionName,
                network: overview.session.network.rawValue,
                since: overview.session.startedAt,
                model: overview.device.model.name,
                address: overview.device.lastAddress,
                lastPush: overview.lastPush.map(PushJobView.init)
            )
        }
        let next = overviews.count > limit ? page.last.map { Self.page("sessions", params, setting: ["after": $0.session.mac.canonical]) } : nil
        return .json(.ok, SessionList(sessions: Array(sessions), next: next))
    }

    func forceLogout(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        guard try await store.device(mac: mac) != nil else { throw APIError.unknownDevice(mac) }
        return try await logout(mac: mac, request, context)
    }

    func logoutExtension(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let number = context.parameters.get("number") ?? ""
        guard Extension.isValidNumber(number) else { throw APIError(.badRequest, "bad_extension", "an extension number is 2-6 digits") }
        guard try await store.findExtension(number) != nil else { throw APIError(.notFound, "unknown_extension", "there is no extension \(number)") }
        // Every phone it is logged in on (several under multi_login: allow).
        var views: [LogoutView] = []
        for session in try await store.sessions(extensionNumber: number) {
            if let view = try await endSession(mac: session.mac, request, context) { views.append(view) }
        }
        guard var first = views.first else { throw APIError(.notFound, "not_logged_in", "extension \(number) is not logged in anywhere") }
        if views.count > 1 { first.others = Array(views.dropFirst()) }
        return .json(.accepted, first)
    }

    /// Ends the session, queues the push of the logged-out config, answers 202 with the job.
    private func logout(mac: MACAddress, _ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        guard let view = try await endSession(mac: mac, request, context) else {
            throw APIError(.notFound, "not_logged_in", "nobody is logged in on \(mac.colonSeparated)")
        }
        return .json(.accepted, view)
    }

    private func endSession(mac: MACAddress, _ request: Request, _ context: HotDeskRequestContext) async throws -> LogoutView? {
        let actor = context.apiActor
        guard
            let ended = try await changes.logout(
                mac: mac,
                actor: actor,
                source: addresses.address(of: request, context: context),
                why: .forced,
                reason: .admin
            )
        else { return nil }
        return LogoutView(mac: mac.colonSeparated, extension: ended.session.extensionNumber, job: ended.job.map(PushJobView.init))
    }

    // MARK: push jobs

    func listJobs(_ request: Request) async throws -> Response {
        let params = request.uri.queryParameters
        var state: PushState?
        if let text = params.get("state") {
            guard let s = PushState(rawValue: text) else {
                throw APIError(.badRequest, "bad_state", "state is one of \(PushState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = s
        }
        var mac: MACAddress?
        if let text = params.get("mac") {
            guard let m = MACAddress(text) else { throw APIError.badMAC }
            mac = m
        }
        let limit = try Self.limit(params, default: 100, max: 1000)
        var bounds: [Int64] = [1, Int64.max]
        for (index, name) in ["from_id", "to_id"].enumerated() {
            guard let text = params.get(name) else { continue }
            guard let id = Int64(text), id > 0 else { throw APIError(.badRequest, "bad_id", "\(name) is a job id (a whole number from 1)") }
            bounds[index] = id
        }
        let ids = bounds[0] <= bounds[1] ? bounds[0]...bounds[1] : nil
        let jobs = ids == nil ? [] : try await store.pushJobs(state: state, mac: mac, ids: ids, limit: limit)
        return .json(
            .ok,
            PushJobList(jobs: jobs.map(PushJobView.init), next: Self.nextPage(after: jobs, limit: limit, query: params, from: bounds[0]))
        )
    }

    /// The path of the page after `jobs` (newest first): the same query with `to_id` below its
    /// last job; `nil` when the page was not full.
    static func nextPage(after jobs: [PushJob], limit: Int, query: some Sequence<(key: Substring, value: Substring)>, from: Int64) -> String? {
        guard jobs.count == limit, let oldest = jobs.last?.id, oldest > from else { return nil }
        return page("push-jobs", query, setting: ["to_id": String(oldest - 1), "limit": String(limit)])
    }

    /// The path of another page of a list: the same query with `setting`'s parameters replaced.
    static func page(_ list: String, _ query: some Sequence<(key: Substring, value: Substring)>, setting: [String: String]) -> String {
        var items = URLComponents()
        items.queryItems =
            query.filter { setting[String($0.key)] == nil }.map { URLQueryItem(name: String($0.key), value: String($0.value)) }
            + setting.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        return "/api/v1/\(list)?" + (items.percentEncodedQuery ?? "")
    }

    /// The `limit` parameter: 1 to `max`, else 400 `bad_limit`; `default` when absent.
    static func limit(_ query: Parameters, default value: Int, max: Int) throws -> Int {
        guard let text = query.get("limit") else { return value }
        guard let n = Int(text), (1...max).contains(n) else { throw APIError(.badRequest, "bad_limit", "limit is 1-\(max)") }
        return n
    }

    func job(_ context: HotDeskRequestContext) async throws -> Response {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError(.badRequest, "bad_id", "a job id is a positive whole number")
        }
        guard let job = try await store.pushJob(id: id) else { throw APIError(.notFound, "unknown_job", "there is no push job \(id)") }
        return .json(.ok, PushJobView(job))
    }

    func push(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        let body = try await request.decodeJSON(
            PushRequest.self,
            expected: "{\"action\": \"reload\"}, {\"action\": \"reboot\"} or {\"action\": \"xml\", \"text\": \"…\"}"
        )
        if body.action == .xml, let problem = PushMessage.problem(body.text) { throw APIError(.badRequest, "bad_text", problem) }
        guard let device = try await store.device(mac: mac) else { throw APIError.unknownDevice(mac) }
        guard recipes.supports(body.action, brand: device.model.brand) else {
            throw APIError(.badRequest, "unsupported_action", "\(device.model.brand.rawValue) phones take no \(body.action.rawValue) push")
        }
        let source = addresses.address(of: request, context: context)
        let scheduled =
            body.action == .xml
            ? try await changes.message(mac: mac, text: body.text ?? "", actor: context.apiActor, source: source)
            : try await changes.push(mac: mac, action: body.action, actor: context.apiActor, source: source)
        guard let job = scheduled else { throw APIError.unknownDevice(mac) }
        return .json(.accepted, PushJobView(job))
    }

    /// Pushes every phone whose config changed since it last fetched it; 202 with the counts, the
    /// new jobs' id range and its first page (`GET /push-jobs?from_id=&to_id=` pages through it).
    func pushChanged(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let page = 100
        let changed = try await changes.pushChanged(actor: context.apiActor, keep: 0)
        try await store.audit(
            AuditEntry(
                at: clock(),
                actor: context.apiActor,
                action: .push,
                source: addresses.address(of: request, context: context),
                outcome: .success,
                detail: "push of changed configs requested: \(changed.queued) of \(changed.checked) phone(s)"
                    + (changed.ids.map { ", jobs \($0.lowerBound)-\($0.upperBound)" } ?? "")
            )
        )
        var jobs: [PushJob] = []
        if let ids = changed.ids { jobs = try await store.pushJobs(state: nil, mac: nil, ids: ids, limit: page) }
        let query = changed.ids.map { [(key: Substring("from_id"), value: Substring(String($0.lowerBound)))] } ?? []
        return .json(
            .accepted,
            PushChangedView(
                checked: changed.checked,
                queued: changed.queued,
                firstJob: changed.ids?.lowerBound,
                lastJob: changed.ids?.upperBound,
                jobs: jobs.map(PushJobView.init),
                next: Self.nextPage(after: jobs, limit: page, query: query, from: changed.ids?.lowerBound ?? 0)
            )
        )
    }

    /// A factory-reset or replaced phone: the device is unclaimed and gets a new provisioning
    /// secret; the next phone to fetch the MAC's config claims it. Audited.
    func release(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        guard try await store.release(mac: mac, actor: context.apiActor, source: addresses.address(of: request, context: context), at: clock()) else {
            throw APIError.unknownDevice(mac)
        }
        return .json(.ok, ReleaseView(mac: mac.colonSeparated, released: true))
    }

    /// Approves the pending claim of an unclaimed phone (claims that wait for an admin): its next
    /// fetch from the address it asked from gets its secret. Audited; 409 when none is pending.
    func approveClaim(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        guard try await store.device(mac: mac) != nil else { throw APIError.unknownDevice(mac) }
        guard
            let address = try await store.approveClaim(
                mac: mac,
                actor: context.apiActor,
                source: addresses.address(of: request, context: context),
                at: clock()
            )
        else { throw APIError(.conflict, "no_pending_claim", "\(mac.colonSeparated) has no claim waiting: power the phone on, then approve it") }
        return .json(.ok, ClaimApprovalView(mac: mac.colonSeparated, address: address))
    }

    // MARK: keys

    /// Revokes an admin or PBX key by name, audited. The key making the request cannot revoke
    /// itself (409: an admin would lock themselves out; use another key or the CLI).
    func revokeKey(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let name = (context.parameters.get("name") ?? "").removingPercentEncoding ?? ""
        guard context.apiActor != "api:\(name)" else {
            throw APIError(.conflict, "own_key", "a key cannot revoke itself: use another admin key, or hotdesk apikey revoke on the server")
        }
        guard try await store.revokeAPIKey(name: name, actor: context.apiActor, source: addresses.address(of: request, context: context), at: clock())
        else {
            throw APIError(.notFound, "unknown_key", "there is no key named \"\(name.prefix(64))\"")
        }
        return .json(.ok, RevokedKeyView(name: name, revoked: true))
    }

    // MARK: locks

    /// Extensions and phones locked by wrong passwords, and addresses locked out of the Login app.
    func listLocks() async throws -> Response {
        let now = clock()
        let rule = LockoutRule(policy: try await store.settings().lockout)
        let stored = rule.locks(failures: try await store.failures(since: rule.windowStart(now: now)), now: now)
        return .json(.ok, LockList(locks: (stored + locks.sourceLocks(now: now)).map(LockView.init)))
    }

    /// Clears a lock now (a helpdesk need not wait for it to expire): forgets the subject's counted
    /// wrong passwords and what the Login app remembers of it. Audited. 404 when nothing was locked
    /// or counted.
    func clearLock(_ request: Request, _ context: HotDeskRequestContext, _ parse: (String) -> LockSubject?) async throws -> Response {
        let key = (context.parameters.get("key") ?? "").removingPercentEncoding ?? ""
        guard let subject = parse(key) else { throw APIError(.badRequest, "bad_key", "\"\(key.prefix(40))\" is not a key of that kind") }
        let now = clock()
        let rule = LockoutRule(policy: try await store.settings().lockout)
        let failures = try await store.failures(since: rule.windowStart(now: now))
        let wasLocked =
            rule.locks(failures: failures, now: now).first { $0.subject == subject } ?? locks.sourceLocks(now: now).first { $0.subject == subject }
        let counted = failures.contains { f in
            (subject.extensionNumber != nil && f.extensionNumber == subject.extensionNumber) || (subject.mac != nil && f.mac == subject.mac)
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

    private func macParameter(_ context: HotDeskRequestContext) throws -> MACAddress {
        guard let mac = context.parameters.get("mac").flatMap(MACAddress.init) else { throw APIError.badMAC }
        return mac
    }
}

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
            if let console, request.headers[.authorization] == nil, let token = ConsoleAuth.token(of: request) {
                return try await next(request, try await consoleContext(request, context, console, token: token))
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
            guard APIKey.isWellFormed(key), let found = try await store.apiKey(hash: APIKey.hash(key), kind: kind, at: clock()) else {
                throw try await refused(request, context, kind == .pbx ? "wrong PBX key" : "wrong API key")
            }
            context.apiActor = "\(kind == .pbx ? "pbx" : "api"):\(found.name)"
            let (store, hash, kind, clock) = (store, APIKey.hash(key), kind, clock)
            context.stillAuthorized = { (try? await store.apiKey(hash: hash, kind: kind, at: clock())) != nil }
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

    /// Refuses (403, audited) a request the role may not make.
    private func checkRole(_ role: AdminRole, of who: String, _ request: Request, _ context: HotDeskRequestContext) async throws {
        let path = String(request.uri.path.dropFirst("/api/v1/".count))
        let needed = AdminRole.needed(method: request.method.rawValue, path: path)
        guard role < needed else { return }
        try await store.audit(
            AuditEntry(
                at: clock(),
                actor: context.apiActor,
                action: .apiRefused,
                source: addresses.address(of: request, context: context),
                outcome: .refused,
                detail:
                    "\(request.method) /api/v1/\(TextSafety.printable(String(path.prefix(80)))) needs the \(needed.rawValue) role; \(who) is \(role.rawValue)"
            )
        )
        throw APIError(
            .forbidden,
            "forbidden",
            "this \(who.hasPrefix("key") ? "key" : "account")'s role (\(role.rawValue)) may not do that: it needs \(needed.rawValue)"
        )
    }

    /// A request of the signed-in console: its account as actor (`console:<name>`) and role;
    /// a change without the session's CSRF token is refused (403, audited).
    private func consoleContext(
        _ request: Request,
        _ context: HotDeskRequestContext,
        _ console: ConsoleAuth,
        token: String
    ) async throws -> HotDeskRequestContext {
        guard let (_, session) = try await console.session(token: token) else {
            throw APIError(.unauthorized, "signed_out", "the console session has ended: sign in again")
        }
        var context = context
        context.apiActor = "console:\(session.account)"
        context.stillAuthorized = { (try? await console.session(token: token)) != nil }
        if request.method != .get, request.method != .head, !console.carriesCSRFToken(request, of: session) {
            try await store.audit(
                AuditEntry(
                    at: clock(),
                    actor: context.apiActor,
                    action: .apiRefused,
                    source: addresses.address(of: request, context: context),
                    outcome: .refused,
                    detail: "\(request.method) \(TextSafety.printable(String(request.uri.path.prefix(80)))) without the console's CSRF token"
                )
            )
            throw APIError(.forbidden, "csrf", "a change from the console must carry its X-CSRF-Token")
        }
        try await checkRole(session.role, of: "account \"\(session.account)\"", request, context)
        return context
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
