import Foundation
import GRDB
import HotDeskCore
import Synchronization
import Testing

@testable import HotDeskStore

@Suite(
    "hotdesk backup and restore",
    .enabled(if: !TestDatabase.isPostgres, "SQLite's backup API and files (PostgreSQL's are pg_dump's)")
)
struct BackupTests {
    static let macs = (0..<8).map { String(format: "001565bc%04x", $0) }
    static let yaml =
        flowDirectory + "\n  - {number: \"7000\", name: Fleet, sip_password: \"fleet-sip-7000\"}\n"
        + (1..<8).map { "  - {number: \"700\($0)\", name: Fleet \($0), sip_password: \"fleet-sip-700\($0)\"}\n" }.joined()
        + "devices:\n" + macs.map { "  - {mac: \"\($0)\", model: sangoma-s500}\n" }.joined()

    @Test("a backup taken while phones log in and out opens, passes the integrity check, and holds everything committed before it began")
    func backupUnderLoad() async throws {
        try await TestServer.with(yaml: Self.yaml) { (server: TestServer) async throws in
            let database = server.directory.appendingPathComponent("hotdesk.sqlite").path
            let copy = server.directory.appendingPathComponent("backup.sqlite").path
            let store = server.store
            let running = ManagedAtomicFlag()
            let progress = Mutex(0)
            // A fleet of eight phones logging in and out as fast as the store takes it.
            let fleet = Task {
                var cycles = 0
                while !running.isSet {
                    for (i, text) in Self.macs.enumerated() {
                        let mac = MACAddress(text)!
                        let session = Session(
                            mac: mac,
                            extensionNumber: "700\(i)",
                            network: .internal,
                            credential: .adminPassword,
                            startedAt: Date(),
                            source: "127.0.0.1"
                        )
                        _ = try await store.login(session, actor: "test", policy: .move, outbox: testOutbox(delay: 3600))
                        if cycles % 2 == 1 {
                            _ = try await store.logout(
                                mac: mac,
                                actor: "test",
                                source: nil,
                                at: Date(),
                                why: .forced,
                                outbox: testOutbox(delay: 3600)
                            )
                        }
                    }
                    cycles += 1
                    progress.withLock { $0 = cycles }
                }
                return cycles
            }
            #expect(await eventually(timeout: 20) { progress.withLock { $0 } >= 3 }, "the fleet is writing")
            let before = try await DatabaseQueue(path: database).read { db in try Set(Int64.fetchAll(db, sql: "SELECT id FROM audit")) }
            let contents = try DatabaseBackup.backup(database: database, to: copy)
            running.set()
            let cycles = try await fleet.value
            #expect(cycles >= 3)

            let copied = try await DatabaseQueue(path: copy).read { db in
                (
                    audit: try Set(Int64.fetchAll(db, sql: "SELECT id FROM audit")),
                    sessions: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sessions") ?? -1,
                    logins: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit WHERE action = 'login'") ?? -1,
                    logouts: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit WHERE action = 'logout'") ?? -1
                )
            }
            #expect(before.count > 8 && before.isSubset(of: copied.audit), "every audit row committed before the backup began is in the copy")
            #expect(copied.sessions == contents.sessions && (0...8).contains(copied.sessions))
            // Sessions and their audit rows are written in one transaction: the copy agrees with itself.
            #expect(copied.logins - copied.logouts - copied.sessions >= 0)
            #expect(try DatabaseBackup.check(copy).extensions == 10)
            #expect(throws: DatabaseBackup.Problem.self) { try DatabaseBackup.backup(database: database, to: copy) }
        }
    }

