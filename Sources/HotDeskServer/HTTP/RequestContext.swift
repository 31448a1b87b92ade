import HotDeskCore
import Hummingbird
import Logging
import NIOCore

/// The per-request context: Hummingbird's core context plus the peer's address, from which
/// HotDesk learns where each phone is.
public struct HotDeskRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Who is calling the admin API (`api:<key name>`), set by the key check.
    public var apiActor = "api"
    /// The role of the key or console account that opened the request; set by the key check.
    public var role = AdminRole.auditor
    /// Whether the key or console session that opened this request still opens the API (a
    /// long request, such as an event stream, ends when it does not); set by the key check.
    public var stillAuthorized: (@Sendable () async -> Bool)?
    /// The sites the key or console account may see and act on; set by the key check.
    public var scope = SiteScope.everySite
    /// Under `/app/{token}`: the phone the token named, set by `PhoneAppMiddleware`.
    var resolvedPhone: ResolvedPhone?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// A request the server makes for a phone that asked another way (a TFTP read from `peer`):
    /// the route's handler sees the phone's own address, as if it had asked by HTTP.
    init(phoneAt peer: SocketAddress, parameters: Parameters, logger: Logger) {
        coreContext = .init(source: InternalSource(logger: logger))
        coreContext.parameters = parameters
        remoteAddress = peer
    }

    private struct InternalSource: RequestContextSource {
        let logger: Logger
    }

    /// The peer's IP address as text (`127.0.0.5`).
    public var peerAddress: String? { remoteAddress?.ipAddress }

    /// Phone routes never take bodies.
    public var maxUploadSize: Int { 64 * 1024 }
}

extension Request {
    /// The `Host` the client used, if it is a plausible `host[:port]`.
    var hostHeader: String? {
        guard let authority = head.authority, !authority.isEmpty, authority.utf8.count <= 255 else { return nil }
        // Bytes first (every request asks; a `Host` on the wire is ASCII), characters otherwise.
        let plain = authority.utf8.allSatisfy { $0.isASCIIAlphanumeric || "-.:[]".utf8.contains($0) }
        guard plain || authority.allSatisfy({ $0.isLetter || $0.isNumber || "-.:[]".contains($0) }) else { return nil }
        return authority
    }
}
