import Curl
import Foundation
import GRDB
import HotDeskCore
import PhoneSimulator
import Synchronization
import Testing

@testable import HotDeskServer
@testable import HotDeskStore

/// The web console's server side: accounts, sign-in, the cookie opening `/api/v1` with a role,
/// CSRF, live events. (The page itself is driven in Chromium by `scripts/console-test`.)
@Suite("Web console: accounts, sign-in, cookie, CSRF, live events")
struct ConsoleTests {
    static let password = "correct horse battery"

    /// A signed-in console as the browser holds it: the cookie and the page's CSRF token.
    struct Console {
        let server: TestServer
        let cookie: String
        let csrf: String

        func call(_ method: String, _ path: String, body: String? = nil, csrf: String? = nil) async throws -> HTTPResult {
            var headers = ["Cookie": "hotdesk_console=\(cookie)", "Content-Type": "application/json"]
            if let token = csrf ?? (method == "GET" ? nil : self.csrf) { headers["X-CSRF-Token"] = token }
            return try await HTTP.request(method, server.baseURL + path, headers: headers, body: body)
        }
    }

    static func signIn(_ server: TestServer, _ name: String, _ password: String = password) async throws -> HTTPResult {
        try await HTTP.request(
            "POST",
            server.baseURL + "/admin/sign-in",
            headers: ["Content-Type": "application/json"],
            body: "{\"name\": \"\(name)\", \"password\": \"\(password)\"}"
        )
    }

    /// A sign-in from `address` (another machine on the LAN): its status.
    static func signIn(_ server: TestServer, _ name: String, _ password: String = password, from address: String) async throws -> Int {
        try await CurlEngine.shared.perform(
            CurlRequest(
                method: "POST",
                url: server.baseURL + "/admin/sign-in",
                headers: [("Content-Type", "application/json")],
                body: Array("{\"name\": \"\(name)\", \"password\": \"\(password)\"}".utf8),
                localAddress: address
            )
        ).status
    }

    static func account(_ server: TestServer, _ name: String, _ role: AdminRole) async throws -> Console {
        _ = try await server.store.saveAdminAccount(name: name, password: password, role: role, actor: "test", at: Date())
        return try signedIn(server, try await signIn(server, name))
    }

