import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

/// Change PIN on the phone (issue 26, item 6): a logged-in person replaces the secret they log in
/// with; the old one is checked as a login's password is; the directory never takes it back.
@Suite("Change PIN: a person's own PIN, chosen on the phone")
struct ChangePINTests {
    static let directory = """
        settings:
          internal_address: 127.0.0.1:{PORT}
          push_port: {PUSH_PORT}
          lockout: {extension_failures: 3, device_failures: 20}
        extensions:
          - {number: "5501", name: Ada, voicemail_pin: "1234", sip_password: "sip-secret-5501"}
          - {number: "5502", name: Bob, voicemail_pin: "2345", sip_password: "sip-secret-5502"}
        devices:
          - {mac: "00:15:65:3c:00:01", model: yealink-t46u}
          - {mac: "00:04:13:3c:00:02", model: snom-d735}
          - {mac: "00:15:65:3c:00:03", model: yealink-t46u, users: ["5501", "5502"]}
          - {mac: "00:15:65:3c:00:04", model: yealink-t46u, users: ["5502"]}
        """

    @Test(
        "Change PIN: a wrong current PIN is refused and counted, bad new PINs refused unchecked; the new PIN logs in and the voicemail PIN no longer does; a re-import keeps it; the helpdesk clears it; audited without a PIN"
    )
    func changePIN() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            var shown = ""
            let phone = try await server.phone("yealink-t46u", mac: "0015653c0001")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            func failures() async throws -> Int {
                let entries = try await server.store.auditLog(limit: 100)
                return entries.filter { $0.action == .loginFailed && $0.extensionNumber == "5501" }.count
            }

            // New PINs that cannot be: refused before the current PIN is looked at (nothing counted).
            for (new, again, why) in [("12", "12", "4 to 12 digits"), ("4321", "4322", "differ"), ("1234", "1234", "current one")] {
                try await phone.changePIN(old: "1234", new: new, again: again)
                shown = await phone.displayText
                #expect(shown.contains(why), "\(new)/\(again): \(shown)")
            }
            #expect(try await failures() == 0, "no guess was checked")
            // A wrong current PIN: a wrong password like a login's, counted toward the lock.
            try await phone.changePIN(old: "9999", new: "4321")
            shown = await phone.displayText
            #expect(shown.contains("Wrong password for 5501"), "\(shown)")
            #expect(try await failures() == 1)
            // The right one: changed.
            try await phone.changePIN(old: "1234", new: "4321")
            shown = await phone.displayText
            #expect(shown.contains("PIN of 5501 is changed"), "\(shown)")
            let changed = try #require(try await server.store.auditLog(limit: 20).first { $0.action == .pinChanged })
            #expect(changed.actor == "5501" && changed.outcome == .success && changed.mac?.canonical == "0015653c0001")
            let entries = try await server.store.auditLog(limit: 100)
            #expect(!entries.contains { $0.detail.contains("4321") || $0.detail.contains("1234") }, "no PIN in the audit")

            // From now on the chosen PIN logs in, the voicemail PIN does not.
            try await phone.logoutApplied()
            try await phone.login("Login Int", ext: "5501", password: "1234")
            shown = await phone.displayText
            #expect(shown.contains("Wrong password"), "\(shown)")
            try await phone.loginApplied("Login Int", ext: "5501", password: "4321")
            #expect(try await server.store.session(mac: MACAddress("0015653c0001")!)?.credential == .ownPIN)
            try await phone.logoutApplied()

            // The directory imported again (its voicemail PIN 1234): the chosen PIN stays.
            let yaml = Self.directory.replacingOccurrences(of: "{PORT}", with: "\(server.port)")
                .replacingOccurrences(of: "{PUSH_PORT}", with: "\(testPushPort)")
            _ = try await importDirectory(yaml, into: server.store, base: server.directory)
            try await phone.loginApplied("Login Int", ext: "5501", password: "4321")
            try await phone.logoutApplied()

