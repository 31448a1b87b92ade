import Crypto
import Curl
import Foundation
import HotDeskCore
import HotDeskServer
import HotDeskStore
import PhoneSimulator
import Testing

@Suite("The PBX API: call authorisation and credentials")
struct PBXTests {
    static let directory =
        cosDirectory.replacingOccurrences(of: "    sip_password: \"sip-secret-5501\"", with: "    sip_password: \"sip-secret-5501\"\n    cos: staff")
        .replacingOccurrences(
            of: "  push_port: {PUSH_PORT}\n",
            with: "  push_port: {PUSH_PORT}\n  sip: {server: \"127.0.0.2:5060\", realm: pbx.test}\n"
        )
            + """

            devices:
              - mac: 00:15:65:e0:00:01
                model: yealink-t46u
                cos_if_not_logged: hotdesk-phone
                line: {number: "8001", name: Lobby, sip_password: "lobby-sip-secret"}
            """

    struct PBX {
        let server: TestServer
        let key: String

        /// Through libcurl, as a PBX's HTTP client (URLSession on Linux never returns from a 401
        /// that offers Basic when it has no credential to answer with).
        func call(
            _ method: String,
            _ path: String,
            body: String? = nil,
            headers: [String: String]? = nil
        ) async throws -> (status: Int, json: [String: Any], text: String) {
            var h = headers ?? ["Authorization": "Bearer \(key)"]
            h["Content-Type"] = "application/json"
            let r = try await CurlEngine.shared.perform(
                CurlRequest(
                    method: method,
                    url: server.baseURL + "/pbx/v1" + path,
                    headers: h.map { (name: $0.key, value: $0.value) },
                    body: body.map { Array($0.utf8) }
                )
            )
            return (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:], r.text)
        }

        func authorize(_ user: String, _ callee: String) async throws -> [String: Any] {
            try await call("POST", "/authorize", body: #"{"auth_user": "\#(user)", "callee": "\#(callee)"}"#).json
        }
    }

    func pbx(_ server: TestServer) async throws -> PBX {
        let key = APIKey.make()
        try await server.store.addAPIKey(name: "kamailio", keyHash: APIKey.hash(key), kind: .pbx, at: Date())
        return PBX(server: server, key: key)
    }

    @Test("a logged-in user's class of service decides; logged out, the device's 'if not logged'; emergency numbers always; unknown users 404")
    func authorize() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let pbx = try await pbx(server)
            // The idle phone's own line: its "CoS if not logged" lets through the hot desk code only.
            var a = try await pbx.authorize("8001", "5502")
            #expect(a["decision"] as? String == "deny" && a["sip_code"] as? Int == 403 && a["cos"] as? String == "hotdesk-phone", "\(a)")
            #expect(try await pbx.authorize("8001", "*22*5501*1234")["decision"] as? String == "allow")
            #expect(try await pbx.authorize("8001", "112")["rule"] as? String == "emergency number")
            a = try await pbx.authorize("5501", "5502")
            #expect(a["decision"] as? String == "deny" && (a["reason"] as? String)?.contains("not logged in") == true, "not provisioned: \(a)")

