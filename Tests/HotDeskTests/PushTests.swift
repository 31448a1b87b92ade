import Curl
import Foundation
import GRDB
import HotDeskCore
import PhoneSimulator
import Testing

@testable import HotDeskServer
@testable import HotDeskStore

let pushDirectory = withSettings(flowDirectory, "  phone_credentials:\n    yealink: {username: admin, password: \"desk-9911\"}\n")

@Suite("Pushes: the vendor's request, confirmed by the phone's config fetch")
struct PushTests {
    @Test("login on an s500: reload (Sangoma request, Basic auth), no reboot, applied after the fetch")
    func sangomaReload() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565aacc01")
            let mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let job = try #require(try await server.waitForJob("001565aacc01") { $0.state == .applied })
            #expect(job.state == .applied && job.action == .reload && job.reason == .login && job.attempts == 1)
            let events = await phone.events.dropFirst(mark)
            #expect(events.contains(.pushAccepted(.reload, path: "/Phone_ActionURL&key=AutoP")))
            #expect(!events.contains(.rebootStarted))
            #expect(await eventually { await phone.config.lineUser == "5501" })
        }
    }

    @Test("login on a T46U: the Yealink AutoP request with Digest and the login the config set")
    func yealinkReload() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aacc02")
            #expect(await phone.config.webPassword == "desk-9911", "the config sets the phone's web login")
            let mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let job = try #require(try await server.waitForJob("001565aacc02") { $0.state == .applied })
            #expect(job.attempts == 1)
            let events = await phone.events.dropFirst(mark)
            #expect(events.contains(.pushAccepted(.reload, path: "/servlet?key=AutoP")))
            #expect(!events.contains { if case .pushRefused = $0 { true } else { false } })
        }
    }

    @Test("wrong phone credentials: 401, retried, then failed with that reason; the login itself stands")
    func wrongCredentials() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aacc03")
            // The admin changes the login in the directory; the phone still has the old one.
            _ = try await importDirectory(
                "settings:\n  phone_credentials:\n    yealink: {username: admin, password: \"changed-1234\"}\n",
                into: server.store,
                base: server.directory
            )
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await phone.title == "Logged in")
            let job = try #require(try await server.waitForJob("001565aacc03") { $0.state == .failed })
            #expect(job.state == .failed && job.attempts == 3)
            #expect(job.lastError?.hasPrefix("http_401") == true, "\(job.lastError ?? "")")
            #expect(await phone.events.contains(.pushRefused(status: 401, path: "/servlet", reason: "wrong login")))
            #expect(try await server.store.sessions().count == 1)
            #expect(try await server.store.auditLog(limit: 5).contains { $0.action == .push && $0.outcome == .failure })
        }
    }

    @Test("connection refused: retried with backoff, then failed as refused")
    func refused() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565aacc04", pushes: false)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let job = try #require(try await server.waitForJob("001565aacc04") { $0.state == .failed })
            #expect(job.attempts == 3)
            #expect(job.lastError?.hasPrefix("refused") == true, "\(job.lastError ?? "")")
        }
    }

    @Test("a phone that accepts the connection and never answers: timed out; the server stays responsive")
    func silent() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565aacc05", pushes: false)
            let silent = try SilentListener(address: phone.options.address, port: testPushPort)
            defer { silent.close() }
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await eventually { silent.hasWaitingConnection }, "the push connected and hangs")
            // Answered while the push still hangs: a hanging phone does not hold up requests.
            #expect(try await HTTP.get("\(server.baseURL)/health").status == 200)
            #expect(try await server.job("001565aacc05")?.state.isPending == true, "the push was still hanging when /health answered")
            let job = try #require(try await server.waitForJob("001565aacc05", timeout: 15) { $0.state == .failed })
            #expect(job.lastError?.hasPrefix("timed_out") == true, "\(job.lastError ?? "")")
        }
    }

    @Test("a phone that answers 500: failed as http_500")
    func serverError() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565aacc06", pushes: false)
            let web = try await FakePhoneWeb(address: phone.options.address, port: testPushPort, status: 500)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let job = try #require(try await server.waitForJob("001565aacc06") { $0.state == .failed })
            await web.stop()
            #expect(job.lastError?.hasPrefix("http_500") == true, "\(job.lastError ?? "")")
            #expect(web.targets.count == 3)
        }
    }

    @Test("a phone that says OK but never fetches: the reload becomes a reboot, then the job fails as not applied")
    func acknowledgedNotApplied() async throws {
        var policy = testPushPolicy
        policy.maxAttempts = 2
        policy.reloadApplyTimeout = 0.5
        policy.rebootApplyTimeout = 0.5
        let server = try await TestServer.start(yaml: pushDirectory, policy: policy)
        do {
            let phone = try await server.phone("sangoma-s500", mac: "001565aacc07", pushes: false)
            let web = try await FakePhoneWeb(address: phone.options.address, port: testPushPort, status: 200)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let job = try #require(try await server.waitForJob("001565aacc07") { $0.state == .failed })
            await web.stop()
            #expect(job.action == .reboot)
            #expect(job.lastError?.hasPrefix("not_applied") == true, "\(job.lastError ?? "")")
            #expect(web.targets == ["/Phone_ActionURL&key=AutoP", "/Phone_ActionURL&key=Reboot"])
        }
        await server.stop()
    }

    @Test("jobs pending at a restart resume and are applied")
    func resumeAfterRestart() async throws {
        var policy = testPushPolicy
        // The job falls due an hour after "Done": never while the first server lives, however
        // slowly it stops on a loaded machine (at 4 s it once sent the push while stopping, in a
        // full run under stress-ng). The second server's clock is moved past it.
        policy.delayAfterDone = 3600
        let first = try await TestServer.start(yaml: pushDirectory, policy: policy)
        let phone = try await first.phone("sangoma-s500", mac: "001565aacc08")
        try await phone.login("Login Int", ext: "5501", password: "1234")
        #expect(try await first.job("001565aacc08")?.state == .queued)
        let second = try await first.restart()
        second.clock.advance(by: 3700)
        let job = try #require(try await second.waitForJob("001565aacc08", timeout: 15) { $0.state == .applied })
        #expect(job.attempts == 1)
        #expect(await eventually { await phone.config.lineUser == "5501" })
        await second.stop()
    }

    @Test("a logout right after a login supersedes the login's push; only the last one is sent")
    func superseded() async throws {
        var policy = testPushPolicy
        // The admin's logout must come before the login's push falls due, even on a loaded machine.
        policy.delayAfterDone = 3
        let server = try await TestServer.start(yaml: pushDirectory, policy: policy)
        do {
            let phone = try await server.phone("sangoma-s500", mac: "001565aacc0a")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            // Before the phone reloaded, its old key shows "please wait" (its token changed at the
            // login); an admin forces the logout instead.
            try await phone.key("hotdesk")
            #expect(await phone.title == "Please wait")
            let api = try await AdminAPITests().client(server)
            #expect(try await api.call("DELETE", "/sessions/001565aacc0a").status == 202)
            let last = try #require(try await server.waitForJob("001565aacc0a") { $0.state == .applied })
            #expect(last.reason == .admin)
            let jobs = try await server.store.pushJobs(state: nil, mac: MACAddress("001565aacc0a"), limit: 10)
            #expect(jobs.map(\.state) == [.applied, .superseded])
            #expect(try await server.store.pushJobs(state: .failed, mac: nil, limit: 10).isEmpty, "superseded is not a failure")
            #expect(await phone.events.filter { if case .pushAccepted = $0 { true } else { false } }.count == 1)
            #expect(await eventually { await phone.config.lineActive == false })
        }
        await server.stop()
    }

    @Test("settings.push_from: pushes leave from that address, and the config tells Yealink phones to take commands from it only")
    func pushFrom() async throws {
        let yaml = withSettings(pushDirectory, "  push_from: 127.0.0.2\n")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aacc0b")
            let config = await phone.config
            #expect(config.actionURIFrom == ["127.0.0.2"] && config.pushServers == ["127.0.0.2"])
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let job = try #require(try await server.waitForJob("001565aacc0b") { $0.state == .applied })
            #expect(job.attempts == 1)

            // Anyone else is refused, as the phone would.
            let base = "http://\(phone.options.address):\(testPushPort)"
            let login = HTTPCredentials(username: "admin", password: "desk-9911", scheme: .digest)
            let other = try await CurlEngine.shared.perform(
                CurlRequest(url: base + "/servlet?key=Reboot", credentials: login, localAddress: "127.0.0.3")
            )
            #expect(other.status == 403)
            #expect(await phone.events.contains { if case .pushRefused(403, "/servlet", _) = $0 { true } else { false } })
            #expect(await phone.online, "the refused reboot did not happen")
        }
    }

    @Test("push_from that is not this server's address: failed as local_address, the reason says so")
    func pushFromNotOurs() async throws {
        let yaml = withSettings(pushDirectory, "  push_from: 192.0.2.77\n")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565aacc0e")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let job = try #require(try await server.waitForJob("001565aacc0e") { $0.state == .failed })
            #expect(job.lastError?.hasPrefix("local_address: cannot send from 192.0.2.77") == true, "\(job.lastError ?? "-")")
        }
    }

    @Test("a phone that takes commands only from another address: failed as http_403, the reason says so")
    func refusedSource() async throws {
        let yaml =
            pushDirectory + """

                templates:
                  - name: locked-down
                    brand: yealink
                    default: true
                    body: "#!version:1.0.0.1\\n{{#logged_in}}account.1.enable = 1\\naccount.1.user_name = {{line.number}}\\n{{/logged_in}}static.security.user_name.admin = admin\\nstatic.security.user_password = admin:desk-9911\\nfeatures.action_uri_limit_ip = 192.0.2.1\\nlinekey.2.type = 27\\nlinekey.2.value = {{app_url}}\\nstatic.auto_provision.server.username = {{provisioning.username}}\\nstatic.auto_provision.server.password = {{provisioning.password}}\\n"
                """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aacc0c")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let job = try #require(try await server.waitForJob("001565aacc0c") { $0.state == .failed })
            #expect(job.lastError?.hasPrefix("http_403") == true, "\(job.lastError ?? "-")")
            #expect(try await server.store.sessions().count == 1, "the login stands")
        }
    }

    @Test("the phone's XML push: strict like its browser, only from push_xml.server")
    func xmlPushStrictness() async throws {
        try await TestServer.with(yaml: pushDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aacc0d")
            let url = "http://\(phone.options.address):\(testPushPort)/servlet?push=xml"
            let login = HTTPCredentials(username: "admin", password: "desk-9911", scheme: .digest)
            // Always name the source: libcurl may reuse a connection bound to another one otherwise.
            func push(_ body: String, from: String = "127.0.0.1") async throws -> Int {
                try await CurlEngine.shared.perform(
                    CurlRequest(
                        method: "POST",
                        url: url,
                        headers: [("Content-Type", "text/xml")],
                        body: Array(body.utf8),
                        credentials: login,
                        localAddress: from
                    )
                ).status
            }
            let good = "<YealinkIPPhoneTextScreen><Title>Note</Title><Text>Hello</Text></YealinkIPPhoneTextScreen>"
            #expect(try await push("xml=" + good, from: "127.0.0.4") == 403, "not the push server")
            #expect(try await push(good) == 400, "no xml= prefix")
            #expect(try await push("xml=<YealinkIPPhoneTextScreen><Title>a & b</Title></YealinkIPPhoneTextScreen>") == 400, "unescaped &")
            #expect(try await push("xml=<CiscoIPPhoneText><Text>x</Text></CiscoIPPhoneText>") == 400, "foreign root")
            #expect(
                try await push(
                    "xml=<YealinkIPPhoneTextScreen><Title>x</Title><Text>\(String(repeating: "y", count: 10_001))</Text></YealinkIPPhoneTextScreen>"
                ) == 400
            )
            #expect(await phone.title == "", "nothing refused was shown")
            #expect(try await push("xml=" + good) == 200)
            #expect(await phone.title == "Note")
        }
    }

    @Test("per-device push port and web login override the settings")
    func deviceOverrides() async throws {
        let yaml =
            pushDirectory.replacingOccurrences(of: "push_port: {PUSH_PORT}\n  phone", with: "push_port: 9\n  phone")
            + "\ndevices:\n  - mac: 00:15:65:aa:cc:09\n    model: yealink-t46u\n    push_port: {PUSH_PORT}\n    phone_credentials: {username: deskadmin, password: \"own-5555\"}\n"
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565aacc09")
            #expect(await phone.config.webUsername == "deskadmin")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(try await server.waitForJob("001565aacc09") { $0.state == .applied }?.state == .applied)
        }
    }
}

