import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

/// Organisations made or found while the server runs: served at once, no restart.
@Suite("Organisations made and found while the server runs")
struct OrganisationLiveTests {
    @Test(
        "a partner makes an organisation through the API (only a partner; a bad name, one that exists: refused): served at once under /o/NAME, its phones log in and are pushed; one made beside the server by another process is found at its first request and its phones are its own"
    )
    func madeAndFound() async throws {
        try await TestServer.with(yaml: flowDirectory, organisations: ["acme": OrganisationTests.organisations["acme"]!]) {
            (server: TestServer) async throws in
            let partnerKey = APIKey.make()
            try await server.store.addAPIKey(name: "hosting", keyHash: APIKey.hash(partnerKey), kind: .admin, role: .partner, at: Date())
            let adminKey = APIKey.make()
            try await server.store.addAPIKey(name: "root-admin", keyHash: APIKey.hash(adminKey), kind: .admin, role: .admin, at: Date())
            func call(
                _ method: String,
                _ path: String,
                key: String,
                body: String? = nil,
                type: String = "application/json"
            ) async throws -> (
                status: Int, body: String
            ) {
                let r = try await HTTP.request(
                    method,
                    server.baseURL + path,
                    headers: ["Authorization": "Bearer \(key)", "Content-Type": type],
                    body: body
                )
                return (r.status, r.body)
            }
            #expect(try await call("GET", "/o/initech/api/v1/extensions", key: partnerKey).status == 404, "no Initech yet")
            #expect(try await call("POST", "/api/v1/organisations", key: adminKey, body: #"{"name": "initech"}"#).status == 403)
            #expect(try await call("POST", "/api/v1/organisations", key: partnerKey, body: #"{"name": "Initech"}"#).status == 400)
            let made = try await call("POST", "/api/v1/organisations", key: partnerKey, body: #"{"name": "initech"}"#)
            #expect(made.status == 201 && made.body.contains("\"/o/initech\""), "\(made)")
            #expect(try await call("POST", "/api/v1/organisations", key: partnerKey, body: #"{"name": "initech"}"#).status == 409)
            #expect(try await call("POST", "/api/v1/organisations", key: partnerKey, body: #"{"name": "acme"}"#).status == 409)
            let listed = try await call("GET", "/api/v1/organisations", key: partnerKey)
            #expect(listed.body.contains("\"acme\"") && listed.body.contains("\"initech\""), "\(listed)")
            #expect(try await server.store.auditLog(limit: 10).contains { $0.action == .organisationCreated && $0.actor == "api:hosting" })

            // The partner fills it; its phone logs in and is pushed (its own services run).
            let directory = OrganisationTests.directory("Ian of Initech", pin: "3333", org: "initech")
                .replacingOccurrences(of: "{PORT}", with: "\(server.port)").replacingOccurrences(of: "{PUSH_PORT}", with: "\(testPushPort)")
            let filled = try await call("POST", "/o/initech/api/v1/directory", key: partnerKey, body: directory, type: "application/yaml")
            #expect(filled.status == 200, "\(filled)")
            let phone = try await server.phone("yealink-t46u", mac: "001565a0c0a1", organisation: "initech")
            try await phone.loginApplied("Login Int", ext: "5501", password: "3333")
            #expect(await phone.setting("account.1.display_name") == "Ian of Initech")

            // Globex is made beside the running server (as `hotdesk import --org globex` would):
            // found at its first request, and from then on its phones are nobody else's.
            let path = server.directory.appendingPathComponent("orgs/globex.sqlite").path
            let globex = try TestDatabase.open(path: path, keyFile: path + ".key")
            _ = try await importDirectory(
                "devices:\n  - {mac: \"00:15:65:a0:c0:b1\", model: yealink-t46u}\n",
                into: globex,
                base: server.directory
            )
            let found = try await call("GET", "/o/globex/api/v1/devices", key: partnerKey)
            #expect(found.status == 200 && found.body.contains("00:15:65:a0:c0:b1"), "\(found)")
            let taken = try await call(
                "POST",
                "/o/acme/api/v1/directory",
                key: partnerKey,
                body: "devices:\n  - {mac: \"00:15:65:a0:c0:b1\", model: yealink-t46u}\n",
                type: "application/yaml"
            )
            #expect(taken.status == 422 && taken.body.contains("is a phone of organisation globex"), "\(taken)")
            await phone.shutdown()
        }
    }
}
