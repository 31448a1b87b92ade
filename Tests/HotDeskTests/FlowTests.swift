import Foundation
import HotDeskCore
import HotDeskServer
import HotDeskStore
import PhoneSimulator
import Testing

let flowDirectory = """
    settings:
      default_login: true
      internal_address: 127.0.0.1:{PORT}
      external_address: localhost:{PORT}
      user_password: "7777"
      admin_password: "master-4242-admin"
      push_port: {PUSH_PORT}
    extensions:
      - number: "5501"
        name: Ada Lovelace
        voicemail_pin: "1234"
        sip_password: "sip-secret-5501"
      - number: "5502"
        name: Bob No-Voicemail
        sip_password: "sip-secret-5502"
    """

@Suite("Login and logout flows: simulated phones against the real server")
struct FlowTests {
    @Test(
        "enrol an unknown phone, wrong PIN, right PIN, reload, logged-in config with the internal address",
        arguments: ["yealink-t46u", "sangoma-s500"]
    )
    func enrolAndLoginInternal(model: String) async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone(model, mac: "001565aabb01")
            #expect(await phone.config.lineActive == false)
            let keyURL = try #require(await phone.config.browserKeyURL)
            #expect(!keyURL.lowercased().contains("001565aabb01"), "the app URL must not carry the MAC")

            try await phone.key("hotdesk")
            #expect(await phone.menuLabels == ["Login Int", "Login Extl"])
            try await phone.select("Login Int")
            guard case .input(_, _, let fields, _)? = await phone.screen else {
                Issue.record("not an input screen")
                return
            }
            #expect(fields.map(\.masked) == [false, true], "the password field is masked")
            try await phone.type("5501")
            try await phone.next()
            try await phone.type("0000")
            try await phone.press("Done")
            #expect(await phone.title == "Login failed")
            #expect(await phone.displayText.contains("Wrong password"))

            try await phone.press("Try again")
            guard case .input(_, _, let retry, _)? = await phone.screen else {
                Issue.record("not an input screen")
                return
            }
            #expect(retry.first?.value == "5501", "the extension is kept for the retry")
            let mark = await phone.events.count
            try await phone.next()
            try await phone.type("1234")
            try await phone.press("Done")
            #expect(await phone.displayText.contains("Logged in as 5501 - reloading"))

            #expect(await phone.waitForApply(since: mark), "the phone was told to reload and fetched its config")
            #expect(await !phone.events.dropFirst(mark).contains(.rebootStarted))
            let config = await phone.config
            #expect(config.lineActive && config.lineUser == "5501" && config.sipServer == "127.0.0.1" && config.hasSIPPassword)
            #expect(config.browserKeyURL?.hasPrefix("http://127.0.0.1:\(server.port)/app/") == true, "the key survives login")

