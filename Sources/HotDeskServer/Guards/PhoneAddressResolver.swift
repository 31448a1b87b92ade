import Foundation
import HTTPTypes
import HotDeskCore
import Hummingbird

/// Where a phone is: the source address of its own requests. `X-Forwarded-For` counts only
/// when the request comes from a configured trusted proxy (anyone else could forge it).
struct PhoneAddressResolver: Sendable {
    /// Proxy addresses exactly as the socket reports them (`10.0.0.2`, `::1`).
    let trustedProxies: Set<String>

    func address(of request: Request, context: some RemoteAddressRequestContext) -> String? {
        guard let peer = context.remoteAddress?.ipAddress else { return nil }
        guard trustedProxies.contains(peer), let forwarded = request.headers[.xForwardedFor] else { return peer }
        // Right to left: the nearest hop not ours is the phone. A hop that is not an address
        // (`unknown`, `_hidden`, `[::1]:80`) ends the walk: what is left of it was written by
        // whoever sent the request, so the last proxy we trust is the answer.
        var nearest = peer
        for hop in forwarded.split(separator: ",").reversed() {
            guard let address = IPAddressLiteral.canonical(hop.trimmingCharacters(in: .whitespaces)) else { return nearest }
            guard trustedProxies.contains(address) else { return address }
            nearest = address
        }
        return nearest
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
