import HotDeskCore
import HotDeskStore
import Provisioning

/// Renders a phone's current config (logged in or out) from what the store holds. The same
/// rendering serves `/provision` and tells a push job which config hash to wait for.
struct ConfigBuilder: Sendable {
    /// The logged-in config (the extension's line, at the address chosen at login) or the
    /// logged-out one (no line, at `reached`: the address the phone reaches HotDesk at).
    static func render(_ state: DeviceConfigState, reached: ServerAddress?) throws -> RenderedConfig {
        let vendor = Vendors.forBrand(state.device.model.brand)
        let reached = reached ?? state.settings.internalAddress ?? ServerAddress("127.0.0.1:8080")!
        var line: ConfigContext.Line?
        var server = reached
        if let session = state.session, let ext = state.line {
            line = .init(number: ext.number, name: ext.name, sipPassword: ext.sipPassword)
            server = state.settings.address(for: session.network) ?? reached
        }
        let resolved = TemplateResolver.resolve(
            extensionNumber: line?.number, device: state.device, mappings: state.mappings, templates: state.templates)
        let context = ConfigContext(
            device: state.device, line: line, server: server, network: line == nil ? nil : state.session?.network,
            emergencyCallerID: state.settings.emergencyCallerID, phoneLogin: state.settings.credentials(for: state.device),
            pushFrom: state.settings.pushFrom ?? (IPAddressLiteral.isValid(reached.host) ? reached.host : nil))
        return try ConfigRenderer.render(
            resolved.template?.body ?? vendor.builtInTemplate, name: resolved.template?.name ?? "built-in \(vendor.brand.rawValue)", vendor: vendor,
            context: context)
    }

    /// The config the phone will get on its next fetch, assuming it asks the way it last did.
    static func expected(_ state: DeviceConfigState) throws -> RenderedConfig {
        try render(state, reached: state.lastHost.flatMap(ServerAddress.init))
    }
}
