import Crypto
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird

/// The PBX-facing API under `/pbx/v1` (PBX keys only): may this SIP user call that number now
/// (Class of Service), and the credentials of the lines HotDesk has provisioned now. See `docs/pbx.md`.
struct PBXController: Sendable {
    let store: any DirectoryStore & DeviceStore & AccountStore & AuditStore & CallStore
    let addresses: PhoneAddressResolver
    let changes: PhoneChanges
    let login: LoginService
    let pushes: PushService
    /// Carries out the logouts that waited for a call (run when a call ends).
    let sweep: @Sendable () async -> Void
    let clock: @Sendable () -> Date

    /// How long a PBX may cache an answer, in seconds.
    static let ttl = 60

    func register(with router: Router<HotDeskRequestContext>) {
        let pbx = router.group("/pbx/v1").add(
            middleware: APIKeyMiddleware(store: store, addresses: addresses, clock: clock, throttle: RefusalThrottle(), kind: .pbx)
        )
        pbx.post("authorize") { request, _ in try await self.authorize(request, form: false) }
        pbx.get("authorize") { request, _ in try await self.authorize(request, form: true) }
        pbx.get("credentials/{user}") { request, context in try await self.credentials(request, context) }
        pbx.post("hotdesk/login") { request, context in try await self.starCodeLogin(request, context) }
        pbx.post("hotdesk/logout") { request, context in try await self.starCodeLogout(request, context) }
        pbx.get("emergency") { request, _ in try await self.emergencyNumbers(request) }
        pbx.get("direct-dial/{number}") { _, context in try await self.directDial(context) }
        pbx.get("notify") { request, _ in try await self.nextNotify(request) }
        pbx.post("notify/{id}") { request, context in try await self.notifyAnswered(request, context) }
        pbx.post("calls/start") { request, _ in try await self.callStarted(request) }
        pbx.post("calls/end") { request, _ in try await self.callEnded(request) }
        pbx.post("calls/reset") { request, _ in try await self.callsReset(request) }
    }

