import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Synchronization
import Testing

/// HAProxy from Debian's package, run by the tests on loopback with `examples/cluster/haproxy.cfg`
/// as shipped (its addresses from the environment).
final class HAProxyProcess: Sendable {
    static let path = "/usr/sbin/haproxy"
    static let config = screensDirectory.deletingLastPathComponent().appendingPathComponent("examples/cluster/haproxy.cfg").path

    /// Whether it is installed (CI installs it: scripts/bootstrap --cluster; HOTDESK_REQUIRE_HAPROXY
    /// makes its absence a failure).
    static let available: Bool = {
        if FileManager.default.isExecutableFile(atPath: path) { return true }
        if ProcessInfo.processInfo.environment["HOTDESK_REQUIRE_HAPROXY"] != nil { return true }
        print("⚠️  SKIPPING the HAProxy suite: install haproxy (scripts/bootstrap --cluster). CI installs it.")
        return false
    }()

    let process: ChildProcess
    let log: URL

    /// Listens on 127.0.0.1:`front`, in front of the nodes on 127.0.0.1:`nodes`.
    init(front: Int, nodes: [Int], directory: URL) throws {
        log = directory.appendingPathComponent("haproxy.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process = try ChildProcess(
            Self.path,
            ["-db", "-f", Self.config],
            environment: [
                "HOTDESK_FRONT": "127.0.0.1:\(front)", "HOTDESK_NODE1": "127.0.0.1:\(nodes[0])", "HOTDESK_NODE2": "127.0.0.1:\(nodes[1])",
            ],
            output: .file(log.path),
            errors: .file(log.path)
        )
    }

    func stop() async {
        process.signal(SIGKILL)
        _ = await eventually(timeout: 10) { !self.process.isRunning }
    }
}

/// Two `hotdesk serve` nodes on one PostgreSQL database behind HAProxy, as `examples/cluster/`
/// sets them up: the phones see one address, and a node that dies is not noticed.
@Suite(
    "Two nodes behind HAProxy (examples/cluster)",
    .enabled(if: TestDatabase.isPostgres && HAProxyProcess.available, "needs PostgreSQL (HOTDESK_TEST_POSTGRES) and haproxy")
)
struct ClusterTests {
    @Test("one address: a login through it; node 1 killed -9: fetches, the app and a logout go on through node 2; node 1 back: a login")
    func nodeKilled() async throws {
        let dir = try TempDir()
        let db = dir.url.appendingPathComponent("hotdesk.sqlite").path
        defer { TestDatabase.remove(path: db) }
        let proxyOption = ["--trusted-proxy", "127.0.0.1"]
        var node1 = try await ServerProcess.start(db: db, directory: dir.url, options: proxyOption)
        let node2 = try await ServerProcess.start(db: db, directory: dir.url, options: proxyOption)
        let front = SIPStack.port()
        let proxy = try HAProxyProcess(front: front, nodes: [node1.port, node2.port], directory: dir.url)
        do {
            let imported = try await ServerProcess.importFlowDirectory(db: db, port: front, directory: dir.url)
            #expect(imported.status == 0, "\(imported.output)")
            let up = await eventually(timeout: 60) { (try? await HTTP.get("http://127.0.0.1:\(front)/health"))?.status == 200 }
            #expect(up, "HAProxy answers on the front address: \((try? String(contentsOf: proxy.log, encoding: .utf8)) ?? "")")

            let phone = SimulatedPhone(
                model: try #require(SimModel.named("yealink-t46u")),
                mac: "001565c00007",
                options: .init(server: "http://127.0.0.1:\(front)", address: Loopback.next(), pushPort: testPushPort, bootTimeScale: 0.02)
            )
            try await phone.boot()
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            #expect(await phone.config.lineUser == "5501")

            let logBefore = ((try? String(contentsOf: proxy.log, encoding: .utf8)) ?? "").count
            /// What HAProxy logged since node 1 was killed.
            let since = { String(((try? String(contentsOf: proxy.log, encoding: .utf8)) ?? "").dropFirst(logBefore)) }
            await node1.kill()
            // Every request now: node 2, or node 1's connection refused and sent on to node 2.
            for _ in 0..<4 { #expect(try await phone.fetchConfig() == 304) }
            // Its health checks (every second, two missed) take node 1 out.
            #expect(await eventually(timeout: 30) { since().contains("node1 is DOWN") }, "HAProxy saw node 1 go:\n\(since().suffix(800))")
            let mark = await phone.events.count
            try await phone.key("hotdesk")
            try await phone.select("Logout")
            try await phone.select("Yes, log out")
            #expect(await phone.waitForApply(since: mark, timeout: 20), "the logout through node 2 is pushed and applied")
            #expect(await phone.config.lineUser == nil)

            // Node 1 back on its port: HAProxy takes it in again; logins go on through either.
            node1 = try await ServerProcess.start(db: db, port: node1.port, directory: dir.url, options: proxyOption)
            #expect(await eventually(timeout: 30) { since().contains("node1 is UP") }, "HAProxy saw node 1 come back:\n\(since().suffix(800))")
            for _ in 0..<2 {
                try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
                #expect(await phone.config.lineUser == "5501")
                let mark = await phone.events.count
                try await phone.key("hotdesk")
                try await phone.select("Logout")
                try await phone.select("Yes, log out")
                #expect(await phone.waitForApply(since: mark, timeout: 20))
            }
        } catch {
            await proxy.stop()
            await node1.kill()
            await node2.kill()
            throw error
        }
        await proxy.stop()
        await node1.kill()
        await node2.kill()
    }
}

/// A mixed fleet through the one address while a node dies and comes back, twice.
@Suite(
    "A fleet through HAProxy while a node is killed and restarted",
    .enabled(if: TestDatabase.isPostgres && HAProxyProcess.available, "needs PostgreSQL (HOTDESK_TEST_POSTGRES) and haproxy")
)
struct FleetThroughKillsTests {
    static let models = ["yealink-t46u", "sangoma-s500", "polycom-vvx411", "snom-d735", "mitel-6867i", "yealink-t46u"]

