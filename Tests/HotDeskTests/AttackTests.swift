import Curl
import Foundation
import HotDeskCore
import HotDeskStore
import NIOCore
import NIOEmbedded
import PhoneSimulator
import Testing

@testable import HotDeskServer

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

    /// Extension 6000 (PIN 4000), locked after 5 wrong passwords; phones and addresses never.
    static let oneExtensionLimitFive = """
        settings:
          default_login: true
          internal_address: 127.0.0.1:{PORT}
          lockout: {extension_failures: 5, device_failures: 1000, source_failures: 1000}
        extensions:
        \(extensions(1))
        """

    @Test("16 clients guessing one extension at once: exactly the limit is evaluated, no more")
    func concurrentGuesses() async throws {
        try await TestServer.with(yaml: Self.oneExtensionLimitFive) { (server: TestServer) async throws in
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
            for n in 0..<50 {
                forms.append(try await Self.submitURL(try await server.phone("yealink-t46u", mac: String(format: "001565ad%04x", n), pushes: false)))
            }
            // One guess per extension, two per phone: no extension or phone limit is ever reached;
            // from five addresses in turn (one address alone may spend only a quarter of the budget).
            let sources = (0..<5).map { _ in Loopback.next() }
            for n in 0..<100 {
                _ = try await CurlEngine.shared.perform(
                    CurlRequest(url: forms[n / 2] + "&ext=\(6000 + n)&pw=guess-\(n)", localAddress: sources[n % 5])
                )
            }
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

    @Test("one address cannot spend the global budget; while the user password is held, a user typing it is told so and charged nothing")
    func globalBudgetShares() async throws {
        let yaml = """
            settings:
              default_login: true
              internal_address: 127.0.0.1:{PORT}
              user_password: "right-user-password"
              lockout: {extension_failures: 1000, device_failures: 1000, source_failures: 100000, global_failures: 20}
            extensions:
            \(Self.extensions(2))
              - {number: "6900", name: No Voicemail, sip_password: "sip-6900-secret"}
              - {number: "6901", name: No Voicemail Either, sip_password: "sip-6901-secret"}
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let mac = try #require(MACAddress("001565ad7001"))
            let form = try await Self.submitURL(try await server.phone("yealink-t46u", mac: mac.canonical, pushes: false))
            let guesser = Loopback.next()
            // 30 guesses at the user password of extensions without voicemail, from one address:
            // its share (a quarter of the budget) is evaluated and charged, the rest neither.
            for n in 0..<30 {
                _ = try await CurlEngine.shared.perform(CurlRequest(url: form + "&ext=690\(n % 2)&pw=guess-\(n)", localAddress: guesser))
            }
            #expect(
                !(try await server.store.auditLog(limit: 500)).contains { $0.action == .lockout && $0.detail.contains("global password") },
                "one address did not lock everyone out"
            )
            let charged = try await server.store.failures(mac: mac, extensionNumber: "6900", source: nil, global: false, since: .distantPast).device
                .count
            #expect(charged == LoginGuard.globalShare(LockoutPolicy(globalFailures: 20)), "failures charged: \(charged)")
            // The guesser's address, typing the right password now, is told it is held, and charged nothing.
            let held = try await CurlEngine.shared.perform(CurlRequest(url: form + "&ext=6900&pw=right-user-password", localAddress: guesser))
            #expect(held.text.contains("shared password cannot be used until") && !held.text.contains("Wrong password"), "\(held.text.prefix(300))")
            #expect(
                try await server.store.failures(mac: mac, extensionNumber: "6900", source: nil, global: false, since: .distantPast).device.count
                    == charged
            )
            // Someone at another desk types the right user password: it works.
            let desk = try await Self.submitURL(try await server.phone("yealink-t46u", mac: "001565ad7002", pushes: false))
            let other = try await CurlEngine.shared.perform(
                CurlRequest(url: desk + "&ext=6901&pw=right-user-password", localAddress: Loopback.next())
            )
            #expect(other.text.contains("Logged in"), "\(other.text.prefix(300))")
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
            for n in 0..<6 {
                forms.append(try await Self.submitURL(try await server.phone("yealink-t46u", mac: String(format: "001565af%04x", n), pushes: false)))
            }
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
            for (n, host) in ["evil.localhost", "evil.localhost:8080", "127.66.6.6:80", "127.0.0.1.evil.localhost", "[::2]:80"].enumerated() {
                let config = try await HTTP.get(
                    "\(server.baseURL)/provision/001565aacc1\(n).cfg",
                    headers: agent.merging(["Host": host]) { a, _ in a }
                )
                // A name that is not HotDesk's is a DNS-rebinding page's: not answered at all.
                if host.contains("evil") {
                    #expect(config.status == 421, "\(host): \(config.status)")
                    continue
                }
                #expect(config.status == 200)
                #expect(
                    !config.body.contains("evil") && !config.body.contains("127.66.6.6") && !config.body.contains("::2"),
                    "\(host) reflected in the config"
                )
                #expect(config.body.contains("127.0.0.1:\(server.port)/app/"), "an unknown Host gets the internal address")
            }
            // The console and its sign-in answer only HotDesk's own names (and addresses).
            for path in ["/admin/", "/admin/console.js"] {
                #expect(
                    try await HTTP.get("\(server.baseURL)\(path)", headers: ["Host": "rebound.evil.localhost:\(server.port)"]).status == 421,
                    "\(path)"
                )
                #expect(try await HTTP.get("\(server.baseURL)\(path)", headers: ["Host": "localhost:\(server.port)"]).status == 200, "\(path)")
                #expect(try await HTTP.get("\(server.baseURL)\(path)").status == 200, "\(path)")
            }
            let signIn = try await HTTP.request(
                "POST",
                "\(server.baseURL)/admin/sign-in",
                headers: ["Host": "rebound.evil.localhost", "Content-Type": "application/json"],
                body: #"{"name": "ada", "password": "whatever-it-is"}"#
            )
            #expect(signIn.status == 421)
            let phone = try await server.phone("yealink-t46u", mac: "001565aacc02", pushes: false)
            let key = try #require(await phone.config.browserKeyURL)
            let path = "/app/" + (key.split(separator: "/").last.map(String.init) ?? "")
            let menu = try await HTTP.get("\(server.baseURL)\(path)", headers: ["Host": "evil.localhost"])
            #expect(!menu.body.contains("evil.localhost"))
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
                let logged = RequestRecordMiddleware<HotDeskRequestContext>.redact(path)
                #expect(!logged.contains(token), "\(path) logged as \(logged)")
                #expect(!logged.contains(String(token.prefix(8))))
            }
            #expect(!RequestRecordMiddleware<HotDeskRequestContext>.redact("/app/x\u{1b}[2J").contains("\u{1b}"))
        }
    }
}

@Suite("Attacks: a phone's secrets go only to that phone")
struct ProvisioningAttackTests {
    @Test("knowing a MAC is not enough: without the phone's secret, 401, nothing learned, no push confirmed, no SIP password")
    func configWithoutCredential() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ab0001", pushes: false)
            let mac = try #require(MACAddress("001565ab0001"))
            let before = try #require(try await server.store.device(mac: mac))
            #expect(before.claimedAt != nil, "the phone's own fetch claimed it")
            #expect(before.lastAddress == phone.options.address)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(try await server.job("001565ab0001")?.state != .applied, "no web server: the push is not done yet")

            let attacker = Loopback.next()
            let agent = [("User-Agent", "Yealink SIP-T46U 108.86.0.45 00:15:65:ab:00:01")]
            // No credential, then a wrong one.
            let plain = try await CurlEngine.shared.perform(
                CurlRequest(url: "\(server.baseURL)/provision/001565ab0001.cfg", headers: agent, localAddress: attacker)
            )
            #expect(plain.status == 401)
            #expect(plain.headers["www-authenticate"]?.hasPrefix("Digest realm=\"HotDesk provisioning\"") == true)
            var wrong = CurlRequest(url: "\(server.baseURL)/provision/001565ab0001.cfg", headers: agent, localAddress: attacker)
            wrong.credentials = HTTPCredentials(username: before.provisioningUsername, password: "guessed-secret", scheme: .digest)
            let guessed = try await CurlEngine.shared.perform(wrong)
            #expect(guessed.status == 401)
            for answer in [plain, guessed] {
                #expect(!answer.text.contains("sip-secret-5501") && !answer.text.contains(before.token) && !answer.text.contains("desk-9911"))
            }
            let after = try #require(try await server.store.device(mac: mac))
            #expect(after.lastAddress == phone.options.address, "the attacker's address was not learned")
            #expect(try await server.job("001565ab0001")?.state != .applied, "the attacker's fetch confirmed nothing")
            let audit = try await server.store.auditLog(limit: 20)
            #expect(audit.contains { $0.action == .configRefused && $0.source == attacker })

            // The phone itself, with its secret, gets its logged-in config.
            let own = try await server.fetchAsPhone("001565ab0001.cfg", mac: "001565ab0001", headers: agent, from: phone.options.address)
            #expect(own.status == 200 && own.text.contains("account.1.password = sip-secret-5501"))
        }
    }

    @Test("a phone that never proved itself gets no line and no app token, even logged in; the first proven fetch claims it")
    func unprovenConfig() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let agent = ["User-Agent": "Yealink SIP-T46U 108.86.0.45 00:15:65:ab:00:02"]
            let first = try await HTTP.get("\(server.baseURL)/provision/001565ab0002.cfg", headers: agent)
            #expect(first.status == 200)
            let device = try #require(try await server.store.device(mac: MACAddress("001565ab0002")!))
            let secret = try #require(device.provisioningSecret)
            #expect(first.body.contains("static.auto_provision.server.password = \(secret)"), "it carries the phone's own secret")
            #expect(!first.body.contains(device.token), "but not the app token")
            #expect(!first.body.contains("desk-9911") && !first.body.contains("static.security.user_password"), "nor the phone's web login")
            #expect(first.body.contains("/app/pending"))
            #expect(device.claimedAt == nil && device.lastAddress == nil)
            // A second fetch without the secret is challenged (a Digest phone answers only a challenge).
            #expect(try await HTTP.get("\(server.baseURL)/provision/001565ab0002.cfg", headers: agent).status == 401)
            let own = try await server.fetchAsPhone("001565ab0002.cfg", mac: "001565ab0002", headers: agent.map { ($0.key, $0.value) })
            #expect(own.status == 200 && own.text.contains("/app/\(device.token)"))
            let claimed = try #require(try await server.store.device(mac: MACAddress("001565ab0002")!))
            #expect(claimed.claimedAt != nil && claimed.lastAddress == "127.0.0.1")
            #expect(try await server.store.auditLog(limit: 5).contains { $0.action == .deviceClaimed })
        }
    }

    @Test("path-key families: the plain path and a wrong key are refused once claimed; the phone's own key works")
    func pathKey() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565ab0003", pushes: false)
            let device = try #require(try await server.store.device(mac: MACAddress("001565ab0003")!))
            let secret = try #require(device.provisioningSecret)
            #expect(device.claimedAt != nil)
            #expect(await phone.config.provisionURL == "http://127.0.0.1:\(server.port)/provision/\(secret)/")
            let attacker = Loopback.next()
            for path in ["cfg001565ab0003.xml", "\(RandomToken.make())/cfg001565ab0003.xml"] {
                let r = try await CurlEngine.shared.perform(CurlRequest(url: "\(server.baseURL)/provision/\(path)", localAddress: attacker))
                // Nothing in a challenge could help: 403, not a 401 without one (RFC 7235).
                #expect(r.status == 403 && r.headers["www-authenticate"] == nil, "\(path)")
            }
            try await phone.login("Login Int", ext: "5501", password: "1234")
            await phone.restart()
            #expect(await eventually { await phone.config.lineUser == "5501" })
            #expect(try await server.store.device(mac: MACAddress("001565ab0003")!)?.lastAddress == phone.options.address)
        }
    }

    @Test("an attacker catching a push that asks for Basic never gets the phone's web password")
    func pushCatcher() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            // The phone "moves" to an address where a catcher listens: learned from a proven fetch only.
            let phone = try await server.phone("yealink-t46u", mac: "001565ab0004", pushes: false)
            let catcher = try await FakePhoneWeb(address: phone.options.address, port: testPushPort, status: 401, challenge: "Basic realm=\"catch\"")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            _ = try #require(try await server.waitForJob("001565ab0004") { $0.state == .failed })
            await catcher.stop()
            #expect(!catcher.targets.isEmpty, "the push reached the catcher")
            #expect(catcher.authorizations.allSatisfy { !$0.hasPrefix("Basic") }, "\(catcher.authorizations)")
            #expect(!catcher.authorizations.contains { $0.contains("desk-9911") })
        }
    }

    @Test("a phone's normal Digest round trips are no refusal: nothing audited, no device_refused line; a wrong secret is both")
    func challengeIsNoRefusal() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ab0011", pushes: false)
            for _ in 0..<3 { await phone.restart() }
            try await phone.login("Login Int", ext: "5501", password: "1234")
            await phone.restart()
            #expect(await phone.config.lineUser == "5501", "the phone fetched its logged-in config")
            #expect(try await server.store.auditLog(limit: 200).filter { $0.action == .configRefused }.isEmpty)
            #expect(server.log.security(.deviceRefused).isEmpty, "\(server.log.security(.deviceRefused))")
            // A fetch with a wrong secret is a refusal: audited, and a line fail2ban bans on.
            let attacker = Loopback.next()
            let device = try #require(try await server.store.device(mac: MACAddress("001565ab0011")!))
            var wrong = CurlRequest(url: "\(server.baseURL)/provision/001565ab0011.cfg", localAddress: attacker)
            wrong.credentials = HTTPCredentials(username: device.provisioningUsername, password: "guessed", scheme: .digest)
            #expect(try await CurlEngine.shared.perform(wrong).status == 401)
            #expect(try await server.store.auditLog(limit: 20).contains { $0.action == .configRefused && $0.source == attacker })
            #expect(server.log.security(.deviceRefused).count == 1 && server.log.security(.deviceRefused)[0].contains("source=\(attacker) "))
        }
    }

    @Test(
        "claims that wait for an admin: the first to fetch gets nothing; approved, the phone at that address claims; a closed claim window does the same"
    )
    func claimApproval() async throws {
        let yaml = withSettings(pushDirectory, "  enrolment: {claims: approval}\n")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let mac = try #require(MACAddress("001565ab0031"))
            let phone = SimulatedPhone(
                model: try #require(SimModel.named("sangoma-s500")),
                mac: mac.canonical,
                options: .init(server: server.baseURL, address: Loopback.next(), pushPort: nil, bootTimeScale: 0.02)
            )
            // The phone boots: its request waits for approval, and it is given nothing.
            #expect(try await phone.boot() == 403)
            #expect(await phone.config.provisionURL == nil, "no secret before approval")
            let pending = try #require(try await server.store.device(mac: mac))
            #expect(pending.claimedAt == nil && pending.claimPendingFrom == phone.options.address)
            #expect(try await server.store.auditLog(limit: 10).contains { $0.action == .claimPending && $0.source == phone.options.address })
            let listed = try await api.call("GET", "/devices/\(mac.canonical)")
            #expect(
                listed.json["claim_pending_from"] as? String == phone.options.address,
                "the console and API show the pending claim: \(listed.json)"
            )
            // An attacker asking from elsewhere is refused too, and does not replace the pending address once approved.
            let approved = try await api.call("POST", "/devices/\(mac.canonical)/approve-claim")
            #expect(approved.status == 200 && approved.json["address"] as? String == phone.options.address, "\(approved.json)")
            let stranger = try await CurlEngine.shared.perform(
                CurlRequest(url: "\(server.baseURL)/provision/cfg\(mac.canonical).xml", localAddress: Loopback.next())
            )
            #expect(stranger.status == 403, "approval is for the address that asked")
            _ = try await phone.boot()
            #expect(await eventually { (try? await server.store.device(mac: mac))??.claimedAt != nil }, "the approved phone claims its device")
            #expect(await phone.config.provisionURL?.contains("/provision/") == true)
            #expect(try await server.store.auditLog(limit: 20).contains { $0.action == .claimApproved && $0.actor == "api:test" })
            #expect(try await api.call("POST", "/devices/\(mac.canonical)/approve-claim").status == 409, "nothing pending any more")
        }
        // A claim window that has closed: the same; one still open: trust on first use.
        let closed = withSettings(pushDirectory, "  enrolment: {claims_until: \"2020-01-01T00:00:00Z\"}\n")
        try await TestServer.with(yaml: closed) { (server: TestServer) async throws in
            let r = try await HTTP.get("\(server.baseURL)/provision/cfg001565ab0032.xml", headers: ["User-Agent": "Sangoma S500 2.0.4.80"])
            #expect(r.status == 403 && r.body.contains("approve"), "\(r.status) \(r.body)")
        }
        let open = withSettings(pushDirectory, "  enrolment: {claims_until: \"2099-01-01T00:00:00Z\"}\n")
        try await TestServer.with(yaml: open) { (server: TestServer) async throws in
            _ = try await server.phone("sangoma-s500", mac: "001565ab0033", pushes: false)
            #expect(try await server.store.device(mac: MACAddress("001565ab0033")!)?.claimedAt != nil)
        }
    }

    /// A Digest `Authorization` for `file` answering the server's challenge to `address`, as the phone would write it.
    static func digestAnswer(_ server: TestServer, file: String, mac: String, from address: String, nc: String = "00000001") async throws -> String {
        let challenge = try await CurlEngine.shared.perform(CurlRequest(url: "\(server.baseURL)/provision/\(file)", localAddress: address))
        let header = try #require(challenge.headers["www-authenticate"], "no challenge")
        let nonce = try #require(DigestAuth.parameters(String(header.dropFirst(7)))["nonce"])
        let device = try #require(try await server.store.device(mac: MACAddress(mac)!))
        let (user, secret, uri) = (device.provisioningUsername, try #require(device.provisioningSecret), "/provision/\(file)")
        let ha1 = DigestAuth.md5("\(user):\(DigestAuth.realm):\(secret)")
        let response = DigestAuth.md5("\(ha1):\(nonce):\(nc):c0ffee:auth:\(DigestAuth.md5("GET:\(uri)"))")
        return
            #"Digest username="\#(user)", realm="\#(DigestAuth.realm)", nonce="\#(nonce)", uri="\#(uri)", algorithm=MD5, qop=auth, nc=\#(nc), cnonce="c0ffee", response="\#(response)""#
    }

    @Test("a captured Digest header replayed: refused from another address and from the phone's own; the phone's address stays its own")
    func digestReplay() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ab0012", pushes: false)
            let mac = try #require(MACAddress("001565ab0012"))
            let captured = try await Self.digestAnswer(server, file: "001565ab0012.cfg", mac: "001565ab0012", from: phone.options.address)
            let url = "\(server.baseURL)/provision/001565ab0012.cfg"
            let first = try await CurlEngine.shared.perform(
                CurlRequest(url: url, headers: [("Authorization", captured)], localAddress: phone.options.address)
            )
            let recent = try await server.store.auditLog(limit: 3).map(\.detail)
            #expect(first.status == 200, "the phone's own answer: \(recent)")
            let attacker = Loopback.next()
            let elsewhere = try await CurlEngine.shared.perform(CurlRequest(url: url, headers: [("Authorization", captured)], localAddress: attacker))
            #expect(elsewhere.status == 401 && !elsewhere.text.contains("sip-secret"), "replayed from another address")
            let again = try await CurlEngine.shared.perform(
                CurlRequest(url: url, headers: [("Authorization", captured)], localAddress: phone.options.address)
            )
            #expect(again.status == 401 && again.headers["www-authenticate"]?.contains("stale=true") == true, "replayed from the phone's address")
            #expect(try await server.store.device(mac: mac)?.lastAddress == phone.options.address, "the push address stays the phone's")
            #expect(try await server.store.auditLog(limit: 20).contains { $0.action == .configRefused && $0.source == attacker })
        }
    }

    @Test("hotdesk's release: a replaced phone claims the MAC again with a new secret; the old secret stops working")
    func release() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            _ = try await server.phone("yealink-t46u", mac: "001565ab0005", pushes: false)
            let mac = try #require(MACAddress("001565ab0005"))
            let old = try #require(try await server.store.device(mac: mac)?.provisioningSecret)
            #expect(try await server.store.release(mac: mac, actor: "cli", source: nil, at: Date()))
            let released = try #require(try await server.store.device(mac: mac))
            #expect(released.claimedAt == nil && released.provisioningSecret != old && released.lastAddress == nil)
            // The new phone boots and claims it.
            let replacement = try await server.phone("yealink-t46u", mac: "001565ab0005", pushes: false)
            #expect(try await server.store.device(mac: mac)?.claimedAt != nil)
            #expect(await replacement.config.browserKeyURL?.hasSuffix("/app/\(released.token)") == true)
            // The old phone (or whoever copied its config) is refused.
            var stale = CurlRequest(url: "\(server.baseURL)/provision/001565ab0005.cfg", localAddress: Loopback.next())
            stale.credentials = HTTPCredentials(username: released.provisioningUsername, password: old, scheme: .digest)
            #expect(try await CurlEngine.shared.perform(stale).status == 401)
            #expect(try await server.store.auditLog(limit: 20).contains { $0.action == .deviceReleased })
        }
    }
}

@Suite("Attacks: app tokens that change and are not stored")
struct AppTokenTests {
    @Test("every login and logout changes the token; an old one gets \"please wait\", a forged one nothing; the database holds none")
    func rotation() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ab1001")
            func token() async -> String { await phone.config.browserKeyURL.map { String($0.split(separator: "/").last ?? "") } ?? "" }
            func screen(_ token: String) async throws -> String { try await HTTP.get("\(server.baseURL)/app/\(token)").body }
            let t0 = await token()
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            let t1 = await token()
            #expect(t1 != t0 && t1.count == 32)
            #expect(try await screen(t0).contains("Please wait"))
            #expect(try await screen(t1).contains("5501"))
            let mark = await phone.events.count
            try await phone.logout()
            #expect(await phone.waitForApply(since: mark))
            let t2 = await token()
            #expect(t2 != t1 && t2 != t0)
            #expect(try await screen(t1).contains("Please wait"))
            #expect(try await screen(t2).contains("Login Int"))
            // A well-formed token that is nobody's: the "not set up" screen.
            #expect(try await screen(RandomToken.make()).contains("not set up for Hot Desk"))
            var forged = Array(t2)
            forged[31] = forged[31] == "A" ? "B" : "A"
            #expect(try await screen(String(forged)).contains("not set up for Hot Desk"))
            // Nothing in the database (or its WAL) holds a token.
            let bytes = try await TestDatabase.storedBytes(server.store, file: URL(fileURLWithPath: server.dbPath))
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.contains("001565"), "the search finds what is stored (a MAC)")
            #expect(![t0, t1, t2].contains { text.contains($0) }, "the database holds an app token")
        }
    }
}

@Suite("Attacks: enrolment floods")
struct EnrolmentAttackTests {
    static let yaml = """
        settings:
          default_login: true
          internal_address: 127.0.0.1:{PORT}
          enrolment: {per_minute: 20, max_unclaimed: 50, expire_unclaimed_hours: 1}
        """

    @Test("fake MACs: 20 a minute are enrolled, the rest get 503 with Retry-After and one audit row; the cap on unclaimed phones holds")
    func flood() async throws {
        try await TestServer.with(yaml: Self.yaml) { (server: TestServer) async throws in
            // A minute's 100 requests all fall in one minute (a loaded machine once took more
            // than a minute to send them and six more phones enrolled).
            server.clock.stop()
            let agent = ["User-Agent": "Yealink SIP-T46U 108.86.0.45"]
            func burst(_ range: Range<Int>) async throws -> [Int: Int] {
                var statuses: [Int: Int] = [:]
                for n in range {
                    let r = try await HTTP.get("\(server.baseURL)/provision/" + String(format: "001565f%05x.cfg", n), headers: agent)
                    statuses[r.status, default: 0] += 1
                    if r.status == 503 { #expect(Int(r.header("Retry-After") ?? "") ?? 0 > 0) }
                }
                return statuses
            }
            #expect(try await burst(0..<100) == [200: 20, 503: 80])
            var audit = try await server.store.auditLog(limit: 1000)
            #expect(audit.filter { $0.action == .enrol }.count == 20)
            #expect(audit.filter { $0.action == .unknownDeviceRefused }.count == 1, "80 refusals, one row")
            // Two more minutes: 40 more asked, the cap of 50 unclaimed stops them at 50.
            server.clock.advance(by: 61)
            #expect(try await burst(100..<120) == [200: 20])
            server.clock.advance(by: 61)
            let third = try await burst(120..<140)
            #expect(third[200] == 10 && third[503] == 10, "\(third)")
            audit = try await server.store.auditLog(limit: 1000)
            #expect(audit.filter { $0.action == .enrol }.count == 50)
            #expect(audit.contains { $0.detail.hasPrefix("80 unknown phone request(s) refused") })
            #expect(audit.contains { $0.detail.contains("settings.enrolment.max_unclaimed") })
            // A phone that proves itself is no longer unclaimed: room for one more.
            _ = try await server.fetchAsPhone("001565f00000.cfg", mac: "001565f00000", headers: [("User-Agent", "Yealink SIP-T46U 108.86.0.45")])
            #expect(try await burst(200..<201) == [200: 1])
            // An hour later the unclaimed ones are forgotten; the claimed one stays.
            server.clock.advance(by: 3700)
            #expect(await eventually { (try? await server.store.deviceOverview().count) == 1 })
            #expect(try await server.store.device(mac: MACAddress("001565f00000")!) != nil)
        }
    }

    @Test("a directory's devices are never forgotten, claimed or not; an enrolled phone the directory lists later neither")
    func directoryDevicesStay() async throws {
        let yaml = Self.yaml + "\ndevices:\n  - {mac: 00:15:65:f1:00:01, model: yealink-t46u}\n"
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let agent = ["User-Agent": "Yealink SIP-T46U 108.86.0.45"]
            for mac in ["001565f10002", "001565f10003"] {
                #expect(try await HTTP.get("\(server.baseURL)/provision/\(mac).cfg", headers: agent).status == 200)
            }
            // 001565f10003 is then listed by the directory: it is the directory's now.
            let more = (yaml + "  - {mac: 00:15:65:f1:00:03, model: yealink-t46u}\n").replacingOccurrences(of: "{PORT}", with: "\(server.port)")
            _ = try await importDirectory(more, into: server.store, base: server.directory)
            server.clock.advance(by: 7200)
            #expect(await eventually { (try? await server.store.device(mac: MACAddress("001565f10002")!)) == nil }, "the sweep ran")
            #expect(try await server.store.device(mac: MACAddress("001565f10001")!) != nil)
            #expect(try await server.store.device(mac: MACAddress("001565f10003")!) != nil)
        }
    }
}

@Suite("Attacks: sockets that send nothing")
struct ConnectionAttackTests {
    @Test("100 idle sockets against a cap of 20: the oldest idle ones make room, and a phone's requests are answered")
    func idleSockets() async throws {
        // An idle timeout far longer than the test: only the cap can close these.
        let server = try await TestServer.start(yaml: flowDirectory, connections: ConnectionLimits(maxConnections: 20, idleTimeout: .seconds(300)))
        do {
            var idle: [RawClient] = []
            for _ in 0..<100 { idle.append(try RawClient(port: server.port)) }
            #expect(try await HTTP.get("\(server.baseURL)/health").status == 200)
            let agent = ["User-Agent": "Yealink SIP-T46U 108.86.0.45"]
            #expect(try await HTTP.get("\(server.baseURL)/provision/001565ac9001.cfg", headers: agent).status == 200)
            #expect(await eventually(timeout: 5) { idle.filter(\.closedByServer).count >= 80 }, "room was made")
            let newestClosed = idle.suffix(10).filter(\.closedByServer).count
            #expect(newestClosed < 10, "the newest were kept: the oldest made room")
            for client in idle { client.close() }
        }
        await server.stop()
    }

    @Test("the book of waiting connections stays small however many requests keep-alive connections make")
    func connectionBookBounded() {
        let book = ConnectionBook(limit: 100)
        let channels = (0..<8).map { _ in EmbeddedChannel() }
        for channel in channels { _ = book.opened(channel) }
        for _ in 0..<20_000 {
            for channel in channels {
                book.requestStarted(channel)
                book.requestDone(channel)
            }
        }
        #expect(book.queueLength <= 2 * channels.count + 1024, "\(book.queueLength) entries for \(channels.count) connections")
        // The cap still closes the connection that has waited longest.
        let newcomers = (0..<100).map { _ in EmbeddedChannel() }
        var closed: [ObjectIdentifier] = []
        for channel in newcomers { if let victim = book.opened(channel) { closed.append(ObjectIdentifier(victim)) } }
        #expect(closed.first == ObjectIdentifier(channels[0]), "the first of the old ones to have finished its last request")
    }

    @Test("a socket that sends nothing, or its headers a byte at a time, is closed at the idle timeout")
    func slowClients() async throws {
        let server = try await TestServer.start(yaml: flowDirectory, connections: ConnectionLimits(maxConnections: 1000, idleTimeout: .seconds(1)))
        do {
            let idle = try RawClient(port: server.port)
            let slow = try RawClient(port: server.port)
            slow.send("GET /health HTTP/1.1\r\nHo")
            #expect(!idle.closedByServer && !slow.closedByServer)
            #expect(await eventually(timeout: 6) { idle.closedByServer && slow.closedByServer })
            #expect(try await HTTP.get("\(server.baseURL)/health").status == 200)
            idle.close()
            slow.close()
        }
        await server.stop()
    }

    @Test("a body sent a byte at a time is cut at the body deadline, on every route; /health answers meanwhile")
    func slowBodies() async throws {
        let server = try await TestServer.start(yaml: flowDirectory, connections: ConnectionLimits(maxConnections: 1000, idleTimeout: .seconds(1)))
        do {
            var slow: [RawClient] = []
            for path in ["/admin/sign-in", "/api/v1/sessions", "/push-auth", "/pbx/v1/authorize"] {
                let client = try RawClient(port: server.port)
                client.send("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{")
                slow.append(client)
            }
            #expect(try await HTTP.get("\(server.baseURL)/health").status == 200)
            for client in slow { client.send("\"") }
            // (An answer sent before the body, such as a 401, is read first: then the end shows.)
            #expect(
                await eventually(timeout: 8) {
                    slow.allSatisfy {
                        _ = $0.read()
                        return $0.closedByServer
                    }
                },
                "a request's body has a deadline"
            )
            for client in slow { client.close() }
        }
        await server.stop()
    }

    @Test("connections inside a request count toward the cap: past it, a new connection is refused when none can be evicted")
    func requestsCountTowardTheCap() async throws {
        let limits = ConnectionLimits(maxConnections: 20, idleTimeout: .seconds(300), bodyTimeout: .seconds(300))
        let server = try await TestServer.start(yaml: flowDirectory, connections: limits)
        do {
            var clients: [RawClient] = []
            for _ in 0..<30 {
                let client = try RawClient(port: server.port)
                // JSON, so that the sign-in waits for the body (a 415 answered early would end the
                // request, and such a connection may be evicted: not what this test is about).
                client.send(
                    "POST /admin/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
                )
                clients.append(client)
            }
            // Read what was answered first: a peek at unread bytes would show a closed socket as open.
            let closed = {
                clients.filter {
                    _ = $0.read()
                    return $0.closedByServer
                }.count
            }
            #expect(await eventually(timeout: 5) { closed() >= 10 }, "no more than the cap stay open")
            #expect(clients.count - closed() <= 20)
            for client in clients { client.close() }
        }
        await server.stop()
    }

    @Test("event streams: at most 8 per key (429 past it); revoking the key ends its streams")
    func eventStreams() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            let key = APIKey.make()
            try await server.store.addAPIKey(name: "watcher", keyHash: APIKey.hash(key), kind: .admin, role: .auditor, at: Date())
            var streams: [RawClient] = []
            for _ in 0..<8 {
                let client = try RawClient(port: server.port)
                client.send("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n\r\n")
                streams.append(client)
            }
            var seen = [String](repeating: "", count: streams.count)
            #expect(
                await eventually(timeout: 5) {
                    for (i, client) in streams.enumerated() { seen[i] += client.read() }
                    return seen.allSatisfy { $0.contains("HotDesk events") }
                },
                "eight streams open"
            )
            let ninth = try await HTTP.get("\(server.baseURL)/api/v1/events", headers: ["Authorization": "Bearer \(key)"])
            #expect(ninth.status == 429 && ninth.body.contains("too_many_streams"), "\(ninth.status) \(ninth.body)")
            #expect(try await admin.call("DELETE", "/apikeys/watcher").status == 200)
            #expect(
                await eventually(timeout: 20) {
                    for (i, client) in streams.enumerated() { seen[i] += client.read() }
                    return seen.allSatisfy { $0.hasSuffix("\r\n0\r\n\r\n") }
                },
                "the revoked key's streams ended: \(seen.map { $0.suffix(40) })"
            )
            for client in streams { client.close() }
        }
    }
}

@Suite("Attacks: wrong API keys from rotating addresses")
struct APIKeyFloodTests {
    @Test("300 wrong keys from 300 addresses: at most the global cap is audited, the rest get 429; a valid key still works")
    func rotatingAddresses() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            // The cap is 100 a minute: the 300 fall in one minute however slowly a loaded machine
            // sends them (two suites at once took 194 s and audited 106).
            server.clock.stop()
            var statuses: [Int: Int] = [:]
            for n in 0..<300 {
                var request = CurlRequest(url: "\(server.baseURL)/api/v1/sessions", localAddress: "127.0.\(200 + n / 200).\(n % 200 + 2)")
                request.headers = [("Authorization", "Bearer \(APIKey.make())")]
                statuses[try await CurlEngine.shared.perform(request).status, default: 0] += 1
            }
            #expect(statuses[401] == 100 && statuses[429] == 200, "\(statuses)")
            let refused = try await server.store.auditLog(limit: 1000).filter { $0.action == .apiRefused }
            #expect(refused.count == 101, "100 refusals and the one that reached the cap")
            let api = try await AdminAPITests().client(server)
            #expect(try await api.call("GET", "/sessions").status == 200)
        }
    }
}

@Suite("The security log")
struct SecurityLogTests {
    @Test("one line per event, fields in a fixed order; a hostile detail cannot add a line or a source; the shipped fail2ban filter matches it")
    func format() throws {
        let mac = try #require(MACAddress("001565aabbcc"))
        let line = SecurityLog.line(
            .loginFailed,
            source: "127.10.0.7",
            mac: mac,
            extensionNumber: "5501",
            detail: "x\" source=127.6.6.6\r\n\u{1b}[2J"
        )
        #expect(line == #"hotdesk-security event=login_failed source=127.10.0.7 mac=001565aabbcc extension=5501 detail="x\" source=127.6.6.6???[2J""#)
        // A bidi override would show a reader another order than the one logged.
        let reordered = SecurityLog.line(.loginFailed, source: nil, mac: nil, extensionNumber: nil, detail: "abc\u{202E}fed\u{200B}")
        #expect(reordered.hasSuffix(#"detail="abc?fed?""#), "\(reordered)")
        let hostile = SecurityLog.line(.keyRefused, source: "127.1.2.3 source=127.9.9.9", mac: nil, extensionNumber: nil, detail: "")
        #expect(hostile.hasPrefix("hotdesk-security event=key_refused source=127.1.2.3?source=127.9.9.9 mac=- extension=-"))
        // The filter shipped for fail2ban, read the way fail2ban reads <HOST>.
        let filter = try String(contentsOfFile: "examples/fail2ban/filter.d/hotdesk.conf", encoding: .utf8)
        let failregex = try #require(filter.split(separator: "\n").first { $0.hasPrefix("failregex = ") }).dropFirst("failregex = ".count)
        let regex = try Regex(String(failregex).replacingOccurrences(of: "<HOST>", with: #"(?<host>[0-9.]+|[0-9a-fA-F:]+)"#))
        for event in SecurityLog.Event.allCases {
            let text =
                "2026-11-25T19:22:03+0000 notice hotdesk : "
                + SecurityLog.line(event, source: "127.10.0.7", mac: nil, extensionNumber: nil, detail: "d")
            let match = try regex.firstMatch(in: text)
            #expect((match != nil) == (event != .globalLock), "\(event)")
        }
        #expect(
            try regex.firstMatch(in: SecurityLog.line(.loginFailed, source: nil, mac: nil, extensionNumber: nil, detail: "")) == nil,
            "no source, no ban"
        )
    }
}

@Suite("HTTPS: hotdesk serve --tls-cert --tls-key")
struct TLSTests {
    /// Runs a command, returns its standard output.
    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let result = try await Command.run(arguments)
        return (result.status, result.output)
    }

    @Test("a certificate and key in PEM: phones and admins reach HotDesk over HTTPS, plain HTTP is not answered; a bad file is one clear error")
    func https() async throws {
        let dir = try TempDir()
        let cert = dir.url.appendingPathComponent("cert.pem").path
        let key = dir.url.appendingPathComponent("key.pem").path
        let made = try await Self.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days",
            "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        try #require(made.status == 0, "openssl could not make a test certificate")
        let yaml = flowDirectory.replacingOccurrences(of: "internal_address: 127.0.0.1:{PORT}", with: "internal_address: https://127.0.0.1:{PORT}")
        let server = try await TestServer.start(yaml: yaml, tls: TLSFiles(certificateChain: cert, privateKey: key))
        do {
            let url = "https://127.0.0.1:\(server.port)"
            let health = try await Self.run(["curl", "-s", "--cacert", cert, "-o", "/dev/null", "-w", "%{http_code}", "\(url)/health"])
            #expect(health.output == "200")
            let config = try await Self.run([
                "curl", "-s", "--cacert", cert, "-A", "Yealink SIP-T46U 108.86.0.45", "\(url)/provision/001565ad9001.cfg",
            ])
            #expect(
                config.output.contains("static.auto_provision.server.url = https://127.0.0.1:\(server.port)/provision/"),
                "\(config.output.prefix(300))"
            )
            let plain = try await Self.run([
                "curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/health",
            ])
            #expect(plain.output != "200")
            // Over TLS the console's cookie is Secure: a browser never sends it in clear.
            _ = try await server.store.saveAdminAccount(name: "ada", password: "correct horse battery", role: .admin, actor: "test", at: Date())
            let signIn = try await Self.run([
                "curl", "-s", "-D", "-", "-o", "/dev/null", "--cacert", cert, "-H", "Content-Type: application/json",
                "-d", "{\"name\": \"ada\", \"password\": \"correct horse battery\"}", "\(url)/admin/sign-in",
            ])
            let cookie = signIn.output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") } ?? ""
            #expect(cookie.contains("hotdesk_console=") && cookie.contains("; Secure") && cookie.contains("HttpOnly"), "\(signIn.output)")
        }
        await server.stop()
        #expect(throws: TLSFileError.self) {
            _ = try TLSFiles(certificateChain: key + ".missing", privateKey: key).validate()
        }
    }
}

@Suite("Attacks: squatting on a real phone's MAC")
struct SquattingTests {
    @Test("a MAC first asked for as another family's phone does not keep the real phone out; once claimed, it is the phone's")
    func squatter() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            // The attacker asks for the Yealink's MAC as a Grandstream's file.
            let squat = try await HTTP.get("\(server.baseURL)/provision/cfg001565ae0001.xml", headers: ["User-Agent": "Grandstream Model HW GRP2614"])
            #expect(squat.status == 200)
            #expect(try await server.store.device(mac: MACAddress("001565ae0001")!)?.model.brand == "grandstream")
            // The real phone boots: it gets its own config and claims its MAC.
            let phone = try await server.phone("yealink-t46u", mac: "001565ae0001", pushes: false)
            let device = try #require(try await server.store.device(mac: MACAddress("001565ae0001")!))
            #expect(device.model.brand == "yealink" && device.claimedAt != nil)
            #expect(await phone.config.browserKeyURL?.hasSuffix(device.token) == true)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await phone.title == "Logged in")
            // Now the squatter is refused, and cannot take it back.
            let again = try await HTTP.get("\(server.baseURL)/provision/cfg001565ae0001.xml", headers: ["User-Agent": "Grandstream Model HW GRP2614"])
            #expect(again.status == 404)
            #expect(try await server.store.device(mac: MACAddress("001565ae0001")!)?.model.brand == "yealink")
            #expect(try await server.store.auditLog(limit: 20).contains { $0.detail.hasPrefix("re-enrolled as yealink") })
        }
    }
}
