import Foundation
import HTTPTypes
import Hummingbird

/// Where a phone is: the source address of its own requests. `X-Forwarded-For` counts only
/// when the request comes from a configured trusted proxy (anyone else could forge it).
struct PhoneAddressResolver: Sendable {
    /// Proxy addresses exactly as the socket reports them (`10.0.0.2`, `::1`).
    let trustedProxies: Set<String>

    func address(of request: Request, context: HotDeskRequestContext) -> String? {
        guard let peer = context.peerAddress else { return nil }
        guard trustedProxies.contains(peer), let forwarded = request.headers[.xForwardedFor] else { return peer }
        // Right to left: the nearest hop not ours is the phone.
        let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter(Self.isPlausibleAddress)
        return hops.last(where: { !trustedProxies.contains($0) }) ?? peer
    }

    static func isPlausibleAddress(_ text: String) -> Bool {
        (2...45).contains(text.utf8.count) && text.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
