import Foundation
import HotDeskCore
import PhoneSimulator
import Testing

@testable import HotDeskStore

/// The `hotdesk` executable of this build (`swift build` makes it beside the tests).
let hotdeskExecutable = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent(".build/debug/hotdesk").path

/// `hotdesk serve` as its own process, to be killed with SIGKILL.
final class ServerProcess: Sendable {
    let process: ChildProcess
    let port: Int
    let log: URL

    /// Starts `hotdesk serve` on 127.0.0.1 (`port` 0: any free one) and waits for its "listening" line.
    /// `options`: more of `serve`'s options (`--trusted-proxy`).
    static func start(db: String, port: Int = 0, directory: URL, options: [String] = []) async throws -> ServerProcess {
        guard FileManager.default.isExecutableFile(atPath: hotdeskExecutable) else {
            throw TestFailure("no \(hotdeskExecutable): build it first (swift build --build-tests)")
        }
        let log = directory.appendingPathComponent("serve-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let arguments =
            ["serve", "--host", "127.0.0.1", "--port", "\(port)", "--screens", screensDirectory.path, "--time-zone", "UTC"]
            + (try TestDatabase.commandLine(for: db)) + options
        let process = try ChildProcess(hotdeskExecutable, arguments, errors: .file(log.path))
        var bound: Int?
        _ = await eventually(timeout: 30) {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first(where: { $0.contains("HotDesk listening") }),
                let match = line.firstMatch(of: /port=(\d+)/)
            else { return !process.isRunning }
            bound = Int(match.1)
            return true
        }
        guard let bound else {
            process.signal(SIGTERM)
            throw TestFailure("hotdesk serve did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        return ServerProcess(process: process, port: bound, log: log)
    }

    private init(process: ChildProcess, port: Int, log: URL) {
        self.process = process
        self.port = port
        self.log = log
    }

    /// `hotdesk import` of the flow directory into `db`, its addresses `127.0.0.1:port`, as an
    /// admin imports beside running servers.
    static func importFlowDirectory(db: String, port: Int, directory: URL) async throws -> Command.Result {
        let yaml = directory.appendingPathComponent("directory.yaml")
        try flowDirectory.replacingOccurrences(of: "{PORT}", with: "\(port)").replacingOccurrences(of: "{PUSH_PORT}", with: "\(testPushPort)")
            .write(to: yaml, atomically: true, encoding: .utf8)
        return try await Command.run(
            [hotdeskExecutable, "import", yaml.path, "--screens", screensDirectory.path] + (try TestDatabase.commandLine(for: db)),
            errors: true
        )
    }

    /// SIGKILL: no graceful stop, nothing flushed but what was committed.
    func kill() async {
        process.signal(SIGKILL)
        _ = await eventually(timeout: 10) { !self.process.isRunning }
    }
}

@Suite("One change path: a change and its push are written together, whoever makes it")
struct ChangePathTests {
    @Test("kill -9 of the server right after Done: after a restart the phone is pushed and the job applied")
    func killAfterDone() async throws {
        let dir = try TempDir()
        let db = dir.url.appendingPathComponent("hotdesk.sqlite").path
        defer { TestDatabase.remove(path: db) }
        let first = try await ServerProcess.start(db: db, directory: dir.url)
        let imported = try await ServerProcess.importFlowDirectory(db: db, port: first.port, directory: dir.url)
        #expect(imported.status == 0, "\(imported.output)")

        let phone = SimulatedPhone(
            model: try #require(SimModel.named("yealink-t46u")),
            mac: "001565ee0001",
            options: .init(server: "http://127.0.0.1:\(first.port)", address: Loopback.next(), pushPort: testPushPort, bootTimeScale: 0.02)
        )
        try await phone.boot()
        let mark = await phone.events.count
        try await phone.login("Login Int", ext: "5501", password: "1234")
        #expect(await phone.title == "Logged in")
        // The push waits for the Done screen (1 s): the server dies before it is sent.
        await first.kill()

        let store = try dir.store("hotdesk.sqlite", key: "hotdesk.sqlite.key")
        let mac = try #require(MACAddress("001565ee0001"))
        let queued = try #require(try await store.pushJobs(state: nil, mac: mac, limit: 1).first, "the login's push job was written with the login")
        #expect(queued.reason == .login)

        let second = try await ServerProcess.start(db: db, port: first.port, directory: dir.url)
        defer { second.process.signal(SIGTERM) }
        #expect(await phone.waitForApply(since: mark), "the restarted server pushed the phone and it fetched its config")
        #expect(await phone.config.lineUser == "5501")
        #expect(try await eventually { try await store.pushJob(id: queued.id)?.state == .applied }, "the job written before the kill is applied")
    }

    @Test("hotdesk logout 5501 from the CLI while the server runs: the server pushes that phone, no API key needed")
    func cliLogout() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ee0002")
            var mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await phone.waitForApply(since: mark))
            #expect(await phone.config.lineUser == "5501")

            mark = await phone.events.count
            let out = try await Command.run(
                [hotdeskExecutable, "logout", "5501", "--screens", screensDirectory.path] + (try TestDatabase.commandLine(for: server.dbPath)),
                environment: TestDatabase.commandEnvironment,
                errors: true
            )
            #expect(out.status == 0 && out.output.hasPrefix("logged out 5501 on 00:15:65:ee:00:02; push job "), "\(out.output)")
            #expect(await phone.waitForApply(since: mark), "the running server sent the CLI's push")
            #expect(await phone.config.lineActive == false)
            let job = try #require(try await server.waitForJob("001565ee0002") { !$0.state.isPending })
            #expect(job.state == .applied && job.reason == .admin && job.actor == "cli")
            #expect(
                try await server.store.auditLog(limit: 10).contains { $0.action == .logout && $0.actor == "cli" && $0.detail == "forced by an admin" }
            )
        }
    }

    @Test("a star-code login on a phone that cannot be reached: the failed push is recorded like any other")
    func starCodeUnreachable() async throws {
        try await TestServer.with(yaml: PBXTests.directory) { (server: TestServer) async throws in
            let pbx = try await PBXTests().pbx(server)
            _ = try await server.phone("yealink-t46u", mac: "001565e00001", pushes: false)
            let r = try await pbx.call("POST", "/hotdesk/login", body: #"{"auth_user": "8001", "extension": "5501", "pin": "1234"}"#)
            #expect(r.json["result"] as? String == "logged_in", "\(r.json)")
            let job = try #require(try await server.waitForJob("001565e00001") { $0.state == .failed })
            #expect(job.reason == .login && job.actor == "5501" && job.attempts == testPushPolicy.maxAttempts)
            #expect(job.lastError?.hasPrefix("refused") == true, "\(job.lastError ?? "")")
        }
    }

    @Test("a push job that cannot be written undoes its login: never a session without its push")
    func noLoginWithoutItsPush() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ee0003")
            try await server.store.engine.write { db in
                if db.dialect == .sqlite {
                    try db.execute(
                        "CREATE TRIGGER test_no_jobs BEFORE INSERT ON push_jobs BEGIN SELECT RAISE(ABORT, 'push_jobs refused by the test'); END"
                    )
                } else {
                    try db.execute(
                        "CREATE FUNCTION test_no_jobs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'push_jobs refused by the test'; END $$"
                    )
                    try db.execute("CREATE TRIGGER test_no_jobs BEFORE INSERT ON push_jobs FOR EACH ROW EXECUTE FUNCTION test_no_jobs()")
                }
            }
            try? await phone.login("Login Int", ext: "5501", password: "1234")
            // The store's refusal is a screen the phone shows, in its own dialect.
            #expect(await phone.title == "Hot Desk unavailable")
            guard case .text(_, let text, _)? = await phone.screen else {
                throw TestFailure("no text screen: \(String(describing: await phone.screen))")
            }
            #expect(text.contains("Hot desking is not available just now"))
            let mac = try #require(MACAddress("001565ee0003"))
            #expect(try await server.store.session(mac: mac) == nil, "the login did not stand without its push")
            #expect(try await server.store.auditLog(limit: 20).contains { $0.action == .login } == false)

            try await server.store.engine.write { db in
                try db.execute(db.dialect == .sqlite ? "DROP TRIGGER test_no_jobs" : "DROP TRIGGER test_no_jobs ON push_jobs")
            }
            let mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await phone.waitForApply(since: mark))
            #expect(await phone.config.lineUser == "5501")
        }
    }
}
