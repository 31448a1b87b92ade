import Foundation
import HTTPTypes
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird

// Keys and console accounts limited to some sites (`SiteScope`): the middleware lets them open
// only the routes that know their site; these keep each of those routes to the caller's sites.
extension AdminAPIController {
    /// The sites a list shows: `?site=` (a site of the directory, else 404 `unknown_site`; one of
    /// the caller's, else 403 `out_of_scope`), else the caller's sites (nil: every phone and user,
    /// with a site or without).
    func sitesShown(_ request: Request, _ context: HotDeskRequestContext) async throws -> [String]? {
        guard let name = request.uri.queryParameters.get("site") else { return context.scope.sites }
        guard try await store.settings().sites[name] != nil else {
            throw APIError(.notFound, "unknown_site", "no site \(name.prefix(30)) in the directory")
        }
        try await requireScope(name, of: "site \(name)", request, context)
        return [name]
    }

    /// Refuses (403 `out_of_scope`, audited) a request about something of `site` (`what` names it)
    /// when the caller is limited to other sites.
    func requireScope(_ site: String?, of what: String, _ request: Request, _ context: HotDeskRequestContext) async throws {
        guard !context.scope.contains(site) else { return }
        let place = "\(what) is " + (site.map { "in site \($0)" } ?? "in no site")
        try await store.auditRefusal(
            request,
            context,
            addresses: addresses,
            at: clock(),
            "\(request.method) \(TextSafety.printable(String(request.uri.path.prefix(80)))): \(place), outside \(context.scope.description)"
        )
        throw APIError(.forbidden, "out_of_scope", "\(place); this key or account is limited to \(context.scope.description)")
    }

    /// `requireScope` for a phone (its site, or its workspace's); an unknown phone passes, for the
    /// route to answer 404.
    func requireScope(mac: MACAddress, _ request: Request, _ context: HotDeskRequestContext) async throws {
        guard context.scope.isLimited, let device = try await store.device(mac: mac) else { return }
        try await requireScope(device.site, of: "phone \(mac.colonSeparated)", request, context)
    }

    /// `requireScope` for a user (its home site); an unknown one passes, for the route to answer 404.
    func requireScope(extension number: String, _ request: Request, _ context: HotDeskRequestContext) async throws {
        guard context.scope.isLimited, let found = try await store.findExtension(number) else { return }
        try await requireScope(found.site, of: "extension \(number)", request, context)
    }

    /// Whether the caller sees a lock: an address's only with every site.
    func sees(_ subject: LockSubject, _ context: HotDeskRequestContext) async throws -> Bool {
        guard context.scope.isLimited else { return true }
        switch subject {
        case .extension(let number): return context.scope.contains(try await store.findExtension(number)?.site)
        case .device(let mac): return context.scope.contains(try await store.device(mac: mac)?.site)
        case .source: return false
        }
    }
}
