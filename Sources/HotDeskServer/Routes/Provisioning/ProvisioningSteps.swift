import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import NIOCore
import Provisioning

// The steps of a config fetch, in the order `serve` runs them.
extension ProvisioningController {
    /// Which file, which phone, and the phone's change stamp (a file name that is no config file
    /// of any family is answered here).
    func identify(_ request: Request, _ context: HotDeskRequestContext) async throws -> ConfigFetch {
        let second = context.parameters.get("second")
        let file = second ?? context.parameters.get("first") ?? ""
        let matches = fileNames.value(file) { configs.matches(fileName: file) }
        guard let mac = matches.lazy.compactMap(\.mac).first ?? (matches.isEmpty ? nil : MACAddress("000000000000")) else {
            throw Answer.noSuchFile
        }
        let userAgent = request.headers.firstValue(.userAgent) ?? ""
        var fetch = ConfigFetch(
            request: request,
            file: file,
            pathKey: second == nil ? nil : context.parameters.get("first"),
            matches: matches,
            mac: mac,
            userAgent: userAgent,
            authorization: request.headers.firstValue(.authorization),
            agentBrands: catalog.brands(inUserAgent: userAgent),
            now: clock(),
            phoneAddress: addresses.address(of: request, context: context)
        )
        guard matches.contains(where: { $0.mac != nil }) else { return fetch }
        do {
            fetch.stamp = try await store.stamps.stamp(of: mac)
        } catch {
            // The database is briefly unreachable: a phone this node served keeps getting the
            // config it had (a phone booting now still finds its line); any other gets 503.
            fetch.storeUnreachable = true
        }
        return fetch
    }

    /// What the store holds for the phone at its change stamp (a phone asking again before
    /// anything changed is answered from the cache: no read, no render).
    func readState(_ fetch: inout ConfigFetch) async throws {
        guard fetch.matches.contains(where: { $0.mac != nil }) else { return }
        let mac = fetch.mac
        if fetch.storeUnreachable {
            fetch.state = states.lastKnown(mac)
            if fetch.state != nil { telemetry.servedWithoutStore() }
        }
        fetch.state = fetch.state ?? states.value(mac, at: fetch.stamp)
        if fetch.state == nil {
            fetch.state = try await store.deviceConfigState(mac: mac)
            if let state = fetch.state { states.keep(state, for: mac, at: fetch.stamp) }
        }
    }

    /// Which family's file this is: a phone's own file goes on; a common file is answered here;
    /// a file that does not fit the phone or the User-Agent is refused.
    func choose(_ fetch: inout ConfigFetch) async throws -> ConfigFileMatch {
        try await takeOverSquattedDevice(&fetch)
        let (mac, file, source, now) = (fetch.mac, fetch.file, fetch.phoneAddress, fetch.now)
        let refuse = { (detail: String) async throws -> Answer in
            try await auditRefusal(mac: mac, source: source, now: now, detail: detail)
            return Answer(.text(.notFound, detail + "\n"))
        }
        switch FileIdentification.decide(fetch.matches, knownBrand: fetch.state?.device.model.brand, userAgentBrands: fetch.agentBrands) {
        case .common(let common)?:
            guard case .common(let spec) = common.kind else { throw Answer.noSuchFile }
            let contentType = configs[common.brand]?.format.contentType ?? "text/plain"
            throw Answer(conditional(ServedConfig(RenderedConfig(body: spec.body, contentType: contentType)), fetch.request))
        case nil:
            throw Answer.noSuchFile
        case .otherFamily(let known, let fileFamilies)?:
            throw try await refuse("device \(mac) is a \(known.rawValue) phone; \(file) is a file of \(list(fileFamilies)) phones")
        case .ambiguous(let fileFamilies)?:
            throw try await refuse(
                "\(file) is asked for by \(list(fileFamilies)) phones and the User-Agent \"\(printable(fetch.userAgent))\" does not say which; "
                    + "add the device to the directory with its model"
            )
        case .userAgentMismatch(let agentFamilies, let fileFamilies)?:
            throw try await refuse("the User-Agent names a \(list(agentFamilies)) phone but \(file) is a file of \(list(fileFamilies)) phones")
        case .device(let match)?:
            guard match.isDeviceFile else { throw Answer.noSuchFile }
            return match
        }
    }