            let phone = try await server.phone("yealink-t46u", mac: "001565e00001")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            a = try await pbx.authorize("5501", "5502")
            #expect(
                a["decision"] as? String == "allow" && a["cos"] as? String == "staff" && (a["rule"] as? String)?.hasPrefix("rule 1") == true,
                "\(a)"
            )
            a = try await pbx.authorize("5501", "0044207946")
            #expect(a["decision"] as? String == "deny" && (a["rule"] as? String)?.contains("international") == true, "\(a)")
            #expect(
                try await pbx.authorize("8001", "5502")["decision"] as? String == "deny",
                "the device's line is not in use while someone is logged in"
            )
            #expect(
                try await pbx.call("POST", "/authorize", body: #"{"auth_user": "9999", "callee": "5502"}"#).status == 404,
                "unknown: 404, never allow"
            )
            #expect(try await pbx.call("POST", "/authorize", body: "{not json").status == 400)

            // The key=value form, for PBXs that read such bodies.
            let form = try await pbx.call("GET", "/authorize?auth_user=5501&callee=5502")
            #expect(form.text.hasPrefix("decision=allow&sip_code=200"), "\(form.text)")
        }
    }

    @Test(
        "NOTIFYs for the PBX: without a PBX polling, a Grandstream login says restart and its job fails with why; once a PBX polls, the push waits for it, is handed out once with the phone's users and address, and a refusal from the phone fails the attempt with the reason"
    )
    func notifyQueue() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let pbx = try await pbx(server)
            let phone = try await server.phone("grandstream-grp2614", mac: "000b82e00009", pushes: false)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await phone.displayText.contains("restart the phone"), "no PBX carries NOTIFYs yet")
            var job = try await server.waitForJob("000b82e00009") { !$0.state.isPending }
            #expect(job?.state == .failed && job?.lastError?.contains("no PBX asks HotDesk for NOTIFYs") == true, "\(String(describing: job))")

            // The person restarts the phone as told: it has the line.
            await phone.restart()
            #expect(await phone.config.lineUser == "5501")
            // A PBX polls: the next push waits for it.
            #expect(try await pbx.call("GET", "/notify").status == 204, "nothing to send")
            #expect(try await pbx.call("GET", "/notify?wait=99").status == 400)
            #expect(try await pbx.call("GET", "/notify", headers: ["Authorization": "Bearer not-a-key"]).status == 401)
            try await phone.key("hotdesk")
            try await phone.select("Logout")
            try await phone.select("Yes, log out")
            let said = await phone.displayText
            #expect(said.contains("restarting") || said.contains("reloading"), "\(said)")
            let order = try await pbx.call("GET", "/notify?wait=5")
            #expect(order.status == 200, "\(order.text)")
            let id = try #require(order.json["id"] as? String)
            #expect(order.json["event"] as? String == "check-sync")
            #expect(order.json["users"] as? String == "5501", "the line the phone is registered with: \(order.text)")
            #expect(order.json["address"] as? String == phone.options.address)
            #expect(try await pbx.call("GET", "/notify").status == 204, "handed out once")
            job = try await server.job("000b82e00009")
            #expect(job?.state == .sent && String(job?.id ?? 0) == id)

            // The phone refused the event: a failed attempt, with the reason; the answer counts once.
            #expect(try await pbx.call("POST", "/notify/\(id)", body: #"{"sip_code": 489}"#).status == 204)
            job = try await server.job("000b82e00009")
            #expect(job?.lastError == "sip_489: the phone does not take the event check-sync", "\(String(describing: job))")
            #expect(job?.state != .sent)
            #expect(try await pbx.call("POST", "/notify/\(id)", body: #"{"sip_code": 200}"#).status == 404)
            #expect(try await pbx.call("POST", "/notify/\(id)", body: #"{"sip_code": 9}"#).status == 400)
            await phone.shutdown()
        }
    }

    @Test("credentials: only for lines a phone carries now; a logged-out user's stop at once")
    func credentials() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let pbx = try await pbx(server)
            let idle = try await pbx.call("GET", "/credentials/8001")
            let expected = Insecure.MD5.hash(data: Data("8001:pbx.test:lobby-sip-secret".utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(idle.status == 200 && idle.json["ha1"] as? String == expected && !idle.text.contains("lobby-sip-secret"))
            #expect(try await pbx.call("GET", "/credentials/5501").status == 404, "not logged in")
            // A call's one question: the decision and the same HA1, for a line provisioned now only.
            #expect(try await callCredentials(pbx, "8001") == expected)
            #expect(try await callCredentials(pbx, "5501") == nil, "not logged in")
            let phone = try await server.phone("yealink-t46u", mac: "001565e00001")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            let loggedIn = try await pbx.call("GET", "/credentials/5501")
            #expect(loggedIn.status == 200)
            #expect(try await callCredentials(pbx, "5501") == loggedIn.json["ha1"] as? String)
            #expect(try await pbx.call("GET", "/credentials/8001").status == 404, "the device's line is off while someone is logged in")
            #expect(try await callCredentials(pbx, "8001") == nil, "the device's line is off while someone is logged in")
            try await phone.logout()
            #expect(try await pbx.call("GET", "/credentials/5501").status == 404, "logged out: refused at once")
            #expect(try await callCredentials(pbx, "5501") == nil, "logged out: refused at once")
        }
    }

    /// The `ha1` that `POST /authorize` with `credentials: true` gives for `user` (`nil`: none);
    /// without `credentials` it never gives one.
    private func callCredentials(_ pbx: PBX, _ user: String) async throws -> String? {
        let plain = try await pbx.call("POST", "/authorize", body: #"{"auth_user": "\#(user)", "callee": "5502"}"#)
        #expect(plain.status == 200 && plain.json["ha1"] == nil && !plain.text.contains("secret"))
        let answer = try await pbx.call("POST", "/authorize", body: #"{"auth_user": "\#(user)", "callee": "5502", "credentials": true}"#)
        #expect(answer.status == 200 && answer.json["decision"] != nil && !answer.text.contains("secret"), "\(answer.text)")
        #expect((answer.json["ha1"] == nil) == (answer.json["realm"] == nil))
        return answer.json["ha1"] as? String
    }

    /// Caller IDs for the PBX to assert: an extension's own, and a desk's emergency one (device,
    /// workspace, settings) that follows the phone, not whoever was last logged in on it.
    static let callerIDDirectory =
        withSettings(
            directory.replacingOccurrences(of: "    cos: staff", with: "    cos: staff\n    caller_id: \"+15551230555\""),
            "  emergency_caller_id: \"+15550000000\"\n"
        ) + """

              - {mac: "00:15:65:e0:00:11", model: yealink-t46u, emergency_caller_id: "+15550000011", line: {number: "8011", sip_password: "desk-sip-secret-11"}}
              - {mac: "00:15:65:e0:00:12", model: yealink-t46u, workspace: Lyon, line: {number: "8012", sip_password: "desk-sip-secret-12"}}
            workspaces:
              - {name: Lyon, licence: professional, emergency_caller_id: "+33400000012"}
            """

    @Test(
        "caller IDs: a user's calls assert the extension's caller ID from any desk (else its number); an emergency call asserts the desk's (device, workspace, settings), never the user's or the last user's; credentials carry both"
    )
    func callerIDs() async throws {
        try await TestServer.with(yaml: Self.callerIDDirectory) { (server: TestServer) async throws in
            let pbx = try await pbx(server)
            func callerID(_ user: String, _ callee: String) async throws -> String? {
                try await pbx.authorize(user, callee)["caller_id"] as? String
            }
            // Logged-out phones: their own line sends the desk's emergency caller ID, on every call.
            #expect(try await callerID("8011", "112") == "+15550000011", "the device's own")
            #expect(try await callerID("8011", "5502") == "+15550000011")
            #expect(try await callerID("8012", "112") == "+33400000012", "its workspace's")
            #expect(try await callerID("8001", "112") == "+15550000000", "the settings'")
            // 5501 at the desk with its own emergency caller ID.
            let desk = try await server.phone("yealink-t46u", mac: "001565e00011")
            try await desk.loginApplied("Login Int", ext: "5501", password: "1234")
            #expect(try await callerID("5501", "5502") == "+15551230555", "the extension's caller ID")
            #expect(try await callerID("5501", "112") == "+15550000011", "an emergency call is located at the desk")
            let credentials = try await pbx.call("GET", "/credentials/5501?source_ip=127.0.0.1")
            #expect(credentials.json["caller_id"] as? String == "+15551230555", "\(credentials.text)")
            #expect(credentials.json["emergency_caller_id"] as? String == "+15550000011", "\(credentials.text)")
            // 5502 names no caller ID: its number. At a desk of the workspace: the workspace's.
            let lyon = try await server.phone("yealink-t46u", mac: "001565e00012")
            try await lyon.loginApplied("Login Int", ext: "5502", password: "7777")
            #expect(try await callerID("5502", "5501") == "5502")
            #expect(try await callerID("5502", "112") == "+33400000012")
            // 5501 moves to the lobby phone: its emergency calls are located there now, and the
            // desk it left sends its own again, not 5501's.
            try await desk.logout()
            let lobby = try await server.phone("yealink-t46u", mac: "001565e00001")
            try await lobby.loginApplied("Login Int", ext: "5501", password: "1234")
            #expect(try await callerID("5501", "112") == "+15550000000")
            #expect(try await callerID("8011", "112") == "+15550000011")
            #expect(try await pbx.authorize("8011", "112")["decision"] as? String == "allow")
            for phone in [desk, lyon, lobby] { await phone.shutdown() }
        }
    }

    @Test("a caller ID that is not a phone number is refused with where it is, and nothing is imported")
    func badCallerIDs() async throws {
        let dir = try TempDir()
        let store = try dir.store("a.sqlite")
        let cases = [
            ("extensions:\n  - {number: \"5501\", name: A, sip_password: \"sip-secret-5501\", caller_id: \"555-0100\"}\n", "extensions[0].caller_id"),
            // Digits of another script are numbers to Swift, not to a PBX.
            ("workspaces:\n  - {name: W, licence: professional, emergency_caller_id: \"+١٢٣٤٥\"}\n", "workspaces[0].emergency_caller_id"),
            ("settings:\n  emergency_caller_id: \"12+34\"\n", "settings.emergency_caller_id"),
            (
                "devices:\n  - {mac: \"00:15:65:e0:00:21\", model: yealink-t46u, emergency_caller_id: \"+15550100>;x=<sip:1\"}\n",
                "devices[0].emergency_caller_id"
            ),
        ]
        for (yaml, path) in cases {
            do {
                _ = try await importDirectory(yaml, into: store, base: dir.url)
                Issue.record("accepted: \(yaml)")
            } catch let error as DirectoryError {
                #expect(error.description.contains(path) && error.description.contains("is not a phone number"), "\(error)")
            }
        }
        #expect(try await store.extensionSummaries().isEmpty)
        #expect(try await store.workspaces().isEmpty)
    }

    @Test(
        "calls the PBX reports: a policy logout of a phone on a call happens when the call ends (or after the longest wait), an admin's waits the same way unless forced; sessions show who is on a call; all audited"
    )
    func callsHoldLogouts() async throws {
        let yaml =
            withSettings(Self.directory, "  auto_logout: {after_hours: 1, longest_call_wait_minutes: 90}\n") + Self.callDesks
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let pbx = try await pbx(server)
            let admin = try await AdminAPITests().client(server)
            let (macA, macB) = ("00:15:65:e0:00:31", "00:15:65:e0:00:32")
            let (deskA, deskB) = try await Self.twoDesks(server)
            func start(_ id: String, _ user: String) async throws -> (status: Int, json: [String: Any], text: String) {
                try await pbx.call("POST", "/calls/start", body: #"{"call_id": "\#(id)", "auth_user": "\#(user)", "source_ip": "127.0.0.1"}"#)
            }
            func end(_ id: String) async throws -> Int {
                let answer = try await pbx.call("POST", "/calls/end", body: "{\"call_id\": \"\(id)\"}")
                return answer.status
            }
            func sessions() async throws -> [String: [String: Any]] {
                let list = try await admin.call("GET", "/sessions").json["sessions"] as? [[String: Any]] ?? []
                return Dictionary(uniqueKeysWithValues: list.map { ($0["mac"] as? String ?? "", $0) })
            }
            // 5501 calls 5502: both phones are on the call.
            var started = try await start("c1", "5501")
            #expect(started.status == 200 && started.json["mac"] as? String == macA, "\(started.text)")
            started = try await start("c1", "5502")
            #expect(started.status == 200 && started.json["mac"] as? String == macB, "\(started.text)")
            #expect(try await start("", "5501").status == 400, "an empty call id")
            #expect((try await start("c9", "9999").json["error"] as? [String: Any])?["code"] as? String == "unknown_sip_user")
            var now = try await sessions()
            #expect(now[macA]?["on_call_since"] != nil && now[macB]?["on_call_since"] != nil, "\(now)")
            // An admin logs B out: it waits for the call.
            let asked = try await admin.call("DELETE", "/sessions/\(macB)")
            #expect(asked.status == 202 && asked.json["waiting_for_call"] as? Bool == true, "\(asked.json)")
            // A's session is due by the policy (1 h): on the call, it stays; so does B.
            server.clock.advance(by: 3600 + 60)
            #expect(await server.service.autoLogoutSweep().isEmpty, "nobody is logged out in the middle of the call")
            now = try await sessions()
            #expect(now.count == 2 && now[macB]?["logout_waiting"] as? Bool == true && now[macA]?["logout_waiting"] as? Bool == false, "\(now)")
            // The call ends: both logouts happen at once.
            #expect(try await end("c1") == 204)
            #expect(await eventually(timeout: 10) { (try? await sessions())?.isEmpty == true }, "logged out when the call ended")
            let audit = try await server.store.auditLog(limit: 50)
            #expect(audit.contains { $0.action == .logout && $0.extensionNumber == "5501" && $0.actor == "policy" })
            #expect(audit.contains { $0.action == .logout && $0.extensionNumber == "5502" && $0.actor == "api:test" })
            #expect(audit.contains { $0.action == .logoutWaiting && $0.extensionNumber == "5502" && $0.actor == "api:test" })
            #expect(try await end("c1") == 204, "an end reported twice is no error")

            // The longest wait: a call that never ends holds the policy's logout 90 minutes, no more.
            let bothOut = await eventually(timeout: 10) {
                let (a, b) = (await deskA.config.lineUser, await deskB.config.lineUser)
                return a == nil && b == nil
            }
            #expect(bothOut, "both phones have their logged-out configs")
            try await deskA.loginApplied("Login Int", ext: "5501", password: "1234")
            _ = try await start("c2", "5501")
            server.clock.advance(by: 3600 + 60)
            #expect(await server.service.autoLogoutSweep().isEmpty, "due a minute ago, on a call: waits")
            server.clock.advance(by: 90 * 60)
            #expect(
                await eventually(timeout: 10) { (try? await sessions())?.isEmpty == true },
                "waited 91 minutes: logged out by the sweep"
            )
            // An admin's force does not wait.
            try await deskB.loginApplied("Login Int", ext: "5502", password: "7777")
            _ = try await start("c3", "5502")
            let forced = try await admin.call("DELETE", "/sessions/\(macB)?force=true")
            #expect(forced.status == 202 && forced.json["waiting_for_call"] == nil, "\(forced.json)")
            #expect(try await sessions().isEmpty)
            for phone in [deskA, deskB] { await phone.shutdown() }
        }
    }

    /// The two desks of `callDesks`, 5501 logged in on the first and 5502 on the second.
    static func twoDesks(_ server: TestServer) async throws -> (SimulatedPhone, SimulatedPhone) {
        let deskA = try await server.phone("yealink-t46u", mac: "001565e00031")
        try await deskA.loginApplied("Login Int", ext: "5501", password: "1234")
        let deskB = try await server.phone("yealink-t46u", mac: "001565e00032")
        try await deskB.loginApplied("Login Int", ext: "5502", password: "7777")
        return (deskA, deskB)
    }

    /// Two desks beside the directory's phones (`twoDesks`).
    static let callDesks = "\n  - {mac: \"00:15:65:e0:00:31\", model: yealink-t46u}\n  - {mac: \"00:15:65:e0:00:32\", model: yealink-t46u}\n"

    @Test(
        "calls whose end was lost: a phone that registered afresh is on no call (a logout that waited for it happens); the PBX's start ends every call it reported; bad and unknown parties refused"
    )
    func callsReset() async throws {
        let yaml = Self.directory + Self.callDesks
        // The policy's own sweep once an hour: a waiting logout happens because the reset runs one.
        try await TestServer.with(yaml: yaml, autoLogoutInterval: 3600) { (server: TestServer) async throws in
            let pbx = try await pbx(server)
            let admin = try await AdminAPITests().client(server)
            let (macA, macB) = ("00:15:65:e0:00:31", "00:15:65:e0:00:32")
            let (deskA, deskB) = try await Self.twoDesks(server)
            for user in ["5501", "5502"] {
                let started = try await pbx.call(
                    "POST",
                    "/calls/start",
                    body: #"{"call_id": "c1", "auth_user": "\#(user)", "source_ip": "127.0.0.1"}"#
                )
                #expect(started.status == 200, "\(started.text)")
            }
            #expect(try await admin.call("DELETE", "/sessions/\(macB)").status == 202, "B's logout waits for the call")
            func reset(_ body: String, _ query: String = "") async throws -> (status: Int, phones: [String]?, code: String?) {
                let answer = try await pbx.call("POST", "/calls/reset\(query)", body: body)
                return (answer.status, answer.json["phones"] as? [String], (answer.json["error"] as? [String: Any])?["code"] as? String)
            }
            #expect(try await reset(#"{"auth_user": "5 02"}"#).code == "bad_user")
            #expect(try await reset(#"{"auth_user": "9999"}"#).code == "unknown_sip_user")
            #expect(try await reset("{}", "?site=nowhere").code == "unknown_site")
            #expect(try await reset("[]").status == 400)
            #expect(try await server.store.phonesOnCalls(since: .distantPast).count == 2, "refusals end nothing")
            // B's phone restarted: its call is gone, and its waiting logout happens.
            #expect(try await reset(#"{"auth_user": "5502", "source_ip": "127.0.0.1"}"#).phones == [macB])
            let bOut = await eventually(timeout: 10) { (try? await server.store.session(mac: MACAddress(macB)!)) == nil }
            #expect(bOut, "the logout that waited for B's call happened")
            #expect(try await server.store.phonesOnCalls(since: .distantPast).keys.map(\.colonSeparated) == [macA])
            // The PBX started: every call it reported ends.
            #expect(try await reset("{}").phones == [macA])
            #expect(try await server.store.phonesOnCalls(since: .distantPast).isEmpty)
            #expect(try await reset("{}").phones == [], "nothing left to end")
            #expect(try await server.store.session(mac: MACAddress(macA)!) != nil, "A stays logged in: nothing waited")
            for phone in [deskA, deskB] { await phone.shutdown() }
        }
    }

    @Test("a PBX key opens /pbx/v1 only, an admin key /api/v1 only; Basic with the key as password works; wrong keys 401, audited")
    func keys() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let pbx = try await pbx(server)
            let admin = try await AdminAPITests().client(server)
            #expect(try await pbx.call("GET", "/credentials/8001").status == 200)
            #expect(
                try await pbx.call("GET", "/credentials/8001", headers: ["Authorization": "Bearer \(admin.key)"]).status == 401,
                "an admin key is not a PBX key"
            )
            #expect(try await admin.call("GET", "/sessions", key: pbx.key).status == 401, "a PBX key is not an admin key")
            let basic = "Basic " + Data("kamailio:\(pbx.key)".utf8).base64EncodedString()
            #expect(try await pbx.call("GET", "/credentials/8001", headers: ["Authorization": basic]).status == 200)
            #expect(try await pbx.call("GET", "/credentials/8001", headers: [:]).status == 401)
            // A client that negotiates (curl --anyauth, Kamailio's http_client) sends its key only
            // to a scheme the 401 offers: Basic must be offered beside Bearer.
            let negotiated = try await TLSTests.run([
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--anyauth", "-u", "kamailio:\(pbx.key)",
                "\(server.baseURL)/pbx/v1/credentials/8001",
            ])
            #expect(negotiated.output == "200", "curl --anyauth: \(negotiated.output)")
            #expect(try await server.store.auditLog(limit: 10).contains { $0.action == .apiRefused && $0.detail.contains("wrong PBX key") })
        }
    }
}

