import Foundation
import HTTPTypes
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import PhonePush
import Provisioning

// Phones, lines, workspaces, sessions and push jobs as the admin API shows and changes them.
extension AdminAPIController {
    // MARK: devices and lines

    /// The phones by MAC: family, model, workspace, users, address, last fetch, whether its
    /// config is current, who is logged in, its newest push. Filters `brand`, `workspace`,
    /// `state` (logged_in, idle, never_fetched, changed, current); `limit` and `after` page them
    /// (`changed` and `current` are decided per phone after the read, so such a page may hold
    /// fewer than `limit`: follow `next`).
    func listDevices(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let params = request.uri.queryParameters
        var query = DeviceQuery()
        query.limit = try Self.limit(params, default: Int.max, max: 10_000)
        if let text = params.get("after") {
            guard let mac = MACAddress(text) else { throw APIError.badMAC }
            query.after = mac
        }
        query.brand = params.get("brand").map { Brand($0.lowercased()) }
        query.workspace = params.get("workspace")
        query.sites = try await sitesShown(request, context)
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
    func device(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        try await requireScope(mac: mac, request, context)
        guard let o = try await store.deviceOverview(DeviceQuery(mac: mac)).first else { throw APIError.unknownDevice(mac) }
        return .json(.ok, try await view(o))
    }

    /// The config the phone gets on its next fetch, every secret of it masked (admins only).
    func configPreview(_ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        guard let state = try await store.deviceConfigState(mac: mac) else { throw APIError.unknownDevice(mac) }
        let (preview, masked, hash) = try changes.planner.builder.preview(state)
        var response = Response.json(
            .ok,
            ConfigPreviewView(
                mac: mac.colonSeparated,
                contentType: preview.contentType,
                body: preview.body,
                secretsMasked: masked,
                config: state.lastConfigHash == hash ? "current" : "changed"
            )
        )
        response.headers[.cacheControl] = "no-store"
        return response
    }

    func view(_ o: DeviceOverview) async throws -> DeviceView {
        var config = "never_fetched"
        if let served = o.lastConfigHash, let state = try await store.deviceConfigState(mac: o.device.mac) {
            config = (try? changes.planner.builder.expected(state).contains { $0.hash == served }) == true ? "current" : "changed"
        }
        var view = DeviceView(
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
        view.site = o.device.site
        return view
    }

    func listSharedLines() async throws -> Response {
        let lines = try await store.sharedLines().map { line in
            var view = SharedLineView(
                number: line.number,
                name: line.name,
                callerId: line.callerID,
                members: line.members.map { .init(extension: $0.extensionNumber, button: $0.button, ring: $0.ring.description) }
            )
            view.licences = line.licences
            view.directDial = line.directDial
            return view
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

    /// Every workspace the caller sees (`?site=`: one site's).
    func listWorkspaces(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let shown = SiteScope(sites: try await sitesShown(request, context))
        let list = try await store.workspaces().filter { shown.contains($0.workspace.site) }.map {
            var view = WorkspaceView(
                name: $0.workspace.name,
                licence: $0.workspace.licence.rawValue,
                hotDesking: $0.workspace.hotDesking,
                devices: $0.devices,
                maxDevices: $0.workspace.licence.maxDevices
            )
            (view.roomType, view.capacity) = ($0.workspace.roomType?.rawValue, $0.workspace.capacity)
            view.lineNumber = $0.workspace.line?.number
            return view
        }
        return .json(.ok, WorkspaceList(workspaces: list))
    }

    /// The directory's sites, each as its phones get it, with how many phones stand in it.
    func listSites(_ context: HotDeskRequestContext) async throws -> Response {
        let settings = try await store.settings()
        let placed = try await store.deviceSites()
        let list = settings.sites.keys.sorted().filter(context.scope.contains).map { name in
            let site = settings.forSite(name)
            var view = SiteView(name: name, devices: placed.values.filter { $0 == name }.count)
            view.timeZone = (site.timeZone ?? timeZone).identifier
            view.internalAddress = site.internalAddress?.baseURL
            view.externalAddress = site.externalAddress?.baseURL
            view.sipServer = site.sip.map { "\($0.host):\($0.effectivePort)" }
            view.emergencyNumbers = site.emergencyNumbers
            view.emergencyCallerId = site.emergencyCallerID
            view.emergencyLocation = site.emergencyLocation
            view.language = site.language
            return view
        }
        return .json(.ok, SiteList(sites: list, timeZone: (settings.timeZone ?? timeZone).identifier))
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
    func listSessions(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let params = request.uri.queryParameters
        let limit = try Self.limit(params, default: Int.max, max: 10_000)
        let shown = SiteScope(sites: try await sitesShown(request, context))
        var overviews = try await store.sessionOverview().filter { shown.contains($0.device.site) }.sorted {
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
        let calls = try await store.phonesOnCalls(since: clock() - AutoLogoutService.callsForgottenAfter)
        let waiting = try await store.waitingLogouts()
        let sessions = page.map { overview in
            var view = SessionView(
                mac: overview.session.mac.colonSeparated,
                extension: overview.session.extensionNumber,
                name: overview.extensionName,
                network: overview.session.network.rawValue,
                since: overview.session.startedAt,
                model: overview.device.model.name,
                address: overview.device.lastAddress,
                lastPush: overview.lastPush.map(PushJobView.init)
            )
            view.onCallSince = calls[overview.session.mac]
            view.logoutWaiting = waiting.contains { $0.isFor(overview.session) }
            view.site = overview.device.site
            return view
        }
        let next = overviews.count > limit ? page.last.map { Self.page("sessions", params, setting: ["after": $0.session.mac.canonical]) } : nil
        return .json(.ok, SessionList(sessions: Array(sessions), next: next))
    }

    func forceLogout(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        try await requireScope(mac: mac, request, context)
        guard try await store.device(mac: mac) != nil else { throw APIError.unknownDevice(mac) }
        return try await logout(mac: mac, request, context)
    }

    func logoutExtension(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let number = context.parameters.get("number") ?? ""
        guard Extension.isValidNumber(number) else { throw APIError(.badRequest, "bad_extension", "an extension number is 2-6 digits") }
        guard try await store.findExtension(number) != nil else { throw APIError(.notFound, "unknown_extension", "there is no extension \(number)") }
        // Every phone it is logged in on (several under multi_login: allow); of the caller's sites.
        var sessions = try await store.sessions(extensionNumber: number)
        if context.scope.isLimited, let first = sessions.first {
            let sites = try await store.deviceSites()
            sessions.removeAll { !context.scope.contains(sites[$0.mac]) }
            if sessions.isEmpty { try await requireScope(mac: first.mac, request, context) }
        }
        var views: [LogoutView] = []
        for session in sessions {
            if let view = try await endSession(mac: session.mac, request, context) { views.append(view) }
        }
        guard var first = views.first else { throw APIError(.notFound, "not_logged_in", "extension \(number) is not logged in anywhere") }
        if views.count > 1 { first.others = Array(views.dropFirst()) }
        return .json(.accepted, first)
    }

    /// Ends the session, queues the push of the logged-out config, answers 202 with the job.
    func logout(mac: MACAddress, _ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        guard let view = try await endSession(mac: mac, request, context) else {
            throw APIError(.notFound, "not_logged_in", "nobody is logged in on \(mac.colonSeparated)")
        }
        return .json(.accepted, view)
    }

    /// Ends the phone's session now, or — the phone on a call, `wait_for_call` on and no
    /// `?force=true` — once the call ends (audited `logout_waiting`).
    func endSession(mac: MACAddress, _ request: Request, _ context: HotDeskRequestContext) async throws -> LogoutView? {
        let actor = context.apiActor
        if request.uri.queryParameters.get("force") != "true", let waiting = try await waitForCall(mac: mac, actor: actor, request, context) {
            return waiting
        }
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

    /// A waiting logout when the phone is on a call and the policy waits for calls; `nil` otherwise.
    private func waitForCall(mac: MACAddress, actor: String, _ request: Request, _ context: HotDeskRequestContext) async throws -> LogoutView? {
        let now = clock()
        let policy = try await store.settings().autoLogout
        guard policy.waitForCall, let session = try await store.session(mac: mac),
            let call = try await store.phonesOnCalls(since: now - AutoLogoutService.callsForgottenAfter)[mac]
        else { return nil }
        try await store.addWaitingLogout(WaitingLogout(mac: mac, sessionStartedAt: session.startedAt, actor: actor, requestedAt: now))
        let minutes = Int(policy.longestCallWait / 60)
        try await store.audit(
            AuditEntry(
                at: now,
                actor: actor,
                action: .logoutWaiting,
                mac: mac,
                extensionNumber: session.extensionNumber,
                source: addresses.address(of: request, context: context),
                outcome: .success,
                detail: "on a call since \(call.formatted(.iso8601)): logged out when it ends (at most \(minutes) min; force=true: now)"
            )
        )
        var view = LogoutView(mac: mac.colonSeparated, extension: session.extensionNumber, job: nil)
        view.waitingForCall = true
        return view
    }

    // MARK: push jobs

    func listJobs(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
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
            try await requireScope(mac: m, request, context)
            mac = m
        }
        let sites = try await sitesShown(request, context)
        let limit = try Self.limit(params, default: 100, max: 1000)
        var bounds: [Int64] = [1, Int64.max]
        for (index, name) in ["from_id", "to_id"].enumerated() {
            guard let text = params.get(name) else { continue }
            guard let id = Int64(text), id > 0 else { throw APIError(.badRequest, "bad_id", "\(name) is a job id (a whole number from 1)") }
            bounds[index] = id
        }
        let ids = bounds[0] <= bounds[1] ? bounds[0]...bounds[1] : nil
        let jobs = ids == nil ? [] : try await store.pushJobs(state: state, mac: mac, ids: ids, sites: sites, limit: limit)
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

    func job(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError(.badRequest, "bad_id", "a job id is a positive whole number")
        }
        guard let job = try await store.pushJob(id: id) else { throw APIError(.notFound, "unknown_job", "there is no push job \(id)") }
        try await requireScope(mac: job.mac, request, context)
        return .json(.ok, PushJobView(job))
    }

    func push(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let mac = try macParameter(context)
        let body = try await request.decodeJSON(
            PushRequest.self,
            expected: "{\"action\": \"reload\"}, {\"action\": \"reboot\"} or {\"action\": \"xml\", \"text\": \"…\"}"
        )
        if body.action == .xml, let problem = PushMessage.problem(body.text) { throw APIError(.badRequest, "bad_text", problem) }
        try await requireScope(mac: mac, request, context)
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
        let changed = try await changes.pushChanged(actor: context.apiActor, keep: 0, sites: context.scope.sites)
        try await store.audit(
            AuditEntry(
                at: clock(),
                actor: context.apiActor,
                action: .push,
                source: addresses.address(of: request, context: context),
                outcome: .success,
                detail: "push of changed configs requested: \(changed.queued) of \(changed.checked) phone(s)"
                    + (context.scope.isLimited ? " of \(context.scope.description)" : "")
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
}
