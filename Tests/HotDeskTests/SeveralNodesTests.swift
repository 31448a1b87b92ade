import Curl
import Foundation
import HotDeskCore
import HotDeskServer
import PhoneSimulator
import Testing

@testable import HotDeskServer
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
        try await Self.twoNodes(yaml: PBXTests.directory) { a, b in
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
        }
    }

    /// Two servers on one database (and key file), each with its own caches, as two nodes;
    /// both stopped whatever `body` does.
    static func twoNodes(yaml: String, _ body: (TestServer, TestServer) async throws -> Void) async throws {
        let a = try await TestServer.start(yaml: yaml)
        let b: TestServer
        do { b = try await TestServer.start(yaml: nil, directory: a.directory) } catch {
            await a.stop()
            throw error
        }
        do {
            try await body(a, b)
        } catch {
            await b.stop(keepFiles: true)
            await a.stop()
            throw error
        }
        await b.stop(keepFiles: true)
        await a.stop()
    }
}

extension SeveralNodesTests {
    @Test("16 clients guessing one extension at once, half through each node: exactly the limit is evaluated, no more")
    func guessesOverTwoNodes() async throws {
        try await Self.twoNodes(yaml: LoginAttackTests.oneExtensionLimitFive) { a, b in
            let phone = try await a.phone("yealink-t46u", mac: "001565c00004", pushes: false)
            let formA = try await LoginAttackTests.submitURL(phone)
            let formB = formA.replacingOccurrences(of: "127.0.0.1:\(a.port)/", with: "127.0.0.1:\(b.port)/")
            #expect(formB != formA)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<16 {
                    group.addTask {
                        for round in 0..<3 {
                            let form = client % 2 == 0 ? formA : formB
                            _ = try await HTTP.get(form + "&ext=6000&pw=\(1000 + client * 3 + round)", patient: true)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let audit = try await a.store.auditLog(limit: 500)
            let evaluated = audit.filter { $0.action == .loginFailed && $0.outcome == .failure && $0.extensionNumber == "6000" }
            #expect(evaluated.count == 5, "guesses evaluated against a limit of 5 over two nodes: \(evaluated.count)")
            #expect(audit.filter { $0.action == .lockout }.count == 1)
            for form in [formA, formB] {
                #expect(try await HTTP.get(form + "&ext=6000&pw=4000").body.contains("6000 is locked until"), "locked on both nodes")
            }
            #expect(try await a.store.sessions().isEmpty)
        }
    }
}

extension SeveralNodesTests {
    @Test(
        "one address guessing through both nodes is locked at its limit on both; the global budget is one; a lock cleared through A is cleared on B at once"
    )
    func sharedCounts() async throws {
        let yaml = """
            settings:
              default_login: true
              internal_address: 127.0.0.1:{PORT}
              user_password: "right-user-password"
              lockout: {extension_failures: 1000, device_failures: 1000, source_failures: 6, global_failures: 8}
            extensions:
            \(LoginAttackTests.extensions(4))
              - {number: "6900", name: No Voicemail, sip_password: "sip-6900-secret"}
            """
        try await Self.twoNodes(yaml: yaml) { a, b in
            let admin = try await AdminAPITests().client(a)  // first: a new key moves the shared stamp
            let phone = try await a.phone("yealink-t46u", mac: "001565c00005", pushes: false)
            let formA = try await LoginAttackTests.submitURL(phone)
            let forms = [formA, formA.replacingOccurrences(of: "127.0.0.1:\(a.port)/", with: "127.0.0.1:\(b.port)/")]
            func attempt(_ node: Int, _ query: String, from address: String) async throws -> String {
                try await CurlEngine.shared.perform(CurlRequest(url: forms[node] + query, localAddress: address)).text
            }
            // Six wrong PINs from one address, three through each node: the address is locked on both.
            let guesser = Loopback.next()
            for n in 0..<6 { _ = try await attempt(n % 2, "&ext=600\(n % 4)&pw=0", from: guesser) }
            for node in 0..<2 {
                #expect(try await attempt(node, "&ext=6001&pw=4001", from: guesser).contains("locked until"), "the address is locked on node \(node)")
            }
            // The global budget (8; each address's share 2): four addresses, two guesses each, one per node.
            for _ in 0..<4 {
                let address = Loopback.next()
                for node in 0..<2 { _ = try await attempt(node, "&ext=6900&pw=guess", from: address) }
            }
            let audit = try await a.store.auditLog(limit: 500)
            #expect(
                audit.filter { $0.action == .lockout && $0.detail.contains("global password") }.count == 1,
                "the budget is spent once, over both nodes"
            )
            for node in 0..<2 {
                let held = try await attempt(node, "&ext=6900&pw=right-user-password", from: Loopback.next())
                #expect(held.contains("shared password cannot be used until"), "held on node \(node): \(held.prefix(200))")
            }
            // A helpdesk clears the address's lock through A: B lets it in at its next attempt.
            #expect(try await admin.call("DELETE", "/locks/source/\(guesser)").status == 200)
            #expect(try await attempt(1, "&ext=6001&pw=4001", from: guesser).contains("Logged in"), "B knows of the unlock made through A")
        }
    }

    @Test("a push's single-use login issued by node A is answered AUTHORIZED by node B, once (a Cisco phone asks the one address)")
    func pushLoginsShared() async throws {
        try await Self.twoNodes(yaml: matrixDirectory) { a, b in
            _ = try await a.phone("cisco-8841", mac: "001565c00006", pushes: false)
            let mac = try #require(MACAddress("001565c00006"))
            let login = try await PushLogins(store: a.store).issue(mac: mac, now: Date(), lifetime: 60)
            func ask(_ node: TestServer) async throws -> String {
                try await CurlEngine.shared.perform(
                    CurlRequest(
                        method: "POST",
                        url: "\(node.baseURL)/push-auth",
                        headers: [("Content-Type", "application/x-www-form-urlencoded")],
                        body: Array("UserID=\(login.username)&Password=\(login.password)&devicename=SEP001565C00006".utf8)
                    )
                ).text
            }
            #expect(try await ask(b) == "AUTHORIZED", "the other node knows the login")
            #expect(try await ask(a) == "UN-AUTHORIZED", "taken once, whichever node is asked")
        }
    }

    @Test("settings.enrolment.per_minute counts both nodes' enrolments: twelve unknown phones at once, six through each node, four enrolled")
    func enrolmentRateShared() async throws {
        let yaml = EnrolmentAttackTests.yaml.replacingOccurrences(of: "per_minute: 20", with: "per_minute: 4")
        try await Self.twoNodes(yaml: yaml) { a, b in
            // Each node's own gate lets four through: eight reach the database at once.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<12 {
                    let node = n % 2 == 0 ? a : b
                    group.addTask {
                        try await HTTP.get(
                            "\(node.baseURL)/provision/" + String(format: "001565f2%04x.cfg", n),
                            headers: ["User-Agent": "Yealink SIP-T46U 108.86.0.45"]
                        ).status
                    }
                }
                return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(statuses == [200: 4, 503: 8], "\(statuses)")
            #expect(try await a.store.auditLog(limit: 100).filter { $0.action == .enrol }.count == 4)
        }
    }

