import Foundation
import HotDeskCore
import PhoneSimulator
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
            let up = await eventually(timeout: 20) { (try? await HTTP.get("http://127.0.0.1:\(front)/health"))?.status == 200 }
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
            await node1.kill()
            // Every request now: node 2, or node 1's connection refused and sent on to node 2.
            for _ in 0..<4 { #expect(try await phone.fetchConfig() == 304) }
            let mark = await phone.events.count
            try await phone.key("hotdesk")
            try await phone.select("Logout")
            try await phone.select("Yes, log out")
            #expect(await phone.waitForApply(since: mark, timeout: 20), "the logout through node 2 is pushed and applied")
            #expect(await phone.config.lineUser == nil)

            // Node 1 back on its port: HAProxy takes it in again; logins go on through either.
            node1 = try await ServerProcess.start(db: db, port: node1.port, directory: dir.url, options: proxyOption)
            for _ in 0..<2 {
                try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
                #expect(await phone.config.lineUser == "5501")
                let mark = await phone.events.count
                try await phone.key("hotdesk")
                try await phone.select("Logout")
                try await phone.select("Yes, log out")
                #expect(await phone.waitForApply(since: mark, timeout: 20))
            }
            let log = String(((try? String(contentsOf: proxy.log, encoding: .utf8)) ?? "").dropFirst(logBefore))
            #expect(log.contains("node1 is DOWN") && log.contains("node1 is UP"), "HAProxy saw node 1 go and come back:\n\(log.suffix(800))")
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