@Suite("hotdesk pbx kamailio-config: what it needs from the directory")
struct KamailioConfigCommandTests {
    @Test(
        "without settings.sip, or without emergency numbers, `hotdesk pbx kamailio-config` says what to set in one line, exits non-zero and writes nothing"
    )
    func refusals() async throws {
        let cases = [
            (flowDirectory, "settings.sip is not set"),
            (withSettings(flowDirectory, "  sip: {server: \"127.0.0.2:5060\"}\n"), "settings.emergency_numbers is empty"),
        ]
        for (yaml, problem) in cases {
            try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
                let out = try await Command.run(
                    [hotdeskExecutable, "pbx", "kamailio-config", "--output", "kamailio.cfg", "--screens", screensDirectory.path]
                        + (try TestDatabase.commandLine(for: server.dbPath)),
                    environment: TestDatabase.commandEnvironment,
                    errors: true,
                    workingDirectory: server.directory
                )
                #expect(out.status != 0 && out.output.hasPrefix("hotdesk: \(problem)"), "\(out.output)")
                #expect(out.output.split(separator: "\n").count == 1, "one line: \(out.output)")
                #expect(!FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("kamailio.cfg").path))
            }
        }
    }
}

extension KamailioConfigCommandTests {
    @Test("--site writes one site's PBX: its realm, emergency numbers, listen address and SITE (its NOTIFYs only); an unknown site is refused")
    func site() async throws {
        try await TestServer.with(yaml: SiteTests.directory) { (server: TestServer) async throws in
            func config(_ site: String) async throws -> (status: Int32, output: String) {
                let out = try await Command.run(
                    [hotdeskExecutable, "pbx", "kamailio-config", "--site", site, "--output", "\(site).cfg", "--screens", screensDirectory.path]
                        + (try TestDatabase.commandLine(for: server.dbPath)),
                    environment: TestDatabase.commandEnvironment,
                    errors: true,
                    workingDirectory: server.directory
                )
                return (out.status, out.output)
            }
            let lyon = try await config("lyon")
            #expect(lyon.status == 0, "\(lyon.output)")
            let text = try String(contentsOf: server.directory.appendingPathComponent("lyon.cfg"), encoding: .utf8)
            for line in [
                "#!define SITE \"lyon\"", "#!define REGISTER_REALM \"lyon.test\"", "#!define EMERGENCY \"^(112|15)$\"", "listen=udp:127.0.0.3:5062",
            ] {
                #expect(text.contains(line), "\(line)")
            }
            // Without --output, the same file on standard output, line by line.
            let printed = try await Command.run(
                [hotdeskExecutable, "pbx", "kamailio-config", "--site", "lyon", "--screens", screensDirectory.path]
                    + (try TestDatabase.commandLine(for: server.dbPath)),
                environment: TestDatabase.commandEnvironment,
                workingDirectory: server.directory
            )
            #expect(printed.output.contains("\n#!define SITE \"lyon\"\n") && !printed.output.contains("\\u{A}"), "\(printed.output.prefix(300))")
            let mars = try await config("mars")
            #expect(mars.status != 0 && mars.output.contains("no site mars"), "\(mars.output)")
        }
    }
}

