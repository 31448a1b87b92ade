import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import NIOCore
import PhoneFamilies
import Provisioning

/// `GET /provision/<file>`: the phones' config files, logged in or out, from templates.
struct ProvisioningController: Sendable {
    let store: any DeviceStore & DirectoryStore & AuditStore & StampedStore
    let catalog: PhoneCatalog
    let configs: ConfigFamilies
    let pushes: PushService
    let telemetry: Telemetry
    let addresses: PhoneAddressResolver
    let hosts: HostPolicy
    let digest: DigestAuth
    let security: SecurityLog
    /// Refused fetches are audited at most this often per source address (the security log has each).
    let refusals: RefusalThrottle
    let enrolments: EnrolmentGate
    let fetchTimes: FetchTimes
    let builder: ConfigBuilder
    /// What the store held for a device, and the configs rendered from it, while the phone's
    /// change stamp stays the same: a phone asking again costs no read and no render. Sized
    /// for memory (`CacheLimits.phoneConfigs`).
    let states: StampedCache<MACAddress, ChangeStamp, DeviceConfigState>
    let rendered: StampedCache<RenderedKey, ChangeStamp, ServedConfig>
    /// What each file name means never changes while the server runs (the families are loaded once).
    let fileNames: Memo<String, [ConfigFileMatch]>
    let clock: @Sendable () -> Date

    init(
        store: any DeviceStore & DirectoryStore & AuditStore & StampedStore,
        families: FamilyBook,
        renderer: ConfigRenderer,
        caches: CacheLimits,
        pushes: PushService,
        telemetry: Telemetry,
        addresses: PhoneAddressResolver,
        hosts: HostPolicy,
        digest: DigestAuth,
        security: SecurityLog,
        refusals: RefusalThrottle,
        enrolments: EnrolmentGate,
        fetchTimes: FetchTimes,
        clock: @escaping @Sendable () -> Date
    ) {
        self.store = store
        catalog = families.catalog
        configs = families.configs
        builder = ConfigBuilder(configs: families.configs, renderer: renderer)
        states = StampedCache(limit: caches.phoneConfigs)
        rendered = StampedCache(limit: caches.phoneConfigs)
        fileNames = Memo(limit: caches.requests)
        self.pushes = pushes
        self.telemetry = telemetry
        self.addresses = addresses
        self.hosts = hosts
        self.digest = digest
        self.security = security
        self.refusals = refusals
        self.enrolments = enrolments
        self.fetchTimes = fetchTimes
        self.clock = clock
    }

    func register(with router: Router<HotDeskRequestContext>) {
        router.get("/provision/{first}") { request, context in try await self.serve(request, context: context) }
        // The per-device key form (`ProvisioningAuth.urlKey`): `/provision/<secret>/<file>`.
        router.get("/provision/{first}/{second}") { request, context in try await self.serve(request, context: context) }
    }

