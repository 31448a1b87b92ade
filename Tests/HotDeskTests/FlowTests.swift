import Foundation
import HotDeskCore
import Testing

let flowDirectory = """
    settings:
      default_login: true
      internal_address: 127.0.0.1:{PORT}
      external_address: localhost:{PORT}
      user_password: "7777"
      admin_password: "master-4242"
    extensions:
      - number: "5501"
        name: Ada Lovelace
        voicemail_pin: "1234"
        sip_password: "sip-secret-5501"
      - number: "5502"
        name: Bob No-Voicemail
        sip_password: "sip-secret-5502"
    """

@Suite("Login and logout flows through real HTTP")
struct FlowTests {
    @Test("enrol an unknown phone, wrong PIN, right PIN, logged-in config with the internal address", arguments: [TestPhone.Kind.yealinkT46U, .sangomaS500])
    func enrolAndLoginInternal(kind: TestPhone.Kind) async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            var phone = TestPhone(kind, mac: "001565aabb01", server: server.baseURL)
            #expect(try await phone.fetchConfig() == 200)
            #expect(try phone.registeredLine() == nil)
            let keyURL = try #require(try phone.hotdeskKeyURL())
            #expect(!keyURL.lowercased().contains("001565aabb01"), "the app URL must not carry the MAC")

            try await phone.pressHotDeskKey()
            #expect(phone.display?.items.map(\.label) == ["Login Int", "Login Extl"])
            try await phone.select("Login Int")
            #expect(phone.display?.kind == "input")
            #expect(phone.display?.fields.map(\.masked) == [false, true], "the password field is masked")
            phone.type(["ext": "5501", "pw": "0000"])
            try await phone.submit()
            #expect(phone.display?.title == "Login failed")
            #expect(phone.display?.text.contains("Wrong password") == true)

            try await phone.pressSoftKey("Try again")
            #expect(phone.display?.fields.first?.value == "5501", "the extension is kept for the retry")
            phone.type(["pw": "1234"])
            try await phone.submit()
            #expect(phone.display?.text.contains("Logged in as 5501") == true)

            try await phone.fetchConfig()
            let line = try #require(try phone.registeredLine())
            #expect(line.user == "5501")
            #expect(line.server == "127.0.0.1")
            #expect(phone.config.contains("sip-secret-5501"))
            #expect(try phone.hotdeskKeyURL()?.hasPrefix("http://127.0.0.1:\(server.port)/app/") == true, "the key survives login")