@Suite("Star-code login through the PBX")
struct StarCodeTests {
    @Test("*22*ext*pin from the phone's own line logs the user in (session, audit, push); a wrong PIN counts toward the lockout; *22 logs out")
    func starCode() async throws {
        let directory = PBXTests.directory.replacingOccurrences(
            of: "  push_port: {PUSH_PORT}\n",
            with: "  push_port: {PUSH_PORT}\n  lockout: {extension_failures: 2}\n"
        )
        try await TestServer.with(yaml: directory) { (server: TestServer) async throws in
            let pbx = try await PBXTests().pbx(server)
            let phone = try await server.phone("yealink-t46u", mac: "001565e00001")
            #expect(await phone.config.lineUser == "8001")
            var r = try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "8001", "extension": "5501", "pin": "1234"}"#)
            #expect(r.json["result"] as? String == "logged_in" && r.json["sip_code"] as? Int == 200, "\(r.json)")
            #expect(try await server.store.session(mac: MACAddress("001565e00001")!)?.extensionNumber == "5501")
            let job = try #require(try await server.waitForJob("001565e00001") { !$0.state.isPending })
            #expect(job.reason == .login && job.state == .applied)
            #expect(await eventually { await phone.config.lineUser == "5501" }, "the phone gets the user's line")
            #expect(try await server.store.auditLog(limit: 10).contains { $0.action == .login && $0.extensionNumber == "5501" })

            r = try await pbx.call("POST", "/hotdesk/logout", body: #"{"auth_user": "8001"}"#)
            #expect(r.json["result"] as? String == "logged_out")
            r = try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "8001", "extension": "5501", "pin": "0000"}"#)
            #expect(r.json["result"] as? String == "rejected" && (r.json["reason"] as? String)?.contains("wrong PIN") == true, "\(r.json)")
            r = try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "8001", "extension": "5501", "pin": "0000"}"#)
            r = try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "8001", "extension": "5501", "pin": "1234"}"#)
            #expect(r.json["result"] as? String == "locked", "two wrong PINs lock 5501, even for the right one: \(r.json)")
            #expect(
                try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "5501", "extension": "5501", "pin": "1234"}"#).status == 404,
                "only a phone's own line dials the code"
            )
        }
    }
}