@Suite("Push jobs in the store: what a config fetch proves")
struct PushConfirmationTests {
    /// A store with the full directory (its Yealink template written beside it).
    func directoryStore(_ dir: borrowing TempDir) async throws -> SQLStore {
        try
            "#!version:1.0.0.1\naccount.1.user_name = {{line.number}}\nlinekey.2.value = {{app_url}}\nstatic.auto_provision.server.username = {{provisioning.username}}\nstatic.auto_provision.server.password = {{provisioning.password}}\n"
            .write(
                to: dir.url.appendingPathComponent("yealink.cfg"),
                atomically: true,
                encoding: .utf8
            )
        let store = try dir.store()
        _ = try await importDirectory(fullDirectory, into: store, base: dir.url)
        return store
    }

    @Test("a fetch of the config the phone already had does not confirm a push not yet sent; after sending, it does")
    func fetchProvesOnlyWhatThePhoneDid() async throws {
        let dir = try TempDir()
        let store = try await directoryStore(dir)
        let mac = try #require(MACAddress("00:15:65:aa:bb:dd"))
        let now = Date()
        func fetch(_ hash: String, _ at: Date) async throws -> [PushJob] {
            try await store.recordFetch(mac: mac, address: "127.0.0.9", host: nil, configHash: hash, configAddress: nil, at: at)
        }
        #expect(try await fetch("old", now).isEmpty)

        // A login's push (a config new to the phone) is done by any fetch of that config, sent or not.
        let login = try await store.addPushJobs([
            PushJob(mac: mac, action: .reload, reason: .login, configHash: "new", actor: "5501", createdAt: now, dueAt: now + 60)
        ])[0]
        #expect(try await fetch("new", now + 1).map(\.id) == [login.id])

        // An admin's reboot of the unchanged phone: a fetch of the same config is not the reboot.
        var reboot = try await store.addPushJobs([
            PushJob(mac: mac, action: .reboot, reason: .admin, configHash: "new", actor: "api:test", createdAt: now + 2, dueAt: now + 60)
        ])[0]
        #expect(try await fetch("new", now + 3).isEmpty)
        #expect(try await store.pushJob(id: reboot.id)?.state == .queued)

        reboot.state = .sent
        reboot.sentAt = now + 4
        #expect(try await store.updatePushJob(reboot))
        #expect(try await fetch("new", now + 5).map(\.id) == [reboot.id])
        #expect(try await store.pushJob(id: reboot.id)?.state == .applied)

        // A job for a config the phone may ask for at either of two addresses: either fetch confirms it.
        let logout = try await store.addPushJobs([
            PushJob(
                mac: mac,
                action: .reload,
                reason: .logout,
                configHash: "via-a",
                actor: "5501",
                createdAt: now + 6,
                dueAt: now + 60,
                altConfigHash: "via-b"
            )
        ])[0]
        #expect(try await fetch("via-b", now + 7).map(\.id) == [logout.id])
    }

