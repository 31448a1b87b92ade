import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import Provisioning

/// `GET /provision/<file>`: the phones' config files, logged in or out, from templates.
struct ProvisioningController: Sendable {
    let store: any Store
    let catalog: PhoneCatalog
    let configs: ConfigFamilies
    let pushes: PushService
    let addresses: PhoneAddressResolver
    let hosts: HostPolicy
    let clock: @Sendable () -> Date

    var builder: ConfigBuilder { ConfigBuilder(configs: configs) }

    func register(with router: Router<HotDeskRequestContext>) {
        router.get("/provision/{file}") { request, context in try await self.serve(request, context: context) }
    }

    func serve(_ request: Request, context: HotDeskRequestContext) async throws -> Response {
        let file = context.parameters.get("file") ?? ""
        let matches = configs.matches(fileName: file)
        guard let mac = matches.lazy.compactMap(\.mac).first ?? (matches.isEmpty ? nil : MACAddress("000000000000")) else {
            return .text(.notFound, "no such config file\n")
        }
        let userAgent = request.headers[.userAgent] ?? ""
        let now = clock()
        let phoneAddress = addresses.address(of: request, context: context)
        var state = matches.contains { $0.mac != nil } ? try await store.deviceConfigState(mac: mac) : nil
        let agentBrands = catalog.brands(inUserAgent: userAgent)
        let identification = FileIdentification.decide(matches, knownBrand: state?.device.model.brand, userAgentBrands: agentBrands)
        let refuse = { (detail: String) async throws -> Response in
            try await store.audit(
                AuditEntry(at: now, actor: "system", action: .unknownDeviceRefused, mac: mac, source: phoneAddress, outcome: .refused, detail: detail))
            return .text(.notFound, detail + "\n")
        }
        let match: ConfigFileMatch
        switch identification {
        case .common(let common)?:
            guard case .common(let spec) = common.kind else { return .text(.notFound, "no such config file\n") }
            return conditional(RenderedConfig(body: spec.body, contentType: configs[common.brand]?.format.contentType ?? "text/plain"), request)
        case nil:
            return .text(.notFound, "no such config file\n")
        case .otherFamily(let known, let fileFamilies)?:
            return try await refuse("device \(mac) is a \(known.rawValue) phone; \(file) is a file of \(list(fileFamilies)) phones")
        case .ambiguous(let fileFamilies)?:
            return try await refuse(
                "\(file) is asked for by \(list(fileFamilies)) phones and the User-Agent \"\(printable(userAgent))\" does not say which; "
                    + "add the device to the directory with its model")
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
                try await store.audit(
                    AuditEntry(
                        at: now, actor: "system", action: .unknownDeviceRefused, mac: mac, source: phoneAddress, outcome: .refused,
                        detail: "default login is off; file \(file)"))
                return .text(.notFound, "unknown device\n")
            }
            let model = learned ?? .generic(brand)
            let how = fromAgent != nil ? "User-Agent" : "file name"
            let device = Device(mac: mac, model: model, token: RandomToken.make())
            _ = try await store.enrol(
                device,
                audit: AuditEntry(
                    at: now, actor: "system", action: .enrol, mac: mac, source: phoneAddress, outcome: .success,
                    detail: "\(brand.rawValue) model \(model.name) from \(how); file \(file)"))
            state = try await store.deviceConfigState(mac: mac)
        } else if let current = state, current.device.model.isGeneric, let learned {
            try await store.updateModel(mac: mac, model: learned)
            state = try await store.deviceConfigState(mac: mac)
        }
        guard let state else { return .text(.notFound, "unknown device\n") }
        let config: RenderedConfig
        let reached = hosts.address(request, settings: state.settings)
        do {
            config = try builder.render(state, reached: reached, file: spec)
        } catch {
            context.logger.error("config template failed", metadata: ["mac": "\(mac)", "error": "\(error)"])
            return .text(.internalServerError, "config template failed; see the server log\n")
        }
        guard spec.primary else {
            // A file around the line's (Polycom's master file): it tells where the phone is, no more.
            if let phoneAddress, phoneAddress != state.device.lastAddress { try await store.recordAddress(mac: mac, address: phoneAddress) }
            return conditional(config, request)
        }
        let pointsTo = reached.map { ConfigBuilder.address(state, reached: $0).baseURL }
        let applied = try await store.recordFetch(
            mac: mac, address: phoneAddress, host: reached?.baseURL, configHash: config.hash, configAddress: pointsTo, at: now)
        for job in applied {
            context.logger.info("push applied", metadata: ["job": "\(job.id)", "mac": "\(mac)", "action": "\(job.action.rawValue)"])
        }
        if !applied.isEmpty { pushes.wake() }
        return conditional(config, request)
    }

    private func list(_ brands: [Brand]) -> String { brands.map(\.rawValue).joined(separator: "/") }

    /// A header as it may go into the audit log: printable ASCII, at most 80 characters.
    private func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(80).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f ? $0 : "?" }))
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
