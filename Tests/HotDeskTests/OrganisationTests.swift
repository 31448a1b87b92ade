import Curl
import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

/// Organisations (issue 25, item 3): one HotDesk for a partner's customers, each a directory of
/// its own (database, numbering, PINs, keys) served under `/o/NAME`.
@Suite("Organisations: each its own directory and numbering under /o/NAME, none reaching another's")
struct OrganisationTests {
    static func directory(_ name: String, pin: String, org: String) -> String {
        """
        settings:
          default_login: true
          internal_address: 127.0.0.1:{PORT}
          push_port: {PUSH_PORT}
        extensions:
          - number: "5501"
            name: \(name)
            voicemail_pin: "\(pin)"
            sip_password: "sip-secret-5501-\(org)"
        """
    }

    static let organisations = [
        "acme": directory("Ada of Acme", pin: "1111", org: "acme"),
        "globex": directory("Gus of Globex", pin: "2222", org: "globex"),
    ]

    @Test(
        "the same extension in two organisations: each phone is provisioned and logs in within its own, with its own PIN and line; the URLs in its config stay under its /o/NAME"
    )
    func sameNumberTwice() async throws {
        try await TestServer.with(yaml: flowDirectory, organisations: Self.organisations) { (server: TestServer) async throws in
            let acme = try #require(server.organisations["acme"])
            let globex = try #require(server.organisations["globex"])
            let atAcme = try await server.phone("yealink-t46u", mac: "001565a0c001", organisation: "acme")
            let atGlobex = try await server.phone("yealink-t46u", mac: "001565a0c002", organisation: "globex")
            let keyURL = try #require(await atAcme.config.browserKeyURL)
            #expect(keyURL.hasPrefix("\(server.baseURL)/o/acme/app/"), "\(keyURL)")
            #expect(await atAcme.config.provisionURL?.hasPrefix("\(server.baseURL)/o/acme/provision/") == true)
            let mac = MACAddress("001565a0c001")!
            #expect(try await acme.device(mac: mac) != nil)
            #expect(try await globex.device(mac: mac) == nil)
            #expect(try await server.store.device(mac: MACAddress("001565a0c001")!) == nil, "the root knows nothing of an organisation's phone")

            // Globex's PIN is not Acme's: refused at Acme (and counted there only).
            try await atAcme.login("Login Int", ext: "5501", password: "2222")
            #expect(await atAcme.title != "Logged in")
            try await atAcme.key("hotdesk")
            try await atAcme.loginApplied("Login Int", ext: "5501", password: "1111")
            try await atGlobex.loginApplied("Login Int", ext: "5501", password: "2222")
            #expect(await atAcme.setting("account.1.display_name") == "Ada of Acme")
            #expect(await atGlobex.setting("account.1.display_name") == "Gus of Globex")
            #expect(await atAcme.config.sipPassword == "sip-secret-5501-acme")
            #expect(await atGlobex.config.sipPassword == "sip-secret-5501-globex")
            #expect(try await acme.sessions().map(\.mac) == [MACAddress("001565a0c001")!])
            #expect(try await globex.sessions().map(\.mac) == [MACAddress("001565a0c002")!])
            #expect(try await server.store.sessions().isEmpty)
            #expect(try await acme.auditLog(limit: 20).contains { $0.action == .loginFailed } == true)
            #expect(try await globex.auditLog(limit: 20).contains { $0.action == .loginFailed } == false)

            // The logout on the phone: pushed and applied within its own organisation.
            try await atAcme.logoutApplied()
            #expect(try await acme.sessions().isEmpty)
            #expect(try await globex.sessions().count == 1)
            #expect(try await HTTP.get("\(server.baseURL)/o/initech/provision/001565a0c003.cfg").status == 404)
        }
    }