    @Test("a phone that fetches its config before the push's answer is written: the job is applied with its attempt counted")
    func fetchDuringTheAttempt() async throws {
        let dir = try TempDir()
        let store = try await directoryStore(dir)
        let mac = try #require(MACAddress("00:15:65:aa:bb:dd"))
        let now = Date()
        let job = try await store.addPushJobs([
            PushJob(mac: mac, action: .reload, reason: .login, configHash: "new", actor: "5501", createdAt: now, dueAt: now)
        ])[0]
        // The push service claims the job and sends it; the phone fetches at once, while the
        // attempt's outcome is still on its way to the store (a race seen in CI: applied, 0 attempts).
        let claimed = try await store.claimDuePushJobs(now: now, leaseUntil: now + 60, limit: 10)
        #expect(claimed.map(\.id) == [job.id] && claimed.map(\.attempts) == [1])
        let applied = try await store.recordFetch(mac: mac, address: "127.0.0.9", host: nil, configHash: "new", configAddress: nil, at: now + 1)
        #expect(applied.map(\.attempts) == [1])
        var sent = claimed[0]
        sent.state = .sent
        sent.sentAt = now + 1
        #expect(try await store.updatePushJob(sent) == false, "the phone's fetch came first: the job stays applied")
        let stored = try #require(try await store.pushJob(id: job.id))
        #expect(stored.state == .applied && stored.attempts == 1)
    }