    /// The console a successful sign-in's answer opens.
    static func signedIn(_ server: TestServer, _ r: HTTPResult) throws -> Console {
        try #require(r.status == 200, "\(r.status) \(r.body)")
        let cookie = try #require(r.header("Set-Cookie"))
        let value = try #require(cookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last.map(String.init))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any])
        return Console(server: server, cookie: value, csrf: try #require(json["csrf_token"] as? String))
    }

    @Test("the page and its files are served with a CSP; the cookie is HttpOnly and SameSite=Strict; the password is stored hashed under the key")
    func pageAndCookie() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            for path in ["/admin", "/admin/", "/admin/console.js", "/admin/console.css"] {
                let r = try await HTTP.get(server.baseURL + path)
                #expect(r.status == 200, "\(path)")
                #expect(
                    r.header("Content-Security-Policy")?.contains("script-src 'self'") == true && r.header("X-Frame-Options") == "DENY",
                    "\(path)"
                )
            }
            #expect(try await HTTP.get(server.baseURL + "/admin").body.contains("<script src=\"/admin/console.js\""))
            _ = try await server.store.saveAdminAccount(name: "hal", password: Self.password, role: .helpdesk, actor: "test", at: Date())
            let r = try await Self.signIn(server, "hal")
            let cookie = try #require(r.header("Set-Cookie"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "\(cookie)")
            #expect(!cookie.contains("Secure"), "plain HTTP: a Secure cookie would never come back")
            let stored = try await server.store.scalar(String.self, "SELECT password_hash FROM admin_accounts")
            #expect(stored?.hasPrefix("hmac-sha256$") == true && stored?.contains(Self.password) == false)
            let form = try await HTTP.request(
                "POST",
                server.baseURL + "/admin/sign-in",
                headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: "name=hal&password=x"
            )
            #expect(form.status == 415, "a cross-site form cannot sign anyone in")
        }
    }

    @Test("three wrong passwords throttle the account, even with the right one, and are audited; another account is not throttled")
    func throttled() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            _ = try await server.store.saveAdminAccount(name: "hal", password: Self.password, role: .helpdesk, actor: "test", at: Date())
            _ = try await server.store.saveAdminAccount(name: "ada", password: Self.password, role: .admin, actor: "test", at: Date())
            for _ in 1...3 { #expect(try await Self.signIn(server, "hal", "wrong password!").status == 401) }
            let throttled = try await Self.signIn(server, "hal")
            #expect(throttled.status == 429 && Int(throttled.header("Retry-After") ?? "") ?? 0 > 0, "\(throttled.status) \(throttled.body)")
            #expect(try await Self.signIn(server, "hal").status == 429)
            #expect(try await Self.signIn(server, "ada").status == 200, "the throttle is per account")
            let audit = try await server.store.auditLog(limit: 20).filter { $0.action == .signIn }
            #expect(audit.filter { $0.outcome == .failure && $0.actor == "console:hal" }.count == 3)
            #expect(audit.filter { $0.outcome == .refused }.count == 1, "throttled attempts: audited once")
            #expect(audit.contains { $0.outcome == .success && $0.actor == "console:ada" })
            #expect(!audit.contains { $0.detail.contains(Self.password) || $0.detail.contains("wrong password!") }, "never a password in the audit")
            #expect(try await Self.signIn(server, "nobody", "wrong password!").status == 401)
        }
    }

    @Test(
        "guessing an admin's password from elsewhere does not keep the admin out; concurrent guesses are evaluated up to the limit; rotating names is audited once"
    )
    func guessingFromElsewhere() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            _ = try await server.store.saveAdminAccount(name: "hal", password: Self.password, role: .admin, actor: "test", at: Date())
            let attacker = Loopback.next()
            // 60 wrong passwords at once from one address: exactly three are evaluated.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<60 { group.addTask { try await Self.signIn(server, "hal", "wrong password \(n)", from: attacker) } }
                for try await _ in group {}
            }
            var audit = try await server.store.auditLog(limit: 200).filter { $0.action == .signIn }
            #expect(audit.filter { $0.outcome == .failure }.count == 3, "evaluated: \(audit.filter { $0.outcome == .failure }.count)")
            #expect(try await Self.signIn(server, "hal", from: attacker) == 429, "held for the attacker's address")
            // hal, at their own desk, is not held by someone else's guesses.
            #expect(try await Self.signIn(server, "hal", from: Loopback.next()) == 200)
            // A new account name each time, from an address that is held: one audit row, not one each.
            let rotator = Loopback.next()
            for n in 0..<20 { _ = try await Self.signIn(server, "user\(n)", "wrong password!", from: rotator) }
            let before = try await server.store.auditLog(limit: 500).count
            for n in 0..<50 { #expect(try await Self.signIn(server, "name\(n)", "wrong password!", from: rotator) == 429) }
            audit = try await server.store.auditLog(limit: 500)
            #expect(audit.count <= before + 1, "\(audit.count - before) rows for 50 throttled attempts")
        }
    }

    @Test("a cross-site post to /admin/sign-out changes nothing: no cookie cleared without the session's CSRF token")
    func crossSiteSignOut() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let hal = try await Self.account(server, "hal", .helpdesk)
            let forged = try await HTTP.request("POST", server.baseURL + "/admin/sign-out", headers: ["Cookie": "hotdesk_console=\(hal.cookie)"])
            #expect(forged.status == 403 && forged.header("Set-Cookie") == nil, "\(forged.status) \(forged.header("Set-Cookie") ?? "")")
            let none = try await HTTP.request("POST", server.baseURL + "/admin/sign-out")
            #expect(none.status == 401 && none.header("Set-Cookie") == nil)
            #expect(try await hal.call("GET", "/api/v1/sessions").status == 200, "still signed in")
        }
    }

    @Test(
        "the cookie opens /api/v1 with the account's role; a change needs the CSRF token; the helpdesk's logout is audited as console:<name>; sign-out ends the cookie"
    )
    func cookieOpensTheAPI() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let hal = try await Self.account(server, "hal", .helpdesk)
            let eve = try await Self.account(server, "eve", .auditor)
            let phone = try await server.phone("sangoma-s500", mac: "001565c0c001")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")

            #expect(try await eve.call("GET", "/api/v1/sessions").body.contains("00:15:65:c0:c0:01"))
            #expect(try await eve.call("DELETE", "/api/v1/sessions/001565c0c001").status == 403, "an auditor changes nothing")
            let noToken = try await hal.call("DELETE", "/api/v1/sessions/001565c0c001", csrf: "")
            #expect(noToken.status == 403 && noToken.body.contains("\"csrf\""), "\(noToken.body)")
            #expect(try await hal.call("DELETE", "/api/v1/sessions/001565c0c001", csrf: eve.csrf).status == 403, "another session's token")
            #expect(try await server.store.session(mac: MACAddress("001565c0c001")!) != nil, "still logged in")
            #expect(try await hal.call("POST", "/api/v1/extensions/5501/sip-password").status == 403, "a helpdesk resets no SIP password")

            let out = try await hal.call("DELETE", "/api/v1/sessions/001565c0c001")
            #expect(out.status == 202, "\(out.body)")
            #expect(try await server.store.session(mac: MACAddress("001565c0c001")!) == nil)
            let log = try await server.store.auditLog(limit: 30)
            #expect(log.contains { $0.action == .logout && $0.actor == "console:hal" })
            #expect(log.contains { $0.action == .apiRefused && $0.detail.contains("CSRF") })

            let bye = try await HTTP.request(
                "POST",
                server.baseURL + "/admin/sign-out",
                headers: ["Cookie": "hotdesk_console=\(hal.cookie)", "X-CSRF-Token": hal.csrf]
            )
            #expect(bye.status == 204 && bye.header("Set-Cookie")?.contains("Max-Age=0") == true)
            #expect(try await hal.call("GET", "/api/v1/sessions").status == 401, "signed out: the cookie opens nothing")
            #expect(try await HTTP.get(server.baseURL + "/api/v1/sessions", headers: ["Cookie": "hotdesk_console=forged-value"]).status == 401)
        }
    }

    @Test("accounts: an admin creates one; a new password or role, or removal, ends its sessions; nobody removes or demotes themselves")
    func accounts() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let ada = try await Self.account(server, "ada", .admin)
            let hal = try await Self.account(server, "hal", .helpdesk)
            #expect(
                try await hal.call("POST", "/api/v1/accounts", body: "{\"name\": \"max\", \"role\": \"admin\", \"password\": \"\(Self.password)\"}")
                    .status == 403
            )
            #expect(
                try await ada.call("POST", "/api/v1/accounts", body: "{\"name\": \"max\", \"role\": \"admin\", \"password\": \"short\"}").status
                    == 400
            )
            let created = try await ada.call(
                "POST",
                "/api/v1/accounts",
                body: "{\"name\": \"max\", \"role\": \"auditor\", \"password\": \"\(Self.password)\"}"
            )
            #expect(created.status == 201, "\(created.body)")
            #expect(try await Self.signIn(server, "max").status == 200)

            let demoted = try await ada.call("POST", "/api/v1/accounts", body: "{\"name\": \"hal\", \"role\": \"auditor\"}")
            #expect(demoted.status == 200 && demoted.body.contains("\"auditor\""), "\(demoted.body)")
            #expect(try await hal.call("GET", "/api/v1/sessions").status == 401, "a new role ends the sessions opened with the old one")

            #expect(try await ada.call("DELETE", "/api/v1/accounts/ada").status == 409)
            #expect(try await ada.call("POST", "/api/v1/accounts", body: "{\"name\": \"ada\", \"role\": \"helpdesk\"}").status == 409)
            let max = try await Self.account(server, "max", .auditor)
            #expect(try await ada.call("DELETE", "/api/v1/accounts/max").status == 204)
            #expect(try await max.call("GET", "/api/v1/sessions").status == 401)
            #expect(try await Self.signIn(server, "max").status == 401)
            #expect(
                try await server.store.auditLog(limit: 20).contains {
                    $0.action == .adminAccountChanged && $0.actor == "console:ada" && $0.detail.contains("removed")
                }
            )
        }
    }

    @Test("GET /api/v1/extensions: where each is logged in and whether it is locked, paged")
    func extensions() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let ada = try await Self.account(server, "ada", .admin)
            let phone = try await server.phone("yealink-t46u", mac: "001565c0c002")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            let other = try await server.phone("yealink-t46u", mac: "001565c0c003")
            for _ in 1...5 { _ = try? await other.login("Login Int", ext: "5502", password: "0000") }
            let r = try await ada.call("GET", "/api/v1/extensions")
            let list = try #require((try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any])?["extensions"] as? [[String: Any]])
            let byNumber = Dictionary(uniqueKeysWithValues: list.map { ($0["number"] as? String ?? "", $0) })
            #expect(byNumber["5501"]?["logged_in_on"] as? [String] == ["00:15:65:c0:c0:02"])
            #expect(byNumber["5502"]?["locked_until"] != nil, "five wrong PINs lock 5502: \(r.body)")
            #expect(byNumber["5501"]?["locked_until"] == nil)
            // No secret, nor any hash of one: only whether a PIN was chosen.
            let keys = Set(list.flatMap(\.keys))
            #expect(
                !r.body.contains("sip-secret") && !r.body.contains("1234") && !r.body.contains("pbkdf2") && !r.body.contains("hash"),
                "no secrets"
            )
            #expect(keys.filter { $0.contains("pin") } == ["pin_chosen"] && byNumber["5501"]?["pin_chosen"] as? Bool == false, "\(keys)")
            let page = try await ada.call("GET", "/api/v1/extensions?limit=1")
            #expect(page.body.contains("\"5501\"") && !page.body.contains("\"5502\"") && page.body.contains("after=5501"), "\(page.body)")
        }
    }

    @Test("events: an open stream hears a change when a phone logs in, and ends when the server stops")
    func events() async throws {
        let server = try await TestServer.start(yaml: flowDirectory)
        do {
            let hal = try await Self.account(server, "hal", .helpdesk)
            let stream = try EventStream(url: server.baseURL + "/api/v1/events", cookie: hal.cookie)
            defer { stream.close() }
            try await stream.wait(for: ": HotDesk events")
            // Each change names the store's activity mark it announces: one at or past the mark
            // read once the login is applied is a change that includes the login (the sign-in
            // just before, or the phone's enrolment, announce smaller ones).
            let phone = try await server.phone("sangoma-s500", mac: "001565c0c004")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            let loggedIn = Int64(try await server.store.activityMark())
            try await stream.wait(forChangeAtLeast: loggedIn)
            await server.stop()
            try await stream.waitForEnd()
        } catch {
            await server.stop()
            throw error
        }
    }
}

