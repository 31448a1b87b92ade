import Foundation
import HotDeskCore
import HotDeskStore
import Provisioning

/// Renders a phone's current config files (logged in or out) from what the store holds. The same
/// rendering serves `/provision` and tells a push job which config hash to wait for.
struct ConfigBuilder: Sendable {
    let configs: ConfigFamilies
    let renderer: ConfigRenderer
    /// Where this server's phone routes are under its addresses (an organisation's `/o/NAME`).
    var pathPrefix = ""

    struct NoFamily: Error, CustomStringConvertible {
        let brand: Brand
        var description: String { "no config family \(brand.rawValue) (is Screens/families/\(brand.rawValue).json gone?)" }
    }

    /// One of the phone's files — by default the one that carries the line: the logged-in config
    /// (the extension's line, at the address chosen at login) or the logged-out one (no line, at
    /// `reached`: the address the phone reaches HotDesk at). An admin's template (mapped or the
    /// brand's default) replaces the built-in one of the line's file.
    ///
    /// `proven`: the phone fetched with its provisioning secret. Otherwise (a phone that has not
    /// claimed its device yet) the config holds no secret but that provisioning secret: no line,
    /// no app token.
    func render(
        _ state: DeviceConfigState,
        reached: ServerAddress?,
        file: ConfigFamily.DeviceFile? = nil,
        proven: Bool = true
    ) throws -> RenderedConfig {
        guard let family = configs[state.device.model.brand] else { throw NoFamily(brand: state.device.model.brand) }
        let file = file ?? family.primaryFile
        let reached = reached ?? state.settings.internalAddress ?? ServerAddress("127.0.0.1:8080")!
        var line: ConfigContext.Line?
        if proven, let ext = state.line, state.session != nil {
            line = .init(number: ext.number, name: ext.name, sipPassword: ext.sipPassword)
        }
        let server = address(state, reached: reached)
        var context = ConfigContext(
            device: state.device,
            line: line,
            server: server,
            network: line == nil ? nil : state.session?.network,
            emergencyCallerID: state.emergencyCallerID,
            phoneLogin: proven ? state.settings.credentials(for: state.device) : nil,
            pushFrom: state.settings.pushFrom ?? (IPAddressLiteral.isValid(reached.host) ? reached.host : nil)
        )
        context.sip = state.settings.sip
        if let secret = state.device.provisioningSecret {
            context.provisioning = PhoneCredentials(username: state.device.provisioningUsername, password: secret)
            if family.provisioningAuth == .urlKey { context.provisioningPathKey = secret }
        }
        if !proven { context.appToken = nil }
        if proven, line == nil, let own = state.idleLine {
            // Nobody logged in: the phone's own (restricted) line, or its workspace's, on key 1.
            context.accounts = [
                .init(
                    index: 1,
                    number: own.number,
                    name: own.name,
                    sipPassword: own.sipPassword,
                    callerID: state.emergencyCallerID,
                    button: 1,
                    shared: false,
                    ring: .ring
                )
            ]
        }
        if line != nil {
            for (i, m) in LineLayout.place(state.memberships, model: state.device.model).placed.enumerated() {
                context.accounts.append(
                    .init(
                        index: i + 2,
                        number: m.line.number,
                        name: m.line.name,
                        sipPassword: m.line.sipPassword,
                        callerID: m.line.callerID,
                        button: m.button,
                        shared: true,
                        ring: m.ring
                    )
                )
            }
        }
        var body = file.template
        var name = file.templateName
        if file.primary {
            let resolved = TemplateResolver.resolve(
                extensionNumber: line?.number,
                device: state.device,
                mappings: state.mappings,
                templates: state.templates
            )
            if let template = resolved.template {
                body = template.body
                name = template.name
            }
        }
        return try renderer.render(body, name: name, format: family.format, context: context)
    }

    /// The address a config points the phone to (its provisioning URL and app key): the one
    /// chosen at login, else the one the phone reached HotDesk at.
    func address(_ state: DeviceConfigState, reached: ServerAddress) -> ServerAddress {
        guard let session = state.session, state.line != nil else { return reached.under(pathPrefix) }
        return (state.settings.address(for: session.network) ?? reached).under(pathPrefix)
    }

    /// What the phone's next config holds that nobody else may read: SIP passwords (its user's,
    /// shared lines', its own or its workspace's line's), its provisioning secret, its web login's password and its
    /// app token. A preview for an admin shows each as `Self.mask`.
    static func secrets(of state: DeviceConfigState) -> [String] {
        let lines = [state.line?.sipPassword, state.idleLine?.sipPassword] + state.memberships.map { $0.line.sipPassword }
        let others = [state.device.provisioningSecret, state.settings.credentials(for: state.device)?.password, state.device.token]
        // Longest first: a secret that holds another is masked whole.
        return Array(Set((lines + others).compactMap { $0 }.filter { $0.count >= 4 })).sorted { $0.count > $1.count }
    }

    static let mask = "********"

    /// The phone's next config with every secret of it masked: what an admin may see, how many
    /// secrets it masks, and the unmasked config's hash (whether the phone has it already).
    func preview(_ state: DeviceConfigState) throws -> (config: RenderedConfig, masked: Int, hash: String) {
        let next = try expected(state)[0]
        var body = next.body
        var masked = 0
        for secret in Self.secrets(of: state) where body.contains(secret) {
            body = body.replacingOccurrences(of: secret, with: Self.mask)
            masked += 1
        }
        return (RenderedConfig(body: body, contentType: next.contentType), masked, next.hash)
    }

    /// The config the phone will get on its next fetch: asking at the address its last config
    /// pointed it to, or — when its template sets no provisioning URL — the way it last asked.
    /// One or two renderings (the first is the likelier); a fetch of either confirms a push.
    func expected(_ state: DeviceConfigState) throws -> [RenderedConfig] {
        var addresses: [ServerAddress] = []
        for text in [state.lastConfigAddress, state.lastHost] {
            if let address = text.flatMap(ServerAddress.init), !addresses.contains(address) { addresses.append(address) }
        }
        var configs: [RenderedConfig] = []
        for address in addresses {
            let config = try render(state, reached: address)
            if !configs.contains(where: { $0.hash == config.hash }) { configs.append(config) }
        }
        return configs.isEmpty ? [try render(state, reached: nil)] : configs
    }
}