    @Test(
        "hot lookups use their index: a phone's open jobs (not its history), a phone's own line, expired failed logins",
        .enabled(if: !TestDatabase.isPostgres, "SQLite's query planner (PostgreSQL's plans depend on its statistics)")
    )
    func hotLookupsByIndex() async throws {
        let dir = try TempDir()
        let store = try #require(try dir.store() as? SQLiteStore)
        // A query reworded so that SQLite cannot prove it asks only for open jobs falls back to
        // push_jobs_mac: every fetch would then read the phone's whole push history. Without
        // their indexes the other two read every device and every failed login.
        let expected =
            OpenPushJobs.all.map { ($0, "push_jobs_open") } + [
                (SQLiteStore.deviceByOwnLineSQL, "devices_line_number"), (SQLiteStore.expiredFailuresSQL, "login_failures_at"),
            ]
        for (sql, index) in expected {
            let arguments = StatementArguments(Array(repeating: "x", count: sql.filter { $0 == "?" }.count))
            let plan = try await store.reader.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
            }
            #expect(plan.contains { $0.contains("INDEX \(index)") }, "\(sql): \(plan)")
        }
    }
}

@Suite("Push pacing: pushes started per second at most")
struct PushPacingTests {
    @Test("the bucket: a burst, then one start per 1/rate seconds; time refills it up to the burst")
    func bucket() {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        var pacer = PushPacer(rate: 4)
        #expect(pacer.available(now: t0) == 4)
        pacer.took(4, now: t0)
        #expect(pacer.available(now: t0) == 0)
        #expect(abs(pacer.wait(now: t0) - 0.25) < 0.001)
        #expect(pacer.available(now: t0.addingTimeInterval(0.5)) == 2)
        pacer.took(2, now: t0.addingTimeInterval(0.5))
        #expect(pacer.available(now: t0.addingTimeInterval(60)) == 4, "a quiet minute refills the burst, no more")
    }