            let audit = try await server.store.auditLog(limit: 20)
            #expect(audit.contains { $0.action == .enrol && $0.mac?.canonical == "001565aabb01" })
            #expect(audit.contains { $0.action == .loginFailed && $0.extensionNumber == "5501" && $0.source == "127.0.0.1" })
            #expect(audit.contains { $0.action == .login && $0.extensionNumber == "5501" && $0.outcome == .success })
        }
    }

    @Test("Login Extl gives the external address")
    func loginExternal() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            var phone = TestPhone(.yealinkT46U, mac: "001565aabb02", server: server.baseURL)
            try await phone.fetchConfig()
            try await phone.login("Login Extl", ext: "5501", password: "1234")
            #expect(phone.display?.title == "Logged in")
            try await phone.fetchConfig()
            #expect(try phone.registeredLine()?.server == "localhost")
            #expect(try phone.setting("static.auto_provision.server.url") == "http://localhost:\(server.port)/provision/")
            #expect(try await server.store.sessions().first?.network == .external)
        }
    }

    @Test("an extension without voicemail logs in with the user password, and only then")
    func userPassword() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            var phone = TestPhone(.sangomaS500, mac: "001565aabb03", server: server.baseURL)
            try await phone.fetchConfig()
            // 5501 has a voicemail box: the user password does not work for it.
            try await phone.login("Login Int", ext: "5501", password: "7777")
            #expect(phone.display?.title == "Login failed")
            try await phone.login("Login Int", ext: "5502", password: "7777")
            #expect(phone.display?.text.contains("Logged in as 5502") == true)
            #expect(try await server.store.session(mac: MACAddress("001565aabb03")!)?.credential == .userPassword)
        }
    }

    @Test("the admin password logs any extension into any phone, and the audit says so")
    func adminPassword() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            var phone = TestPhone(.yealinkT46U, mac: "001565aabb04", server: server.baseURL)
            try await phone.fetchConfig()
            try await phone.login("Login Int", ext: "5501", password: "master-4242")
            #expect(phone.display?.title == "Logged in")
            let entry = try #require(try await server.store.auditLog(limit: 5).first { $0.action == .login })
            #expect(entry.actor == "admin-password")
            #expect(entry.detail.contains("admin_password"))
        }
    }

    @Test("logout from the menu gives the logged-out config back")
    func logoutFromMenu() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            var phone = TestPhone(.sangomaS500, mac: "001565aabb05", server: server.baseURL)
            try await phone.fetchConfig()
            let loggedOutETag = phone.configETag
            try await phone.login("Login Int", ext: "5501", password: "1234")
            try await phone.fetchConfig()
            #expect(try phone.registeredLine()?.user == "5501")

            try await phone.pressHotDeskKey()
            #expect(phone.display?.title.contains("5501") == true)
            #expect(phone.display?.items.map(\.label) == ["Login", "Logout"])
            try await phone.select("Logout")
            try await phone.select("Yes, log out")
            #expect(phone.display?.title == "Logged out")
            #expect(try await phone.fetchConfig() == 200)
            #expect(try phone.registeredLine() == nil)
            #expect(phone.configETag == loggedOutETag, "the logged-out config is the same as before login")
            #expect(try await server.store.auditLog(limit: 5).contains { $0.action == .logout && $0.extensionNumber == "5501" })
        }
    }

    @Test("login over another person logs them out; the same extension on a second phone leaves the first")
    func loginOverAndMove() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            var a = TestPhone(.yealinkT46U, mac: "001565aabb06", server: server.baseURL)
            var b = TestPhone(.yealinkT46U, mac: "001565aabb07", server: server.baseURL)
            try await a.fetchConfig()
            try await b.fetchConfig()
            try await a.login("Login Int", ext: "5501", password: "1234")
            try await a.login("Login Int", ext: "5502", password: "7777")  // over 5501 on the same phone
            var sessions = try await server.store.sessions()
            #expect(sessions.map(\.extensionNumber) == ["5502"])
            try await b.login("Login Int", ext: "5502", password: "7777")  // 5502 moves to phone b
            sessions = try await server.store.sessions()
            #expect(sessions.count == 1)
            #expect(sessions.first?.mac.canonical == "001565aabb07")
            try await a.fetchConfig()
            #expect(try a.registeredLine() == nil)
            let logouts = try await server.store.auditLog(limit: 20).filter { $0.action == .logout }
            #expect(logouts.count == 2)
        }
    }

    @Test("unknown MAC with default login off: 404 and an audit entry")
    func defaultLoginOff() async throws {
        let yaml = flowDirectory.replacingOccurrences(of: "default_login: true", with: "default_login: false")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            var phone = TestPhone(.yealinkT46U, mac: "001565aabb08", server: server.baseURL)
            #expect(try await phone.fetchConfig() == 404)
            let entry = try #require(try await server.store.auditLog(limit: 5).first)
            #expect(entry.action == .unknownDeviceRefused)
            #expect(entry.mac?.canonical == "001565aabb08")
            #expect(try await server.store.device(mac: MACAddress("001565aabb08")!) == nil)
        }
    }

    @Test("a known device still gets its config with default login off")
    func knownDeviceWithDefaultLoginOff() async throws {
        let yaml = flowDirectory.replacingOccurrences(of: "default_login: true", with: "default_login: false")
            + "\ndevices:\n  - mac: 00-15-65-AA-BB-09\n    model: sangoma-s500\n"
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            var phone = TestPhone(.sangomaS500, mac: "001565aabb09", server: server.baseURL)
            #expect(try await phone.fetchConfig() == 200)
            #expect(try phone.hotdeskKeyURL() != nil)
        }
    }

    @Test("ETag and If-None-Match: 304 while the config is unchanged, 200 after login")
    func etag() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            var phone = TestPhone(.yealinkT46U, mac: "001565aabb0a", server: server.baseURL)
            #expect(try await phone.fetchConfig() == 200)
            #expect(phone.configETag != nil)
            #expect(try await phone.fetchConfig() == 304)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(try await phone.fetchConfig() == 200)
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
            var a = TestPhone(.yealinkT46U, mac: "001565aabb0b", server: server.baseURL)
            var b = TestPhone(.sangomaS500, mac: "001565aabb0c", server: server.baseURL)
            try await a.fetchConfig()
            try await b.fetchConfig()
            try await a.login("Login Int", ext: "5501", password: "1111")
            #expect(a.display?.text.contains("2 tries left") == true)
            try await a.login("Login Int", ext: "5501", password: "1111")
            #expect(a.display?.text.contains("One more wrong try") == true)
            try await a.login("Login Int", ext: "5501", password: "1111")
            #expect(a.display?.text.contains("5501 is locked until") == true)
            // Locked on every phone, even with the right PIN.
            try await b.login("Login Int", ext: "5501", password: "1234")
            #expect(b.display?.text.contains("5501 is locked until") == true)
            #expect(try await server.store.sessions().isEmpty)
            // Other extensions still work on phone b.
            try await b.login("Login Int", ext: "5502", password: "7777")
            #expect(b.display?.title == "Logged in")
            // Phone a: two more failures (unknown extension counts for the phone) lock the phone.
            try await a.login("Login Int", ext: "5599", password: "1111")
            #expect(a.display?.text.contains("5599 does not exist") == true)
            try await a.login("Login Int", ext: "5503", password: "0000")
            #expect(a.display?.text.contains("this phone is locked until") == true)
            try await a.login("Login Int", ext: "5503", password: "5503")
            #expect(a.display?.text.contains("this phone is locked") == true)
            let audit = try await server.store.auditLog(limit: 50)
            #expect(audit.filter { $0.action == .lockout }.count == 2)
            #expect(audit.contains { $0.action == .loginFailed && $0.outcome == .refused })
        }
    }
}

