import Foundation
import HotDeskCore
import HotDeskStore
import PhoneFamilies
import PhoneSimulator
import Testing

/// 5501 is a member of two shared lines (555 on key 2, ringing; 556 on key 3, silent) and of a
/// third on key 9, which models with fewer keys cannot carry.
let sharedLineDirectory =
    flowDirectory + """

        shared_lines:
          - number: "555"
            name: Sales
            sip_password: "sales-sip-secret"
            caller_id: "+15551230555"
            members:
              - {extension: "5501", button: 2, ring: ring}
              - {extension: "5502", button: 3, ring: no_ring}
          - number: "556"
            name: Support
            sip_password: "support-sip-secret"
            members:
              - {extension: "5501", button: 3, ring: no_ring}
          - number: "557"
            name: Night
            sip_password: "night-sip-secret"
            members:
              - {extension: "5501", button: 9, ring: {after_seconds: 10}}
        """

@Suite("Shared lines: every line a hot desk user is a member of, on its key")
struct SharedLineTests {
    @Test("a shared line's licence count (iPECS): listed and exported; more members than licences are refused on the count, nothing written")
    func licences() async throws {
        let yaml = sharedLineDirectory.replacingOccurrences(of: "    name: Sales\n", with: "    name: Sales\n    licences: 2\n")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            let lines = try await admin.call("GET", "/shared-lines").json["shared_lines"] as? [[String: Any]] ?? []
            #expect(lines.first { $0["number"] as? String == "555" }?["licences"] as? Int == 2, "\(lines)")
            #expect(try await server.store.exportDirectory(withSecrets: false).yaml.contains("licences: 2"))
            // Three members on two licences (the directory has two people: one of them twice, its own problem too).
            let three =
                #"{"name": "Sales", "licences": 2, "members": [{"extension": "5501", "button": 2}, {"extension": "5502", "button": 3}, {"extension": "5501", "button": 5}]}"#
            let over = try await admin.call("PUT", "/directory/shared_lines/555", body: three)
            let problems = (over.json["error"] as? [String: Any])?["problems"] as? [String] ?? []
            #expect(over.status == 422 && problems.contains { $0.hasPrefix("licences: 3 members on 2 licences") }, "\(over.json)")
            #expect(try await server.store.sharedLines().first { $0.number == "555" }?.members.count == 2, "nothing written")
        }
    }

    @Test(
        "a shared line's and an extension's direct-dial number (iPECS): the PBX asks which line it rings; listed, exported and imported back unchanged; a number two lines would have, or that is no phone number, is refused and nothing written"
    )
    func directDial() async throws {
        let yaml = sharedLineDirectory.replacingOccurrences(of: "    name: Sales\n", with: "    name: Sales\n    direct_dial: \"024801028\"\n")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            let pbx = try await PBXTests().pbx(server)
            var asked = try await pbx.call("GET", "/direct-dial/024801028")
            #expect(asked.status == 200 && asked.json["auth_user"] as? String == "555", "\(asked.text)")
            asked = try await pbx.call("GET", "/direct-dial/024801029")
            #expect(asked.status == 404 && asked.text.contains("unknown_direct_dial"), "\(asked.text)")
            #expect(try await pbx.call("GET", "/direct-dial/0248x").status == 400)
            #expect(try await admin.call("GET", "/direct-dial/024801028").status == 404, "the PBX's question, not the admin API's")
            let lines = try await admin.call("GET", "/shared-lines").json["shared_lines"] as? [[String: Any]] ?? []
            #expect(lines.first { $0["number"] as? String == "555" }?["direct_dial"] as? String == "024801028", "\(lines)")
            let exported = try await server.store.exportDirectory(withSecrets: true).yaml
            #expect(exported.contains("direct_dial: \"024801028\""), "\(exported)")
            let again = try await importDirectory(exported, into: server.store, base: server.directory)
            #expect(again.created == 0 && again.updated == 0, "\(again)")

            // Support (556) takes Sales' number: one number rings one line.
            let taken = #"{"name": "Support", "direct_dial": "024801028", "members": [{"extension": "5501", "button": 3, "ring": "no_ring"}]}"#
            let clash = try await admin.call("PUT", "/directory/shared_lines/556", body: taken)
            let problems = (clash.json["error"] as? [String: Any])?["problems"] as? [String] ?? []
            #expect(clash.status == 422 && problems.contains { $0.contains("shared line 555 and shared line 556") }, "\(clash.json)")
            let bad = try await admin.call("PUT", "/directory/shared_lines/556", body: #"{"name": "Support", "direct_dial": "call us"}"#)
            #expect(bad.status == 422 && "\(bad.json)".contains("direct_dial"), "\(bad.json)")
            #expect(try await server.store.sharedLines().first { $0.number == "556" }?.directDial == nil, "nothing written")
            #expect(try await pbx.call("GET", "/direct-dial/024801028").json["auth_user"] as? String == "555")

            // An extension's own direct-dial number rings it wherever it is logged in; one number is one line's.
            let ada = try await admin.call("PUT", "/directory/extensions/5501", body: #"{"name": "Ada Lovelace", "direct_dial": "024801027"}"#)
            #expect(ada.status == 200, "\(ada.json)")
            #expect(try await pbx.call("GET", "/direct-dial/024801027").json["auth_user"] as? String == "5501")
            let same = try await admin.call("PUT", "/directory/extensions/5502", body: #"{"name": "Grace Hopper", "direct_dial": "024801028"}"#)
            let named = (same.json["error"] as? [String: Any])?["problems"] as? [String] ?? []
            #expect(same.status == 422 && named.contains { $0.contains("extension 5502 and shared line 555") }, "\(same.json)")
            #expect(try await server.store.exportDirectory(withSecrets: false).yaml.contains("direct_dial: \"024801027\""))
        }
    }

    /// Families whose templates write several accounts; those HotDesk cannot push are restarted by hand.
    static let families: [(model: String, mac: String, pushed: Bool)] = [
        ("yealink-t46u", "001565af0001", true), ("polycom-vvx411", "001565af0002", true), ("cisco-8841", "001565af0005", false),
        ("snom-d735", "001565af0006", true), ("fanvil-x4u", "001565af0007", false), ("mitel-6867i", "001565af0008", true),
    ]

    /// The phone applies its new config: pushed, or restarted by the person at the desk.
    func applied(_ phone: SimulatedPhone, pushed: Bool, since mark: Int) async -> Bool {
        guard pushed else {
            await phone.restart()
            return true
        }
        return await phone.waitForApply(since: mark)
    }

    @Test("a member logs in: own line on key 1, each shared line on its key, marked shared, ring option kept; logout removes them", arguments: 0..<6)
    func memberLogsIn(family: Int) async throws {
        let (model, mac, pushed) = Self.families[family]
        try await TestServer.with(yaml: sharedLineDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone(model, mac: mac)
            var mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await applied(phone, pushed: pushed, since: mark), "\(model)")
            var config = await phone.config
            #expect(config.accounts[1]?.user == "5501" && config.accounts[1]?.shared == false)
            let byKey = { (key: Int) in config.lineKeys[key].flatMap { config.accounts[$0] } }
            #expect(config.lineKeys[1] == 1, "the own line on key 1")
            #expect(
                byKey(2)?.user == "555" && byKey(2)?.shared == true && byKey(2)?.silent == false,
                "\(model): \(config.lineKeys) \(config.accounts)"
            )
            #expect(byKey(3)?.user == "556" && byKey(3)?.shared == true && byKey(3)?.silent == true)
            let keys = try #require(testFamilies.catalog.model(named: model)).lineKeys
            if keys > 9 {
                #expect(byKey(9)?.user == "557" && byKey(9)?.shared == true, "\(model)")
            } else {
                #expect(!config.accounts.values.contains { $0.user == "557" }, "\(model) has \(keys) keys: 557 (key 9) is left off")
                #expect(try await server.store.auditLog(limit: 20).contains { $0.action == .lineLeftOff && $0.detail.contains("557") })
            }
            if await phone.screen != nil { try await phone.key("exit") }
            let display = await phone.display
            #expect(display.contains { $0.hasPrefix("L2: 555 (shared)") }, "\(model): \(display)")
            #expect(config.browserKeyURL != nil, "the Login/Logout key is still there (the last key)")

            mark = await phone.events.count
            try await phone.logout()
            #expect(await applied(phone, pushed: pushed, since: mark))
            config = await phone.config
            #expect(config.accounts.values.allSatisfy { !$0.active }, "\(model): no account is left registered: \(config.accounts)")
            #expect(config.lineKeys.keys.allSatisfy { $0 == 1 }, "\(model): shared keys removed: \(config.lineKeys)")
        }
    }

    @Test("P-code families (Sangoma, Grandstream) carry the shared lines as accounts 2, 3…", arguments: ["sangoma-s500", "grandstream-grp2614"])
    func pCodeFamilies(model: String) async throws {
        try await TestServer.with(yaml: sharedLineDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone(model, mac: model.hasPrefix("sangoma") ? "001565af0021" : "001565af0022")
            let mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            if model.hasPrefix("sangoma") { #expect(await phone.waitForApply(since: mark)) } else { await phone.restart() }
            var config = await phone.config
            #expect(
                config.accounts[1]?.user == "5501" && config.accounts[2]?.user == "555" && config.accounts[3]?.user == "556",
                "\(model): \(config.accounts)"
            )
            try await phone.logout()
            if !model.hasPrefix("sangoma") { await phone.restart() }
            #expect(await eventually { await phone.config.accounts.values.allSatisfy { !$0.active } })
            config = await phone.config
            #expect(config.accounts[2]?.user == nil, "\(model): the shared lines are cleared at logout")
        }
    }

    @Test("another member gets the same line on their own key; a line on a key the model lacks is left off and audited")
    func otherMemberAndSmallModel() async throws {
        try await TestServer.with(yaml: sharedLineDirectory) { (server: TestServer) async throws in
            let yealink = try await server.phone("yealink-t46u", mac: "001565af0003")
            try await yealink.login("Login Int", ext: "5502", password: "7777")
            #expect(
                await eventually {
                    let c = await yealink.config
                    return c.lineKeys[3].flatMap { c.accounts[$0]?.user } == "555"
                }
            )
            #expect(await yealink.config.accounts.values.filter(\.active).count == 2, "5502 is a member of 555 only")

            // The s500 has 6 line keys (the last one Login/Logout): key 9 does not exist there.
            let sangoma = try await server.phone("sangoma-s500", mac: "001565af0004")
            try await sangoma.login("Login Int", ext: "5501", password: "1234")
            let left = try await server.store.auditLog(limit: 20).filter { $0.action == .lineLeftOff }
            #expect(
                left.count == 1 && left[0].detail.contains("557") && left[0].detail.contains("key 9") && left[0].extensionNumber == "5501",
                "\(left)"
            )
            #expect(left.first?.mac?.canonical == "001565af0004")
        }
    }
}

