import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

extension KamailioTests {
    @Test(
        "an organisation's PBX: Kamailio asking /o/acme/pbx/v1 with Acme's key registers Acme's lobby line and logs Acme's 5501 in by star code, in Acme's directory only"
    )
    func organisationsPBX() async throws {
        let sipPort = SIPStack.port()
        // The main directory has the same numbers with other secrets: only Acme's may register.
        let main = Self.directory(sipPort).replacingOccurrences(of: "lobby-sip-secret", with: "main-lobby-secret")
        try await TestServer.with(yaml: main, organisations: ["acme": Self.directory(sipPort)]) { (server: TestServer) async throws in
            let acme = try #require(server.organisations["acme"])
            let key = APIKey.make()
            try await acme.addAPIKey(name: "acme-kamailio", keyHash: APIKey.hash(key), kind: .pbx, at: Date())
            let kamailio = try KamailioProcess(port: sipPort, hotdeskURL: "\(server.baseURL)/o/acme", key: key, directory: server.directory)
            do {
                let registrar = "127.0.0.2:\(sipPort)"
                let out = try await Self.registerLobbyLine(registrar: registrar, directory: server.directory)
                #expect(out.contains("200 OK"), "Acme's lobby line registers through Acme's path:\n\(out.suffix(600))\n\(kamailio.tail())")
                _ = try await Baresip.run(
                    user: "8001",
                    password: "lobby-sip-secret",
                    registrar: registrar,
                    commands: ["/dial sip:*22*5501*1234@\(registrar)"],
                    directory: server.directory
                )
                let mac = MACAddress("001565abcd01")!
                #expect(try await acme.session(mac: mac)?.extensionNumber == "5501", "star code in Acme:\n\(kamailio.tail())")
                #expect(try await server.store.session(mac: mac) == nil, "nothing in the main directory")
            } catch {
                await kamailio.stop()
                throw error
            }
            await kamailio.stop()
        }
    }
}
