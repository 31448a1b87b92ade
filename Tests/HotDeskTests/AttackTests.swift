import Foundation
import HotDeskCore
import HotDeskServer
import PhoneSimulator
import Testing

/// The attacks of issue 11, each reproduced through real HTTP as an attacker on the same network
/// would run it. Each of these failed before its fix.
@Suite("Attacks: guessing, racing and flooding the Login app")
struct LoginAttackTests {
    /// The "Done" URL of a phone's login form (`…/app/<token>/submit?net=int`), as its Login key finds it.
    static func submitURL(_ phone: SimulatedPhone) async throws -> String {
        try await phone.key("hotdesk")
        try await phone.select("Login Int")
        guard case .input(_, let form, _, _)? = await phone.screen else { throw TestFailure("no login form on \(phone.mac)") }
        return form
    }

    static func extensions(_ count: Int, from first: Int = 6000) -> String {
        (0..<count).map { "  - {number: \"\(first + $0)\", name: User \($0), voicemail_pin: \"\(4000 + $0)\", sip_password: \"sip-\($0)-secret\"}" }
            .joined(separator: "\n")
    }

    @Test("16 clients guessing one extension at once: exactly the limit is evaluated, no more")
    func concurrentGuesses() async throws {
        let yaml = """
            settings:
              default_login: true
              internal_address: 127.0.0.1:{PORT}
              lockout: {extension_failures: 5, device_failures: 1000, source_failures: 1000}
            extensions:
            \(Self.extensions(1))
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ac0001", pushes: false)
            let form = try await Self.submitURL(phone)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<16 {
                    group.addTask {
                        for round in 0..<3 { _ = try await HTTP.get(form + "&ext=6000&pw=\(1000 + client * 3 + round)") }
                    }
                }
                try await group.waitForAll()
            }
            let audit = try await server.store.auditLog(limit: 500)
            let evaluated = audit.filter { $0.action == .loginFailed && $0.outcome == .failure && $0.extensionNumber == "6000" }
            #expect(evaluated.count == 5, "guesses evaluated against a limit of 5: \(evaluated.count)")
            #expect(audit.filter { $0.action == .lockout }.count == 1)
            // Even the right PIN is refused now.
            let right = try await HTTP.get(form + "&ext=6000&pw=4000")
            #expect(right.body.contains("6000 is locked until"))
            #expect(try await server.store.sessions().isEmpty)
        }
    }

    @Test("admin-password guessing spread over 100 extensions and 50 fresh phones stops at the global budget; PINs still work")
    func globalBudget() async throws {
        let yaml = """
            settings:
              default_login: true
              internal_address: 127.0.0.1:{PORT}
              admin_password: "right-admin-password"
              lockout: {extension_failures: 5, device_failures: 10, source_failures: 100000, global_failures: 20}
            extensions:
            \(Self.extensions(102))
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            var forms: [String] = []
            for n in 0..<50 { forms.append(try await Self.submitURL(try await server.phone("yealink-t46u", mac: String(format: "001565ad%04x", n), pushes: false))) }
            // One guess per extension, two per phone: no extension or phone limit is ever reached.
            for n in 0..<100 { _ = try await HTTP.get(forms[n / 2] + "&ext=\(6000 + n)&pw=guess-\(n)") }
            let audit = try await server.store.auditLog(limit: 1000)
            let evaluated = audit.filter { $0.detail == "wrong password" }
            #expect(evaluated.count == 20, "guesses evaluated against the global passwords: \(evaluated.count)")
            #expect(audit.filter { $0.action == .lockout && $0.detail.contains("global password") }.count == 1)
            #expect(audit.filter { $0.detail.hasPrefix("wrong password; global passwords blocked until") }.count == 80)
            // The right admin password no longer works…
            let admin = try await HTTP.get(forms[0] + "&ext=6100&pw=right-admin-password")
            #expect(admin.body.contains("Wrong password for 6100"))
            // …while a voicemail PIN does; and after the block, the admin password again.
            let pin = try await HTTP.get(forms[1] + "&ext=6101&pw=4101")
            #expect(pin.body.contains("Logged in"))
            server.clock.advance(by: 16 * 60)
            let later = try await HTTP.get(forms[2] + "&ext=6100&pw=right-admin-password")
            #expect(later.body.contains("Logged in"))
            #expect(try await server.store.sessions().count == 2)
        }
    }

    @Test("a flood on a locked extension is answered from memory: one summary row with the count, not a row each")
    func lockedFlood() async throws {
        let yaml = """
            settings:
              default_login: true
              internal_address: 127.0.0.1:{PORT}
              lockout: {extension_failures: 3, device_failures: 1000, source_failures: 1000}
            extensions:
            \(Self.extensions(1))
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ae0001", pushes: false)
            let form = try await Self.submitURL(phone)
            for n in 0..<3 { _ = try await HTTP.get(form + "&ext=6000&pw=99\(n)") }
            let before = try await server.store.auditLog(limit: 10_000).count
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<8 {
                    group.addTask { for n in 0..<50 { _ = try await HTTP.get(form + "&ext=6000&pw=\(client)\(n)") } }
                }
                try await group.waitForAll()
            }
            #expect(try await server.store.auditLog(limit: 10_000).count == before, "400 refused attempts wrote no row")
            server.clock.advance(by: 16 * 60)
            _ = try await HTTP.get(form + "&ext=6000&pw=4000")
            let audit = try await server.store.auditLog(limit: 10_000)
            #expect(audit.contains { $0.detail.hasPrefix("400 attempts refused while extension 6000 locked on every phone") })
            #expect(audit.count <= before + 3)
            #expect(try await server.store.sessions().count == 1)
        }
    }

    @Test("failures from one source address lock it out, whatever phones and extensions it rotates")
    func sourceLimit() async throws {
        let yaml = """
            settings:
              default_login: true
              internal_address: 127.0.0.1:{PORT}
              lockout: {extension_failures: 5, device_failures: 10, source_failures: 12}
            extensions:
            \(Self.extensions(30))
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            var forms: [String] = []
            for n in 0..<6 { forms.append(try await Self.submitURL(try await server.phone("yealink-t46u", mac: String(format: "001565af%04x", n), pushes: false))) }
            // From this test process (one address), 2 guesses per phone and one per extension.
            for n in 0..<12 { _ = try await HTTP.get(forms[n / 2] + "&ext=\(6000 + n)&pw=0") }
            let next = try await HTTP.get(forms[0] + "&ext=6020&pw=4020")
            #expect(next.body.contains("locked until"))
            let audit = try await server.store.auditLog(limit: 200)
            #expect(audit.contains { $0.action == .lockout && $0.detail.hasPrefix("source address 127.0.0.1 locked") })
            #expect(try await server.store.sessions().isEmpty)
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Attacks: hostile Host headers and paths that dodge the log redaction")
struct RequestAttackTests {
    @Test("a hostile Host is never reflected into app URLs, the stored host or the Yealink push allow list")
    func hostileHost() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let agent = ["User-Agent": "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:cc:01"]
            for (n, host) in ["evil.example", "evil.example:8080", "10.66.6.6:80", "127.0.0.1.evil.example"].enumerated() {
                let config = try await HTTP.get("\(server.baseURL)/provision/001565aacc1\(n).cfg", headers: agent.merging(["Host": host]) { a, _ in a })
                #expect(config.status == 200)
                #expect(!config.body.contains("evil") && !config.body.contains("10.66.6.6"), "\(host) reflected in the config")
                #expect(config.body.contains("127.0.0.1:\(server.port)/app/"), "an unknown Host gets the internal address")
            }
            let phone = try await server.phone("yealink-t46u", mac: "001565aacc02", pushes: false)
            let key = try #require(await phone.config.browserKeyURL)
            let path = "/app/" + (key.split(separator: "/").last.map(String.init) ?? "")
            let menu = try await HTTP.get("\(server.baseURL)\(path)", headers: ["Host": "evil.example"])
            #expect(!menu.body.contains("evil.example"))
            #expect(menu.body.contains("http://127.0.0.1:\(server.port)/app/"))
            // The external address is believed (a Login Extl phone asks by that name).
            let external = try await HTTP.get("\(server.baseURL)\(path)", headers: ["Host": "localhost:\(server.port)"])
            #expect(external.body.contains("http://localhost:\(server.port)/app/"))
        }
    }

    @Test("//app/<token> and /app//<token> reach the app, and the request log blanks the token in every spelling")
    func redaction() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aacc03", pushes: false)
            let token = try #require(await phone.config.browserKeyURL?.split(separator: "/").last.map(String.init))
            for path in ["/app/\(token)", "//app/\(token)", "/app//\(token)", "//app//\(token)/login", "///app///\(token)/submit"] {
                let r = try await HTTP.get("\(server.baseURL)\(path)")
                #expect(r.status == 200, "\(path)")
                let logged = RequestLogMiddleware<HotDeskRequestContext>.redact(path)
                #expect(!logged.contains(token), "\(path) logged as \(logged)")
                #expect(!logged.contains(String(token.prefix(8))))
            }
            #expect(!RequestLogMiddleware<HotDeskRequestContext>.redact("/app/x\u{1b}[2J").contains("\u{1b}"))
        }
    }
}
