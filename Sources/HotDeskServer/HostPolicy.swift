import HotDeskCore
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
    }

    private let answers = Memo<Question, ServerAddress?>(limit: 1024)

    init(acceptedNames: Set<String> = []) { self.acceptedNames = Set(acceptedNames.map { $0.lowercased() }) }

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
}