    /// The directory's emergency numbers, for the PBX to route without asking (204 when the
    /// PBX's `?known=` version is still the current one).
    func emergencyNumbers(_ request: Request) async throws -> Response {
        // Every site's numbers (a PBX may serve several); `?site=` narrows to one.
        let settings = try await store.settings()
        var numbers = settings.allEmergencyNumbers
        if let site = try Self.site(request, settings) { numbers = settings.forSite(site).emergencyNumbers }
        let joined = numbers.joined(separator: ";")
        let version = SHA256.hash(data: Data(joined.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        if request.uri.queryParameters.get("known") == version { return Response(status: .noContent) }
        return .json(.ok, EmergencyListView(version: version, numbers: joined))
    }

    /// The SIP user an inbound call to a direct-dial number rings (an extension's or a shared
    /// line's number, whose registered phones the PBX rings): 404 when no line has it.
    func directDial(_ context: HotDeskRequestContext) async throws -> Response {
        let number = context.parameters.get("number") ?? ""
        guard (1...32).contains(number.utf8.count), number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "+") }) else {
            throw APIError(.badRequest, "bad_number", "a direct-dial number is 1-32 digits, + first if any")
        }
        guard let user = try await store.directDialUser(number) else {
            throw APIError(.notFound, "unknown_direct_dial", "no line has the direct-dial number \(number)")
        }
        return .json(.ok, DirectDialView(number: number, authUser: user, ttl: Self.ttl))
    }

    /// A call its own class allows, from a phone of another site than the user's: the site's
    /// `visitor_cos` must allow it too.
    private func visiting(
        _ decision: CoSBook.Decision,
        _ user: SIPUser,
        _ desk: DeskIdentity,
        _ book: CoSBook,
        _ callee: String,
        _ now: Date
    ) -> CoSBook.Decision {
        guard decision.action == .allow, case .extension(let ext, _) = user, let site = desk.site,
            let visitors = desk.settings.sites[site]?.restriction(for: ext)
        else { return decision }
        var visiting = book.decide(cosName: visitors, number: callee, at: now)
        guard visiting.action == .deny else { return decision }
        visiting.reason = "a visitor from \(ext.site ?? "another site") at \(site): " + visiting.reason
        return visiting
    }

    /// The site a PBX asks for (`?site=`; empty: none, as a PBX configured without one sends it).
    static func site(_ request: Request, _ settings: Settings) throws -> String? {
        guard let asked = request.uri.queryParameters.get("site"), !asked.isEmpty else { return nil }
        guard settings.sites[String(asked)] != nil else { throw APIError(.notFound, "unknown_site", "no site \(asked.prefix(30))") }
        return String(asked)
    }

    /// The longest a PBX's poll for a NOTIFY is held open, in seconds.
    static let longestNotifyWait = 25.0

    /// The next NOTIFY to send (204: none within `?wait=` seconds, 0 by default).
    func nextNotify(_ request: Request) async throws -> Response {
        let asked = request.uri.queryParameters.get("wait").map { Double($0) }
        guard let wait = asked ?? 0, wait.isFinite, wait >= 0, wait <= Self.longestNotifyWait else {
            throw APIError(.badRequest, "bad_wait", "wait is 0 to \(Int(Self.longestNotifyWait)) seconds")
        }
        let site = try Self.site(request, try await store.settings())
        guard let notify = try await pushes.nextNotify(wait: wait, site: site) else { return Response(status: .noContent) }
        return .json(
            .ok,
            NotifyOrderView(
                id: String(notify.jobID),
                users: notify.users.joined(separator: ";"),
                address: notify.address,
                event: notify.event,
                body: notify.body ?? "",
                contentType: notify.contentType ?? ""
            )
        )
    }

    /// The phone's answer to a NOTIFY the PBX sent.
    func notifyAnswered(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        guard let id = context.parameters.get("id").flatMap({ Int64($0) }) else {
            throw APIError(.notFound, "unknown_notify", "no NOTIFY has that id")
        }
        let answer = try await request.decodeJSON(NotifyAnswer.self, expected: "{\"sip_code\": 200}")
        guard (100...699).contains(answer.sipCode) else { throw APIError(.badRequest, "bad_sip_code", "sip_code is a SIP status, 100-699") }
        guard try await pushes.notifyAnswered(jobID: id, sipCode: answer.sipCode) else {
            throw APIError(.notFound, "unknown_notify", "no NOTIFY \(id) was taken by a PBX (answered already?)")
        }
        return Response(status: .noContent)
    }

    struct StarCodeRequest: Decodable {
        /// The phone's own SIP user (its device line), which dialled the code.
        var authUser: String
        var `extension`: String?
        var pin: String?
        var sourceIp: String?
    }

    /// The device a star code was dialled from: the phone whose own line is `authUser`.
    private func device(_ request: Request) async throws -> (Device, StarCodeRequest) {
        let asked = try await request.decodeJSON(
            StarCodeRequest.self,
            expected: "{\"auth_user\": \"8001\", \"extension\": \"5501\", \"pin\": \"1234\"}"
        )
        try Self.checkSIPUser(asked.authUser)
        let user = try await store.sipUser(asked.authUser)
        switch user {
        case .deviceLine(let desk, _)?:
            return (desk.device, asked)
        case .workspaceLine(let workspace, let desks)?:
            // Several phones carry it: the one the code was dialled from is the one at source_ip.
            guard let user, let desk = Self.desk(of: user, sourceIP: asked.sourceIp) else {
                let why = desks.isEmpty ? "no phone carries it now" : "it is on \(desks.count) phones and source_ip names none of them"
                throw APIError(.notFound, "unknown_device_line", "\(asked.authUser) is workspace \(workspace.name)'s line: \(why)")
            }
            return (desk.device, asked)
        default:
            throw APIError(.notFound, "unknown_device_line", "\(asked.authUser) is not a phone's own line")
        }
    }

    /// Where the caller is: the PBX's `source_ip` when it is an IP address (the phone's, as the
    /// PBX saw it), else the PBX's own address. Anything else the PBX sends is not stored.
    private func source(_ asked: StarCodeRequest, _ request: Request, _ context: HotDeskRequestContext) -> String? {
        phoneAddress(asked) ?? addresses.address(of: request, context: context)
    }

    /// The phone's address as the PBX saw it, when the PBX sent one that is an IP address. Wrong
    /// star codes count against it (and the phone and extension), never against the PBX's own
    /// address, which every phone shares: guessing from one line does not lock the site out.
    private func phoneAddress(_ asked: StarCodeRequest) -> String? {
        asked.sourceIp.flatMap { IPAddressLiteral.canonical($0) }
    }

    /// A SIP user as the PBX names it: 1-32 printable ASCII characters, nothing around them (a
    /// name with a NUL or a space is nobody's, not the user before it).
    static func checkSIPUser(_ name: String) throws {
        guard (1...32).contains(name.utf8.count), name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw APIError(.badRequest, "bad_user", "a SIP user is 1-32 printable ASCII characters")
        }
    }

    /// `*22*ext*pin` from a phone's own line: the same password rules, lockouts, audit and push as
    /// the on-phone app; an answer the PBX turns into a SIP reply.
    func starCodeLogin(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let (device, asked) = try await device(request)
        let settings = try await store.settings().forSite(device.site)
        var workspace: Workspace?
        if let name = device.workspace { workspace = try await store.workspaces().first { $0.workspace.name == name }?.workspace }
        let outcome = try await login.login(
            device: device,
            workspace: workspace,
            settings: settings,
            network: .internal,
            extensionInput: asked.extension ?? "",
            password: asked.pin ?? "",
            source: source(asked, request, context),
            guessingSource: .some(phoneAddress(asked)),
            now: clock()
        )
        let answer: StarCodeView
        switch outcome {
        case .loggedIn(let result):
            answer = StarCodeView(result: "logged_in", sipCode: 200, reason: "\(result.session.extensionNumber) logged in on \(device.mac)")
        case .locked:
            answer = StarCodeView(result: "locked", sipCode: 403, reason: "too many wrong passwords: locked")
        default:
            answer = StarCodeView(result: "rejected", sipCode: 403, reason: Self.why(outcome))
        }
        return .json(.ok, answer)
    }

    /// A refused login in a few words (no secret, no enumeration beyond the phone's own screens).
    static func why(_ outcome: LoginOutcome) -> String {
        switch outcome {
        case .noExtension, .badExtension, .tooLong: "the extension is 2 to 6 digits"
        case .noPassword: "no PIN"
        case .wrongPassword(let n, let left): "wrong PIN for \(n), \(left) tries left"
        case .loggedInElsewhere(let n, _): "\(n) is logged in elsewhere"
        case .tooManyPhones(let n, _, let max): "\(n) is on \(max) phones already"
        case .notAssigned(let n): "this phone does not take \(n)"
        case .otherSite(let n, let site): "\(n) may not log in on the phones of site \(site)"
        case .hotDeskingOff(let workspace): "hot desking is off on this phone (workspace \(workspace))"
        case .globalPasswordsHeld(let until): "the shared password is not accepted until \(until.formatted(.iso8601)); a voicemail PIN still works"
        case .noAddress: "no server address is set up"
        case .locked: "locked"
        case .loggedIn: "logged in"
        case .pinChanged, .badNewPIN, .adminPasswordIsNoPIN: "not a login"
        }
    }

    func starCodeLogout(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let (device, asked) = try await device(request)
        guard
            let ended = try await changes.logout(
                mac: device.mac,
                actor: "pbx",
                source: source(asked, request, context),
                why: .starCode,
                reason: .logout,
                delay: login.pushDelay
            )
        else { return .json(.ok, StarCodeView(result: "rejected", sipCode: 404, reason: "nobody is logged in on \(device.mac)")) }
        let who = ended.session.extensionNumber
        return .json(.ok, StarCodeView(result: "logged_out", sipCode: 200, reason: "\(who) logged out of \(device.mac)"))
    }

    struct AuthorizeRequest: Decodable {
        var authUser: String
        var callee: String
        var caller: String?
        var sourceIp: String?
        /// Also the line's `ha1` and `realm` (when provisioned now): a PBX checks the call's Digest
        /// and decides it with one question instead of two.
        var credentials: Bool?
    }

    /// `POST {auth_user, callee}` → JSON; `GET ?auth_user=&callee=` → `decision=allow&sip_code=200&…`
    /// for PBXs that read key=value bodies.
    func authorize(_ request: Request, form: Bool) async throws -> Response {
        let asked: AuthorizeRequest
        if form {
            let q = request.uri.queryParameters
            guard let user = q.get("auth_user"), let callee = q.get("callee") else {
                throw APIError(.badRequest, "bad_query", "expected ?auth_user=…&callee=…")
            }
            asked = AuthorizeRequest(authUser: user, callee: callee, caller: q.get("caller"), sourceIp: q.get("source_ip"))
        } else {
            asked = try await request.decodeJSON(AuthorizeRequest.self, expected: "{\"auth_user\": \"5501\", \"callee\": \"0044…\"}")
        }
        try Self.checkSIPUser(asked.authUser)
        guard (1...64).contains(asked.callee.count),
            asked.callee.allSatisfy({ $0.isASCII && ($0.isNumber || "*#+".contains($0)) })
        else { throw APIError(.badRequest, "bad_number", "auth_user 1-32 characters; callee 1-64 of digits * # +") }
        guard let user = try await store.sipUser(asked.authUser) else {
            throw APIError(.notFound, "unknown_sip_user", "no SIP user \(asked.authUser)")
        }
        let callerIDs = try await callerIDs(user, sourceIP: asked.sourceIp)
        var book = try await store.cosBook()
        // The desk's site says which numbers are emergency numbers there.
        if callerIDs.site != nil { book.emergencyNumbers = Set(callerIDs.settings.emergencyNumbers) }
        let now = clock()
        let decision: CoSBook.Decision
        // Whose class of service decides: the logged-in user's, else the device's "if not logged".
        let cosName: String?
        var notProvisioned: String?
        switch user {
        case .extension(let ext, let desks):
            cosName = ext.cos ?? desks.first?.device.cos
            if desks.isEmpty { notProvisioned = "\(ext.number) is not logged in on any phone" }
        case .deviceLine(let desk, let inUse):
            cosName = desk.device.cosIfNotLogged ?? desk.device.cos
            if !inUse { notProvisioned = "the line of \(desk.device.mac) is not in use while someone is logged in on it" }
        case .sharedLine(let line, let desks):
            cosName = nil
            if desks.isEmpty { notProvisioned = "no member of shared line \(line.number) is logged in" }
        case .workspaceLine(let workspace, let desks):
            cosName = Self.workspaceCoS(user, sourceIP: asked.sourceIp, book: book, callee: asked.callee, at: now)
            if desks.isEmpty { notProvisioned = "no phone of workspace \(workspace.name) carries its line now" }
        }
        let emergency = book.emergencyNumbers.contains(asked.callee)
        if emergency {
            decision = book.decide(cosName: cosName ?? "", number: asked.callee, at: now)
        } else if let notProvisioned {
            decision = .init(action: .deny, cos: cosName ?? "", rule: "not provisioned", reason: notProvisioned)
        } else if let cosName {
            decision = visiting(book.decide(cosName: cosName, number: asked.callee, at: now), user, callerIDs, book, asked.callee, now)
        } else {
            decision = .init(action: .allow, cos: "", rule: "no class of service", reason: "no class of service is assigned to \(asked.authUser)")
        }
        var answer = AuthorizeView(
            decision: decision.action.rawValue,
            sipCode: decision.action == .allow ? 200 : 403,
            reason: decision.reason,
            cos: decision.cos,
            rule: decision.rule,
            ttl: Self.ttl,
            callerId: emergency ? callerIDs.emergency : callerIDs.line
        )
        if emergency { answer.emergencyLocation = callerIDs.location }
        if asked.credentials == true, let digest = Self.digest(of: user, named: asked.authUser, in: callerIDs.settings) {
            answer.ha1 = digest.ha1
            answer.realm = digest.realm
        }
        guard form else {
            var response = Response.json(.ok, answer)
            if answer.ha1 != nil { response.headers[.cacheControl] = "no-store" }
            return response
        }
        let pairs = [
            ("decision", answer.decision), ("sip_code", "\(answer.sipCode)"), ("reason", answer.reason), ("cos", answer.cos), ("rule", answer.rule),
            ("ttl", "\(answer.ttl)"), ("caller_id", answer.callerId),
        ]
        let text = pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return Response(status: .ok, headers: [.contentType: "application/x-www-form-urlencoded"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// `{"ha1": md5(user:realm:password)}` for a line provisioned now; 404 otherwise, so a
    /// logged-out user's credentials stop working on the PBX at once.
    func credentials(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let name = context.parameters.get("user") ?? ""
        try Self.checkSIPUser(name)
        let notProvisioned = APIError(.notFound, "not_provisioned", "\(name) is not a line any phone carries now")
        guard let user = try await store.sipUser(name), Self.password(of: user) != nil else { throw notProvisioned }
        let sourceIP = request.uri.queryParameters.get("source_ip").map { String($0) }
        let callerIDs = try await callerIDs(user, sourceIP: sourceIP)
        guard let digest = Self.digest(of: user, named: name, in: callerIDs.settings) else { throw notProvisioned }
        var view = CredentialsView(
            authUser: name,
            realm: digest.realm,
            ha1: digest.ha1,
            callerId: callerIDs.line,
            emergencyCallerId: callerIDs.emergency
        )
        view.emergencyLocation = callerIDs.location
        var response = Response.json(.ok, view)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The SIP password of a line provisioned now; `nil` when no phone carries it, so a logged-out
    /// user's credentials stop working on the PBX at once.
    static func password(of user: SIPUser) -> String? {
        switch user {
        case .extension(let ext, let desks): desks.isEmpty ? nil : ext.sipPassword
        case .deviceLine(let desk, let inUse): inUse ? desk.device.ownLine?.sipPassword : nil
        case .sharedLine(let line, let desks): desks.isEmpty ? nil : line.sipPassword
        case .workspaceLine(let workspace, let desks): desks.isEmpty ? nil : workspace.line?.sipPassword
        }
    }

    /// What a PBX's Digest check of `name` needs: md5(user:realm:password) in the realm of the
    /// PBX the desk registers with (its site's), for a line provisioned now.
    static func digest(of user: SIPUser, named name: String, in settings: Settings) -> (ha1: String, realm: String)? {
        guard let password = password(of: user) else { return nil }
        let realm = settings.sip?.effectiveRealm ?? "hotdesk"
        return (Hex.string(Insecure.MD5.hash(data: Data("\(name):\(realm):\(password)".utf8))), realm)
    }

    /// The numbers the PBX asserts for `user`'s calls: its line's caller ID, and for an emergency
    /// call the desk's — the phone at `sourceIP` (as the PBX saw it) among those the line is on,
    /// the only one, or none (the settings'). A logged-out phone's own line sends its desk's
    /// emergency caller ID on every call, never its last user's.
    func callerIDs(_ user: SIPUser, sourceIP: String?) async throws -> DeskIdentity {
        let desk = Self.desk(of: user, sourceIP: sourceIP)
        let settings = try await store.settings().forSite(desk?.device.site)
        let deskCallerID = desk == nil ? settings.emergencyCallerID : desk?.emergencyCallerID
        let line: String =
            switch user {
            case .extension(let ext, _): ext.callerID ?? ext.number
            case .deviceLine(let own, _): own.emergencyCallerID ?? own.device.ownLine?.number ?? ""
            case .sharedLine(let shared, _): shared.callerID ?? shared.number
            case .workspaceLine(let workspace, _): workspace.emergencyCallerID ?? workspace.line?.number ?? ""
            }
        return DeskIdentity(
            line: line,
            emergency: deskCallerID ?? line,
            location: desk?.emergencyLocation ?? settings.emergencyLocation,
            settings: settings
        )
    }

    /// Who a SIP user's call says it is, and from where: the desk's site decides the emergency
    /// caller ID, the location, the emergency numbers and the realm.
    struct DeskIdentity {
        let line: String
        let emergency: String
        let location: String?
        /// The settings of the desk's site (the settings' own when the desk has none or is not known).
        let settings: Settings
        var site: String? { settings.site }
    }

    /// The class of service of a call on a workspace's line: its desk's "if not logged" (or its
    /// own); when the PBX does not say which of the phones carrying it called, the class of each
    /// is asked and the first that refuses decides, so no desk lets through what another may not.
    static func workspaceCoS(_ user: SIPUser, sourceIP: String?, book: CoSBook, callee: String, at now: Date) -> String? {
        let candidates = desk(of: user, sourceIP: sourceIP).map { [$0] } ?? user.desks
        let names = candidates.compactMap { $0.device.cosIfNotLogged ?? $0.device.cos }
        return names.first { book.decide(cosName: $0, number: callee, at: now).action == .deny } ?? names.first
    }

    /// The phone a SIP user's request came from: the one at `sourceIP` (as the PBX saw it)
    /// among those its line is on now, else the only one; `nil` when that cannot be told.
    static func desk(of user: SIPUser, sourceIP: String?) -> SIPDesk? {
        let desks = user.desks
        let address = sourceIP.flatMap { IPAddressLiteral.canonical($0) }
        return desks.first { address != nil && $0.device.lastAddress == address } ?? (desks.count == 1 ? desks.first : nil)
    }
}