@Suite("Attacks: star codes through the PBX")
struct StarCodeAttackTests {
    static let directory =
        PBXTests.directory.replacingOccurrences(
            of: "  push_port: {PUSH_PORT}\n",
            with: "  push_port: {PUSH_PORT}\n  lockout: {extension_failures: 1000, device_failures: 1000, source_failures: 30}\n"
        )
            + """

              - mac: 00:15:65:e0:00:02
                model: yealink-t46u
                workspace: Lobby
                line: {number: "8002", name: Lobby phone, sip_password: "lobby2-sip-secret"}
              - mac: 00:15:65:e0:00:03
                model: yealink-t46u
                line: {number: "8003", name: Desk 3, sip_password: "desk3-sip-secret"}
            workspaces:
              - {name: Lobby, licence: common_area, hot_desking: false}
            """

    @Test("a phone in a workspace with hot desking off takes no star-code login either")
    func hotDeskingOff() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let pbx = try await PBXTests().pbx(server)
            let r = try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "8002", "extension": "5501", "pin": "1234"}"#)
            #expect(r.json["result"] as? String == "rejected" && (r.json["reason"] as? String)?.contains("hot desking is off") == true, "\(r.json)")
            #expect(try await server.store.session(mac: MACAddress("001565e00002")!) == nil)
        }
    }

    @Test(
        "40 wrong star codes from one line lock neither the PBX's address nor another line; a source_ip that is not an address is not stored; a SIP user with a NUL is nobody"
    )
    func guessingFromOneLine() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let pbx = try await PBXTests().pbx(server)
            for n in 0..<40 {
                let r = try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "8001", "extension": "5501", "pin": "\#(9000 + n)"}"#)
                #expect(r.json["result"] as? String == "rejected", "\(n): \(r.json)")
            }
            let other = try await pbx.call(
                "POST",
                "/hotdesk/login",
                body: #"{"auth_user": "8003", "extension": "5501", "pin": "1234", "source_ip": "127.0.0.77"}"#
            )
            #expect(other.json["result"] as? String == "logged_in", "another line is not locked out: \(other.json)")
            #expect(
                try await server.store.auditLog(limit: 5).contains { $0.action == .login && $0.source == "127.0.0.77" },
                "the phone's address, as the PBX saw it"
            )
            // A phone guessing with its own address is locked by address, as on the app.
            for n in 0..<31 {
                _ = try await pbx.call(
                    "POST",
                    "/hotdesk/login",
                    body: #"{"auth_user": "8001", "extension": "5501", "pin": "\#(8000 + n)", "source_ip": "127.0.0.88"}"#
                )
            }
            let locked = try await pbx.call(
                "POST",
                "/hotdesk/login",
                body: #"{"auth_user": "8001", "extension": "5501", "pin": "9999", "source_ip": "127.0.0.88"}"#
            )
            #expect(locked.json["result"] as? String == "locked", "\(locked.json)")
            _ = try await pbx.call(
                "POST",
                "/hotdesk/login",
                body: #"{"auth_user": "8003", "extension": "5501", "pin": "7654", "source_ip": "9002\u0000' OR 1"}"#
            )
            let junk = try await server.store.auditLog(limit: 3).first { $0.action == .loginFailed && $0.mac?.canonical == "001565e00003" }
            #expect(junk?.source == "127.0.0.1", "not an address: the PBX's own is recorded: \(junk?.source ?? "nil")")
            let nul = try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "8003\u0000", "extension": "5501", "pin": "1234"}"#)
            #expect(nul.status == 400 && (nul.json["error"] as? [String: Any])?["code"] as? String == "bad_user", "\(nul.json)")
            #expect([400, 404].contains(try await pbx.call("GET", "/credentials/8003%00").status), "never 8003's")
        }
    }
}