@Suite("Templates through real HTTP")
struct TemplateFlowTests {
    @Test("a mapped template is served when its extension logs in; others get the brand default")
    func mappedTemplate() async throws {
        let yaml = flowDirectory + """

            templates:
              - name: office-default
                brand: yealink
                default: true
                body: "#!version:1.0.0.1\\nhotdesk.template = office-default\\n{{#logged_in}}account.1.enable = 1\\naccount.1.user_name = {{line.number}}\\n{{/logged_in}}linekey.3.type = 27\\nlinekey.3.value = {{app_url}}\\n"
              - name: ada-t46u
                brand: yealink
                body: "#!version:1.0.0.1\\nhotdesk.template = ada-t46u\\naccount.1.enable = 1\\naccount.1.user_name = {{line.number}}\\nlinekey.3.type = 27\\nlinekey.3.value = {{app_url}}\\n"
            mappings:
              - extension: "5501"
                template: ada-t46u
                model: yealink-t46u
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            var phone = TestPhone(.yealinkT46U, mac: "001565aabb20", server: server.baseURL)
            try await phone.fetchConfig()
            #expect(try phone.setting("hotdesk.template") == "office-default")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            try await phone.fetchConfig()
            #expect(try phone.setting("hotdesk.template") == "ada-t46u")
            #expect(try phone.registeredLine()?.user == "5501")
            try await phone.login("Login Int", ext: "5502", password: "7777")
            try await phone.fetchConfig()
            #expect(try phone.setting("hotdesk.template") == "office-default")
            #expect(try phone.registeredLine()?.user == "5502")
        }
    }
}
