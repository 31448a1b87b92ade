import Curl
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import PhoneFamilies
import PhoneSimulator
import Testing

@Suite("Admin API: see and force")
struct AdminAPITests {
    struct Client {
        let server: TestServer
        let key: String

        func call(_ method: String, _ path: String, body: String? = nil, key: String? = nil) async throws -> (status: Int, json: [String: Any]) {
            var headers = ["Content-Type": "application/json"]
            if let k = key ?? (self.key.isEmpty ? nil : self.key) { headers["Authorization"] = "Bearer \(k)" }
            let r = try await HTTP.request(method, server.baseURL + "/api/v1" + path, headers: headers, body: body)
            let json = (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any] ?? [:]
            return (r.status, json)
        }

        func errorCode(_ result: (status: Int, json: [String: Any])) -> String? {
            (result.json["error"] as? [String: Any])?["code"] as? String
        }
    }

    func client(_ server: TestServer) async throws -> Client {
        let key = APIKey.make()
        try await server.store.addAPIKey(name: "test", keyHash: APIKey.hash(key), at: Date())
        return Client(server: server, key: key)
    }

    @Test("keys are listed without secrets; one is revoked and opens nothing from then on; a key cannot revoke itself")
    func keys() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let ops = try await client(server)
            let oldKey = APIKey.make()
            try await server.store.addAPIKey(name: "old", keyHash: APIKey.hash(oldKey), at: Date())
            let old = Client(server: server, key: oldKey)
            #expect(try await old.call("GET", "/sessions").status == 200)
            let listed = try await ops.call("GET", "/apikeys")
            let names = ((listed.json["keys"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
            #expect(listed.status == 200 && names == ["old", "test"], "\(listed.json)")
            let text = "\(listed.json)"
            #expect(!text.contains("hdk_") && !text.contains(APIKey.hash(oldKey)) && !text.contains("hash"), "never a key or its hash")
            #expect(try await ops.call("DELETE", "/apikeys/test").status == 409, "not itself")
            let revoked = try await ops.call("DELETE", "/apikeys/old")
            #expect(revoked.status == 200 && revoked.json["revoked"] as? Bool == true)
            #expect(try await old.call("GET", "/sessions").status == 401, "revoked: refused at once")
            #expect(try await ops.call("DELETE", "/apikeys/old").status == 404)
            #expect(
                try await server.store.auditLog(limit: 20).contains {
                    $0.action == .apiKeyRevoked && $0.actor == "api:test" && $0.detail == "API key \"old\" revoked"
                }
            )

            // Keys are kept in memory between changes: one revoked by another process on the same
            // database (`hotdesk apikey revoke` while the server runs) is refused at once too.
            let laterKey = APIKey.make()
            let cli = try TestDatabase.open(path: server.dbPath, keyFile: server.dbPath + ".key")
            try await cli.addAPIKey(name: "later", keyHash: APIKey.hash(laterKey), at: Date())
            let later = Client(server: server, key: laterKey)
            #expect(try await later.call("GET", "/sessions").status == 200, "made by another process: accepted at once")
            #expect(try await cli.revokeAPIKey(name: "later", actor: "cli", source: nil, at: Date()))
            #expect(try await later.call("GET", "/sessions").status == 401, "revoked by another process: refused at once")
        }
    }

    @Test(
        "roles: an auditor reads and changes nothing; a helpdesk also logs out, clears locks and pushes, but resets no SIP password and manages no keys; refusals are 403 and audited"
    )
    func roles() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            func key(_ name: String, _ role: AdminRole) async throws -> Client {
                let key = APIKey.make()
                try await server.store.addAPIKey(name: name, keyHash: APIKey.hash(key), kind: .admin, role: role, at: Date())
                return Client(server: server, key: key)
            }
            let auditor = try await key("eve", .auditor)
            let helpdesk = try await key("hal", .helpdesk)
            let admin = try await key("ada", .admin)
            let phone = try await server.phone("sangoma-s500", mac: "001565ae0001")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")

