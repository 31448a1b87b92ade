import Foundation
import HTTPTypes
import Hummingbird

#if canImport(Glibc)
import Glibc
#endif

/// Where a phone is: the source address of its own requests. `X-Forwarded-For` counts only
/// when the request comes from a configured trusted proxy (anyone else could forge it).
struct PhoneAddressResolver: Sendable {
    /// Proxy addresses exactly as the socket reports them (`10.0.0.2`, `::1`).
    let trustedProxies: Set<String>

    func address(of request: Request, context: HotDeskRequestContext) -> String? {
        guard let peer = context.peerAddress else { return nil }
        guard trustedProxies.contains(peer), let forwarded = request.headers[.xForwardedFor] else { return peer }
        // Right to left: the nearest hop not ours is the phone. A hop that is not an address
        // (`unknown`, `_hidden`, `[::1]:80`) ends the walk: what is left of it was written by
        // whoever sent the request, so the last proxy we trust is the answer.
        var nearest = peer
        for hop in forwarded.split(separator: ",").reversed() {
            guard let address = IPAddress.canonical(hop.trimmingCharacters(in: .whitespaces)) else { return nearest }
            guard trustedProxies.contains(address) else { return address }
            nearest = address
        }
        return nearest
    }
}

/// IP addresses as text.
enum IPAddress {
    /// `text` in its canonical form (`::1`, `10.0.0.2`) when it is exactly an IPv4 or IPv6
    /// address: no port, no brackets, no name, no zone.
    static func canonical(_ text: String) -> String? {
        guard (2...45).contains(text.utf8.count) else { return nil }
        var v4 = in_addr()
        var v6 = in6_addr()
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if text.contains(":") {
            guard inet_pton(AF_INET6, text, &v6) == 1, inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        } else {
            guard inet_pton(AF_INET, text, &v4) == 1, inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