    /// Someone asked for this MAC first as another family's phone, and it never proved itself:
    /// a request that is consistently of another family (User-Agent and file name) takes it over.
    private func takeOverSquattedDevice(_ fetch: inout ConfigFetch) async throws {
        guard let squatted = fetch.state?.device, squatted.claimedAt == nil, squatted.selfEnrolled, !fetch.agentBrands.isEmpty,
            !fetch.agentBrands.contains(squatted.model.brand),
            case .device(let other)? = FileIdentification.decide(fetch.matches, knownBrand: nil, userAgentBrands: fetch.agentBrands)
        else { return }
        let model = catalog.model(fromUserAgent: fetch.userAgent, brand: other.brand) ?? .generic(other.brand)
        let detail =
            "re-enrolled as \(other.brand.rawValue) model \(model.name): it was enrolled as \(squatted.model.brand.rawValue) and never fetched with its secret"
        let audit = AuditEntry(
            at: fetch.now,
            actor: "system",
            action: .enrol,
            mac: fetch.mac,
            source: fetch.phoneAddress,
            outcome: .success,
            detail: detail
        )
        if try await store.reenrol(mac: fetch.mac, model: model, audit: audit) {
            fetch.state = try await store.deviceConfigState(mac: fetch.mac)
        }
    }

    /// The device as stored: enrolled now if it is new (within the enrolment limits), its model
    /// learned from the User-Agent or file name, given a provisioning secret if it has none.
    func enrol(_ fetch: inout ConfigFetch, _ match: ConfigFileMatch) async throws -> DeviceConfigState {
        let (mac, brand) = (fetch.mac, match.brand)
        let fromAgent = catalog.model(fromUserAgent: fetch.userAgent, brand: brand)
        let learned = fromAgent ?? match.modelInName.flatMap { catalog.model(fromUserAgent: $0, brand: brand) }
        if fetch.state == nil {
            try await enrolNew(fetch, brand: brand, model: learned ?? .generic(brand), how: fromAgent != nil ? "User-Agent" : "file name")
            fetch.state = try await store.deviceConfigState(mac: mac)
        } else if let current = fetch.state, current.device.model.isGeneric, let learned {
            try await store.updateModel(mac: mac, model: learned)
            fetch.state = try await store.deviceConfigState(mac: mac)
        }
        if fetch.state?.device.provisioningSecret == nil {
            try await store.ensureProvisioningSecret(mac: mac)
            fetch.state = try await store.deviceConfigState(mac: mac)
        }
        guard let state = fetch.state, state.device.provisioningSecret != nil else { throw Answer.unknownDevice }
        return state
    }

    /// A phone never seen: enrolled when the directory allows it and the enrolment limits admit it.
    private func enrolNew(_ fetch: ConfigFetch, brand: Brand, model: PhoneModel, how: String) async throws {
        let (mac, now, source) = (fetch.mac, fetch.now, fetch.phoneAddress)
        let settings = try await store.settings()
        guard settings.defaultLogin else {
            try await auditRefusal(mac: mac, source: source, now: now, detail: "default login is off; file \(fetch.file)")
            throw Answer.unknownDevice
        }
        let limits = settings.enrolment
        let rate = "more than \(limits.perMinute) unknown phones in a minute (settings.enrolment.per_minute)"
        // This node's own count first (a flood is shed without the database)…
        if case .refuse(let retry, let first) = enrolments.admit(perMinute: limits.perMinute, now: now) {
            throw try await enrolmentRefused(mac: mac, source: source, now: now, retryAfter: retry, first: first, why: rate)
        }
        // A phone belongs to one organisation: one another directory holds does not enrol here
        // (its own directory's name is not told: it is another customer's).
        if try await owners?.owners(of: [mac])[mac] != nil {
            try await auditRefusal(mac: mac, source: source, now: now, detail: "a phone of another directory on this server; file \(fetch.file)")
            throw Answer.unknownDevice
        }
        // …then every node's, in the database (one enrolment at a time over all nodes).
        let detail = "\(brand.rawValue) model \(model.name) from \(how); file \(fetch.file)"
        let audit = AuditEntry(at: now, actor: "system", action: .enrol, mac: mac, source: source, outcome: .success, detail: detail)
        let device = Device(mac: mac, model: model, token: RandomToken.make())
        switch try await store.enrol(device, audit: audit, limits: limits) {
        case .enrolled:
            break
        case .overRate(let retry):
            throw try await enrolmentRefused(mac: mac, source: source, now: now, retryAfter: retry, first: enrolments.countRefusal(), why: rate)
        case .overUnclaimed:
            let why = "\(limits.maxUnclaimed) enrolled phones have not fetched their config with their secret yet (settings.enrolment.max_unclaimed)"
            throw try await enrolmentRefused(mac: mac, source: source, now: now, retryAfter: 300, first: enrolments.countRefusal(), why: why)
        }
        let before = enrolments.refusedSinceLastSummary()
        if before > 0 {
            let detail = "\(before) unknown phone request(s) refused by the enrolment limits before this enrolment"
            try await store.audit(AuditEntry(at: now, actor: "system", action: .unknownDeviceRefused, outcome: .refused, detail: detail))
        }
    }