@Suite("SIP password reset: shown once, pushed to every phone that carries the line")
struct SIPPasswordResetTests {
    @Test("an extension's reset: the answer holds the password, nothing later does; the phone's next config carries it")
    func extensionReset() async throws {
        try await TestServer.with(yaml: sharedLineDirectory) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let phone = try await server.phone("yealink-t46u", mac: "001565af0010")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            _ = try await server.waitForJob("001565af0010") { $0.state == .applied }

            let r = try await HTTP.request(
                "POST",
                "\(server.baseURL)/api/v1/extensions/5501/sip-password",
                headers: ["Authorization": "Bearer \(api.key)"]
            )
            #expect(r.status == 200 && r.header("Cache-Control") == "no-store")
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any])
            let password = try #require(answer["sip_password"] as? String)
            #expect(password.count == 20 && password != "sip-secret-5501")
            #expect((answer["jobs"] as? [Any])?.count == 1)

            let job = try #require(try await server.waitForJob("001565af0010") { $0.reason == .admin && !$0.state.isPending })
            #expect(job.state == .applied, "\(job.state) \(job.lastError ?? "")")
            #expect(await eventually { await phone.setting("account.1.password") == password }, "the phone's config carries the new password")
            #expect(try await server.store.findExtension("5501")?.sipPassword == password)

            for path in ["/sessions", "/push-jobs"] {
                let later = try await api.call("GET", path)
                #expect(!"\(later.json)".contains(password), "\(path) never shows it")
            }
            let audit = try await server.store.auditLog(limit: 50)
            #expect(audit.contains { $0.action == .sipPasswordReset && $0.actor == "api:test" && $0.extensionNumber == "5501" })
            #expect(!audit.contains { $0.detail.contains(password) }, "the audit never holds it")

            #expect(try await api.call("POST", "/extensions/5599/sip-password").status == 404)
            #expect(try await api.call("POST", "/extensions/55a/sip-password").status == 400)
            #expect(try await api.call("POST", "/shared-lines/999/sip-password").status == 404)
        }
    }

    @Test("a shared line's reset pushes every logged-in member's phone")
    func sharedLineReset() async throws {
        try await TestServer.with(yaml: sharedLineDirectory) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let a = try await server.phone("yealink-t46u", mac: "001565af0011")
            let b = try await server.phone("polycom-vvx411", mac: "001565af0012")
            try await a.login("Login Int", ext: "5501", password: "1234")
            try await b.login("Login Int", ext: "5502", password: "7777")
            _ = try await server.waitForJob("001565af0011") { $0.state == .applied }
            _ = try await server.waitForJob("001565af0012") { $0.state == .applied }
            let reset = try await api.call("POST", "/shared-lines/555/sip-password")
            #expect(reset.status == 200 && (reset.json["jobs"] as? [Any])?.count == 2, "\(reset.json)")
            let password = try #require(reset.json["sip_password"] as? String)
            for mac in ["001565af0011", "001565af0012"] {
                let job = try #require(try await server.waitForJob(mac) { $0.reason == .admin && !$0.state.isPending })
                #expect(job.state == .applied, "\(mac): \(job.state) \(job.lastError ?? "")")
            }
            // The Yealink carries 555 as account 2.
            #expect(await eventually { await a.setting("account.2.password") == password })
        }
    }
}