    @Test("with --max-pushes-per-second 1, six pushes queued at once are sent over five seconds, and all are applied")
    func paced() async throws {
        var policy = testPushPolicy
        policy.maxPerSecond = 1
        let server = try await TestServer.start(yaml: pushDirectory, policy: policy)
        do {
            let api = try await AdminAPITests().client(server)
            let macs = (1...6).map { String(format: "001565aadd%02x", $0) }
            for mac in macs { _ = try await server.phone("yealink-t46u", mac: mac) }
            for mac in macs { #expect(try await api.call("POST", "/devices/\(mac)/push", body: "{\"action\": \"reload\"}").status == 202) }
            var sent: [Date] = []
            for mac in macs {
                let job = try #require(try await server.waitForJob(mac, timeout: 30) { $0.state == .applied })
                sent.append(try #require(job.sentAt))
            }
            let spread = try #require(sent.max()).timeIntervalSince(try #require(sent.min()))
            // One at once (the burst), then one a second: started over 5 s; unpaced, they all go
            // within milliseconds. `sentAt` is when a send ended: a slow first send on a busy
            // machine (a CI run measured 0.55 s) shortens the spread, hence the margin.
            #expect(spread >= 3.5, "sent within \(spread) s")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}

@Suite("The wake of waiting pushes and PBX polls")
struct WakeSignalTests {
    @Test("a signal wakes every waiter (two PBX polls at once); a wait ends by its time; a signal with nobody waiting is kept for the next wait")
    func everyWaiter() async throws {
        let signal = WakeSignal()
        let woken = [Flag(), Flag()]
        let waits = woken.map { flag in
            Task {
                await signal.wait(upTo: 60)
                flag.set()
            }
        }
        #expect(await eventually { signal.waiting == 2 }, "both wait")
        signal.signal()
        #expect(await eventually { woken.allSatisfy(\.isSet) }, "both woken by one signal")
        for wait in waits { wait.cancel() }

        await signal.wait(upTo: 0.05)
        #expect(signal.waiting == 0, "a wait that timed out leaves nothing behind")
        signal.signal()
        let kept = Task { await signal.wait(upTo: 60) }
        await kept.value
        #expect(signal.waiting == 0, "the kept signal ended the next wait at once")
    }
}