    func serve(_ request: Request, context: HotDeskRequestContext) async throws -> Response {
        // A name that is not HotDesk's is a DNS-rebinding page's, not a phone's (docs/security.md).
        guard hosts.accepts(request, settings: try await store.settings()) else { return HostPolicy.misdirected }
        let second = context.parameters.get("second")
        let file = second ?? context.parameters.get("first") ?? ""
        let pathKey = second == nil ? nil : context.parameters.get("first")
        let matches = fileNames.value(file) { configs.matches(fileName: file) }
        guard let mac = matches.lazy.compactMap(\.mac).first ?? (matches.isEmpty ? nil : MACAddress("000000000000")) else {
            return .text(.notFound, "no such config file\n")
        }
        let userAgent = request.headers[.userAgent] ?? ""
        let now = clock()
        let phoneAddress = addresses.address(of: request, context: context)
        // What the store holds at this change stamp; a phone asking again before anything changed
        // is answered from the cache (no read, no render).
        var stamp: ChangeStamp?
        var state: DeviceConfigState?
        if matches.contains(where: { $0.mac != nil }) {
            stamp = try? store.stamps.stamp(of: mac)
            state = states.value(mac, at: stamp)
            if state == nil {
                state = try await store.deviceConfigState(mac: mac)
                if let state { states.keep(state, for: mac, at: stamp) }
            }
        }
        let agentBrands = catalog.brands(inUserAgent: userAgent)
        // Someone asked for this MAC first as another family's phone, and it never proved itself:
        // a request that is consistently of another family (User-Agent and file name) takes it over.
        if let squatted = state?.device, squatted.claimedAt == nil, squatted.selfEnrolled, !agentBrands.isEmpty,
            !agentBrands.contains(squatted.model.brand),
            case .device(let other)? = FileIdentification.decide(matches, knownBrand: nil, userAgentBrands: agentBrands)
        {
            let model = catalog.model(fromUserAgent: userAgent, brand: other.brand) ?? .generic(other.brand)
            let detail =
                "re-enrolled as \(other.brand.rawValue) model \(model.name): it was enrolled as \(squatted.model.brand.rawValue) and never fetched with its secret"
            if try await store.reenrol(
                mac: mac,
                model: model,
                audit: AuditEntry(at: now, actor: "system", action: .enrol, mac: mac, source: phoneAddress, outcome: .success, detail: detail)
            ) {
                state = try await store.deviceConfigState(mac: mac)
            }
        }
        let identification = FileIdentification.decide(matches, knownBrand: state?.device.model.brand, userAgentBrands: agentBrands)
        let refuse = { (detail: String) async throws -> Response in
            try await auditRefusal(mac: mac, source: phoneAddress, now: now, detail: detail)
            return .text(.notFound, detail + "\n")
        }
        let match: ConfigFileMatch
        switch identification {
        case .common(let common)?:
            guard case .common(let spec) = common.kind else { return .text(.notFound, "no such config file\n") }
            return conditional(
                ServedConfig(RenderedConfig(body: spec.body, contentType: configs[common.brand]?.format.contentType ?? "text/plain")),
                request
            )
        case nil:
            return .text(.notFound, "no such config file\n")
        case .otherFamily(let known, let fileFamilies)?:
            return try await refuse("device \(mac) is a \(known.rawValue) phone; \(file) is a file of \(list(fileFamilies)) phones")
        case .ambiguous(let fileFamilies)?:
            return try await refuse(
                "\(file) is asked for by \(list(fileFamilies)) phones and the User-Agent \"\(printable(userAgent))\" does not say which; "
                    + "add the device to the directory with its model"
            )
        case .userAgentMismatch(let agentFamilies, let fileFamilies)?:
            return try await refuse("the User-Agent names a \(list(agentFamilies)) phone but \(file) is a file of \(list(fileFamilies)) phones")
        case .device(let found)?:
            match = found
        }
        guard case .device(_, let spec) = match.kind else { return .text(.notFound, "no such config file\n") }
        let brand = match.brand
        let fromAgent = catalog.model(fromUserAgent: userAgent, brand: brand)
        let learned = fromAgent ?? match.modelInName.flatMap { catalog.model(fromUserAgent: $0, brand: brand) }
        if state == nil {
            let settings = try await store.settings()
            guard settings.defaultLogin else {
                try await auditRefusal(mac: mac, source: phoneAddress, now: now, detail: "default login is off; file \(file)")
                return .text(.notFound, "unknown device\n")
            }
            let limits = settings.enrolment
            if case .refuse(let retry, let first) = enrolments.admit(perMinute: limits.perMinute, now: now) {
                return try await enrolmentRefused(
                    mac: mac,
                    source: phoneAddress,
                    now: now,
                    retryAfter: retry,
                    first: first,
                    why: "more than \(limits.perMinute) unknown phones in a minute (settings.enrolment.per_minute)"
                )
            }
            let model = learned ?? .generic(brand)
            let how = fromAgent != nil ? "User-Agent" : "file name"
            let device = Device(mac: mac, model: model, token: RandomToken.make())
            let enrolled = try await store.enrol(
                device,
                audit: AuditEntry(
                    at: now,
                    actor: "system",
                    action: .enrol,
                    mac: mac,
                    source: phoneAddress,
                    outcome: .success,
                    detail: "\(brand.rawValue) model \(model.name) from \(how); file \(file)"
                ),
                maxUnclaimed: limits.maxUnclaimed
            )
            guard enrolled != nil else {
                return try await enrolmentRefused(
                    mac: mac,
                    source: phoneAddress,
                    now: now,
                    retryAfter: 300,
                    first: enrolments.countRefusal(),
                    why:
                        "\(limits.maxUnclaimed) enrolled phones have not fetched their config with their secret yet (settings.enrolment.max_unclaimed)"
                )
            }
            let before = enrolments.refusedSinceLastSummary()
            if before > 0 {
                try await store.audit(
                    AuditEntry(
                        at: now,
                        actor: "system",
                        action: .unknownDeviceRefused,
                        outcome: .refused,
                        detail: "\(before) unknown phone request(s) refused by the enrolment limits before this enrolment"
                    )
                )
            }
            state = try await store.deviceConfigState(mac: mac)
        } else if let current = state, current.device.model.isGeneric, let learned {
            try await store.updateModel(mac: mac, model: learned)
            state = try await store.deviceConfigState(mac: mac)
        }
        if state?.device.provisioningSecret == nil {
            try await store.ensureProvisioningSecret(mac: mac)
            state = try await store.deviceConfigState(mac: mac)
        }
        guard let state, let secret = state.device.provisioningSecret else { return .text(.notFound, "unknown device\n") }

        let auth = configs[brand]?.provisioningAuth ?? .urlKey
        // Claims that wait for an admin (settings.enrolment.claims, or past claims_until): an
        // unclaimed phone asking without a secret gets nothing until its claim is approved, and
        // then only from the address approved (docs/security.md).
        if state.device.claimedAt == nil, pathKey == nil, request.headers[.authorization] == nil,
            state.settings.enrolment.claimNeedsApproval(at: now),
            !(auth == .digest && state.device.secretIssuedAt != nil),
            state.device.claimApprovedFrom == nil || state.device.claimApprovedFrom != phoneAddress
        {
            if spec.primary { try await store.noteClaimPending(mac: mac, address: phoneAddress, at: now) }
            return .text(.forbidden, "this phone waits for an admin to approve its claim: hotdesk device approve \(mac.colonSeparated)\n")
        }
        let (proven, refusal) = prove(request, device: state.device, secret: secret, auth: auth, pathKey: pathKey, from: phoneAddress, now: now)
        // A Digest phone sends its credentials only when challenged: once its secret went out, a
        // fetch without them is challenged even before the claim.
        let sentNothing = request.headers[.authorization] == nil && pathKey == nil
        let challenged = auth == .digest && pathKey == nil && state.device.secretIssuedAt != nil
        if !proven, state.device.claimedAt != nil || (challenged && sentNothing) || refusal != nil {
            // The first leg of every Digest fetch, and a nonce that is too old or used up, are a
            // phone's normal round trip: challenged, not reported. Only a wrong or missing proof
            // where one was due is a refusal (audited, and a `device_refused` line for fail2ban).
            let roundTrip = refusal == DigestAuth.staleNonce || (auth == .digest && sentNothing)
            if !roundTrip {
                let why = refusal ?? (auth == .address ? "not from the address the phone claimed from" : "no provisioning credential")
                security.record(.deviceRefused, source: phoneAddress, mac: mac, detail: "config \(file) refused: \(why)")
                if refusals.refuse(source: phoneAddress ?? "-", now: now) != .overLimit {
                    let advice = state.device.claimedAt == nil ? "" : " (the phone is claimed; `hotdesk device release` if it was replaced or reset)"
                    try await store.audit(
                        AuditEntry(
                            at: now,
                            actor: "system",
                            action: .configRefused,
                            mac: mac,
                            source: phoneAddress,
                            outcome: .refused,
                            detail: "config \(file) refused: \(why)\(advice)"
                        )
                    )
                }
            }
            // A 401 carries a challenge (RFC 7235); a phone with a key in its path, or bound to
            // its address, has nothing to answer one with: 403.
            guard auth == .digest else {
                return .text(.forbidden, "this phone's config needs its provisioning key or its own address\n")
            }
            var headers = HTTPFields()
            for challenge in digest.challenges(now: now, address: phoneAddress, stale: refusal == DigestAuth.staleNonce) {
                headers.append(.init(name: .wwwAuthenticate, value: challenge))
            }
            return Response(
                status: .unauthorized,
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: "this phone's config needs its provisioning credential\n"))
            )
        }

        let served: ServedConfig
        let reached = hosts.address(request, settings: state.settings)
        do {
            let key = RenderedKey(mac: mac, template: spec.templateName, reached: reached?.baseURL, proven: proven)
            if let cached = rendered.value(key, at: stamp) {
                served = cached
            } else {
                served = ServedConfig(try builder.render(state, reached: reached, file: spec, proven: proven))
                rendered.keep(served, for: key, at: stamp)
            }
        } catch {
            context.logger.error("config template failed", metadata: ["mac": "\(mac)", "error": "\(error)"])
            return .text(.internalServerError, "config template failed; see the server log\n")
        }
        // Not proven (a phone that has not claimed its device yet, or anyone knowing the MAC): the
        // config holds nothing but the provisioning secret; nothing is learned, no push confirmed.
        guard proven else {
            if spec.primary, state.device.secretIssuedAt == nil { try await store.secretIssued(mac: mac, at: now) }
            return conditional(served, request)
        }
        if state.device.claimedAt == nil { _ = try await store.claim(mac: mac, address: phoneAddress, at: now) }
        guard spec.primary else {
            // A file around the line's (Polycom's master file): it tells where the phone is, no more.
            if let phoneAddress, phoneAddress != state.device.lastAddress { try await store.recordAddress(mac: mac, address: phoneAddress) }
            return conditional(served, request)
        }
        let pointsTo = reached.map { ConfigBuilder.address(state, reached: $0).baseURL }
        if state.fetchChangesNothing(address: phoneAddress, host: reached?.baseURL, configHash: served.hash, configAddress: pointsTo) {
            fetchTimes.note(mac, at: now)
            return conditional(served, request)
        }
        let applied = try await store.recordFetch(
            mac: mac,
            address: phoneAddress,
            host: reached?.baseURL,
            configHash: served.hash,
            configAddress: pointsTo,
            at: now
        )
        for job in applied {
            context.logger.info("push applied", metadata: ["job": "\(job.id)", "mac": "\(mac)", "action": "\(job.action.rawValue)"])
            telemetry.push(job.action.rawValue, "applied")
        }
        if !applied.isEmpty { pushes.wake() }
        return conditional(served, request)
    }

    /// Who is asking: the phone itself (its secret in the path or as Digest; for a family that
    /// cannot send one, the address it claimed from), or anyone who knows its MAC. `refusal`: a
    /// secret was sent and is wrong.
    private func prove(
        _ request: Request,
        device: Device,
        secret: String,
        auth: ProvisioningAuth,
        pathKey: String?,
        from address: String?,
        now: Date
    ) -> (proven: Bool, refusal: String?) {
        var proven = false
        var refusal: String?
        if let pathKey {
            if ConstantTime.equal(pathKey, secret) { proven = true } else { refusal = "wrong key in the provisioning path" }
        }
        switch digest.verify(
            header: request.headers[.authorization],
            method: "GET",
            uri: request.uri.description,
            username: device.provisioningUsername,
            secret: secret,
            address: address,
            now: now
        )
        {
        case .valid: proven = true
        case .invalid(let why): refusal = why
        case .stale: refusal = DigestAuth.staleNonce
        case .none: break
        }
        if auth == .address, !proven, pathKey == nil {
            // Cisco SEP files: the phone cannot send a secret; it is bound to the address it claimed from.
            proven = device.claimedAt == nil || (address != nil && address == device.lastAddress)
        }
        return (proven, refusal)
    }

    /// A refused unknown phone: a security log line each, an audit row at most so often per source.
    private func auditRefusal(mac: MACAddress, source: String?, now: Date, detail: String) async throws {
        security.record(.deviceRefused, source: source, mac: mac, detail: detail)
        guard refusals.refuse(source: source ?? "-", now: now) != .overLimit else { return }
        try await store.audit(
            AuditEntry(at: now, actor: "system", action: .unknownDeviceRefused, mac: mac, source: source, outcome: .refused, detail: detail)
        )
    }

    /// 503 with `Retry-After`: the phone tries again later. One audit row per episode (the count
    /// of the others is written when enrolment goes on), a security log line each.
    private func enrolmentRefused(mac: MACAddress, source: String?, now: Date, retryAfter: Int, first: Bool, why: String) async throws -> Response {
        security.record(.enrolmentCap, source: source, mac: mac, detail: "unknown phone refused: \(why)")
        if first {
            try await store.audit(
                AuditEntry(
                    at: now,
                    actor: "system",
                    action: .unknownDeviceRefused,
                    mac: mac,
                    source: source,
                    outcome: .refused,
                    detail: "unknown phones refused: \(why); the rest are counted until enrolment goes on"
                )
            )
        }
        var headers = HTTPFields()
        headers[.retryAfter] = "\(retryAfter)"
        return Response(status: .serviceUnavailable, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "enrolment paused: \(why)\n")))
    }

    private func list(_ brands: [Brand]) -> String { brands.map(\.rawValue).joined(separator: "/") }

    /// A header as it may go into the audit log: at most 80 characters, every unsafe one shown as `\u{…}`.
    private func printable(_ text: String) -> String {
        TextSafety.printable(String(String.UnicodeScalarView(text.unicodeScalars.prefix(80))))
    }

    /// 304 when the phone already has this config (its `If-None-Match` names our hash).
    func conditional(_ served: ServedConfig, _ request: Request) -> Response {
        if let match = request.headers[.ifNoneMatch], served.isMatched(by: match) {
            return Response(status: .notModified, headers: served.notModifiedHeaders)
        }
        return Response(status: .ok, headers: served.headers, body: .init(byteBuffer: served.body))
    }

    /// Which rendering of a phone's file: the same phone asking at another address, or before it
    /// proved itself, gets another one.
    struct RenderedKey: Hashable, Sendable {
        let mac: MACAddress
        let template: String
        let reached: String?
        let proven: Bool
    }
}

/// A rendered config as it is answered: its bytes and headers made once, when it is rendered, and
/// shared by every answer while it is cached (issue 12: a copy of the body, the ETag's quoting and
/// the headers were made again at every fetch). It keeps the bytes, not the text: the text stays
/// only in the renderer's memo.
struct ServedConfig: Sendable {
    /// The config's hash (`RenderedConfig.hash`).
    let hash: String
    let etag: String
    let body: ByteBuffer
    let headers: HTTPFields
    let notModifiedHeaders: HTTPFields

    init(_ config: RenderedConfig) {
        hash = config.hash
        etag = "\"\(config.hash)\""
        body = ByteBuffer(string: config.body)
        var headers = HTTPFields()
        headers[.eTag] = etag
        headers[.cacheControl] = "no-cache"
        notModifiedHeaders = headers
        headers[.contentType] = config.contentType
        self.headers = headers
    }

    /// `If-None-Match`: this ETag, `*`, or a list holding either (a phone sends back the one it was given).
    func isMatched(by header: String) -> Bool {
        header == etag
            || header.split(separator: ",").contains {
                $0.trimmingCharacters(in: .whitespaces) == etag || $0.trimmingCharacters(in: .whitespaces) == "*"
            }
    }
}