    /// The flow directory's settings, a web login for Polycom's pushes, one extension per phone.
    static func directory(front: Int) -> String {
        let settings = matrixDirectory.components(separatedBy: "extensions:")[0]
        let extensions = models.indices.map {
            "  - {number: \"70\($0)0\", name: \"Fleet \($0)\", voicemail_pin: \"\(2000 + $0)\", sip_password: \"fleet-\($0)-secret\"}"
        }
        return (settings + "extensions:\n" + extensions.joined(separator: "\n") + "\n")
            .replacingOccurrences(of: "{PORT}", with: "\(front)").replacingOccurrences(of: "{PUSH_PORT}", with: "\(testPushPort)")
    }

    /// Steps the phones have finished, for the node killer to pace itself on.
    final class Progress: Sendable {
        let steps = Mutex(0)
        func done() { steps.withLock { $0 += 1 } }
        var count: Int { steps.withLock { $0 } }
    }

    /// The node that is killed and started again: whichever process runs it now.
    final class Slot: Sendable {
        private let current: Mutex<ServerProcess>
        init(_ first: ServerProcess) { current = Mutex(first) }
        var server: ServerProcess {
            get { current.withLock { $0 } }
            set { current.withLock { $0 = newValue } }
        }
    }

    /// One login or logout as a person does it: pressed again only when it did not happen (the
    /// node that took it died first; the database says), then waited for as the person waits: the
    /// push comes from whichever node claims it — once a killed node's claim runs out (43 s), from
    /// the other — and the phone applies it. The phone never fetches on its own here: a push that
    /// is lost leaves it waiting, and the step fails.
    static func step(_ phone: SimulatedPhone, _ store: SQLStore, until want: String?, _ press: () async throws -> Void) async -> Bool {
        let mac = MACAddress(phone.mac)!
        for _ in 0..<4 {
            try? await press()
            let now: String?
            do { now = try await store.session(mac: mac)?.extensionNumber } catch { continue }
            guard now == want else { continue }
            return await eventually(timeout: 90) { await phone.config.lineUser == want }
        }
        return false
    }

