import DirectoryFile
import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

/// Keys and console accounts limited to sites (issue 25, item 4): a Paris admin sees Paris's
/// phones, users, locks, jobs and audit, acts on Paris's phones only (403 elsewhere, audited), and
/// cannot use what is for every site (the directory, keys, accounts).
@Suite("Admins limited to sites: a Paris key sees and touches Paris only")
struct SiteScopeTests {
    static let paris = "00:15:65:5c:00:01"
    static let lyon = "00:15:65:5c:00:02"

    /// 5501 and 5503 live in Paris, 5502 and 5504 in Lyon; one wrong PIN locks an extension.
    static let directory = """
        settings:
          internal_address: 127.0.0.1:{PORT}
          push_port: {PUSH_PORT}
          lockout: {extension_failures: 1}
        sites:
          - name: paris
          - name: lyon
        extensions:
          - {number: "5501", name: Ada, voicemail_pin: "1234", sip_password: "sip-secret-5501", site: paris}
          - {number: "5502", name: Bob, voicemail_pin: "2345", sip_password: "sip-secret-5502", site: lyon}
          - {number: "5503", name: Cy, voicemail_pin: "3456", sip_password: "sip-secret-5503", site: paris}
          - {number: "5504", name: Di, voicemail_pin: "4567", sip_password: "sip-secret-5504", site: lyon}
        workspaces:
          - {name: "Paris 2.01", licence: professional, site: paris}
          - {name: "Lyon 3.12", licence: professional, site: lyon}
        devices:
          - {mac: "\(paris)", model: yealink-t46u, site: paris}
          - {mac: "\(lyon)", model: yealink-t46u, site: lyon}
        """

    /// What a key limited to some sites may open at all (each then kept to its sites); every
    /// other operation of the API is for keys of every site.
    static let opened: Set<String> = [
        "GET /api/v1/events", "GET /api/v1/sessions", "GET /api/v1/extensions", "GET /api/v1/devices", "GET /api/v1/devices/{mac}",
        "GET /api/v1/locks", "GET /api/v1/audit", "GET /api/v1/push-jobs", "GET /api/v1/push-jobs/{id}", "GET /api/v1/sites",
        "GET /api/v1/workspaces", "GET /api/v1/cos", "GET /api/v1/cos/{name}", "GET /api/v1/cos/check", "DELETE /api/v1/sessions/{mac}",
        "POST /api/v1/extensions/{number}/logout", "POST /api/v1/devices/{mac}/push", "POST /api/v1/devices/push-changed",
        "DELETE /api/v1/locks/extension/{key}", "DELETE /api/v1/locks/device/{key}", "DELETE /api/v1/extensions/{number}/pin",
    ]

    /// Both phones logged in, 5503 (Paris) and 5504 (Lyon) locked by a wrong PIN each.
    func start() async throws -> TestServer {
        let server = try await TestServer.start(yaml: Self.directory)
        let paris = try await server.phone("yealink-t46u", mac: "0015655c0001")
        let lyon = try await server.phone("yealink-t46u", mac: "0015655c0002")
        try await paris.login("Login Int", ext: "5503", password: "0000")
        try await lyon.login("Login Int", ext: "5504", password: "0000")
        try await paris.loginApplied("Login Int", ext: "5501", password: "1234")
        try await lyon.loginApplied("Login Int", ext: "5502", password: "2345")
        return server
    }

    /// A key of `role` limited to Paris.
    func parisClient(_ server: TestServer, role: AdminRole = .admin) async throws -> AdminAPITests.Client {
        let key = APIKey.make()
        try await server.store.addAPIKey(
            name: "paris-\(role.rawValue)",
            keyHash: APIKey.hash(key),
            kind: .admin,
            role: role,
            scope: SiteScope(sites: ["paris"]),
            at: Date()
        )
        return AdminAPITests.Client(server: server, key: key)
    }

    func refusals(_ server: TestServer) async throws -> Int {
        try await server.store.auditLog(limit: 1000).filter { $0.action == .apiRefused }.count
    }

