import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import Provisioning

/// `GET /provision/<file>`: the phones' config files, logged in or out, from templates.
struct ProvisioningController: Sendable {
    let store: any Store
    let pushes: PushService
    let addresses: PhoneAddressResolver
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
        let phoneAddress = addresses.address(of: request, context: context)
        var state = try await store.deviceConfigState(mac: mac)
        if state == nil {
            let settings = try await store.settings()
            guard settings.defaultLogin else {
                try await store.audit(
                    AuditEntry(
                        at: now, actor: "system", action: .unknownDeviceRefused, mac: mac, source: phoneAddress, outcome: .refused,
                        detail: "default login is off; file \(file)"))
                return .text(.notFound, "unknown device\n")
            }
            let model = PhoneModel.fromUserAgent(userAgent, brand: brand) ?? .generic(brand)
            let device = Device(mac: mac, model: model, token: RandomToken.make())
            _ = try await store.enrol(
                device,
                audit: AuditEntry(
                    at: now, actor: "system", action: .enrol, mac: mac, source: phoneAddress, outcome: .success,
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
        let reached = request.hostHeader.flatMap(ServerAddress.init)
        do {
            config = try ConfigBuilder.render(state, reached: reached)
        } catch {
            context.logger.error("config template failed", metadata: ["mac": "\(mac)", "error": "\(error)"])
            return .text(.internalServerError, "config template failed; see the server log\n")
        }
        let pointsTo = reached.map { ConfigBuilder.address(state, reached: $0).baseURL }
        let applied = try await store.recordFetch(
            mac: mac, address: phoneAddress, host: request.hostHeader, configHash: config.hash, configAddress: pointsTo, at: now)
        for job in applied {
            context.logger.info("push applied", metadata: ["job": "\(job.id)", "mac": "\(mac)", "action": "\(job.action.rawValue)"])
        }
        if !applied.isEmpty { pushes.wake() }
        return conditional(config, request)
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