    @Test("a file that is not a HotDesk database, or a damaged one, is refused with the reason")
    func refusals() throws {
        let dir = try TempDir()
        let other = dir.url.appendingPathComponent("other.sqlite").path
        try DatabaseQueue(path: other).write { db in try db.execute(sql: "CREATE TABLE t (x)") }
        #expect(throws: DatabaseBackup.Problem.self) { try DatabaseBackup.check(other) }
        let garbage = dir.url.appendingPathComponent("garbage.sqlite").path
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: garbage))
        #expect(throws: (any Error).self) { try DatabaseBackup.restore(garbage, as: dir.url.appendingPathComponent("db.sqlite").path) }
        #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("db.sqlite").path), "nothing restored")
    }

    /// What `body` threw, as text; `nil` when it did not throw.
    static func refusal(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch { return "\(error)" }
    }

    @Test("a backup restores only with the key it was made with, and a database opens only with its own key: refused by name, nothing replaced")
    func anotherKey() async throws {
        let dir = try TempDir()
        let store = try dir.store("live.sqlite", key: "live.key")
        _ = try await importDirectory(
            Self.yaml.replacingOccurrences(of: "{PORT}", with: "8080").replacingOccurrences(of: "{PUSH_PORT}", with: "8081"),
            into: store,
            base: dir.url
        )
        let copy = dir.url.appendingPathComponent("copy.sqlite").path
        _ = try DatabaseBackup.backup(database: dir.url.appendingPathComponent("live.sqlite").path, to: copy)
        let other = try SecretBox.load(keyFile: dir.url.appendingPathComponent("other.key").path, environment: [:])
        let target = dir.url.appendingPathComponent("restored.sqlite").path
        #expect(Self.refusal { _ = try DatabaseBackup.restore(copy, as: target, secrets: other) }?.contains("was made with another key") == true)
        #expect(!FileManager.default.fileExists(atPath: target), "nothing restored")
        let own = try SecretBox.load(keyFile: dir.url.appendingPathComponent("live.key").path, environment: [:])
        #expect(try DatabaseBackup.restore(copy, as: target, secrets: own).extensions == 10)
        // The server opening a database with another key stops with the reason (it served 500s).
        #expect(throws: SQLiteStore.WrongKey.self) { try SQLiteStore(path: target, secrets: other) }
        // A database from before key checks adopts a key only if its secrets open with it.
        try await DatabaseQueue(path: target).write { db in try db.execute(sql: "DELETE FROM key_check") }
        #expect(throws: SQLiteStore.WrongKey.self) { try SQLiteStore(path: target, secrets: other) }
        _ = try SQLiteStore(path: target, secrets: own)
        #expect(try await DatabaseQueue(path: target).read { db in try String.fetchOne(db, sql: "SELECT value FROM key_check") } == own.keyCheck)
    }

    @Test("a backup with a planted or changed trigger, or a table HotDesk never made, is refused with what is wrong")
    func plantedSchema() async throws {
        let dir = try TempDir()
        let store = try dir.store("live.sqlite", key: "live.key")
        _ = try await importDirectory(
            Self.yaml.replacingOccurrences(of: "{PORT}", with: "8080").replacingOccurrences(of: "{PUSH_PORT}", with: "8081"),
            into: store,
            base: dir.url
        )
        let live = dir.url.appendingPathComponent("live.sqlite").path
        let plants = [
            (
                "trigger", "CREATE TRIGGER quiet AFTER INSERT ON audit BEGIN DELETE FROM audit WHERE action = 'login'; END",
                "trigger quiet is not one of HotDesk's"
            ),
            ("table", "CREATE TABLE loot (x TEXT)", "table loot is not one of HotDesk's"),
            ("index", "DROP INDEX push_jobs_open; CREATE INDEX push_jobs_open ON push_jobs(mac)", "index push_jobs_open differs"),
        ]
        for (n, plant) in plants.enumerated() {
            let copy = dir.url.appendingPathComponent("copy\(n).sqlite").path
            _ = try DatabaseBackup.backup(database: live, to: copy)
            #expect(try DatabaseBackup.check(copy).extensions == 10, "the untouched copy passes")
            try await DatabaseQueue(path: copy).write { db in try db.execute(sql: plant.1) }
            let why = Self.refusal { _ = try DatabaseBackup.check(copy) }
            #expect(why?.contains(plant.2) == true, "\(why ?? "accepted")")
        }
    }
}

/// A flag set once, read from another task.
final class ManagedAtomicFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

@Suite("A database that cannot be written, and files only their owner reads")
struct StoreFailureTests {
    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    @Test("writes refused (as on a full disk): the API answers 503 with a reason, the error is logged and counted, /health reports the failing write")
    func writesRefused() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            _ = try await server.phone("yealink-t46u", mac: "001565bd0001", pushes: false)
            let api = try await AdminAPITests().client(server)
            #expect(try await HTTP.get("\(server.baseURL)/health").status == 200)
            try await server.store.refuseWrites()
            let push = try await api.call("POST", "/devices/001565bd0001/push", body: #"{"action": "xml", "text": "hello"}"#)
            #expect(push.status == 503, "\(push.status) \(push.json)")
            #expect(
                server.log.all.contains { $0.hasPrefix("error store error") && ($0.contains("readonly") || $0.contains("read-only")) },
                "\(server.log.all.suffix(3))"
            )
            #expect(try await HTTP.get("\(server.baseURL)/metrics").body.contains("hotdesk_store_errors_total"))
            #expect(
                await eventually(timeout: 10) {
                    let health = try? await HTTP.get("\(server.baseURL)/health")
                    return health?.status == 503 && health?.body.contains("database_not_writable") == true
                },
                "/health says the database takes no write"
            )
        }
    }

    @Test(
        "the database, its -wal and -shm and a backup are readable by their owner only; a backup is one file",
        .enabled(if: !TestDatabase.isPostgres, "SQLite's files")
    )
    func privateFiles() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            _ = try await server.phone("yealink-t46u", mac: "001565bd0002", pushes: false)
            for file in [server.dbPath, server.dbPath + "-wal", server.dbPath + "-shm"] {
                #expect(Self.mode(file) == 0o600, "\(file): \(String(Self.mode(file) ?? 0, radix: 8))")
            }
            let copy = server.directory.appendingPathComponent("copy.sqlite").path
            _ = try DatabaseBackup.backup(database: server.dbPath, to: copy)
            #expect(Self.mode(copy) == 0o600)
            #expect(
                !FileManager.default.fileExists(atPath: copy + "-wal") && !FileManager.default.fileExists(atPath: copy + "-shm"),
                "no stray files beside the backup"
            )
        }
    }
}
