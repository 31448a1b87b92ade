import DirectoryFile
import Foundation
import HotDeskCore
import HotDeskServer
import HotDeskStore
import PhoneFamilies
import PhoneSimulator
import Testing

@Suite("Directory deletions: import --prune, and a dry run first")
struct PruneTests {
    /// The file after 5502 left: only 5501 in `extensions`.
    static let after = """
        extensions:
          - number: "5501"
            name: Ada Lovelace
            voicemail_pin: "1234"
            sip_password: "sip-secret-5501"
        """

    func load(_ yaml: String, _ server: TestServer, _ options: ImportOptions) async throws -> ImportSummary {
        let known = try await server.store.directoryNames()
        let doc = try DirectoryDocument.parse(
            yaml: yaml,
            file: "directory.yaml",
            baseDirectory: server.directory,
            catalog: testFamilies.catalog,
            configs: testFamilies.configs,
            knownExtensions: known.extensions,
            knownTemplates: known.templates
        )
        return try await server.changes.importDirectory(doc, actor: "test", options: options, pushChanged: false).summary
    }

    @Test("a removed extension is logged out, audited, and its phone pushed and applied; the dry run before writes nothing")
    func removedExtension() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let phone = try await server.phone("yealink-t46u", mac: "001565d00001")
            try await phone.login("Login Int", ext: "5502", password: "7777")
            _ = try await server.waitForJob("001565d00001") { $0.state == .applied }
            let auditBefore = try await server.store.auditLog(limit: 100).count

            let dry = try await load(Self.after, server, ImportOptions(prune: true, dryRun: true))
            #expect(dry.deleted == 1 && dry.removed == ["extension 5502"] && dry.endedSessions.map(\.extensionNumber) == ["5502"])
            let still = try await server.store.findExtension("5502")
            let sessions = try await server.store.sessions()
            #expect(still != nil && sessions.count == 1, "the dry run wrote nothing")
            #expect(try await server.store.auditLog(limit: 100).count == auditBefore, "not even an audit entry")

            let real = try await load(Self.after, server, ImportOptions(prune: true))
            #expect(real.deleted == 1 && real.endedSessions.first?.mac.canonical == "001565d00001")
            let gone = try await server.store.findExtension("5502")
            let none = try await server.store.sessions()
            #expect(gone == nil && none.isEmpty)
            #expect(
                try await server.store.auditLog(limit: 10).contains {
                    $0.action == .logout && $0.detail.contains("extension 5502 removed from the directory")
                }
            )

            // The import pushes the phone whose session it ended (its outbox), at once: a
            // `push-changed` after it finds the phone changed only while that push has not yet
            // been applied (a loaded machine once applied it first, and the test expected a job).
            let own = try #require(real.jobs.first { $0.mac.canonical == "001565d00001" }, "the import pushes the phone it logged out")
            let job = try #require(try await server.waitForJob("001565d00001", timeout: 30) { $0.id == own.id && !$0.state.isPending })
            #expect(job.state == .applied)
            #expect(await eventually { await phone.config.lineActive == false }, "the phone is back to its logged-out config")
            let pushed = try await api.call("POST", "/devices/push-changed")
            #expect((pushed.json["jobs"] as? [Any])?.count == 0, "nothing is left to push: \(pushed.json)")
        }
    }

    @Test(
        "export then import --prune: phones that enrolled themselves are kept, logged in as they were; a directory device the file drops is removed"
    )
    func exportThenPrune() async throws {
        let yaml =
            flowDirectory
            + "\ndevices:\n  - {mac: \"00:15:65:d0:00:09\", model: yealink-t46u}\n  - {mac: \"00:15:65:d0:00:0a\", model: yealink-t46u}\n"
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565d00002")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(try await server.store.device(mac: MACAddress("001565d00002")!)?.selfEnrolled == true)
            let exported = try await server.store.exportDirectory(withSecrets: true).yaml
            // The admin drops one directory phone from the export and imports it with --prune.
            let edited = exported.replacingOccurrences(of: "- mac: \"00:15:65:d0:00:0a\"\n  model: \"yealink-t46u\"\n", with: "")
            #expect(edited != exported, "the export lists the directory's device")
            let dry = try await load(edited, server, ImportOptions(prune: true, dryRun: true))
            #expect(dry.removed == ["device 00:15:65:d0:00:0a"] && dry.endedSessions.isEmpty, "\(dry.removed)")
            let real = try await load(edited, server, ImportOptions(prune: true))
            #expect(real.removed == dry.removed, "the dry run said what the import did")
            #expect(try await server.store.device(mac: MACAddress("001565d00002")!) != nil, "the self-enrolled phone is kept")
            #expect(try await server.store.session(mac: MACAddress("001565d00002")!)?.extensionNumber == "5501", "and its user stays logged in")
            #expect(try await server.store.device(mac: MACAddress("001565d0000a")!) == nil)
        }
    }

    @Test("without --prune nothing is removed; a section the file does not have is left alone; a template still mapped is refused")
    func limits() async throws {
        let yaml =
            flowDirectory + """

                devices:
                  - {mac: "00:15:65:d0:00:02", model: yealink-t46u}
                templates:
                  - {name: ada, brand: yealink, body: "#!version:1.0.0.1\\nlinekey.2.value = {{app_url}}\\nstatic.auto_provision.server.username = {{provisioning.username}}\\nstatic.auto_provision.server.password = {{provisioning.password}}\\n"}
                mappings:
                  - {extension: "5501", template: ada}
                """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let plain = try await load(Self.after, server, ImportOptions())
            let kept = try await server.store.findExtension("5502")
            #expect(plain.deleted == 0 && kept != nil)
            // The file has no devices section: the device stays, though pruned.
            let pruned = try await load(Self.after, server, ImportOptions(prune: true))
            let device = try await server.store.device(mac: MACAddress("001565d00002")!)
            #expect(pruned.removed == ["extension 5502"] && device != nil)
            do {
                _ = try await load("templates: []\n", server, ImportOptions(prune: true))
                Issue.record("a mapped template was pruned")
            } catch let error as DirectoryError {
                #expect(error.description.contains("template \"ada\" is not in the file but still mapped"), "\(error.description)")
            }
            #expect(try await server.store.directoryNames().templates["ada"] != nil)
        }
    }
}