    @Test(
        "the console's sign-in hold is both nodes': three wrong passwords through A hold the right one through B; 20 at once over both, three evaluated"
    )
    func signInHoldsShared() async throws {
        try await Self.twoNodes(yaml: flowDirectory) { a, b in
            _ = try await a.store.saveAdminAccount(name: "hal", password: ConsoleTests.password, role: .admin, actor: "test", at: Date())
            let guesser = Loopback.next()
            for n in 0..<3 { #expect(try await ConsoleTests.signIn(a, "hal", "wrong password \(n)", from: guesser) == 401) }
            #expect(try await ConsoleTests.signIn(b, "hal", from: guesser) == 429, "held on B by A's count")
            #expect(try await ConsoleTests.signIn(b, "hal", from: Loopback.next()) == 200, "not held for hal at another desk")
            // 20 at once from another address, half through each node: three evaluated.
            let attacker = Loopback.next()
            try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<20 {
                    group.addTask { try await ConsoleTests.signIn(n % 2 == 0 ? a : b, "hal", "wrong password \(n)", from: attacker) }
                }
                for try await _ in group {}
            }
            let failures = try await a.store.auditLog(limit: 200).filter { $0.action == .signIn && $0.outcome == .failure && $0.source == attacker }
            #expect(failures.count == 3, "evaluated over two nodes: \(failures.count)")
        }
    }