    /// Whether the phone itself asks (`true`), or someone who knows only its MAC may have the
    /// unproven config (`false`); a claim that waits for an admin, or a wrong or missing proof
    /// where one was due, is answered here (403, or 401 with a Digest challenge).
    func authorize(_ fetch: ConfigFetch, _ state: DeviceConfigState, _ match: ConfigFileMatch) async throws -> Bool {
        let (device, mac, now, source) = (state.device, fetch.mac, fetch.now, fetch.phoneAddress)
        let auth = configs[match.brand]?.provisioningAuth ?? .urlKey
        // Claims that wait for an admin (settings.enrolment.claims, or past claims_until): an
        // unclaimed phone asking without a secret gets nothing until its claim is approved, and
        // then only from the address approved (docs/security.md).
        if device.claimedAt == nil, fetch.pathKey == nil, fetch.authorization == nil,
            state.settings.enrolment.claimNeedsApproval(at: now),
            !(auth == .digest && device.secretIssuedAt != nil),
            device.claimApprovedFrom == nil || device.claimApprovedFrom != source
        {
            if match.isPrimary { try await store.noteClaimPending(mac: mac, address: source, at: now) }
            throw Answer(.text(.forbidden, "this phone waits for an admin to approve its claim: hotdesk device approve \(mac.colonSeparated)\n"))
        }
        let secret = device.provisioningSecret ?? ""
        let (proven, refusal) = prove(fetch, device: device, secret: secret, auth: auth)
        // A Digest phone sends its credentials only when challenged: once its secret went out, a
        // fetch without them is challenged even before the claim.
        let sentNothing = fetch.authorization == nil && fetch.pathKey == nil
        let challenged = auth == .digest && fetch.pathKey == nil && device.secretIssuedAt != nil
        guard !proven, device.claimedAt != nil || (challenged && sentNothing) || refusal != nil else { return proven }
        // The first leg of every Digest fetch, and a nonce that is too old or used up, are a
        // phone's normal round trip: challenged, not reported. Only a wrong or missing proof
        // where one was due is a refusal (audited, and a `device_refused` line for fail2ban).
        let roundTrip = refusal == DigestAuth.staleNonce || (auth == .digest && sentNothing)
        if !roundTrip {
            let why = refusal ?? (auth == .address ? "not from the address the phone claimed from" : "no provisioning credential")
            try await auditConfigRefusal(fetch, device: device, why: why)
        }
        // A 401 carries a challenge (RFC 7235); a phone with a key in its path, or bound to
        // its address, has nothing to answer one with: 403.
        guard auth == .digest else {
            throw Answer(.text(.forbidden, "this phone's config needs its provisioning key or its own address\n"))
        }
        var headers = HTTPFields()
        for challenge in digest.challenges(now: now, address: source, stale: refusal == DigestAuth.staleNonce) {
            headers.append(.init(name: .wwwAuthenticate, value: challenge))
        }
        let body = ByteBuffer(string: "this phone's config needs its provisioning credential\n")
        throw Answer(Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: body)))
    }

    /// A wrong or missing proof where one was due: a security log line each, an audit row at most
    /// so often per source.
    private func auditConfigRefusal(_ fetch: ConfigFetch, device: Device, why: String) async throws {
        let (mac, source, now) = (fetch.mac, fetch.phoneAddress, fetch.now)
        security.record(.deviceRefused, source: source, mac: mac, detail: "config \(fetch.file) refused: \(why)")
        guard refusals.refuse(source: source ?? "-", now: now) != .overLimit else { return }
        let advice = device.claimedAt == nil ? "" : " (the phone is claimed; `hotdesk device release` if it was replaced or reset)"
        let detail = "config \(fetch.file) refused: \(why)\(advice)"
        try await store.audit(
            AuditEntry(at: now, actor: "system", action: .configRefused, mac: mac, source: source, outcome: .refused, detail: detail)
        )
    }

    /// The file as rendered for this phone, at this address, proven or not (kept while the
    /// phone's change stamp stays the same).
    func render(
        _ fetch: ConfigFetch,
        _ state: DeviceConfigState,
        _ match: ConfigFileMatch,
        proven: Bool,
        _ context: HotDeskRequestContext
    ) throws -> ServedConfig {
        guard case .device(_, let spec) = match.kind else { throw Answer.noSuchFile }
        let reached = fetch.reached
        let key = RenderedKey(mac: fetch.mac, template: spec.templateName, reached: reached?.baseURL, proven: proven)
        if let cached = fetch.storeUnreachable ? rendered.lastKnown(key) : rendered.value(key, at: fetch.stamp) { return cached }
        do {
            let served = ServedConfig(try builder.render(state, reached: reached, file: spec, proven: proven))
            rendered.keep(served, for: key, at: fetch.stamp)
            return served
        } catch {
            context.logger.error("config template failed", metadata: ["mac": "\(fetch.mac)", "error": "\(error)"])
            throw Answer(.text(.internalServerError, "config template failed; see the server log\n"))
        }
    }

    /// What the phone was served: its claim, its address, the config it now holds (which
    /// confirms the pushes waiting for it). A fetch that changes nothing writes nothing now (its
    /// time is written in a batch).
    func record(
        _ fetch: ConfigFetch,
        _ state: DeviceConfigState,
        _ match: ConfigFileMatch,
        _ served: ServedConfig,
        proven: Bool,
        _ context: HotDeskRequestContext
    ) async throws -> Response {
        let (mac, now, source) = (fetch.mac, fetch.now, fetch.phoneAddress)
        let answer = conditional(served, fetch.request)
        // Served from memory while the database is unreachable: what it learned waits for the
        // phone's next fetch (a push it confirms is confirmed then).
        if fetch.storeUnreachable { return answer }
        // Not proven (a phone that has not claimed its device yet, or anyone knowing the MAC): the
        // config holds nothing but the provisioning secret; nothing is learned, no push confirmed.
        guard proven else {
            if match.isPrimary, state.device.secretIssuedAt == nil { try await store.secretIssued(mac: mac, at: now) }
            return answer
        }
        if state.device.claimedAt == nil { _ = try await store.claim(mac: mac, address: source, at: now) }
        guard match.isPrimary else {
            // A file around the line's (Polycom's master file): it tells where the phone is, no more.
            if let source, source != state.device.lastAddress { try await store.recordAddress(mac: mac, address: source) }
            return answer
        }
        let reached = fetch.reached
        let pointsTo = reached.map { builder.address(state, reached: $0).baseURL }
        if state.fetchChangesNothing(address: source, host: reached?.baseURL, configHash: served.hash, configAddress: pointsTo) {
            fetchTimes.note(mac, at: now)
            return answer
        }
        let applied = try await store.recordFetch(
            mac: mac,
            address: source,
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
        return answer
    }

    /// Who is asking: the phone itself (its secret in the path or as Digest; for a family that
    /// cannot send one, the address it claimed from), or anyone who knows its MAC. `refusal`: a
    /// secret was sent and is wrong.
    private func prove(_ fetch: ConfigFetch, device: Device, secret: String, auth: ProvisioningAuth) -> (proven: Bool, refusal: String?) {
        let (pathKey, address) = (fetch.pathKey, fetch.phoneAddress)
        var proven = false
        var refusal: String?
        if let pathKey {
            if ConstantTime.equal(pathKey, secret) { proven = true } else { refusal = "wrong key in the provisioning path" }
        }
        switch digest.verify(
            header: fetch.authorization,
            method: "GET",
            // The target as the phone sent it: under an organisation, with its `/o/NAME`.
            uri: builder.pathPrefix + fetch.request.uri.description,
            username: device.provisioningUsername,
            secret: secret,
            address: address,
            now: fetch.now
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
    private func enrolmentRefused(mac: MACAddress, source: String?, now: Date, retryAfter: Int, first: Bool, why: String) async throws -> Answer {
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
        return Answer(
            Response(status: .serviceUnavailable, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "enrolment paused: \(why)\n")))
        )
    }

    private func list(_ brands: [Brand]) -> String { brands.map(\.rawValue).joined(separator: "/") }

    /// A header as it may go into the audit log: at most 80 characters, every unsafe one shown as `\u{…}`.
    private func printable(_ text: String) -> String {
        TextSafety.printable(String(String.UnicodeScalarView(text.unicodeScalars.prefix(80))))
    }
}

extension ConfigFileMatch {
    /// One of a phone's own files (not a file every phone of the family reads).
    var isDeviceFile: Bool { if case .device = kind { true } else { false } }
    /// The phone's file that carries its line.
    var isPrimary: Bool { if case .device(_, let file) = kind { file.primary } else { false } }
}
