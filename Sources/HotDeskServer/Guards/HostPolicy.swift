import HotDeskCore
import HotDeskStore
import Hummingbird

/// Which `Host` a phone request is believed to have reached HotDesk at. App URLs, the logged-out
/// config's provisioning and app addresses and the push source written into configs come from
/// here, so a client sending `Host: evil.example` cannot make HotDesk point phones (or their
/// remote-control allow list) anywhere: only the directory's `internal_address` and
/// `external_address` and the names given with `hotdesk serve --accept-host` are believed; any
/// other `Host` gets the internal address.
struct HostPolicy: Sendable {
    /// Extra host names (lower case, without port) phones may use, e.g. a DNS alias.
    let acceptedNames: Set<String>

    /// What a `Host` was believed to be under the addresses configured then (phones use a
    /// handful of `Host`s and settings rarely change: this runs on every phone request).
    private struct Question: Hashable, Sendable {
        var host: String?
        var internalAddress: ServerAddress?
        var externalAddress: ServerAddress?
        /// The sites' own addresses (phones of a site reach HotDesk at its site's).
        var siteHosts: Set<String> = []
    }

    private let answers: Memo<Question, ServerAddress?>
    private let accepted: Memo<Question, Bool>

    init(acceptedNames: Set<String> = [], caches: CacheLimits = CacheLimits()) {
        self.acceptedNames = Set(acceptedNames.map { $0.lowercased() })
        answers = Memo(limit: caches.requests)
        accepted = Memo(limit: caches.requests)
    }

    func address(_ request: Request, settings: Settings) -> ServerAddress? {
        let authority = request.head.authority
        // A `Host` no phone would send is decided, not remembered.
        guard (authority?.utf8.count ?? 0) <= 255 else { return decide(nil, settings: settings) }
        let question = Question(host: authority, internalAddress: settings.internalAddress, externalAddress: settings.externalAddress)
        return answers.value(question) { decide(request.hostHeader.flatMap(ServerAddress.init), settings: settings) }
    }

    private func decide(_ asked: ServerAddress?, settings: Settings) -> ServerAddress? {
        let configured = [settings.internalAddress, settings.externalAddress].compactMap { $0 }
        guard let asked else { return settings.internalAddress ?? settings.externalAddress }
        // Nothing configured to compare with: the Host is all there is (docs/security.md says to set internal_address).
        if configured.isEmpty, acceptedNames.isEmpty { return asked }
        if let known = configured.first(where: { $0.host.lowercased() == asked.host.lowercased() }) { return known }
        if acceptedNames.contains(asked.host.lowercased()) { return asked }
        return settings.internalAddress ?? settings.externalAddress
    }

    /// The answer to a request for another server's name.
    static var misdirected: Response {
        .text(.misdirectedRequest, "this server does not answer for that host name: use its address (or hotdesk serve --accept-host NAME)\n")
    }

    /// Whether HotDesk answers a request for this `Host` on the routes a browser could be turned
    /// against (`/admin`, `/provision`): a DNS-rebinding page reaches the server under its own
    /// name, so a name is answered only when it is the directory's `internal_address` or
    /// `external_address`, a `--accept-host` name or `localhost`. An IP address (a phone sent by
    /// DHCP option 66 to the server's address) and a request without `Host` are answered; with
    /// no address configured, every `Host` is (docs/security.md says to set `internal_address`).
    func accepts(_ request: Request, settings: Settings) -> Bool {
        guard let authority = request.head.authority, !authority.isEmpty else { return true }
        guard authority.utf8.count <= 255 else { return false }
        let siteHosts = settings.siteHosts
        let question = Question(
            host: authority,
            internalAddress: settings.internalAddress,
            externalAddress: settings.externalAddress,
            siteHosts: siteHosts
        )
        return accepted.value(question) {
            guard let asked = request.hostHeader.flatMap(ServerAddress.init) else { return false }
            let host = asked.host.lowercased()
            let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            let configured = [settings.internalAddress, settings.externalAddress].compactMap { $0?.host.lowercased() }
            if configured.isEmpty, siteHosts.isEmpty, acceptedNames.isEmpty { return true }
            return IPAddressLiteral.canonical(bare) != nil || host == "localhost" || configured.contains(host) || siteHosts.contains(host)
                || acceptedNames.contains(host)
        }
    }
}

/// Refuses requests whose `Host` names another server (`HostPolicy.accepts`): 421 Misdirected
/// Request, before anything else runs. On the console's routes; `/provision` checks the same in
/// its controller (one settings read it makes anyway).
struct HostCheckMiddleware: RouterMiddleware {
    let store: any DirectoryStore
    let hosts: HostPolicy

    func handle(
        _ request: Request,
        context: HotDeskRequestContext,
        next: (Request, HotDeskRequestContext) async throws -> Response
    ) async throws -> Response {
        guard hosts.accepts(request, settings: try await store.settings()) else { return HostPolicy.misdirected }
        return try await next(request, context)
    }
}
