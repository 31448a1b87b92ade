import Crypto
import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

@Suite("A workspace's own number")
struct WorkspaceLineTests {
    /// Room 4.12 has its own number, 8100. Phones A and B carry it while idle (A may call the
    /// staff's numbers, B only the hot desk code); C has a line of its own, which comes first.
    static let directory =
        PBXTests.directory
            + """

              - {mac: "00:15:65:c0:00:0a", model: yealink-t46u, workspace: "Room 4.12", cos_if_not_logged: staff}
              - {mac: "00:15:65:c0:00:0b", model: yealink-t46u, workspace: "Room 4.12", cos_if_not_logged: hotdesk-phone}
              - {mac: "00:15:65:c0:00:0c", model: yealink-t46u, workspace: "Room 4.12", line: {number: "8103", sip_password: "own-line-secret"}}
            workspaces:
              - {name: "Room 4.12", licence: professional, line: {number: "8100", name: "Room 4.12", sip_password: "room-sip-secret"}}
            """

    @Test(
        "a workspace's line is on its idle phones without a line of their own: the PBX gets its credentials while one carries it, decides its calls by the calling desk's class (the strictest when it cannot tell), takes a star code from the desk at source_ip"
    )
    func idlePhonesCarryIt() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let pbx = try await PBXTests().pbx(server)
            let a = try await server.phone("yealink-t46u", mac: "001565c0000a")
            let b = try await server.phone("yealink-t46u", mac: "001565c0000b")
            let c = try await server.phone("yealink-t46u", mac: "001565c0000c")
            #expect(await a.config.lineUser == "8100")
            #expect(await b.config.lineUser == "8100")
            #expect(await c.config.lineUser == "8103", "a phone's own line comes before its workspace's")
            #expect(await a.config.sipPassword == "room-sip-secret")

            let expected = Insecure.MD5.hash(data: Data("8100:pbx.test:room-sip-secret".utf8)).map { String(format: "%02x", $0) }.joined()
            let idle = try await pbx.call("GET", "/credentials/8100")
            #expect(idle.status == 200 && idle.json["ha1"] as? String == expected && idle.json["caller_id"] as? String == "8100", "\(idle.text)")

            func decide(_ callee: String, from phone: SimulatedPhone?) async throws -> [String: Any] {
                let source = phone.map { #", "source_ip": "\#($0.options.address)""# } ?? ""
                return try await pbx.call("POST", "/authorize", body: #"{"auth_user": "8100", "callee": "\#(callee)"\#(source)}"#).json
            }
            var decision = try await decide("5502", from: a)
            #expect(decision["decision"] as? String == "allow" && decision["cos"] as? String == "staff", "A's class: \(decision)")
            decision = try await decide("5502", from: b)
            #expect(decision["decision"] as? String == "deny" && decision["cos"] as? String == "hotdesk-phone", "B's class: \(decision)")
            decision = try await decide("5502", from: nil)
            #expect(decision["decision"] as? String == "deny", "which desk is not known: the strictest class decides: \(decision)")
            #expect(try await decide("112", from: a)["decision"] as? String == "allow")

            // A star code on the workspace's line names its desk by source_ip; without it, two
            // phones carry the line and none is guessed.
            var r = try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "8100", "extension": "5501", "pin": "1234"}"#)
            #expect(r.status == 404 && r.text.contains("source_ip"), "\(r.text)")
            #expect(try await server.store.session(mac: MACAddress("001565c0000a")!) == nil)
            let body = #"{"auth_user": "8100", "extension": "5501", "pin": "1234", "source_ip": "\#(b.options.address)"}"#
            r = try await pbx.call("POST", "/hotdesk/login", body: body)
            #expect(r.json["result"] as? String == "logged_in", "\(r.text)")
            #expect(try await server.store.session(mac: MACAddress("001565c0000b")!)?.extensionNumber == "5501")
            #expect(await eventually(timeout: 20) { await b.config.lineUser == "5501" }, "B gets the user's line")
            #expect(await a.config.lineUser == "8100")
            #expect(try await pbx.call("GET", "/credentials/8100").status == 200, "A still carries it")

            // Nobody idle without a line of their own: the line is not provisioned anywhere.
            try await a.loginApplied("Login Int", ext: "5502", password: "7777")
            #expect(try await pbx.call("GET", "/credentials/8100").status == 404)
            decision = try await decide("5502", from: a)
            #expect(decision["decision"] as? String == "deny" && decision["rule"] as? String == "not provisioned", "\(decision)")
            try await a.logoutApplied()
            #expect(await a.config.lineUser == "8100", "a logout brings the workspace's line back")
            #expect(try await pbx.call("GET", "/credentials/8100").status == 200)
            for phone in [a, b, c] { await phone.shutdown() }
        }
    }

    @Test(
        "a workspace's line is exported (its password with secrets only) and imported back unchanged, kept when an edit leaves its password out, listed; a number that is already another line is refused naming both"
    )
    func directory() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            let pbx = try await PBXTests().pbx(server)
            let listed = try await admin.call("GET", "/workspaces").json["workspaces"] as? [[String: Any]]
            #expect(listed?.first?["line_number"] as? String == "8100", "\(listed ?? [])")

            let plain = try await server.store.exportDirectory(withSecrets: false).yaml
            #expect(plain.contains("\"8100\"") && !plain.contains("room-sip-secret"), "\(plain)")
            let full = try await server.store.exportDirectory(withSecrets: true).yaml
            #expect(full.contains("room-sip-secret"))
            let again = try await importDirectory(full, into: server.store, base: server.directory)
            #expect(again.created == 0 && again.updated == 0, "\(again)")

            let ha1 = try await pbx.call("GET", "/credentials/8100").json["ha1"] as? String
            let renamed = try await admin.call(
                "PUT",
                "/directory/workspaces/Room%204.12",
                body: #"{"licence": "professional", "line": {"number": "8100", "name": "Meeting room"}}"#
            )
            #expect(renamed.status == 200, "\(renamed.json)")
            #expect(try await pbx.call("GET", "/credentials/8100").json["ha1"] as? String == ha1, "the password left out is kept")

            for (number, owner) in [("8103", "the line of device 001565c0000c"), ("8001", "the line of device 001565e00001")] {
                let clash = try await admin.call(
                    "PUT",
                    "/directory/workspaces/Room%204.12",
                    body: #"{"licence": "professional", "line": {"number": "\#(number)", "sip_password": "another-secret"}}"#
                )
                let problems = (clash.json["error"] as? [String: Any])?["problems"] as? [String] ?? []
                #expect(clash.status == 422, "\(clash.json)")
                #expect(problems.contains { $0.contains(owner) && $0.contains("the line of workspace Room 4.12") }, "\(problems)")
            }
            let extensionNumber = try await admin.call(
                "PUT",
                "/directory/workspaces/Room%204.12",
                body: #"{"licence": "professional", "line": {"number": "5501", "sip_password": "another-secret"}}"#
            )
            #expect(extensionNumber.status == 422 && "\(extensionNumber.json)".contains("is an extension"), "\(extensionNumber.json)")
            #expect(try await pbx.call("GET", "/credentials/8100").json["ha1"] as? String == ha1, "nothing changed")
        }
    }
}