    @Test(
        "every /api/v1 operation tried with a Paris admin key: what is for every site is refused, Lyon's phones and users are refused, each refusal audited; Lyon's session stands"
    )
    func everyRoute() async throws {
        let server = try await start()
        do {
            let all = try await AdminAPITests().client(server)
            let api = try await parisClient(server)
            let lyonJob = try #require(try await server.store.pushJobs(state: nil, mac: MACAddress(Self.lyon), limit: 1).first?.id)

            // Every operation the server documents (its router's own list) is either opened or refused.
            let document = try await HTTP.request("GET", server.baseURL + "/api/v1/openapi.json")
            let paths = try #require((try JSONSerialization.jsonObject(with: Data(document.body.utf8)) as? [String: Any])?["paths"] as? [String: Any])
            var operations: [String] = []
            for (path, methods) in paths where path.hasPrefix("/api/v1/") {
                for method in ((methods as? [String: Any]) ?? [:]).keys { operations.append("\(method.uppercased()) \(path)") }
            }
            #expect(Self.opened.isSubset(of: Set(operations)), "\(Self.opened.subtracting(operations))")
            var before = try await refusals(server)
            for operation in operations.sorted() where !Self.opened.contains(operation) {
                let parts = operation.split(separator: " ", maxSplits: 1).map(String.init)
                let path = String(parts[1].dropFirst("/api/v1".count))
                    .replacingOccurrences(of: "{mac}", with: Self.paris).replacingOccurrences(of: "{number}", with: "5501")
                    .replacingOccurrences(of: "{name}", with: "paris-admin").replacingOccurrences(of: "{key}", with: "127.0.0.1")
                let r = try await api.call(parts[0], path, body: parts[0] == "GET" || parts[0] == "DELETE" ? nil : "{}")
                // (A partner's question is refused for the role first: an admin is no partner.)
                let why = operation.hasSuffix(" /api/v1/organisations") ? "forbidden" : "forbidden_scope"
                #expect(r.status == 403 && api.errorCode(r) == why, "\(operation): \(r.status) \(r.json)")
            }
            let forbidden = operations.count - Self.opened.count
            #expect(forbidden >= 15, "the directory, keys, accounts, SIP passwords, releases… (\(forbidden))")
            #expect(try await refusals(server) == before + forbidden, "each refusal audited")

            // The routes it opens, about Lyon's phones and users: refused, audited.
            let aboutLyon: [(String, String, String?)] = [
                ("GET", "/sessions?site=lyon", nil), ("GET", "/devices?site=lyon", nil), ("GET", "/extensions?site=lyon", nil),
                ("GET", "/audit?site=lyon", nil), ("GET", "/push-jobs?site=lyon", nil), ("GET", "/push-jobs?mac=\(Self.lyon)", nil),
                ("GET", "/devices/\(Self.lyon)", nil), ("GET", "/push-jobs/\(lyonJob)", nil), ("DELETE", "/sessions/\(Self.lyon)", nil),
                ("POST", "/extensions/5502/logout", nil), ("POST", "/devices/\(Self.lyon)/push", "{\"action\": \"reload\"}"),
                ("DELETE", "/locks/extension/5504", nil), ("DELETE", "/locks/device/\(Self.lyon)", nil),
                ("GET", "/cos/check?extension=5502&number=112", nil), ("DELETE", "/extensions/5502/pin", nil),
            ]
            before = try await refusals(server)
            for (method, path, body) in aboutLyon {
                let r = try await api.call(method, path, body: body)
                #expect(r.status == 403 && api.errorCode(r) == "out_of_scope", "\(method) \(path): \(r.status) \(r.json)")
            }
            #expect(try await refusals(server) == before + aboutLyon.count)
            let refused = try #require(try await server.store.auditLog(limit: 1).first)
            #expect(
                refused.actor == "api:paris-admin" && refused.detail.contains("site lyon") && refused.detail.contains("outside site paris"),
                "\(refused.detail)"
            )

            #expect(try await server.store.session(mac: MACAddress(Self.lyon)!)?.extensionNumber == "5502", "Lyon's session stands")
            let locks = try await all.call("GET", "/locks").json["locks"] as? [[String: Any]] ?? []
            #expect(locks.compactMap { $0["key"] as? String }.sorted() == ["5503", "5504"], "\(locks)")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test(
        "a Paris helpdesk key: each list shows Paris only (phones, sessions, users, sites, workspaces, locks, jobs, audit); it acts on Paris's phones"
    )
    func parisOnly() async throws {
        let server = try await start()
        do {
            let api = try await parisClient(server, role: .helpdesk)
            func list(_ path: String, _ key: String, _ field: String) async throws -> [String] {
                let r = try await api.call("GET", path)
                #expect(r.status == 200, "\(path): \(r.json)")
                return ((r.json[key] as? [[String: Any]]) ?? []).compactMap { $0[field] as? String }
            }
            #expect(try await list("/devices", "devices", "mac") == [Self.paris])
            #expect(try await list("/devices?site=paris", "devices", "mac") == [Self.paris])
            #expect(try await list("/sessions", "sessions", "mac") == [Self.paris])
            #expect(try await list("/extensions", "extensions", "number") == ["5501", "5503"])
            #expect(try await list("/sites", "sites", "name") == ["paris"])
            #expect(try await list("/workspaces", "workspaces", "name") == ["Paris 2.01"])
            #expect(try await list("/locks", "locks", "key") == ["5503"], "no Lyon lock, no address lock")
            let jobs = try await list("/push-jobs", "jobs", "mac")
            #expect(!jobs.isEmpty && Set(jobs) == [Self.paris], "\(jobs)")
            let audit = try await api.call("GET", "/audit?limit=1000").json["entries"] as? [[String: Any]] ?? []
            #expect(audit.contains { $0["action"] as? String == "login" && $0["extension"] as? String == "5501" }, "\(audit)")
            #expect(
                audit.allSatisfy { $0["mac"] as? String == Self.paris || ["5501", "5503"].contains($0["extension"] as? String ?? "") },
                "only what happened on Paris's phones or to Paris's users: \(audit)"
            )
            #expect(try await api.call("GET", "/devices/\(Self.paris)").status == 200)
            #expect(try await api.call("GET", "/sites?site=nowhere").status == 200, "an unknown filter on a list without one is ignored")
            #expect(api.errorCode(try await api.call("GET", "/devices?site=nowhere")) == "unknown_site")

            // Its actions, on Paris.
            let changed = try await api.call("POST", "/devices/push-changed")
            #expect(changed.status == 202 && changed.json["checked"] as? Int == 1, "Paris's phones only: \(changed.json)")
            #expect(try await api.call("POST", "/devices/\(Self.paris)/push", body: "{\"action\": \"reload\"}").status == 202)
            #expect(try await api.call("DELETE", "/locks/extension/5503").status == 200)
            #expect(try await api.call("POST", "/extensions/5501/logout").status == 202)
            #expect(try await server.store.session(mac: MACAddress(Self.paris)!) == nil)
            #expect(try await server.store.session(mac: MACAddress(Self.lyon)!) != nil)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test(
        "a console account limited to Paris: its cookie opens Paris only; the sign-in says its sites; changing its sites signs it out; an unknown site is refused"
    )
    func consoleAccount() async throws {
        let server = try await start()
        do {
            let all = try await AdminAPITests().client(server)
            let body = "{\"name\": \"paris-desk\", \"role\": \"helpdesk\", \"password\": \"\(ConsoleTests.password)\", \"sites\": [\"paris\"]}"
            let created = try await all.call("POST", "/accounts", body: body)
            #expect(created.status == 201 && created.json["sites"] as? [String] == ["paris"], "\(created.json)")
            let unknown = try await all.call("POST", "/accounts", body: "{\"name\": \"paris-desk\", \"sites\": [\"rome\"]}")
            #expect(unknown.status == 400 && all.errorCode(unknown) == "unknown_site", "\(unknown.json)")

            let signedIn = try await ConsoleTests.signIn(server, "paris-desk")
            let view = (try? JSONSerialization.jsonObject(with: Data(signedIn.body.utf8))) as? [String: Any]
            #expect(signedIn.status == 200 && view?["sites"] as? [String] == ["paris"], "\(signedIn.body)")
            let console = try ConsoleTests.signedIn(server, signedIn)
            let devices = try await console.call("GET", "/api/v1/devices")
            #expect(devices.status == 200 && devices.body.contains(Self.paris) && !devices.body.contains(Self.lyon), "\(devices.body)")
            #expect(try await console.call("DELETE", "/api/v1/sessions/\(Self.lyon)").status == 403)
            #expect(try await server.store.session(mac: MACAddress(Self.lyon)!) != nil)

            let widened = try await all.call("POST", "/accounts", body: "{\"name\": \"paris-desk\", \"every_site\": true}")
            #expect(widened.status == 200 && widened.json["sites"] == nil, "\(widened.json)")
            #expect(try await console.call("GET", "/api/v1/devices").status == 401, "a change of sites signs the account out")
            let entry = try #require(try await server.store.auditLog(limit: 5).first { $0.action == .adminAccountChanged })
            #expect(entry.detail.contains("site paris → every site"), "\(entry.detail)")

            // A site still some account's scope cannot be pruned from the directory.
            #expect(try await all.call("POST", "/accounts", body: "{\"name\": \"paris-desk\", \"sites\": [\"lyon\"]}").status == 200)
            let refused = try await SiteTests().refusedPrune("sites:\n  - {name: paris}\n", into: server.store, dir: server.directory)
            #expect(refused.contains("site lyon is the scope of console account \"paris-desk\""), "\(refused)")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