    @Test("the auto-logout sweep runs on one node at a time: while another node holds its turn, a sweep ends nothing; then it does")
    func sweepOneNodeAtATime() async throws {
        let flows = AutoLogoutFlowTests()
        try await TestServer.with(yaml: flows.directory("{after_hours: 12}")) { (server: TestServer) async throws in
            let phone = try await flows.loggedIn(server, mac: "001565c00005")
            // Another node's sweep in progress: its lock, taken on a connection of its own.
            let cluster = try #require(TestDatabase.postgres)
            let other = PostgresLink(location: cluster.database(TestDatabase.name(for: server.dbPath)), id: 3002)
            try await other.run("SELECT pg_advisory_lock(\(PostgresNodeLocks.number("sweep:auto-logout")))")
            server.clock.advance(by: 13 * 3600)
            #expect(await server.service.autoLogoutSweep().isEmpty, "the other node's turn: this one skips")
            #expect(try await server.store.sessions().count == 1)
            other.close()
            try await flows.expectPolicyLogout(server, phone, reason: "more than 12 h")
        }
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

/// The database out of reach for a while (a restart, a failover, a network cut), with the node
/// still up: phones it served keep their configs, the app says "try again", and the node comes
/// back by itself when the database does. The cut: the database refuses new connections and
/// its open ones are closed, as a PostgreSQL going away does to every node at once.
@Suite(
    "The database briefly unreachable",
    .enabled(if: TestDatabase.isPostgres, "needs HOTDESK_TEST_POSTGRES (scripts/postgres start; scripts/test runs it)")
)
struct DatabaseOutageTests {
    @Test("cut: a known phone's config from memory (304 and 200), an unknown phone 503, the app's try-again screen; restored: back alone")
    func outage() async throws {
        try await TestServer.with(yaml: PBXTests.directory) { (server: TestServer) async throws in
            let mac = "001565c00002"
            let phone = try await server.phone("yealink-t46u", mac: mac)
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            let device = try #require(try await server.store.device(mac: MACAddress(mac)!))
            let loggedIn = try await server.fetchAsPhone("\(mac).cfg", mac: mac, from: phone.options.address)
            #expect(loggedIn.status == 200 && loggedIn.text.contains("user_name = 5501"))

            try TestDatabase.cut(path: server.dbPath)
            do {
                // The phone asks again (with its ETag): unchanged, from memory.
                #expect(try await phone.fetchConfig() == 304)
                #expect(await phone.config.lineUser == "5501")
                // Asked in full: the same config, from memory, its Digest proof checked.
                var request = CurlRequest(url: "\(server.baseURL)/provision/\(mac).cfg", localAddress: phone.options.address)
                request.credentials = HTTPCredentials(
                    username: device.provisioningUsername,
                    password: try #require(device.provisioningSecret),
                    scheme: .digest
                )
                let full = try await CurlEngine.shared.perform(request)
                #expect(full.status == 200 && full.text == loggedIn.text, "\(full.status) \(full.text.prefix(200))")
                request.credentials = HTTPCredentials(username: device.provisioningUsername, password: "wrong-secret-00", scheme: .digest)
                let wrong = try await CurlEngine.shared.perform(request)
                #expect(wrong.status == 401 || wrong.status == 503, "a wrong proof is not served from memory either: \(wrong.status)")
                // A phone this node never served: nothing to answer from, 503 (the phone tries again).
                let unknown = try await CurlEngine.shared.perform(CurlRequest(url: "\(server.baseURL)/provision/001565c0ffff.cfg"))
                #expect(unknown.status == 503, "\(unknown.status)")
                // The Login/Logout key: the app's "try again" screen, in the phone's dialect.
                try await phone.key("hotdesk")
                let title = await phone.title
                #expect(title == "Hot Desk unavailable", "\(title)")
            } catch {
                try? TestDatabase.restore(path: server.dbPath)
                throw error
            }
            try TestDatabase.restore(path: server.dbPath)
            // Nothing restarted: the node reconnects on its own at the next request.
            let back = await eventually(timeout: 20) {
                try? await phone.key("hotdesk")
                return await phone.menuLabels.contains("Logout")
            }
            let title = await phone.title
            #expect(back, "the app is back once the database is: \(title)")
            let mark = await phone.events.count
            try await phone.select("Logout")
            try await phone.select("Yes, log out")
            #expect(await phone.waitForApply(since: mark), "a logout after the outage is pushed and applied")
            #expect(await phone.config.lineUser == nil)
        }
    }

    @Test("a statement with no answer (a lock held by a node that hangs) fails at the deadline, said in one line; the next is answered")
    func deadline() async throws {
        let cluster = try #require(TestDatabase.postgres)
        let dir = try TempDir()
        let path = dir.url.appendingPathComponent("db.sqlite").path
        defer { TestDatabase.remove(path: path) }
        let store = try TestDatabase.open(path: path, keyFile: dir.url.appendingPathComponent("k").path, deadline: 2)
        let mac = try #require(MACAddress("001565c00003"))
        #expect(try await store.device(mac: mac) == nil)
        // Another session takes the devices table and holds it until told to let go.
        let holder = PostgresLink(location: cluster.database(TestDatabase.name(for: path)), id: 3001)
        let (locked, release) = (Flag(), DispatchSemaphore(value: 0))
        holder.queue.async {
            _ = try? holder.transaction(begin: "BEGIN") { db in
                try db.execute("LOCK TABLE devices IN ACCESS EXCLUSIVE MODE")
                locked.set()
                release.wait()
                return ((), .rollback)
            }
        }
        #expect(await eventually(timeout: 10) { locked.isSet })
        // Let go after 8 s in any case: without a deadline the read is answered then, and fails the test rather than hang it.
        let backstop = Task {
            try await Task.sleep(for: .seconds(8))
            release.signal()
        }
        let start = ContinuousClock.now
        var failure = ""
        do {
            _ = try await store.device(mac: mac)
        } catch {
            failure = "\(error)"
        }
        let waited = ContinuousClock.now - start
        backstop.cancel()
        if (try? await backstop.value) == nil { release.signal() }
        holder.close()
        #expect(failure == "PostgreSQL is unavailable: no answer within 2 s", "\(failure)")
        #expect(waited >= .seconds(2) && waited < .seconds(10), "\(waited)")
        // The connection given up is made again by the next statement.
        #expect(try await store.device(mac: mac) == nil)
    }
}

extension SeveralNodesTests {
    @Test("a NOTIFY queued by node A's push worker is handed to the PBX polling node B, once; its answer through A settles A's job")
    func notifyOverTwoNodes() async throws {
        try await Self.twoNodes(yaml: PBXTests.directory) { a, b in
            let pbxA = try await PBXTests().pbx(a)
            let pbxB = PBXTests.PBX(server: b, key: pbxA.key)
            #expect(try await pbxA.call("GET", "/notify").status == 204, "the PBX has polled node A")
            // Behind a load balancer the PBX may poll one node only: the other's push worker, which
            // may claim the job, knows a PBX is there (it once did not, and this test failed when B claimed it).
            #expect(!b.service.pbx.connected(at: Date()), "node B itself was not polled")
            #expect(await b.service.pushes.pbxConnected(), "node B knows from the database that a PBX polls")
            let phone = try await a.phone("grandstream-grp2614", mac: "000b82c00009", pushes: false)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let order = try await pbxB.call("GET", "/notify?wait=10")
            #expect(order.status == 200 && order.json["event"] as? String == "check-sync", "node B hands out A's NOTIFY: \(order.text)")
            #expect(try await pbxA.call("GET", "/notify").status == 204, "once")
            let id = try #require(order.json["id"] as? String)
            #expect(try await pbxA.call("POST", "/notify/\(id)", body: #"{"sip_code": 408}"#).status == 204)
            let job = try await a.job("000b82c00009")
            #expect(job?.lastError == "sip_408: the phone did not answer the PBX's NOTIFY", "\(String(describing: job))")
            await phone.shutdown()
        }
    }
}
