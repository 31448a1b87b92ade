import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

/// The directory changed one entry at a time (the console's forms): `GET`, `PUT` and `DELETE
/// /api/v1/directory/{section}/{key}`, through the import's own checks and change path.
@Suite("Directory entries edited one at a time, with the import's checks, secrets kept, phones pushed")
struct DirectoryEditTests {
    @Test(
        "a directory sent to the server cannot name a template file: the server's own files are never read (an admin key once read any file it named)"
    )
    func uploadReadsNoServerFile() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            // A file of the server's that happens to look like a template.
            let secret = FileManager.default.temporaryDirectory.appendingPathComponent("hotdesk-not-yours-\(UUID().uuidString).txt")
            try "{{app_url}} {{provisioning.username}} {{provisioning.password}} the server's own words\n".write(
                to: secret,
                atomically: true,
                encoding: .utf8
            )
            defer { try? FileManager.default.removeItem(at: secret) }
            for path in [secret.path, "../../../../../../\(secret.path)"] {
                let yaml = "templates:\n  - {name: stolen, brand: yealink, file: \"\(path)\"}\n"
                let r = try await admin.call("POST", "/directory", body: yaml)
                let problems = (r.json["error"] as? [String: Any])?["problems"] as? [String] ?? []
                #expect(r.status == 422 && problems.first?.contains("templates[0].file") == true, "\(path): \(r.status) \(r.json)")
                #expect(
                    try await server.store.directoryEntry(.templates, key: "stolen", withSecrets: false) == nil,
                    "the file was read into a template"
                )
            }
        }
    }
}
