import Foundation

/// The phone's SIP side: line 1 registered as the applied config says, and the requests a PBX
/// sends it answered as its family does (`SimFamily.notifyEvents`).
extension SimulatedPhone {
    /// Opens the SIP socket: the same port after a reboot (the PBX's contact stays good).
    func startLine() async throws {
        guard options.sip else { return }
        let line =
            line
            ?? SIPLine(address: options.address, lanAddress: options.lanAddress, userAgent: model.userAgent(mac: mac)) {
                [weak self] request, source in
                await self?.answerSIP(request, from: source) ?? SIPLine.Answer(status: 503, reason: "Powering Off")
            }
        self.line = line
        try await line.start()
    }

    func stopLine() async {
        await line?.stop()
    }

    /// The SIP port the phone listens on (0 without a SIP side).
    public var sipPort: Int {
        get async { await line?.port ?? 0 }
    }

    /// Registers line 1 as the config now says: a new user is registered (the old one
    /// unregistered first), a line the config no longer has is unregistered.
    func registerLine() async {
        guard let line else { return }
        var wanted: SIPLine.Account?
        if config.lineActive, let user = config.lineUser, let password = config.sipPassword, let host = config.sipServer {
            wanted = SIPLine.Account(user: user, password: password, host: host, port: config.sipPort ?? 5060)
        }
        let before = await line.registered
        guard wanted != before else { return }
        let status = await line.register(wanted)
        if let before { record(.sipUnregistered(user: before.user)) }
        if let wanted { record(.sipRegistered(user: wanted.user, status: status)) }
    }

    /// Dials `number` on line 1 (registered): the final answer's status, 0 when none came or the
    /// line is not registered.
    public func dial(_ number: String) async -> Int {
        guard let line, let account = await line.registered else { return 0 }
        return await line.invite(number, account: account)
    }

    /// What the phone answers a SIP request. It takes no calls (486: the caller reached this
    /// phone, so the PBX routed the line here).
    func answerSIP(_ request: SIPMessage, from source: String) -> SIPLine.Answer {
        guard online else { return SIPLine.Answer(status: 503, reason: "Service Unavailable") }
        switch request.method {
        case "OPTIONS": return SIPLine.Answer(status: 200, reason: "OK")
        case "INVITE":
            let from = request.header("from").flatMap(SIPMessage.user(of:)) ?? "?"
            record(.incomingCall(from: from, asserted: request.header("p-asserted-identity").flatMap(SIPMessage.user(of:))))
            return SIPLine.Answer(status: 486, reason: "Busy Here")
        case "NOTIFY": return notify(request, from: source)
        default: return SIPLine.Answer(status: 405, reason: "Method Not Allowed")
        }
    }

    /// A NOTIFY: taken from the phone's registrar only (phones accept it only from their
    /// registrar or a trusted proxy [V: phone-dialects.md §9]; that others get 403 is [I]), for an
    /// event its family knows (else 489 Bad Event, RFC 6665), then reload or reboot.
    private func notify(_ request: SIPMessage, from source: String) -> SIPLine.Answer {
        let value = request.header("event") ?? ""
        let event = value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        func refuse(_ status: Int, _ phrase: String, _ why: String) -> SIPLine.Answer {
            record(.notifyRefused(event: value, status: status, reason: why))
            return SIPLine.Answer(status: status, reason: phrase)
        }
        guard let registrar = config.sipServer, source == registrar else {
            return refuse(403, "Forbidden", "from \(source), not the registrar \(config.sipServer ?? "(none)")")
        }
        guard let rule = model.family.notifyEvents.first(where: { $0.event == event }) else {
            return refuse(489, "Bad Event", "\(model.family.name) phones do not know \"\(event)\"")
        }
        let reboot: Bool?
        let asked = SIPMessage.parameter("reboot", of: value)?.lowercased()
        switch rule.effect {
        case .reload: reboot = false
        case .reboot: reboot = true
        case .rebootParameter(let otherwise): reboot = asked.map { $0 == "true" } ?? otherwise
        case .bodyAction:
            let action = request.body.split(whereSeparator: \.isNewline).first { $0.lowercased().hasPrefix("action=") }?.dropFirst(7).lowercased()
            switch action {
            case "restart"?: reboot = false
            case "reset"?: reboot = true
            default: return refuse(400, "Bad Request", "no action=restart or action=reset in the body")
            }
        case .setting(let key):
            switch config.notifySettings[key] ?? "1" {
            case "0": reboot = asked == "true"
            case "2": reboot = nil
            default: reboot = true
            }
        }
        record(.notifyAccepted(event: value))
        guard let reboot else { return SIPLine.Answer(status: 200, reason: "OK") }
        // A reload on a model that cannot apply a config in place is a reboot.
        let action: PushCommand.Action = reboot || !model.reloadsInPlace ? .reboot : .reload
        return SIPLine.Answer(status: 200, reason: "OK") { [weak self] in await self?.carryOut(action) }
    }
}