@Suite("Classes of service in the admin API")
struct CoSAPITests {
    @Test("GET /cos lists them; GET /cos/{name} shows one (404 unknown_cos); GET /cos/check says which class and rule decide, now or at a given time")
    func api() async throws {
        try await TestServer.with(yaml: PBXTests.directory) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let list = try await api.call("GET", "/cos")
            let names = (list.json["classes_of_service"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(
                names == ["after-hours-intl", "hotdesk-phone", "staff"] && list.json["emergency_numbers"] as? [String] == ["112", "911"],
                "\(list.json)"
            )
            let staff = try await api.call("GET", "/cos/staff")
            let rules = (staff.json["rules"] as? [[String: Any]])?.map {
                ($0["pattern"] as? String ?? $0["class"] as? String ?? "?") + " " + ($0["action"] as? String ?? "?")
            }
            let includes = staff.json["includes"] as? [[String: Any]]
            #expect(staff.status == 200 && rules == ["XXXX allow", "international deny"], "\(staff.json)")
            #expect(
                includes?.first?["cos"] as? String == "after-hours-intl" && includes?.first?["schedule"] as? String == "office-hours",
                "\(staff.json)"
            )
            let ghost = try await api.call("GET", "/cos/ghost")
            #expect(ghost.status == 404 && (ghost.json["error"] as? [String: Any])?["code"] as? String == "unknown_cos", "\(ghost.json)")
            let check = try await api.call("GET", "/cos/check?extension=5501&number=0044207946&at=2026-11-25T09:00:00Z")
            #expect(
                check.json["decision"] as? String == "deny" && (check.json["rule"] as? String)?.contains("international") == true,
                "\(check.json)"
            )
            #expect(try await api.call("GET", "/cos/check?cos=ghost&number=5502").status == 404)
            #expect(try await api.call("GET", "/cos/check?cos=staff&number=abc").status == 400)
            #expect(try await api.call("GET", "/cos/check?cos=staff&number=5502&at=yesterday").status == 400)
        }
    }
}
