import Foundation
import HotDeskCore
import HotDeskServer
import HotDeskStore
import PhoneSimulator
import Testing

/// Issue 26, item 4 (part): the config a phone will get, seen before it fetches it.
@Suite("Config preview: what a phone gets next, its secrets masked")
struct ConfigPreviewTests {
    @Test(
        "an admin sees exactly the file the phone fetched with each of its secrets masked; a changed config says changed; auditor and helpdesk keys are refused"
    )
    func preview() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aaee01")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            let api = try await AdminAPITests().client(server)
            let r = try await api.call("GET", "/devices/00:15:65:aa:ee:01/config")
            #expect(r.status == 200 && r.json["config"] as? String == "current", "\(r.json)")
            let body = try #require(r.json["body"] as? String)

            // The phone's own copy, with what only it may know replaced by the mask.
            let config = await phone.config
            let token = try #require(config.browserKeyURL?.split(separator: "/").last.map(String.init))
            let secrets = [try #require(config.sipPassword), try #require(config.provisioningPassword), token]
            #expect(secrets[0] == "sip-secret-5501")
            var expected = try #require(await phone.configFiles["001565aaee01.cfg"])
            for secret in secrets.sorted(by: { $0.count > $1.count }) { expected = expected.replacingOccurrences(of: secret, with: "********") }
            #expect(body == expected, "the preview is the phone's file, masked")
            #expect(secrets.allSatisfy { !body.contains($0) } && body.contains("5501"))
            #expect(r.json["secrets_masked"] as? Int == 3, "\(r.json)")

            // Logged out by an admin, not fetched yet: the next config is another one.
            _ = try await server.changes.logout(
                mac: MACAddress("001565aaee01")!,
                actor: "test",
                source: nil,
                why: .forced,
                reason: .admin,
                delay: 3600
            )
            let next = try await api.call("GET", "/devices/00:15:65:aa:ee:01/config")
            #expect(next.json["config"] as? String == "changed" && !(next.json["body"] as? String ?? "").contains("sip-secret-5501"))

            for role in [AdminRole.auditor, .helpdesk] {
                let key = APIKey.make()
                try await server.store.addAPIKey(name: role.rawValue, keyHash: APIKey.hash(key), kind: .admin, role: role, at: Date())
                let refused = try await api.call("GET", "/devices/00:15:65:aa:ee:01/config", key: key)
                #expect(refused.status == 403, "\(role): \(refused.status)")
            }
            #expect(try await api.call("GET", "/devices/00:15:65:aa:ee:99/config").status == 404)
        }
    }
}
