import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import Provisioning

/// `GET /provision/<file>`: the phones' config files, logged in or out, from templates.
struct ProvisioningController: Sendable {
    let store: any Store
    let clock: @Sendable () -> Date

    func register(with router: Router<HotDeskRequestContext>) {
        router.get("/provision/{file}") { request, context in try await self.serve(request, context: context) }
    }

    func serve(_ request: Request, context: HotDeskRequestContext) async throws -> Response {
        let file = context.parameters.get("file") ?? ""
        guard let configRequest = Vendors.parse(fileName: file) else {
            return .text(.notFound, "no such config file\n")
        }
        let vendor = Vendors.forBrand(configRequest.brand)
        guard case .device(let mac, let brand) = configRequest else {
            return conditional(RenderedConfig(body: vendor.commonFile ?? "", contentType: vendor.format.contentType), request)
        }
        let userAgent = request.headers[.userAgent] ?? ""
        let now = clock()
        var state = try await store.deviceConfigState(mac: mac)
        if state == nil {
            let settings = try await store.settings()
            guard settings.defaultLogin else {
                try await store.audit(
                    AuditEntry(
                        at: now, actor: "system", action: .unknownDeviceRefused, mac: mac, source: context.peerAddress, outcome: .refused,
                        detail: "default login is off; file \(file)"))
                return .text(.notFound, "unknown device\n")
            }
            let model = PhoneModel.fromUserAgent(userAgent, brand: brand) ?? .generic(brand)
            let device = Device(mac: mac, model: model, token: RandomToken.make())
            _ = try await store.enrol(
                device,
                audit: AuditEntry(
                    at: now, actor: "system", action: .enrol, mac: mac, source: context.peerAddress, outcome: .success,
                    detail: "model \(model.name) from \(userAgent.isEmpty ? "file name" : "User-Agent")"))
            state = try await store.deviceConfigState(mac: mac)
        } else if let current = state, current.device.model.brand != brand {
            return .text(.notFound, "device \(mac) is a \(current.device.model.brand.rawValue) phone\n")
        } else if let current = state, PhoneModel.named(current.device.model.name) == nil,
            let learned = PhoneModel.fromUserAgent(userAgent, brand: brand)
        {
            try await store.updateModel(mac: mac, model: learned)
            state = try await store.deviceConfigState(mac: mac)
        }
        guard let state else { return .text(.notFound, "unknown device\n") }
        let config: RenderedConfig
        do {
            config = try render(state, vendor: vendor, request: request)
        } catch {
            context.logger.error("config template failed", metadata: ["mac": "\(mac)", "error": "\(error)"])
            return .text(.internalServerError, "config template failed; see the server log\n")
        }
        try await store.recordFetch(mac: mac, address: context.peerAddress, configHash: config.hash, at: now)
        return conditional(config, request)
    }

    /// The logged-in config (the extension's line, at the address chosen at login) or the
    /// logged-out one (no line, at the address the phone reached HotDesk at).
    func render(_ state: DeviceConfigState, vendor: any VendorProvisioning, request: Request) throws -> RenderedConfig {
        let reached = request.hostHeader.flatMap(ServerAddress.init) ?? state.settings.internalAddress ?? ServerAddress("127.0.0.1:8080")!
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
            emergencyCallerID: state.settings.emergencyCallerID)
        return try ConfigRenderer.render(
            resolved.template?.body ?? vendor.builtInTemplate, name: resolved.template?.name ?? "built-in \(vendor.brand.rawValue)", vendor: vendor,
            context: context)
    }

    /// 304 when the phone already has this config (its `If-None-Match` names our hash).
    func conditional(_ config: RenderedConfig, _ request: Request) -> Response {
        let etag = "\"\(config.hash)\""
        var headers = HTTPFields()
        headers[.eTag] = etag
        headers[.cacheControl] = "no-cache"
        if let match = request.headers[.ifNoneMatch],
            match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag || $0.trimmingCharacters(in: .whitespaces) == "*" })
        {
            return Response(status: .notModified, headers: headers)
        }
        return .text(.ok, config.body, contentType: config.contentType, headers: headers)
    }
}