            for path in ["/sessions", "/devices", "/push-jobs", "/locks", "/apikeys", "/workspaces"] {
                #expect(try await auditor.call("GET", path).status == 200, "an auditor reads \(path)")
            }
            let refused = try await auditor.call("DELETE", "/sessions/001565ae0001")
            #expect(refused.status == 403 && (refused.json["error"] as? [String: Any])?["code"] as? String == "forbidden")
            #expect(try await auditor.call("POST", "/devices/001565ae0001/push", body: "{\"action\": \"reload\"}").status == 403)
            #expect(try await auditor.call("DELETE", "/locks/extension/5501").status == 403)
            #expect(try await server.store.session(mac: MACAddress("001565ae0001")!) != nil, "still logged in")

            #expect(try await helpdesk.call("POST", "/extensions/5501/sip-password").status == 403, "a helpdesk resets no SIP password")
            #expect(try await helpdesk.call("DELETE", "/apikeys/eve").status == 403, "nor revokes keys")
            #expect(try await helpdesk.call("DELETE", "/extensions/5502").status == 403, "nor deletes from the directory")
            #expect(try await helpdesk.call("DELETE", "/locks/extension/5502").status == 404, "clearing locks is allowed (none here)")
            #expect(try await helpdesk.call("DELETE", "/sessions/001565ae0001").status == 202, "a helpdesk forces a logout")
            #expect(try await admin.call("DELETE", "/apikeys/eve").status == 200)