/// `curl -N` reading a server-sent event stream (URLSession on Linux gives no streamed body)
/// into a file, read as it grows.
final class EventStream: Sendable {
    private let process: ChildProcess
    private let file: URL

    init(url: String, cookie: String) throws {
        file = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString).txt")
        process = try ChildProcess(
            "/usr/bin/curl",
            ["-sN", "--max-time", "60", "-H", "Cookie: hotdesk_console=\(cookie)", url],
            output: .file(file.path)
        )
    }

    deinit { try? FileManager.default.removeItem(at: file) }

    var text: String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    func wait(for marker: String, count: Int = 1, seconds: Double = 10) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while text.components(separatedBy: marker).count - 1 < count {
            guard Date() < deadline else { throw StreamTimeout(marker: marker, received: text) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The marks the `change` events named, in order.
    var marks: [Int64] {
        text.components(separatedBy: "event: change\ndata: {\"mark\":").dropFirst().compactMap { Int64($0.prefix { $0.isNumber }) }
    }

    func wait(forChangeAtLeast mark: Int64, seconds: Double = 10) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !marks.contains(where: { $0 >= mark }) {
            guard Date() < deadline else { throw StreamTimeout(marker: "a change at mark \(mark) or later", received: text) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func waitForEnd(seconds: Double = 10) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else { throw StreamTimeout(marker: "the end of the stream", received: text) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func close() { process.signal(SIGTERM) }

    struct StreamTimeout: Error, CustomStringConvertible {
        let marker: String
        let received: String
        var description: String { "no \"\(marker)\" within the time; received: \(received)" }
    }
}
