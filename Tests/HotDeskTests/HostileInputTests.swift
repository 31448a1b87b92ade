import Curl
import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

@Suite("Hostile and malformed input gets a clear error and loses nothing")
struct HostileInputTests {
    @Test("config file names: traversal, non-hex MACs, junk, huge names")
    func badFileNames() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let names = [
                "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2fhotdesk.sqlite", "001565zzbbcc.cfg", "cfg001565aabbc.xml", "000000000000.xml",
                "cfg001565aabbcc.cfg", "hotdesk.sqlite", String(repeating: "a", count: 5000) + ".cfg", "001565aabbcc.cfg%00.xml",
            ]
            for name in names {
                let r = try await HTTP.get("\(server.baseURL)/provision/\(name)")
                #expect([400, 404].contains(r.status), "\(name.prefix(40)) -> \(r.status)")
                // The refusal is one short line of its own: no echo of the name (5,000 characters, a
                // NUL), no path of the server's, no database text.
                let text = r.body.hasSuffix("\n") ? String(r.body.dropLast()) : r.body
                #expect(!text.isEmpty && !text.contains("\n") && text.utf8.count <= 200, "\(name.prefix(40)) -> \(r.body.prefix(300))")
                #expect(!r.body.contains(server.directory.path) && !r.body.contains("SQLite") && !r.body.contains(String(name.prefix(30))))
            }
            let traversal = try await HTTP.get("\(server.baseURL)/provision/../../etc/passwd")
            #expect([400, 404].contains(traversal.status))
            #expect(try await server.store.sessions().isEmpty)
            let health = try await HTTP.get("\(server.baseURL)/health")
            #expect(health.status == 200)
        }
    }

    @Test("common file and any MAC spelling in the file name")
    func commonFile() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let common = try await HTTP.get("\(server.baseURL)/provision/y000000000000.cfg")
            #expect(common.status == 200)
            #expect(common.body.hasPrefix("#!version:1.0.0.1"))
            let upper = try await HTTP.get("\(server.baseURL)/provision/001565AABBDD.cfg", headers: ["User-Agent": "Yealink SIP-T46U 108.86.0.45"])
            #expect(upper.status == 200)
            #expect(try await server.store.device(mac: MACAddress("00:15:65:aa:bb:dd")!) != nil)
        }
    }

    @Test("unknown and malformed tokens get an error screen in the phone's dialect")
    func unknownTokens() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let model = try #require(SimModel.named("sangoma-s500"))
            for token in ["nope", RandomToken.make(), "001565aabb10", String(repeating: "x", count: 3000)] {
                let r = try await HTTP.get("\(server.baseURL)/app/\(token)", headers: ["User-Agent": model.userAgent(mac: "001565aabb10")])
                #expect(r.status == 200)
                guard case .text(_, let text, _) = try model.dialect.read(Array(r.body.utf8)) else {
                    Issue.record("not a text screen")
                    continue
                }
                #expect(text.contains("not set up for Hot Desk"))
            }
        }
    }

    @Test("10 KB query strings, huge and non-digit extensions, empty fields")
    func hostileSubmits() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aabb11", pushes: false)
            try await phone.key("hotdesk")
            try await phone.select("Login Int")
            guard case .input(_, let form, _, _)? = await phone.screen else {
                Issue.record("no login form")
                return
            }
            /// What the phone would show for `url`, read strictly in its dialect.
            func screen(_ url: String) async throws -> (title: String, text: String) {
                let r = try await HTTP.get(url, headers: ["User-Agent": phone.model.userAgent(mac: phone.mac)])
                let screen = try phone.model.dialect.read(Array(r.body.utf8))
                guard case .text(let title, let text, _) = screen else { return (screen.title, "") }
                return (title, text)
            }
            #expect(try await screen(form + "&ext=5501&pw=" + String(repeating: "9", count: 10_000)).text.contains("too long"))
            #expect(try await screen(form + "&junk=" + String(repeating: "%26", count: 3000)).text.contains("too long"))
            #expect(try await screen(form + "&ext=55%27%3B%20DROP%20TABLE%20sessions&pw=1234").text.contains("2 to 6 digits"))
            #expect(try await screen(form + "&ext=&pw=1234").text.contains("Enter your extension"))
            #expect(try await screen(form + "&ext=5501&pw=").text.contains("Enter your password"))
            let fallback = try await screen(form.replacingOccurrences(of: "net=int", with: "net=%3Cscript%3E") + "&ext=5501&pw=1234")
            #expect(fallback.title == "Logged in", "an unknown network falls back to internal")
            // Nothing else happened: one session, and the sessions table is intact.
            #expect(try await server.store.sessions().count == 1)
        }
    }

    @Test("a message with an invisible character is refused with the character named; a clean one is queued")
    func invisibleCharacters() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            _ = try await server.phone("yealink-t46u", mac: "001565aaee01", pushes: false)
            let api = try await AdminAPITests().client(server)
            for hidden in ["\\u200B", "\\uFEFF", "\\u00AD", "\\u202E", "\\uDB40\\uDC41"] {
                let r = try await api.call("POST", "/devices/001565aaee01/push", body: #"{"action": "xml", "text": "Fire\#(hidden)drill"}"#)
                #expect(r.status == 400 && api.errorCode(r) == "bad_text", "\(hidden): \(r.json)")
                #expect(
                    ((r.json["error"] as? [String: Any])?["message"] as? String)?.contains("invisible or control character U+") == true,
                    "\(r.json)"
                )
            }
            #expect(try await api.call("POST", "/devices/001565aaee01/push", body: #"{"action": "xml", "text": "Fire drill\nat 3"}"#).status == 202)
        }
    }

    @Test("X-Forwarded-For counts only from a trusted proxy")
    func forwardedFor() async throws {
        let proxy = Loopback.next()
        let server = try await TestServer.start(yaml: flowDirectory, trustedProxies: [proxy])
        do {
            func fetch(_ mac: String, from address: String, forwarded: String = "127.9.8.7, 127.0.2.1") async throws -> String? {
                let headers = [("X-Forwarded-For", forwarded), ("User-Agent", "Yealink SIP-T46U 108.86.0.45")]
                // The first fetch enrols the phone (and teaches nothing: it proves nothing); the
                // phone's own, with its secret, is where its address is learned.
                let first = try await CurlEngine.shared.perform(
                    CurlRequest(url: "\(server.baseURL)/provision/\(mac).cfg", headers: headers, localAddress: address)
                )
                #expect(first.status == 200)
                #expect(try await server.store.device(mac: MACAddress(mac)!)?.lastAddress == nil)
                let r = try await server.fetchAsPhone("\(mac).cfg", mac: mac, headers: headers, from: address)
                #expect(r.status == 200)
                return try await server.store.device(mac: MACAddress(mac)!)?.lastAddress
            }
            #expect(try await fetch("001565aaff01", from: proxy) == "127.0.2.1", "the nearest hop before our proxy")
            // A hop the proxy wrote that is not an address ends the walk: what is left of it was
            // written by the client, and must not win (issue 21).
            for (n, hop) in ["unknown", "_hidden", "[::1]:80", "127.0.2.1:5060"].enumerated() {
                let mac = String(format: "001565aaff1%d", n)
                #expect(try await fetch(mac, from: proxy, forwarded: "127.9.8.7, \(hop)") == proxy, "\(hop)")
            }
            #expect(try await fetch("001565aaff20", from: proxy, forwarded: "127.9.8.7, \(proxy), 127.0.2.9") == "127.0.2.9")
            let phone = Loopback.next()
            #expect(try await fetch("001565aaff02", from: phone) == phone, "anyone else's header is ignored")
        }
        await server.stop()
    }
}