            let audit = try await server.store.auditLog(limit: 50).filter { $0.action == .apiRefused && $0.outcome == .refused }
            #expect(audit.contains { $0.actor == "api:eve" && $0.detail.contains("needs the helpdesk role; key \"eve\" is auditor") })
            #expect(audit.contains { $0.actor == "api:hal" && $0.detail.contains("needs the admin role") })
        }
    }

    @Test(
        "the audit log through the API: filters by action, extension, device and time; pages by before_id; CSV that a spreadsheet cannot take for formulas; one device by MAC"
    )
    func audit() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await client(server)
            // Before the phone exists: its enrolment and claim are after it, however slow the boot.
            let start = Date()
            let phone = try await server.phone("sangoma-s500", mac: "001565af0001")
            try await phone.login("Login Int", ext: "5501", password: "0000")
            try await phone.login("Login Int", ext: "5501", password: "=1+2")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            let failed = try await api.call("GET", "/audit?action=login_failed&extension=5501")
            let entries = (failed.json["entries"] as? [[String: Any]]) ?? []
            #expect(
                failed.status == 200 && entries.count == 2
                    && entries.allSatisfy { $0["action"] as? String == "login_failed" && $0["mac"] as? String == "00:15:65:af:00:01" }
            )
            let ids = entries.compactMap { $0["id"] as? Int }
            #expect(ids == ids.sorted(by: >), "newest first")
            let since = start.addingTimeInterval(-1).formatted(.iso8601)
            let page1 = try await api.call("GET", "/audit?mac=001565af0001&since=\(since)&limit=2")
            let next = try #require(page1.json["next"] as? String)
            let page2 = try await api.call("GET", String(next.dropFirst("/api/v1".count)))
            let all = try await api.call("GET", "/audit?mac=001565af0001&since=\(since)&limit=100")
            let pagedIDs = ((page1.json["entries"] as? [[String: Any]]) ?? []) + ((page2.json["entries"] as? [[String: Any]]) ?? [])
            #expect(
                pagedIDs.compactMap { $0["id"] as? Int }
                    == Array(((all.json["entries"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int }.prefix(4))
            )
            let before = try await api.call("GET", "/audit?until=\(since)&mac=001565af0001")
            #expect((before.json["entries"] as? [Any])?.isEmpty == true, "nothing of this phone before the test began")

            let csv = try await HTTP.request(
                "GET",
                server.baseURL + "/api/v1/audit?format=csv&extension=5501",
                headers: ["Authorization": "Bearer \(api.key)"],
                body: nil
            )
            #expect(csv.status == 200)
            let lines = csv.body.split(separator: "\r\n").map(String.init)
            #expect(lines.first == "id,at,actor,action,mac,extension,source,outcome,detail")
            #expect(lines.count >= 4)
            #expect(
                CSV.line(["=HYPERLINK(\"x\")", "a,b", "-1", "plain", "two\nlines"]) == #""'=HYPERLINK(""x"")","a,b",'-1,plain,"two"# + "\nlines\"",
                "formulas neutralised, commas, quotes and line breaks quoted"
            )

            for bad in ["action=nope", "mac=zz", "since=yesterday", "limit=0", "before_id=-1", "format=xml", "extension=x"] {
                #expect(try await api.call("GET", "/audit?\(bad)").status == 400, "\(bad)")
            }
            let one = try await api.call("GET", "/devices/00-15-65-af-00-01")
            #expect(one.status == 200 && one.json["mac"] as? String == "00:15:65:af:00:01" && one.json["model"] as? String == "sangoma-s500")
            #expect(try await api.call("GET", "/devices/001565af0099").status == 404)
            #expect(try await api.call("GET", "/devices/nope").status == 400)
        }
    }

    @Test("no key, a wrong key, a malformed header: 401 JSON, audited")
    func authentication() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await client(server)
            let anonymous = Client(server: server, key: "")
            let none = try await anonymous.call("GET", "/sessions")
            #expect(none.status == 401 && anonymous.errorCode(none) == "unauthorized")
            let wrong = try await api.call("GET", "/sessions", key: APIKey.make())
            #expect(wrong.status == 401)
            let junk = try await api.call("GET", "/sessions", key: "' OR 1=1 --")
            #expect(junk.status == 401)
            let forced = try await anonymous.call("DELETE", "/sessions/001565aabbcc")
            #expect(forced.status == 401, "changes need a key too")
            #expect(try await server.store.auditLog(limit: 10).filter { $0.action == .apiRefused }.count >= 2)
            let ok = try await api.call("GET", "/sessions")
            #expect(ok.status == 200 && (ok.json["sessions"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("wrong keys in a loop: 401 ten times, then 429 with Retry-After and one audit entry; the right key still works")
    func wrongKeysThrottled() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await client(server)
            var statuses: [Int] = []
            for _ in 0..<15 {
                statuses.append(try await api.call("GET", "/sessions", key: APIKey.make()).status)
            }
            #expect(statuses == Array(repeating: 401, count: 10) + Array(repeating: 429, count: 5))
            let throttled = try await HTTP.request("GET", server.baseURL + "/api/v1/sessions", headers: ["Authorization": "Bearer \(APIKey.make())"])
            #expect(throttled.status == 429 && Int(throttled.header("Retry-After") ?? "") ?? 0 > 0)
            #expect(throttled.body.contains("too_many_attempts"))
            let refusals = try await server.store.auditLog(limit: 100).filter { $0.action == .apiRefused }
            #expect(refusals.count == 11, "ten refusals and one summary; the rest are not audited")
            #expect(refusals.contains { $0.detail.contains("answered 429") })
            #expect(try await api.call("GET", "/sessions").status == 200, "a valid key is never throttled")
        }
    }

    @Test("bad inputs are 400, unknown things 404, each with a code")
    func badInputs() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await client(server)
            _ = try await server.phone("sangoma-s500", mac: "001565aadd01", pushes: false)
            let cases: [(String, String, String?, Int, String)] = [
                ("DELETE", "/sessions/not-a-mac", nil, 400, "bad_mac"),
                ("DELETE", "/sessions/001565ffffff", nil, 404, "unknown_device"),
                ("DELETE", "/sessions/001565aadd01", nil, 404, "not_logged_in"),
                ("POST", "/extensions/x1/logout", nil, 400, "bad_extension"),
                ("POST", "/extensions/4444/logout", nil, 404, "unknown_extension"),
                ("POST", "/extensions/5501/logout", nil, 404, "not_logged_in"),
                ("GET", "/push-jobs?state=exploded", nil, 400, "bad_state"),
                ("GET", "/push-jobs?limit=0", nil, 400, "bad_limit"),
                ("GET", "/push-jobs/abc", nil, 400, "bad_id"),
                ("GET", "/push-jobs/999", nil, 404, "unknown_job"),
                ("POST", "/devices/001565aadd01/push", "{not json", 400, "bad_body"),
                ("POST", "/devices/001565aadd01/push", "{\"action\": \"explode\"}", 400, "bad_body"),
                ("POST", "/devices/001565aadd01/push", String(repeating: "x", count: 100_000), 400, "bad_body"),
                ("POST", "/devices/001565ffffff/push", "{\"action\": \"reload\"}", 404, "unknown_device"),
                ("POST", "/devices/001565aadd01/push", "{\"action\": \"xml\"}", 400, "bad_text"),
                ("POST", "/devices/001565aadd01/push", "{\"action\": \"xml\", \"text\": \"  \"}", 400, "bad_text"),
                ("POST", "/devices/001565aadd01/push", "{\"action\": \"xml\", \"text\": \"\(String(repeating: "x", count: 241))\"}", 400, "bad_text"),
                ("POST", "/devices/001565aadd01/push", "{\"action\": \"xml\", \"text\": \"bell\\u0007\"}", 400, "bad_text"),
                ("POST", "/devices/001565aadd01/push", "{\"action\": \"xml\", \"text\": \"Fire drill\"}", 400, "unsupported_action"),
            ]
            for (method, path, body, status, code) in cases {
                let r = try await api.call(method, path, body: body)
                #expect(r.status == status && api.errorCode(r) == code, "\(method) \(path.prefix(40)): \(r.status) \(api.errorCode(r) ?? "-")")
            }
            #expect(try await server.store.pushJobs(state: nil, mac: nil, limit: 10).isEmpty, "nothing was queued")
        }
    }

    @Test("forced logout: 202 with the job, logged-out config pushed, applied after the phone fetches it, audited")
    func forcedLogout() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await client(server)
            let phone = try await server.phone("sangoma-s500", mac: "001565aadd02")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await eventually { await phone.config.lineUser == "5501" })

            let sessions = try await api.call("GET", "/sessions")
            let first = try #require((sessions.json["sessions"] as? [[String: Any]])?.first)
            #expect(first["extension"] as? String == "5501" && first["mac"] as? String == "00:15:65:aa:dd:02" && first["network"] as? String == "int")
            #expect(first["address"] as? String == phone.options.address)
            #expect(
                await eventually {
                    ((try? await api.call("GET", "/sessions").json["sessions"] as? [[String: Any]])?.first?["last_push"] as? [String: Any])?["state"]
                        as? String == "applied"
                }
            )

            let forced = try await api.call("DELETE", "/sessions/00-15-65-AA-DD-02")
            #expect(forced.status == 202)
            let id = try #require((forced.json["job"] as? [String: Any])?["id"] as? Int)
            #expect(try await eventually { try await api.call("GET", "/push-jobs/\(id)").json["state"] as? String == "applied" })
            #expect(await eventually { await phone.config.lineActive == false })
            #expect(try await server.store.sessions().isEmpty)
            let entry = try #require(try await server.store.auditLog(limit: 10).first { $0.action == .logout })
            #expect(entry.actor == "api:test" && entry.extensionNumber == "5501")
        }
    }

    @Test("a message (xml push) shows on a T46U at once, from the address its config allows, and leaves the login's push alone")
    func message() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await client(server)
            let phone = try await server.phone("yealink-t46u", mac: "001565aadd05")
            #expect(await phone.setting("push_xml.server") == "127.0.0.1", "the config names the address pushes come from")
            #expect(await phone.setting("features.action_uri_limit_ip") == "127.0.0.1")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let sent = try await api.call(
                "POST",
                "/devices/00:15:65:AA:DD:05/push",
                body: "{\"action\": \"xml\", \"text\": \"Fire drill at 3 pm & leave by the stairs\"}"
            )
            #expect(
                sent.status == 202 && sent.json["action"] as? String == "xml"
                    && sent.json["message"] as? String == "Fire drill at 3 pm & leave by the stairs"
            )
            let id = try #require(sent.json["id"] as? Int)
            #expect(try await eventually { try await api.call("GET", "/push-jobs/\(id)").json["state"] as? String == "applied" })
            #expect(await phone.title == "Message")
            #expect(await phone.displayText.contains("Fire drill at 3 pm & leave by the"))
            #expect(await phone.events.contains(.pushAccepted(.xml, path: "/servlet?push=xml")))
            // The login's reload was not replaced by the message.
            let jobs = try await server.store.pushJobs(state: nil, mac: MACAddress("001565aadd05"), limit: 10)
            #expect(await eventually { await phone.config.lineUser == "5501" })
            #expect(jobs.contains { $0.action == .reload && $0.reason == .login && $0.state != .superseded })
            #expect(try await server.store.auditLog(limit: 20).contains { $0.action == .push && $0.detail.hasPrefix("message requested") })
        }
    }

    @Test("after an import rotates a logged-in extension's SIP password, push-changed pushes that phone only; then nothing")
    func pushChanged() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await client(server)
            let loggedIn = try await server.phone("sangoma-s500", mac: "001565aadd06")
            _ = try await server.phone("sangoma-s500", mac: "001565aadd07")
            try await loggedIn.login("Login Int", ext: "5501", password: "1234")
            #expect(try await server.waitForJob("001565aadd06") { $0.state == .applied }?.state == .applied)
            func changed() async throws -> (status: Int, macs: [String]) {
                let r = try await api.call("POST", "/devices/push-changed")
                return (r.status, (r.json["jobs"] as? [[String: Any]] ?? []).compactMap { $0["mac"] as? String })
            }
            #expect(try await changed().macs.isEmpty, "nothing changed yet")

            _ = try await importDirectory(
                "extensions:\n  - {number: \"5501\", name: Ada Lovelace, voicemail_pin: \"1234\", sip_password: \"rotated-secret-5501\"}\n",
                into: server.store,
                base: server.directory
            )
            let first = try await changed()
            #expect(first.status == 202 && first.macs == ["00:15:65:aa:dd:06"])
            #expect(try await server.waitForJob("001565aadd06") { $0.state == .applied }?.state == .applied)
            #expect(try await changed().macs.isEmpty, "the phone has its new config")
            #expect(try await server.store.auditLog(limit: 10).contains { $0.detail.hasPrefix("push of changed configs requested: 1") })
        }
    }

    @Test("push-changed over more phones than a page: counts, the id range, a first page, and pages that list each new job once")
    func pushChangedPages() async throws {
        let macs = (0..<130).map { String(format: "001565ee%04x", $0) }
        let yaml = flowDirectory + "\ndevices:\n" + macs.map { "  - {mac: \"\($0)\", model: yealink-t46u}\n" }.joined()
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let api = try await client(server)
            // 125 phones fetch their config (and claim their MAC); 5 never fetch: not checked.
            // (the first fetch gives a phone its secret, the second proves it)
            for mac in macs.prefix(125) {
                for _ in 0..<2 { #expect(try await server.fetchAsPhone("\(mac).cfg", mac: mac).status == 200) }
            }
            let before = try await api.call("POST", "/devices/push-changed")
            #expect(before.json["checked"] as? Int == 125 && before.json["queued"] as? Int == 0 && before.json["first_job"] == nil, "\(before.json)")

            _ = try await importDirectory("settings:\n  emergency_caller_id: \"5550100\"\n", into: server.store, base: server.directory)
            let changed = try await api.call("POST", "/devices/push-changed")
            #expect(changed.status == 202 && changed.json["checked"] as? Int == 125 && changed.json["queued"] as? Int == 125, "\(changed.json)")
            let first = try #require(changed.json["first_job"] as? Int)
            let last = try #require(changed.json["last_job"] as? Int)
            #expect(last - first == 124)
            var seen = ((changed.json["jobs"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int }
            #expect(seen.count == 100 && seen.first == last, "the newest first")
            var next = changed.json["next"] as? String
            while let path = next {
                let page = try await api.call("GET", String(path.dropFirst("/api/v1".count)))
                #expect(page.status == 200)
                seen += ((page.json["jobs"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int }
                next = page.json["next"] as? String
            }
            #expect(seen == Array((first...last).reversed()), "every new job once, newest first")
            let pushed = Set(try await server.store.pushJobs(state: nil, mac: nil, ids: Int64(first)...Int64(last), limit: 1000).map(\.mac.canonical))
            #expect(pushed == Set(macs.prefix(125)))
            let paged = try await api.call("GET", "/push-jobs?from_id=\(first)&to_id=\(first + 2)&limit=2")
            #expect((paged.json["jobs"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [first + 2, first + 1])
            #expect((paged.json["next"] as? String)?.contains("to_id=\(first)") == true)
            #expect(try await api.call("GET", "/push-jobs?from_id=0").status == 400)
            #expect(try await api.call("GET", "/push-jobs?to_id=x").status == 400)
        }
    }

    @Test("log an extension out wherever it is; push a reboot to a T46U; list failed jobs")
    func extensionLogoutAndPush() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await client(server)
            let phone = try await server.phone("yealink-t46u", mac: "001565aadd03")
            try await phone.login("Login Int", ext: "5502", password: "7777")
            #expect(await eventually { await phone.config.lineUser == "5502" })
            let out = try await api.call("POST", "/extensions/5502/logout")
            #expect(out.status == 202 && out.json["mac"] as? String == "00:15:65:aa:dd:03")
            let logoutJob = try #require((out.json["job"] as? [String: Any])?["id"] as? Int)
            #expect(try await eventually { try await api.call("GET", "/push-jobs/\(logoutJob)").json["state"] as? String == "applied" })
            #expect(await eventually { await phone.config.lineActive == false })

            let mark = await phone.events.count
            let push = try await api.call("POST", "/devices/001565aadd03/push", body: "{\"action\": \"reboot\"}")
            #expect(push.status == 202 && push.json["action"] as? String == "reboot" && push.json["reason"] as? String == "admin")
            let script = try PhoneScript("expect-reboot 10\nkey hotdesk\nexpect Login Int\n")
            try await ScriptRunner().run(script, on: phone, sinceEvent: mark)
            #expect(await phone.events.dropFirst(mark).contains(.rebootStarted))

            let unreachable = try await server.phone("sangoma-s500", mac: "001565aadd04", pushes: false)
            _ = try await api.call("POST", "/devices/\(unreachable.mac)/push", body: "{\"action\": \"reload\"}")
            let failed = { () async throws -> [[String: Any]] in
                try await api.call("GET", "/push-jobs?state=failed&mac=001565aadd04").json["jobs"] as? [[String: Any]] ?? []
            }
            #expect(try await eventually { try await failed().count == 1 })
            #expect((try await failed().first?["last_error"] as? String)?.hasPrefix("refused") == true)
        }
    }
}

@Suite("Sessions through the API, page by page")
struct SessionPagingTests {
    @Test("limit and next page through the sessions, oldest login first, each once; bad input is 400, a vanished cursor 404")
    func pages() async throws {
        let yaml = """
            settings:
              default_login: true
              internal_address: 127.0.0.1:{PORT}
            extensions:
            \(LoginAttackTests.extensions(3))
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let key = APIKey.make()
            try await server.store.addAPIKey(name: "pager", keyHash: APIKey.hash(key), at: Date())
            let api = AdminAPITests.Client(server: server, key: key)
            var macs: [String] = []
            for n in 0..<3 {
                let phone = try await server.phone("yealink-t46u", mac: String(format: "001565b1%04x", n), pushes: false)
                try await phone.login("Login Int", ext: "600\(n)", password: "400\(n)")
                macs.append(String(format: "00:15:65:b1:%02x:%02x", n >> 8, n & 0xff))
            }
            let first = try await api.call("GET", "/sessions?limit=2")
            let next = try #require(first.json["next"] as? String)
            let second = try await api.call("GET", String(next.dropFirst("/api/v1".count)))
            #expect(second.json["next"] == nil)
            let listed = ((first.json["sessions"] as? [[String: Any]]) ?? []) + ((second.json["sessions"] as? [[String: Any]]) ?? [])
            #expect(listed.compactMap { $0["mac"] as? String } == macs, "oldest login first, each once")
            #expect(try await api.call("GET", "/sessions").json["next"] == nil)
            #expect(try await api.call("GET", "/sessions?limit=0").status == 400)
            #expect(try await api.call("GET", "/sessions?after=nope").status == 400)
            #expect(try await api.call("GET", "/sessions?after=001565b1ffff").status == 404)
        }
    }
}

@Suite("Locks through the API: see them, clear them")
struct LockAPITests {
    @Test(
        "an extension, a phone and an address locked by wrong passwords are listed; a helpdesk clears each, audited, and the right PIN works at once"
    )
    func listAndClear() async throws {
        let yaml = """
            settings:
              default_login: true
              internal_address: 127.0.0.1:{PORT}
              lockout: {extension_failures: 3, device_failures: 5, source_failures: 8}
            extensions:
            \(LoginAttackTests.extensions(8))
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let key = APIKey.make()
            try await server.store.addAPIKey(name: "helpdesk", keyHash: APIKey.hash(key), at: Date())
            let api = AdminAPITests.Client(server: server, key: key)
            #expect(try await api.call("GET", "/locks").json["locks"] as? [Any] != nil)
            #expect((try await api.call("GET", "/locks").json["locks"] as? [Any])?.isEmpty == true)

            let a = try await server.phone("yealink-t46u", mac: "001565ad0001", pushes: false)
            let b = try await server.phone("yealink-t46u", mac: "001565ad0002", pushes: false)
            let formA = try await LoginAttackTests.submitURL(a)
            let formB = try await LoginAttackTests.submitURL(b)
            // 6000 locked on every phone (3 wrong PINs); phone a locked (5 wrong); then the address (8).
            for _ in 0..<3 { _ = try await HTTP.get(formA + "&ext=6000&pw=0") }
            for n in 1..<3 { _ = try await HTTP.get(formA + "&ext=600\(n)&pw=0") }
            for n in 3..<6 { _ = try await HTTP.get(formB + "&ext=600\(n)&pw=0") }
            let listed = (try await api.call("GET", "/locks").json["locks"] as? [[String: Any]]) ?? []
            let kinds = Set(listed.compactMap { l in (l["kind"] as? String).map { "\($0) \(l["key"] as? String ?? "")" } })
            #expect(kinds.contains("extension 6000") && kinds.contains("device 00:15:65:ad:00:01") && kinds.contains("source 127.0.0.1"), "\(listed)")
            #expect(listed.allSatisfy { $0["until"] is String })

            #expect(try await HTTP.get(formB + "&ext=6007&pw=4007").body.contains("locked until"), "the address is locked")
            let source = try await api.call("DELETE", "/locks/source/127.0.0.1")
            #expect(source.status == 200 && source.json["was_locked"] as? Bool == true)
            #expect(try await HTTP.get(formB + "&ext=6000&pw=4000").body.contains("6000 is locked until"), "the extension still is")
            let ext = try await api.call("DELETE", "/locks/extension/6000")
            #expect(ext.status == 200 && ext.json["was_locked"] as? Bool == true && (ext.json["failures_forgotten"] as? Int ?? 0) >= 3, "\(ext.json)")
            #expect(try await HTTP.get(formB + "&ext=6000&pw=4000").body.contains("Logged in"), "the right PIN works at once")
            #expect(try await HTTP.get(formA + "&ext=6006&pw=4006").body.contains("locked until"), "phone a still is")
            #expect(try await api.call("DELETE", "/locks/device/00:15:65:ad:00:01").status == 200)
            #expect(try await HTTP.get(formA + "&ext=6006&pw=4006").body.contains("Logged in"))

            #expect(try await api.call("DELETE", "/locks/extension/6000").status == 404, "nothing left to clear")
            #expect(try await api.call("DELETE", "/locks/device/not-a-mac").status == 400)
            #expect(try await api.call("DELETE", "/locks/source/evil").status == 400)
            let unlocks = try await server.store.auditLog(limit: 100).filter { $0.action == .unlock }
            #expect(unlocks.count == 3 && unlocks.allSatisfy { $0.actor == "api:helpdesk" })
            #expect(unlocks.contains { $0.extensionNumber == "6000" && $0.detail.hasPrefix("extension 6000 unlocked (locked until") })
        }
    }

}

