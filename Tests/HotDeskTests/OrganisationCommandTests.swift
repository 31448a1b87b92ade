import Curl
import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

/// Organisations made and served by the `hotdesk` command, on SQLite and on PostgreSQL (the suite
/// runs once on each).
@Suite("Organisations from the command line: made beside the main database, served by serve")
struct OrganisationCommandTests {
    @Test(
        "a first import that fails leaves a directory that the next import fills; hotdesk import --org makes the organisation's database beside the main one (orgs/NAME.sqlite, or DATABASE_org_NAME on the same PostgreSQL server); serve finds it and serves it under /o/NAME, its own key opening its own API only"
    )
    func importAndServe() async throws {
        let dir = try TempDir()
        let db = dir.url.appendingPathComponent("hotdesk.sqlite").path
        let orgDatabases = ["acme", "beta-2"].map { TestDatabase.name(for: db) + "_org_" + $0.replacingOccurrences(of: "-", with: "_") }
        defer {
            TestDatabase.remove(path: db)
            if let postgres = TestDatabase.postgres { for name in orgDatabases { try? PostgresDatabases.drop(name, on: postgres) } }
        }
        let database = try TestDatabase.commandLine(for: db)
        func hotdesk(_ arguments: [String]) async throws -> Command.Result {
            try await Command.run([hotdeskExecutable] + arguments + database, environment: TestDatabase.commandEnvironment, errors: true)
        }
        // A first import that fails, then one that works (on PostgreSQL the failed one used to take
        // away the key file the database had been sealed with: every later command was refused).
        let broken = dir.url.appendingPathComponent("broken.yaml")
        try "extensions:\n  - {number: \"55\", name: Nobody}\n".write(to: broken, atomically: true, encoding: .utf8)
        #expect(try await hotdesk(["import", broken.path]).status != 0)
        let main = try await ServerProcess.importFlowDirectory(db: db, port: 8080, directory: dir.url)
        #expect(main.status == 0, "\(main.output)")
        let yaml = dir.url.appendingPathComponent("acme.yaml")
        try OrganisationTests.directory("Ada of Acme", pin: "1111", org: "acme").replacingOccurrences(of: "{PORT}", with: "8080")
            .replacingOccurrences(of: "{PUSH_PORT}", with: "\(testPushPort)").write(to: yaml, atomically: true, encoding: .utf8)
        for name in ["acme", "beta-2"] {
            let made = try await hotdesk(["import", "--org", name, yaml.path])
            #expect(made.status == 0, "\(made.output)")
        }
        if let postgres = TestDatabase.postgres {
            let made = try PostgresDatabases.named(startingWith: TestDatabase.name(for: db) + "_org_", on: postgres)
            #expect(made == orgDatabases.sorted(), "\(made)")
        } else {
            for name in ["acme", "beta-2"] {
                #expect(FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("orgs/\(name).sqlite").path))
            }
        }
        let created = try await hotdesk(["apikey", "create", "--org", "acme", "--name", "acme-admin", "--role", "admin"])
        let key = created.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(created.status == 0 && !key.isEmpty && !key.contains(" "), "\(created.output)")

        let server = try await ServerProcess.start(db: db, directory: dir.url)
        defer { server.process.signal(SIGTERM) }
        let log = (try? String(contentsOf: server.log, encoding: .utf8)) ?? ""
        #expect(log.contains(#"organisations=["acme", "beta-2"]"#), "\(log)")
        func get(_ path: String) async throws -> CurlResponse {
            try await CurlEngine.shared.perform(
                CurlRequest(url: "http://127.0.0.1:\(server.port)\(path)", headers: [(name: "Authorization", value: "Bearer \(key)")])
            )
        }
        let acme = try await get("/o/acme/api/v1/extensions")
        #expect(acme.status == 200 && acme.text.contains("Ada of Acme"), "\(acme.status) \(acme.text)")
        #expect(try await get("/o/beta-2/api/v1/extensions").status == 401, "Acme's key is not Beta's")
        #expect(try await get("/api/v1/extensions").status == 401, "nor the main directory's")
    }
}