            let audit = try await server.store.auditLog(limit: 20)
            #expect(audit.contains { $0.action == .enrol && $0.mac?.canonical == "001565aabb01" })
            #expect(audit.contains { $0.action == .loginFailed && $0.extensionNumber == "5501" && $0.source == phone.options.address })
            #expect(audit.contains { $0.action == .login && $0.extensionNumber == "5501" && $0.outcome == .success })
        }
    }

    @Test("Login Extl gives the external address")
    func loginExternal() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aabb02")
            let mark = await phone.events.count
            try await phone.login("Login Extl", ext: "5501", password: "1234")
            #expect(await phone.title == "Logged in")
            #expect(await phone.waitForApply(since: mark))
            #expect(await phone.config.sipServer == "localhost")
            #expect(await phone.config.provisionURL == "http://localhost:\(server.port)/provision/")
            #expect(try await server.store.sessions().first?.network == .external)

            // The logged-in config moved the phone to the external address: the logout's push
            // is confirmed by the fetch from there, not from the address it used before.
            try await phone.logout()
            let job = try #require(try await server.waitForJob("001565aabb02") { !$0.state.isPending })
            #expect(job.reason == .logout && job.state == .applied && job.action == .reload, "\(job.state) \(job.lastError ?? "")")
            #expect(await eventually { await phone.config.lineActive == false }, "the phone applies what it fetched")
        }
    }

    @Test("an extension without voicemail logs in with the user password, and only then")
    func userPassword() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565aabb03")
            // 5501 has a voicemail box: the user password does not work for it.
            try await phone.login("Login Int", ext: "5501", password: "7777")
            #expect(await phone.title == "Login failed")
            try await phone.login("Login Int", ext: "5502", password: "7777")
            #expect(await phone.displayText.contains("Logged in as 5502"))
            #expect(try await server.store.session(mac: MACAddress("001565aabb03")!)?.credential == .userPassword)
        }
    }

    @Test("the admin password logs any extension into any phone, and the audit says so")
    func adminPassword() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aabb04")
            try await phone.login("Login Int", ext: "5501", password: "master-4242-admin")
            #expect(await phone.title == "Logged in")
            let entry = try #require(try await server.store.auditLog(limit: 5).first { $0.action == .login })
            #expect(entry.actor == "admin-password")
            #expect(entry.detail.contains("admin_password"))
        }
    }

    @Test("logout from the phone: logged-out config pushed and applied, the same as before login")
    func logoutFromMenu() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565aabb05")
            let loggedOut = await phone.configFiles["cfg001565aabb05.xml"]
            var mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await phone.waitForApply(since: mark))
            #expect(await phone.config.lineUser == "5501")

            try await phone.key("hotdesk")
            #expect(await phone.title.contains("5501"))
            #expect(await phone.menuLabels == ["Login", "Logout", "Change PIN"])
            mark = await phone.events.count
            try await phone.select("Logout")
            try await phone.select("Yes, log out")
            #expect(await phone.title == "Logged out")
            #expect(await phone.waitForApply(since: mark))
            #expect(await phone.config.lineActive == false)
            // The same as before login but for the app token, which every login and logout changes.
            let token = { (config: String?) in
                config?.replacingOccurrences(of: #"/app/[A-Za-z0-9_-]{32}"#, with: "/app/TOKEN", options: .regularExpression)
            }
            #expect(token(await phone.configFiles["cfg001565aabb05.xml"]) == token(loggedOut), "the logged-out config is the same as before login")
            #expect(await phone.configFiles["cfg001565aabb05.xml"] != loggedOut, "with a new app token")
            #expect(try await server.store.auditLog(limit: 5).contains { $0.action == .logout && $0.extensionNumber == "5501" })
        }
    }

    @Test("login over another person logs them out; the same extension on a second phone leaves the first, which is pushed too")
    func loginOverAndMove() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let a = try await server.phone("yealink-t46u", mac: "001565aabb06")
            let b = try await server.phone("yealink-t46u", mac: "001565aabb07")
            var applied = await a.events.count
            try await a.login("Login Int", ext: "5501", password: "1234")
            #expect(await a.waitForApply(since: applied))
            applied = await a.events.count
            try await a.login("Login Int", ext: "5502", password: "7777")  // over 5501 on the same phone
            #expect(await a.waitForApply(since: applied))
            var sessions = try await server.store.sessions()
            #expect(sessions.map(\.extensionNumber) == ["5502"])
            let mark = await a.events.count
            try await b.login("Login Int", ext: "5502", password: "7777")  // 5502 moves to phone b
            sessions = try await server.store.sessions()
            #expect(sessions.count == 1)
            #expect(sessions.first?.mac.canonical == "001565aabb07")
            #expect(await a.waitForApply(since: mark), "the phone left behind is told to reload")
            #expect(await eventually { await a.config.lineActive == false }, "… and comes back logged out")
            let logouts = try await server.store.auditLog(limit: 20).filter { $0.action == .logout }
            #expect(logouts.count == 2)
        }
    }

    @Test("unknown MAC with default login off: 404 and an audit entry")
    func defaultLoginOff() async throws {
        let yaml = flowDirectory.replacingOccurrences(of: "default_login: true", with: "default_login: false")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = SimulatedPhone(
                model: SimModel.named("yealink-t46u")!,
                mac: "001565aabb08",
                options: .init(server: server.baseURL, address: Loopback.next(), pushPort: nil)
            )
            #expect(try await phone.boot() == 404)
            #expect(await phone.config.browserKeyURL == nil)
            let entry = try #require(try await server.store.auditLog(limit: 5).first)
            #expect(entry.action == .unknownDeviceRefused)
            #expect(entry.mac?.canonical == "001565aabb08")
            #expect(try await server.store.device(mac: MACAddress("001565aabb08")!) == nil)
        }
    }

    @Test("a known device still gets its config with default login off")
    func knownDeviceWithDefaultLoginOff() async throws {
        let yaml =
            flowDirectory.replacingOccurrences(of: "default_login: true", with: "default_login: false")
            + "\ndevices:\n  - mac: 00-15-65-AA-BB-09\n    model: sangoma-s500\n"
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565aabb09")
            #expect(await phone.config.browserKeyURL != nil)
        }
    }

    @Test("ETag and If-None-Match: 304 while the config is unchanged, 200 after login")
    func etag() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aabb0a", pushes: false)
            #expect(try await phone.fetchConfig() == 304)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(try await phone.fetchConfig() == 200)
            #expect(try await phone.fetchConfig() == 304)
        }
    }

    @Test("a model that must reboot is rebooted after login (s300), and comes back logged in")
    func rebootOnLogin() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s300", mac: "001565aabb0d")
            let mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await phone.displayText.contains("restarting"))
            #expect(await phone.waitForEvents(timeout: 8) { $0.dropFirst(mark).contains(.booted) })
            #expect(await phone.events.dropFirst(mark).contains(.rebootStarted))
            #expect(await phone.config.lineUser == "5501")
        }
    }

    @Test("wrong passwords lock the extension on every phone, then the phone itself")
    func lockouts() async throws {
        let file = """
            settings:
              default_login: true
              internal_address: 127.0.0.1:{PORT}
              user_password: "7777"
              lockout: {extension_failures: 3, device_failures: 5, window_minutes: 15, duration_minutes: 15}
            extensions:
              - {number: "5501", name: Ada, voicemail_pin: "1234", sip_password: "sip-secret-5501"}
              - {number: "5502", name: Bob, sip_password: "sip-secret-5502"}
              - {number: "5503", name: Cy, voicemail_pin: "5503", sip_password: "sip-secret-5503"}
            """
        try await TestServer.with(yaml: file) { (server: TestServer) async throws in
            let a = try await server.phone("yealink-t46u", mac: "001565aabb0b", pushes: false)
            let b = try await server.phone("sangoma-s500", mac: "001565aabb0c", pushes: false)
            try await a.login("Login Int", ext: "5501", password: "1111")
            #expect(await a.displayText.contains("2 tries left"))
            try await a.login("Login Int", ext: "5501", password: "1111")
            #expect(await a.displayText.contains("One more wrong try"))
            try await a.login("Login Int", ext: "5501", password: "1111")
            #expect(await a.displayText.contains("5501 is locked until"))
            // Locked on every phone, even with the right PIN.
            try await b.login("Login Int", ext: "5501", password: "1234")
            #expect(await b.displayText.contains("5501 is locked until"))
            #expect(try await server.store.sessions().isEmpty)
            // Other extensions still work on phone b.
            try await b.login("Login Int", ext: "5502", password: "7777")
            #expect(await b.title == "Logged in")
            // Phone a: two more failures (an unknown extension counts for the phone, and is answered
            // exactly like a wrong password: the app does not tell which extensions exist) lock the phone.
            try await a.login("Login Int", ext: "5599", password: "1111")
            #expect(await a.displayText.contains("Wrong password for 5599. 2 tries left"))
            try await a.login("Login Int", ext: "5503", password: "0000")
            #expect(await a.displayText.contains("this phone is locked until"))
            try await a.login("Login Int", ext: "5503", password: "5503")
            #expect(await a.displayText.contains("this phone is locked"))
            var audit = try await server.store.auditLog(limit: 50)
            #expect(audit.filter { $0.action == .lockout }.count == 2)
            #expect(audit.contains { $0.detail == "unknown extension" && $0.extensionNumber == "5599" })
            // Attempts under a lock are counted, not listed: after the lock, one row each with the count.
            #expect(!audit.contains { $0.action == .loginFailed && $0.outcome == .refused })
            server.clock.advance(by: 16 * 60)
            try await a.login("Login Int", ext: "5503", password: "0000")
            audit = try await server.store.auditLog(limit: 50)
            let summaries = audit.filter { $0.action == .loginFailed && $0.outcome == .refused }.map(\.detail)
            #expect(summaries.contains { $0.hasPrefix("1 attempt refused while extension 5501 locked on every phone") })
            #expect(summaries.contains { $0.hasPrefix("1 attempt refused while phone 00:15:65:aa:bb:0b locked for every extension") })
        }
    }
}