    @Test("an organisation's API key opens its own /o/NAME/api/v1 only: every route of another's, and the root's, refuses it (401, then 429)")
    func keysStayHome() async throws {
        try await TestServer.with(yaml: flowDirectory, organisations: Self.organisations) { (server: TestServer) async throws in
            let acme = try #require(server.organisations["acme"])
            let key = APIKey.make()
            try await acme.addAPIKey(name: "acme-ops", keyHash: APIKey.hash(key), at: Date())
            func call(_ method: String, _ path: String, key: String) async throws -> (status: Int, body: String) {
                let r = try await HTTP.request(method, server.baseURL + path, headers: ["Authorization": "Bearer \(key)"], body: nil)
                return (r.status, r.body)
            }
            let own = try await call("GET", "/o/acme/api/v1/extensions", key: key)
            #expect(own.status == 200 && own.body.contains("Ada of Acme") && !own.body.contains("Gus"), "\(own)")
            // Every route of the API, with Acme's key, at Globex and at the root.
            let routes = try await HTTP.get("\(server.baseURL)/o/globex/api/v1/openapi.json").body
            let document = try #require(try JSONSerialization.jsonObject(with: Data(routes.utf8)) as? [String: Any])
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var tried = 0
            for (path, operations) in paths where path.hasPrefix("/api/v1/") && path != "/api/v1/openapi.json" {
                let concrete = path.replacingOccurrences(of: #"\{[a-z_]+\}"#, with: "5501", options: .regularExpression)
                for method in operations.keys {
                    for place in ["/o/globex", ""] {
                        let answer = try await call(method.uppercased(), place + concrete, key: key)
                        // A key that opens nothing here is refused; so many of them, from one address, are then throttled.
                        #expect([401, 429].contains(answer.status), "\(method.uppercased()) \(place)\(concrete) with Acme's key: \(answer.status)")
                        tried += 1
                    }
                }
            }
            #expect(tried > 60, "every route tried: \(tried)")

            // Acme's PBX asks /o/acme/pbx/v1 with its own key; Globex's and the root's refuse it.
            let pbxKey = APIKey.make()
            try await acme.addAPIKey(name: "acme-kamailio", keyHash: APIKey.hash(pbxKey), kind: .pbx, at: Date())
            let question = #"{"auth_user": "5501", "callee": "112"}"#
            // Through libcurl, as PBXTests: URLSession on Linux never returns from a 401 offering Basic.
            func ask(_ place: String) async throws -> Int {
                try await CurlEngine.shared.perform(
                    CurlRequest(
                        method: "POST",
                        url: server.baseURL + place + "/pbx/v1/authorize",
                        headers: [(name: "Authorization", value: "Bearer \(pbxKey)"), (name: "Content-Type", value: "application/json")],
                        body: Array(question.utf8)
                    )
                ).status
            }
            #expect(try await ask("/o/acme") == 200)
            #expect(try await [401, 429].contains(ask("/o/globex")))
            #expect(try await [401, 429].contains(ask("")))
            #expect(try await server.organisations["globex"]?.findExtension("5501")?.name == "Gus of Globex")
        }
    }

    @Test(
        "a partner (the main directory's) manages every organisation: its key opens each one's API, audited there as the partner; the main admin's does not; only a partner makes a partner, and never in an organisation"
    )
    func partners() async throws {
        try await TestServer.with(yaml: flowDirectory, organisations: Self.organisations) { (server: TestServer) async throws in
            let acme = try #require(server.organisations["acme"])
            let partnerKey = APIKey.make()
            try await server.store.addAPIKey(name: "hosting", keyHash: APIKey.hash(partnerKey), kind: .admin, role: .partner, at: Date())
            let adminKey = APIKey.make()
            try await server.store.addAPIKey(name: "root-admin", keyHash: APIKey.hash(adminKey), kind: .admin, role: .admin, at: Date())
            func call(_ method: String, _ path: String, key: String, body: String? = nil) async throws -> (status: Int, body: String) {
                let headers = ["Authorization": "Bearer \(key)", "Content-Type": "application/json"]
                let r = try await HTTP.request(method, server.baseURL + path, headers: headers, body: body)
                return (r.status, r.body)
            }
            let listed = try await call("GET", "/api/v1/organisations", key: partnerKey)
            #expect(listed.status == 200 && listed.body.contains("\"/o/acme\"") && listed.body.contains("\"globex\""), "\(listed)")
            #expect(try await call("GET", "/api/v1/organisations", key: adminKey).status == 403, "the main directory's admin is no partner")
            for org in ["acme", "globex"] {
                let people = try await call("GET", "/o/\(org)/api/v1/extensions", key: partnerKey)
                #expect(people.status == 200 && people.body.contains("5501"), "\(org): \(people)")
                #expect(try await call("GET", "/o/\(org)/api/v1/extensions", key: adminKey).status == 401)
            }
            // A change in Acme as the partner: audited in Acme's log, by name.
            let renamed = try await call("PUT", "/o/acme/api/v1/directory/extensions/5501", key: partnerKey, body: #"{"name": "Ada King"}"#)
            #expect(renamed.status == 200, "\(renamed)")
            #expect(try await acme.auditLog(limit: 10).contains { $0.actor == "partner:hosting" && $0.action == .directoryImport })

            // Only a partner makes a partner; an organisation has none of its own.
            let makePartner = #"{"name": "eve", "role": "partner", "password": "correct horse battery"}"#
            #expect(try await call("POST", "/api/v1/accounts", key: adminKey, body: makePartner).status == 403)
            #expect(try await call("POST", "/o/acme/api/v1/accounts", key: partnerKey, body: makePartner).status == 403)
            #expect(try await call("POST", "/api/v1/accounts", key: partnerKey, body: makePartner).status == 201)
            // An admin cannot take a partner's account over (its password) nor remove it.
            #expect(
                try await call("POST", "/api/v1/accounts", key: adminKey, body: #"{"name": "eve", "password": "mine now, all mine"}"#).status == 403
            )
            #expect(try await call("DELETE", "/api/v1/accounts/eve", key: adminKey).status == 403)
            #expect(try await call("DELETE", "/api/v1/apikeys/hosting", key: adminKey).status == 403)

            // A partner signed in to the main console opens Acme's API with that session, even
            // with an ended session of Acme's own console still in the browser (its own cookie).
            _ = try await server.store.saveAdminAccount(name: "pam", password: ConsoleTests.password, role: .partner, actor: "test", at: Date())
            let main = try ConsoleTests.signedIn(server, try await ConsoleTests.signIn(server, "pam"))
            let stale = ConsoleSession.makeToken()
            let both = ["Cookie": "hotdesk_console=\(main.cookie); hotdesk_console_acme=\(stale)"]
            let seen = try await HTTP.request("GET", server.baseURL + "/o/acme/api/v1/extensions", headers: both, body: nil)
            #expect(seen.status == 200 && seen.body.contains("5501"), "\(seen.status) \(seen.body)")
            let alone = ["Cookie": "hotdesk_console_acme=\(stale)"]
            #expect(try await HTTP.request("GET", server.baseURL + "/o/acme/api/v1/extensions", headers: alone, body: nil).status == 401)
        }
    }

    @Test(
        "a phone belongs to one organisation: an import elsewhere that names it is refused whole, saying whose it is; its own organisation's goes through; sent to another's address it does not enrol there"
    )
    func onePhoneOneOrganisation() async throws {
        try await TestServer.with(yaml: flowDirectory, organisations: Self.organisations) { (server: TestServer) async throws in
            _ = try await server.phone("yealink-t46u", mac: "001565a0c009", organisation: "acme")  // enrols itself in Acme
            let globex = try #require(server.organisations["globex"])
            let key = APIKey.make()
            try await globex.addAPIKey(name: "globex-ops", keyHash: APIKey.hash(key), at: Date())
            let rootKey = APIKey.make()
            try await server.store.addAPIKey(name: "root-ops", keyHash: APIKey.hash(rootKey), at: Date())
            let acmeKey = APIKey.make()
            try await server.organisations["acme"]?.addAPIKey(name: "acme-ops", keyHash: APIKey.hash(acmeKey), at: Date())
            let file = "devices:\n  - {mac: \"00:15:65:a0:c0:08\", model: yealink-t46u}\n  - {mac: \"00:15:65:a0:c0:09\", model: yealink-t46u}\n"
            func post(_ place: String, key: String) async throws -> (status: Int, body: String) {
                let headers = ["Authorization": "Bearer \(key)", "Content-Type": "application/yaml"]
                let r = try await HTTP.request("POST", server.baseURL + place + "/api/v1/directory", headers: headers, body: file)
                return (r.status, r.body)
            }
            for (place, key) in [("/o/globex", key), ("", rootKey)] {
                let refused = try await post(place, key: key)
                #expect(
                    refused.status == 422 && refused.body.contains("devices[1].mac: 00:15:65:a0:c0:09 is a phone of organisation acme"),
                    "\(place): \(refused)"
                )
            }
            #expect(try await globex.device(mac: MACAddress("001565a0c008")!) == nil, "nothing of a refused file is imported")
            #expect(try await post("/o/acme", key: acmeKey).status == 200, "its own organisation names it")
            // Sent to Globex's address, Acme's phone is not enrolled there (not even with default_login).
            let astray = try await HTTP.get(
                "\(server.baseURL)/o/globex/provision/001565a0c009.cfg",
                headers: ["User-Agent": "Yealink SIP-T46U 108.86.0.20 00:15:65:a0:c0:09"]
            )
            #expect(astray.status == 404, "\(astray.status)")
            #expect(try await globex.device(mac: MACAddress("001565a0c009")!) == nil)
        }
    }
}
