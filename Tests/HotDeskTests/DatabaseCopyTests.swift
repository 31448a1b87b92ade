import Foundation
import HotDeskCore
import HotDeskServer
import PhoneFamilies
import PhoneSimulator
import Testing

@testable import HotDeskStore

/// `hotdesk db copy`: a site moving from its SQLite file to another database (PostgreSQL in the
/// suite's PostgreSQL pass, a new SQLite file in the other) with its phones logged in: they go on
/// working without noticing.
@Suite("hotdesk db copy: a site moves to another database")
struct DatabaseCopyTests {
    @Test("a logged-in phone served by the copy: the same config (304), the same app token, a logout that works; a second copy is refused")
    func moveASite() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hotdesk-e2e-copy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("hotdesk.sqlite").path
        let key = target + ".key"
        let sourcePath = directory.appendingPathComponent("source.sqlite").path
        let source = try SQLiteStore(path: sourcePath, secrets: try SecretBox.load(keyFile: key, environment: [:]), catalog: testFamilies.catalog)

        let first = try await TestServer.start(yaml: flowDirectory, directory: directory, store: source)
        let mac = "001565c00006"
        let phone: SimulatedPhone
        do {
            phone = try await first.phone("yealink-t46u", mac: mac)
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
        } catch {
            await first.stop(keepFiles: true)
            throw error
        }
        let port = first.port
        await first.stop(keepFiles: true)

        let copy = { () async throws -> Command.Result in
            try await Command.run(
                [hotdeskExecutable, "db", "copy", "--from", sourcePath, "--to", TestDatabase.argument(for: target), "--key-file", key],
                environment: TestDatabase.commandEnvironment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a },
                errors: true
            )
        }
        let itself = try await Command.run(
            [hotdeskExecutable, "db", "copy", "--from", sourcePath, "--to", sourcePath, "--key-file", key],
            errors: true
        )
        #expect(itself.status != 0 && itself.output.contains("the same database"), "\(itself.output)")
        _ = try TestDatabase.commandLine(for: target)  // a PostgreSQL target is made first (createdb)
        let copied = try await copy()
        #expect(copied.status == 0 && copied.output.hasPrefix("copied "), "\(copied.output)")
        #expect(copied.output.contains("sessions 1") && copied.output.contains("devices 1"), "\(copied.output)")

        let second = try await TestServer.start(yaml: nil, directory: directory, port: port)
        do {
            // The phone asks as before: the same config, unchanged.
            #expect(try await phone.fetchConfig() == 304)
            #expect(await phone.config.lineUser == "5501")
            // Its app token is still the current one: the logged-in menu, then a logout.
            try await phone.key("hotdesk")
            let title = await phone.title
            #expect(await phone.menuLabels.contains("Logout"), "\(title)")
            let mark = await phone.events.count
            try await phone.select("Logout")
            try await phone.select("Yes, log out")
            #expect(await phone.waitForApply(since: mark))
            #expect(await phone.config.lineUser == nil)
            #expect(try await second.store.auditLog(limit: 50).contains { $0.action == .login && $0.extensionNumber == "5501" })
            // Copying again into a database in use: refused, nothing written.
            let again = try await copy()
            #expect(again.status != 0 && again.output.contains("already holds"), "\(again.output)")
        } catch {
            await second.stop()
            throw error
        }
        await second.stop()
    }
}