@Suite("Templates through real HTTP")
struct TemplateFlowTests {
    @Test("a mapped template is served when its extension logs in; others get the brand default")
    func mappedTemplate() async throws {
        let yaml =
            flowDirectory + """

                templates:
                  - name: office-default
                    brand: yealink
                    default: true
                    body: "#!version:1.0.0.1\\nhotdesk.template = office-default\\n{{#logged_in}}account.1.enable = 1\\naccount.1.user_name = {{line.number}}\\n{{/logged_in}}linekey.3.type = 27\\nlinekey.3.value = {{app_url}}\\nstatic.auto_provision.server.username = {{provisioning.username}}\\nstatic.auto_provision.server.password = {{provisioning.password}}\\n"
                  - name: ada-t46u
                    brand: yealink
                    body: "#!version:1.0.0.1\\nhotdesk.template = ada-t46u\\naccount.1.enable = 1\\naccount.1.user_name = {{line.number}}\\nlinekey.3.type = 27\\nlinekey.3.value = {{app_url}}\\nstatic.auto_provision.server.username = {{provisioning.username}}\\nstatic.auto_provision.server.password = {{provisioning.password}}\\n"
                mappings:
                  - extension: "5501"
                    template: ada-t46u
                    model: yealink-t46u
                """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aabb20", pushes: false)
            #expect(await phone.setting("hotdesk.template") == "office-default")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            try await phone.fetchConfig()
            #expect(await phone.setting("hotdesk.template") == "ada-t46u")
            #expect(await phone.config.lineUser == "5501")
            try await phone.login("Login Int", ext: "5502", password: "7777")
            try await phone.fetchConfig()
            #expect(await phone.setting("hotdesk.template") == "office-default")
            #expect(await phone.config.lineUser == "5502")
        }
    }
}

