import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

@testable import HotDeskServer

extension KamailioTests {
    @Test(
        "two sites, two PBXs: a Paris user on a Lyon phone registers with Lyon's Kamailio (not Paris's), and an emergency call from that desk reaches Lyon's gateway asserting Lyon's caller ID"
    )
    func twoSitesTwoPBXs() async throws {
        let (parisPort, lyonPort) = (SIPStack.port(), SIPStack.port())
        let yaml = """
            settings:
              internal_address: 127.0.0.1:{PORT}
              push_port: {PUSH_PORT}
              sip: {server: "127.0.0.2:\(parisPort)"}
              emergency_numbers: ["112"]
              emergency_caller_id: "+33100000000"
            sites:
              - {name: paris}
              - {name: lyon, sip: {server: "127.0.0.3:\(lyonPort)"}, emergency_numbers: ["112", "15"], emergency_caller_id: "+33478000000"}
            extensions:
              - {number: "5501", name: Ada, voicemail_pin: "1234", sip_password: "sip-secret-5501", site: paris, roaming: true}
            devices:
              - {mac: "00:15:65:5e:00:02", model: yealink-t46u, site: lyon}
            """
        let gateway = try SIPDatagrams(host: "127.0.0.4")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let key = APIKey.make()
            try await server.store.addAPIKey(name: "kamailio", keyHash: APIKey.hash(key), kind: .pbx, at: Date())
            let url = "http://127.0.0.1:\(server.port)"
            let paris = try KamailioProcess(port: parisPort, hotdeskURL: url, key: key, site: "paris", directory: server.directory)
            let lyon = try KamailioProcess(
                port: lyonPort,
                hotdeskURL: url,
                key: key,
                emergencyGateway: "sip:\(gateway.local)",
                host: "127.0.0.3",
                site: "lyon",
                directory: server.directory
            )
            do {
                let desk = try await server.phone("yealink-t46u", mac: "0015655e0002", sip: true)
                try await desk.loginApplied("Login Int", ext: "5501", password: "1234")
                let registered = await desk.waitForEvents(timeout: 20) { $0.contains(.sipRegistered(user: "5501", status: 200)) }
                #expect(registered, "5501 registers with Lyon's PBX:\n\(lyon.tail())")
                let logged = await eventually(timeout: 10) { lyon.logged("hotdesk: 5501 registered (emergency caller ID +33478000000)") > 0 }
                #expect(logged, "\(lyon.tail())")
                #expect(paris.logged("hotdesk: 5501 registered") == 0, "never with Paris's")

                // The person dials 112 on the desk.
                let registrar = "127.0.0.3:\(lyonPort)"
                let call = Task { await desk.dial("112") }
                let located = await Self.nextInvite(at: gateway, registrar: registrar)
                #expect(await call.value == 486, "the gateway's answer reaches the desk")
                let asserted = located.flatMap { SIPDatagrams.header("P-Asserted-Identity", in: $0) } ?? ""
                #expect(asserted.contains("+33478000000"), "Lyon's emergency caller ID: \(located ?? "no INVITE")\n\(lyon.tail())")
                await desk.shutdown()
            } catch {
                await paris.stop()
                await lyon.stop()
                throw error
            }
            await paris.stop()
            await lyon.stop()
        }
    }
}