            // Forgotten: the helpdesk clears it, and the voicemail PIN logs in again.
            let admin = try await AdminAPITests().client(server)
            let cleared = try await admin.call("DELETE", "/extensions/5501/pin")
            #expect(cleared.status == 200 && cleared.json["logs_in_with"] as? String == "voicemail_pin", "\(cleared.json)")
            #expect((try await admin.call("DELETE", "/extensions/5501/pin").json["error"] as? [String: Any])?["code"] as? String == "no_pin")
            #expect(try await admin.call("DELETE", "/extensions/55x1/pin").status == 400)
            #expect(try await admin.call("DELETE", "/extensions/5599/pin").status == 404)
            #expect(try await server.store.auditLog(limit: 5).contains { $0.action == .pinChanged && $0.actor == "api:test" })
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            await phone.shutdown()
        }
    }

    @Test(
        "Change PIN is locked like a login: wrong current PINs lock the extension, after which even the right one is refused; the admin password proves no one's PIN; a phone that asks one field per screen chains three"
    )
    func lockedLikeALogin() async throws {
        let yaml = withSettings(Self.directory, "  admin_password: \"987654321098\"\n")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            var shown = ""
            // Snom: one field per screen. The current PIN, the new one and again, each with OK.
            let snom = try await server.phone("snom-d735", mac: "0004133c0002")
            try await snom.loginApplied("Login Int", ext: "5502", password: "2345")
            try await snom.changePIN(old: "2345", new: "5432")
            shown = await snom.displayText
            #expect(shown.contains("PIN of 5502 is changed"), "\(shown)")
            try await snom.logoutApplied()
            try await snom.loginApplied("Login Int", ext: "5502", password: "5432")
            // The admin password is no one's own PIN.
            try await snom.changePIN(old: "987654321098", new: "1111")
            shown = await snom.displayText
            #expect(shown.contains("not the admin password"), "\(shown)")
            await snom.shutdown()

            let phone = try await server.phone("yealink-t46u", mac: "0015653c0001")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            try await phone.changePIN(old: "0000", new: "4321")
            try await phone.changePIN(old: "0001", new: "4321")
            try await phone.changePIN(old: "0002", new: "4321")
            shown = await phone.displayText
            #expect(shown.contains("locked"), "the third wrong PIN locks 5501: \(shown)")
            try await phone.changePIN(old: "1234", new: "4321")
            shown = await phone.displayText
            #expect(shown.contains("locked"), "locked: even the right PIN is refused: \(shown)")
            #expect(try await server.store.findExtension("5501")?.ownPIN == nil, "nothing changed")
            #expect(try await server.store.auditLog(limit: 30).contains { $0.action == .lockout && $0.extensionNumber == "5501" })
            await phone.shutdown()
        }
    }

    /// The extension the Login form offers (Login/Logout → Login Int), the form left as it is.
    func offered(_ phone: SimulatedPhone) async throws -> String {
        try await phone.key("hotdesk")
        if await phone.menuLabels.contains("Logout") { try await phone.select("Login") }
        try await phone.select("Login Int")
        guard case .input(_, _, let fields, _)? = await phone.screen else { return "no form" }
        return fields.first?.value ?? ""
    }

    @Test(
        "remember me: a personal device's Login form offers the user who last logged in on it (else its only user); a shared desk offers no one"
    )
    func rememberMe() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let personal = try await server.phone("yealink-t46u", mac: "0015653c0003")
            #expect(try await offered(personal) == "", "two users, none logged in yet: no one offered")
            try await personal.loginApplied("Login Int", ext: "5502", password: "2345")
            try await personal.logoutApplied()
            #expect(try await offered(personal) == "5502", "the last user offered first")
            // Offered: the person types the PIN only.
            try await personal.next()
            try await personal.type("2345")
            let mark = await personal.events.count
            try await personal.submit()
            #expect(await personal.waitForApply(since: mark))
            #expect(try await server.store.session(mac: MACAddress("0015653c0003")!)?.extensionNumber == "5502")
            try await personal.logoutApplied()
            // Another of its users logs in (the offered number replaced): offered next time.
            try await personal.loginApplied("Login Int", ext: "5501", password: "1234")
            try await personal.logoutApplied()
            #expect(try await offered(personal) == "5501")
            await personal.shutdown()

            let own = try await server.phone("yealink-t46u", mac: "0015653c0004")
            #expect(try await offered(own) == "5502", "its only user")
            await own.shutdown()
            let shared = try await server.phone("yealink-t46u", mac: "0015653c0001")
            try await shared.loginApplied("Login Int", ext: "5501", password: "1234")
            try await shared.logoutApplied()
            #expect(try await offered(shared) == "", "a shared desk remembers no one")
            await shared.shutdown()
        }
    }
}