@Suite("phonesim interactive: keypad-style lines")
struct KeypadTests {
    @Test("h, a menu number, digits, n, digits, Done: a login by hand; lines that mean nothing are refused")
    func loginByHand() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565aaee10", pushes: false)
            #expect(await phone.keypadStep("") == nil)
            #expect(await phone.keypadStep("1234") == nil, "nothing on the idle screen takes digits")
            for line in ["h", "1", "5501", "n", "1234", "Done"] {
                let step = try #require(await phone.keypadStep(line), "\(line)")
                try await ScriptRunner().run(PhoneScript(lines: [.init(number: 1, text: line, step: step)]), on: phone)
            }
            #expect(await phone.displayText.contains("Logged in as 5501"))
            #expect(await phone.keypadStep("select 2") == .select("2"), "script steps work as they are")
            #expect(await phone.keypadStep("exit") == .key("exit"))
        }
    }
}

@Suite("Auto logout: sessions that end by themselves")
struct AutoLogoutFlowTests {
    func directory(_ autoLogout: String) -> String {
        withSettings(flowDirectory, "  auto_logout: \(autoLogout)\n")
    }

    /// Logs 5501 in on a new T46U and waits until the phone has its line.
    func loggedIn(_ server: TestServer, mac: String) async throws -> SimulatedPhone {
        let phone = try await server.phone("yealink-t46u", mac: mac)
        try await phone.login("Login Int", ext: "5501", password: "1234")
        #expect(await eventually { await phone.config.lineUser == "5501" })
        return phone
    }