    @Test(
        "six phones of five families log in and out through HAProxy while node 1 is killed -9 and restarted twice: every job applied, none sent twice, no session lost or doubled"
    )
    func fleetThroughKills() async throws {
        let dir = try TempDir()
        let db = dir.url.appendingPathComponent("hotdesk.sqlite").path
        defer { TestDatabase.remove(path: db) }
        let proxyOption = ["--trusted-proxy", "127.0.0.1"]
        let front = SIPStack.port()
        let yaml = dir.url.appendingPathComponent("fleet.yaml")
        try Self.directory(front: front).write(to: yaml, atomically: true, encoding: .utf8)
        let imported = try await Command.run([hotdeskExecutable, "import", yaml.path] + (try TestDatabase.commandLine(for: db)), errors: true)
        try #require(imported.status == 0, "\(imported.output)")
        let first = try await ServerProcess.start(db: db, directory: dir.url, options: proxyOption)
        let node2 = try await ServerProcess.start(db: db, directory: dir.url, options: proxyOption)
        let node1 = Slot(first)
        let proxy = try HAProxyProcess(front: front, nodes: [first.port, node2.port], directory: dir.url)
        func stopAll() async {
            await proxy.stop()
            await node1.server.kill()
            await node2.kill()
        }
        do {
            // Both nodes' health checks pass first (each writes to the database: slow on a busy pass).
            let up = await eventually(timeout: 60) { (try? await HTTP.get("http://127.0.0.1:\(front)/health"))?.status == 200 }
            try #require(up, "HAProxy answers on the front address: \((try? String(contentsOf: proxy.log, encoding: .utf8)) ?? "")")
            var phones: [SimulatedPhone] = []
            for (n, model) in Self.models.enumerated() {
                let phone = SimulatedPhone(
                    model: try #require(SimModel.named(model)),
                    mac: String(format: "001565c1%04x", n),
                    options: .init(server: "http://127.0.0.1:\(front)", address: Loopback.next(), pushPort: testPushPort, bootTimeScale: 0.02)
                )
                _ = try await phone.boot()
                phones.append(phone)
            }
            let store = try TestDatabase.open(path: db, keyFile: db + ".key")
            let progress = Progress()
            let kills = 2
            // Node 1 dies (SIGKILL) and is started again on its port, paced on the phones' steps.
            let folder = dir.url
            let killer = Task {
                var stepsAtKill: [Int] = []
                for round in 0..<kills {
                    _ = await eventually(timeout: 120) { progress.count >= 4 + round * 10 }
                    stepsAtKill.append(progress.count)
                    await node1.server.kill()
                    _ = await eventually(timeout: 120) { progress.count >= 8 + round * 10 }
                    node1.server = try await ServerProcess.start(db: db, port: node1.server.port, directory: folder, options: proxyOption)
                    stepsAtKill.append(progress.count)
                }
                return stepsAtKill
            }
            // Each phone: login, logout, login, logout, login (its own extension), through whichever node answers.
            let finished = await withTaskGroup(of: Bool.self) { group in
                for (n, phone) in phones.enumerated() {
                    group.addTask {
                        let ext = "70\(n)0"
                        for round in 0..<5 {
                            let ok: Bool
                            if round % 2 == 0 {
                                ok = await Self.step(phone, store, until: ext) {
                                    try await phone.login("Login Int", ext: ext, password: "\(2000 + n)")
                                }
                            } else {
                                ok = await Self.step(phone, store, until: nil) {
                                    try await phone.key("hotdesk")
                                    try await phone.select("Logout")
                                    try await phone.select("Yes, log out")
                                }
                            }
                            guard ok else { return false }
                            progress.done()
                        }
                        return true
                    }
                }
                return await group.reduce(true) { $0 && $1 }
            }
            #expect(finished, "every phone finished its five steps")
            let steps = try await killer.value
            #expect(steps.allSatisfy { $0 < Self.models.count * 5 }, "node 1 died and came back while phones were busy, at steps \(steps)")
            // Every job ends: a job a killed node had claimed is taken again when its lease ends.
            let settled = await eventually(timeout: 150) {
                ((try? await store.pushJobs(state: nil, mac: nil, ids: nil, limit: 1000)) ?? [PushJob]()).allSatisfy { !$0.state.isPending }
            }
            let jobs = try await store.pushJobs(state: nil, mac: nil, ids: nil, limit: 1000)
            #expect(settled, "\(jobs.filter(\.state.isPending).map { "\($0.mac) \($0.state)" })")
            #expect(jobs.filter { $0.state == .failed }.isEmpty, "\(jobs.filter { $0.state == .failed }.map { "\($0.mac) \($0.lastError ?? "")" })")
            // No session lost or doubled: each phone holds its own extension, once.
            let sessions = try await store.sessions()
            #expect(sessions.count == phones.count, "\(sessions.map { "\($0.extensionNumber)@\($0.mac)" })")
            for (n, phone) in phones.enumerated() {
                #expect(sessions.filter { $0.extensionNumber == "70\(n)0" }.map(\.mac.canonical) == [phone.mac], "70\(n)0")
                #expect(await phone.config.lineUser == "70\(n)0")
                // None sent twice by two nodes: the pushes the phone took are its jobs', plus at
                // most one per kill (a push a dying node sent and never recorded, sent again).
                let taken = await phone.events.filter { if case .pushAccepted = $0 { true } else { false } }.count
                let attempts = jobs.filter { $0.mac.canonical == phone.mac }.reduce(0) { $0 + $1.attempts }
                #expect(taken <= attempts + kills, "\(phone.mac): \(taken) pushes taken for \(attempts) attempts")
            }
        } catch {
            await stopAll()
            throw error
        }
        await stopAll()
    }
}
