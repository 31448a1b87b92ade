import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import PhonePush

/// `POST /push-auth`: a phone that was sent a command asks whether its login is HotDesk's own
/// (Cisco's `authenticationURL`: form fields `UserID`, `Password`, `devicename` = `SEP<MAC>`).
/// The answer is exactly `AUTHORIZED` for the login HotDesk pushes to that phone with, and
/// `UN-AUTHORIZED` for anything else (phone-dialects.md §2).
struct PushAuthController: Sendable {
    let store: any Store
    let recipes: PushRecipeBook

    func register(with router: Router<HotDeskRequestContext>) {
        router.post("/push-auth") { request, context in try await self.check(request, context: context) }
    }

    func check(_ request: Request, context: HotDeskRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 4096)
        let form = Self.form(String(buffer: body))
        let granted: Bool
        if let user = form["UserID"], let password = form["Password"], let name = form["devicename"], name.count >= 12,
            let mac = MACAddress(name.suffix(12)), let device = try await store.device(mac: mac)
        {
            let settings = try await store.settings()
            let own = settings.credentials(for: device)
                ?? recipes.vendors[device.model.brand].map { PhoneCredentials(username: $0.factoryCredentials.username, password: $0.factoryCredentials.password) }
            granted = own.map { ConstantTime.equal($0.username, user) && ConstantTime.equal($0.password, password) } ?? false
        } else {
            granted = false
        }
        if !granted { context.logger.notice("push login refused", metadata: ["peer": "\(context.peerAddress ?? "?")"]) }
        // Exactly the word: the phone refuses the command on any other byte.
        return Response(
            status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: granted ? "AUTHORIZED" : "UN-AUTHORIZED")))
    }

    /// `a=1&b=x%20y` → [a: 1, b: x y]
    static func form(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}
