import Curl
import Foundation
import HotDeskCore
import PhoneSimulator
import Testing

@testable import HotDeskStore

/// Two HotDesk servers on one PostgreSQL database, as two nodes behind one address: what one
/// node changes, the other serves on the very next request that depends on it (each request reads
/// the database's change stamps; nothing waits for a notification that could be lost).
@Suite(
    "Several nodes on one PostgreSQL database",
    .enabled(if: TestDatabase.isPostgres, "needs HOTDESK_TEST_POSTGRES (scripts/postgres start; scripts/test runs it)")
)
struct SeveralNodesTests {
    @Test("a login through node A is in node B's very next config fetch; a logout through B is refused by A's PBX answer at once")
    func everyNodeCurrent() async throws {
        let a = try await TestServer.start(yaml: PBXTests.directory)
        // The second node: the same database (and key file), its own caches.
        let b = try await TestServer.start(yaml: nil, directory: a.directory)
        do {
            let pbxA = try await PBXTests().pbx(a)
            let phone = try await a.phone("yealink-t46u", mac: "001565c00001")
            // Node B serves the logged-out config and keeps it.
            for _ in 0..<2 {
                let before = try await b.fetchAsPhone("001565c00001.cfg", mac: "001565c00001", from: phone.options.address)
                #expect(before.status == 200 && !before.text.contains("user_name = 5501"), "\(before.status)")
            }
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            let after = try await b.fetchAsPhone("001565c00001.cfg", mac: "001565c00001", from: phone.options.address)
            #expect(after.status == 200 && after.text.contains("user_name = 5501"), "B's next fetch carries the login made through A")
            #expect(try await pbxA.call("GET", "/credentials/5501").status == 200)

            let admin = try await AdminAPITests().client(b)
            #expect(try await admin.call("DELETE", "/sessions/001565c00001").status == 202)
            #expect(try await pbxA.call("GET", "/credentials/5501").status == 404, "a logout through B: A refuses the line at once")
            let loggedOut = try await a.fetchAsPhone("001565c00001.cfg", mac: "001565c00001", from: phone.options.address)
            #expect(loggedOut.status == 200 && !loggedOut.text.contains("user_name = 5501"))
        } catch {
            await b.stop(keepFiles: true)
            await a.stop()
            throw error
        }
        await b.stop(keepFiles: true)
        await a.stop()
    }
}

@Suite(
    "Opening a PostgreSQL database: each failure one clear line",
    .enabled(if: TestDatabase.isPostgres, "needs HOTDESK_TEST_POSTGRES (scripts/postgres start; scripts/test runs it)")
)
struct PostgresOpenTests {
    func failure(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "opened"
        } catch {
            return "\(error)"
        }
    }

    @Test("wrong password, no such database, nothing listening, a password in the URL, a newer schema, another key: refused, said in one line")
    func failures() async throws {
        let cluster = try #require(TestDatabase.postgres)
        let dir = try TempDir()
        let secrets = try SecretBox.load(keyFile: dir.url.appendingPathComponent("k").path, environment: [:])
        let url = cluster.description
        let wrongPassword = failure {
            _ = try PostgresStore(
                location: try PostgresLocation(url: url, environment: ["PGPASSWORD": "not-it", "HOME": dir.url.path]),
                secrets: secrets
            )
        }
        #expect(wrongPassword.contains("password authentication failed") && wrongPassword.contains("PGPASSWORD"), "\(wrongPassword)")
        #expect(!wrongPassword.contains("not-it"), "the password is never said")
        let missing = failure { _ = try PostgresStore(location: cluster.database("hotdesk_no_such_database"), secrets: secrets) }
        #expect(missing.contains("does not exist") && missing.contains("createdb"), "\(missing)")
        var nobody = cluster
        nobody.port = 9
        let down = failure { _ = try PostgresStore(location: nobody, secrets: secrets) }
        #expect(down.contains("cannot reach the server") && down.contains("127.0.0.1:9"), "\(down)")
        let inURL = failure { _ = try PostgresLocation(url: url.replacingOccurrences(of: "hotdesk@", with: "hotdesk:secret-pw@")) }
        #expect(inURL.contains("carries a password") && !inURL.contains("secret-pw"), "\(inURL)")
        #expect(failure { _ = try PostgresLocation(url: "postgres://h@127.0.0.1:5432") }.contains("names no database"))

        // A database made by this version opens; with a newer version's mark, or another key, it does not.
        let path = dir.url.appendingPathComponent("db.sqlite").path
        defer { TestDatabase.remove(path: path) }
        let store = try TestDatabase.open(path: path, keyFile: dir.url.appendingPathComponent("k").path)
        let yaml = flowDirectory.replacingOccurrences(of: "{PORT}", with: "8080").replacingOccurrences(of: "{PUSH_PORT}", with: "8081")
        _ = try await importDirectory(yaml, into: store, base: dir.url)
        let other = try SecretBox.load(keyFile: dir.url.appendingPathComponent("other").path, environment: [:])
        let location = cluster.database(TestDatabase.name(for: path))
        let wrongKey = failure { _ = try PostgresStore(location: location, secrets: other) }
        #expect(wrongKey.contains("not the one this database's secrets were sealed with"), "\(wrongKey)")
        try await store.engine.write { db in
            try db.execute("INSERT INTO hotdesk_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)")
        }
        let newer = failure { _ = try PostgresStore(location: location, secrets: secrets) }
        #expect(newer.contains("schema version 999") && newer.contains("newer HotDesk"), "\(newer)")
    }
}