@Suite("Devices through the API, page by page")
struct DevicePagingTests {
    @Test("GET /devices pages by MAC and filters by family, state and config state in the store; /devices/{mac} reads one phone")
    func devicePages() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let busy = try await server.phone("sangoma-s500", mac: "001565d00001")
            try await busy.loginApplied("Login Int", ext: "5501", password: "1234")
            _ = try await server.phone("yealink-t46u", mac: "001565d00002")
            _ = try await server.phone("yealink-t46u", mac: "001565d00003")
            func macs(_ path: String) async throws -> (macs: [String], next: String?) {
                let r = try await api.call("GET", path)
                #expect(r.status == 200, "\(path): \(r.json)")
                return (((r.json["devices"] as? [[String: Any]]) ?? []).compactMap { $0["mac"] as? String }, r.json["next"] as? String)
            }
            let first = try await macs("/devices?limit=2")
            #expect(first.macs == ["00:15:65:d0:00:01", "00:15:65:d0:00:02"])
            let next = try #require(first.next)
            #expect(next.contains("after=001565d00002"), "\(next)")
            let second = try await macs(String(next.dropFirst("/api/v1".count)))
            #expect(second.macs == ["00:15:65:d0:00:03"] && second.next == nil)
            #expect(try await macs("/devices?state=logged_in").macs == ["00:15:65:d0:00:01"])
            #expect(try await macs("/devices?state=idle").macs == ["00:15:65:d0:00:02", "00:15:65:d0:00:03"])
            #expect(try await macs("/devices?brand=yealink&limit=1").macs == ["00:15:65:d0:00:02"])
            #expect(try await macs("/devices?state=current").macs.count == 3, "every phone fetched what it should have")
            #expect(try await macs("/devices?state=changed").macs.isEmpty)
            #expect(try await macs("/devices?state=never_fetched").macs.isEmpty)
            #expect(try await api.call("GET", "/devices?state=bogus").status == 400)
            #expect(try await api.call("GET", "/devices?after=nonsense").status == 400)
            let one = try await api.call("GET", "/devices/00:15:65:d0:00:01")
            #expect(one.status == 200 && (one.json["logged_in"] as? [String: Any])?["extension"] as? String == "5501")
            #expect(try await api.call("GET", "/devices/001565d00099").status == 404)
        }
    }
}