    /// Waits until the phone is logged out by policy: audited, pushed with reason `policy`, applied.
    func expectPolicyLogout(_ server: TestServer, _ phone: SimulatedPhone, reason: String) async throws {
        #expect(try await eventually { try await server.store.sessions().isEmpty })
        let entry = try #require(try await server.store.auditLog(limit: 20).first { $0.action == .logout })
        #expect(entry.actor == "policy" && entry.extensionNumber == "5501" && entry.detail.contains(reason), "\(entry.detail)")
        #expect(
            try await eventually {
                try await server.store.pushJobs(state: .applied, mac: MACAddress(phone.mac), limit: 5).contains { $0.reason == .policy }
            }
        )
        #expect(await eventually { await phone.config.lineActive == false })
    }

    @Test("after_hours: a session older than the limit is logged out and the phone pushed; a younger one stays")
    func maxDuration() async throws {
        try await TestServer.with(yaml: directory("{after_hours: 12}")) { (server: TestServer) async throws in
            let phone = try await loggedIn(server, mac: "001565aaff01")
            server.clock.advance(by: 11 * 3600)
            #expect(await server.service.autoLogoutSweep().isEmpty, "a sweep 11 h later ends nothing")
            #expect(try await server.store.sessions().count == 1, "11 h is within the limit")
            server.clock.advance(by: 3600)
            try await expectPolicyLogout(server, phone, reason: "more than 12 h")
        }
    }

    @Test(
        "idle_minutes: a phone not used for that long (its app, its calls as the PBX reports them) is logged out; using the app or a call holds it"
    )
    func idle() async throws {
        let yaml = withSettings(directory("{idle_minutes: 30}"), "  sip: {server: \"127.0.0.2:5060\"}\n")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await loggedIn(server, mac: "001565aaff03")
            let pbx = try await PBXTests().pbx(server)
            server.clock.advance(by: 20 * 60)
            try await phone.key("hotdesk")
            #expect(await phone.menuLabels.contains("Logout"), "the person opens the app 20 min after logging in")
            server.clock.advance(by: 20 * 60)
            #expect(await server.service.autoLogoutSweep().isEmpty, "40 min after the login, 20 after the app was used: not idle")
            // A call of two hours: never idle on a call; the idle time counts from its end.
            let call = #"{"call_id": "idle-1", "auth_user": "5501", "source_ip": "127.0.0.1"}"#
            #expect(try await pbx.call("POST", "/calls/start", body: call).status == 200)
            server.clock.advance(by: 2 * 3600)
            #expect(await server.service.autoLogoutSweep().isEmpty, "on a call for 2 h: not idle")
            #expect(try await pbx.call("POST", "/calls/end", body: call).status == 204)
            server.clock.advance(by: 29 * 60)
            #expect(await server.service.autoLogoutSweep().isEmpty, "29 min after the call")
            #expect(try await server.store.sessions().count == 1)
            server.clock.advance(by: 2 * 60)
            try await expectPolicyLogout(server, phone, reason: "idle for 30 min")
        }
    }

    @Test("daily_at: every session running at that time of day is logged out")
    func daily() async throws {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let soon = utc.dateComponents([.hour, .minute], from: Date() + 120)
        let time = String(format: "%02d:%02d", soon.hour!, soon.minute!)
        try await TestServer.with(yaml: directory("{daily_at: \"\(time)\"}")) { (server: TestServer) async throws in
            let phone = try await loggedIn(server, mac: "001565aaff02")
            #expect(await server.service.autoLogoutSweep().isEmpty, "a sweep before \(time) ends nothing")
            #expect(try await server.store.sessions().count == 1, "\(time) has not come yet")
            server.clock.advance(by: 180)
            try await expectPolicyLogout(server, phone, reason: "daily logout at \(time)")
        }
    }
}