@Suite("A device's own line: registered while nobody is logged in")
struct DeviceLineTests {
    static let directory =
        withSettings(flowDirectory, "  emergency_caller_id: \"+15551230000\"\n") + """

            devices:
              - mac: 00:15:65:af:00:30
                model: yealink-t46u
                line: {number: "9030", name: Lobby phone, sip_password: "lobby-sip-secret"}
            """

    @Test("logged out: the device's line on key 1; a login replaces it, a logout brings it back; its SIP password reset pushes the idle phone")
    func ownLine() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let phone = try await server.phone("yealink-t46u", mac: "001565af0030")
            let idle = await phone.config
            #expect(idle.lineActive && idle.lineUser == "9030", "the idle phone registers its own line")
            var mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await phone.waitForApply(since: mark))
            #expect(await phone.config.lineUser == "5501")
            mark = await phone.events.count
            try await phone.logout()
            #expect(await phone.waitForApply(since: mark))
            #expect(await phone.config.lineUser == "9030")

            let reset = try await api.call("POST", "/devices/001565af0030/sip-password")
            #expect(reset.status == 200 && (reset.json["jobs"] as? [Any])?.count == 1, "\(reset.json)")
            let password = try #require(reset.json["sip_password"] as? String)
            #expect(await eventually { await phone.setting("account.1.password") == password })
            #expect(try await api.call("POST", "/devices/001565af0099/sip-password").status == 404)
        }
    }

    @Test("a device line may not take an extension's number")
    func numberClash() async throws {
        let dir = try TempDir()
        let store = try dir.store("db")
        do {
            _ = try await importDirectory(
                flowDirectory
                    + "\ndevices:\n  - {mac: 00:15:65:af:00:31, model: yealink-t46u, line: {number: \"5501\", sip_password: \"long-enough\"}}\n",
                into: store,
                base: dir.url
            )
            Issue.record("imported")
        } catch let error as DirectoryError {
            #expect(
                error.description.contains("devices[0].line.number") && error.description.contains("an extension's number"),
                "\(error.description)"
            )
        }
    }
}