@Suite("Directory deletions through the API")
struct APIDeletionTests {
    @Test("DELETE an extension: logged out everywhere, its phone pushed and applied; a mapped template is 409; unknown 404, bad key 400")
    func deletions() async throws {
        let yaml =
            sharedLineDirectory + """

                templates:
                  - {name: ada, brand: yealink, body: "#!version:1.0.0.1\\nlinekey.2.value = {{app_url}}\\nstatic.auto_provision.server.username = {{provisioning.username}}\\nstatic.auto_provision.server.password = {{provisioning.password}}\\n"}
                mappings:
                  - {extension: "5501", template: ada}
                """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let a = try await server.phone("yealink-t46u", mac: "001565d10001")
            let b = try await server.phone("yealink-t46u", mac: "001565d10002")
            try await a.login("Login Int", ext: "5502", password: "7777")
            try await b.login("Login Int", ext: "5501", password: "1234")
            _ = try await server.waitForJob("001565d10001") { $0.state == .applied }
            _ = try await server.waitForJob("001565d10002") { $0.state == .applied }

            let gone = try await api.call("DELETE", "/extensions/5502")
            #expect(
                gone.status == 200 && (gone.json["logged_out"] as? [Any])?.count == 1 && (gone.json["jobs"] as? [Any])?.count == 1,
                "\(gone.json)"
            )
            let job = try #require(try await server.waitForJob("001565d10001") { $0.reason == .admin && !$0.state.isPending })
            #expect(job.state == .applied)
            #expect(await eventually { await a.config.lineActive == false })
            #expect(try await server.store.findExtension("5502") == nil)

            // 555 loses a member's phone's line: b (5501, a member) is pushed.
            let line = try await api.call("DELETE", "/shared-lines/555")
            #expect(line.status == 200 && (line.json["jobs"] as? [Any])?.count == 1, "\(line.json)")

            let mapped = try await api.call("DELETE", "/templates/ada")
            #expect(mapped.status == 409 && api.errorCode(mapped) == "in_use", "\(mapped.json)")
            #expect(try await api.call("DELETE", "/extensions/5599").status == 404)
            #expect(try await api.call("DELETE", "/devices/not-a-mac").status == 400)
            #expect(try await server.store.auditLog(limit: 30).contains { $0.action == .directoryDelete && $0.detail.contains("extension 5502") })
        }
    }
}
