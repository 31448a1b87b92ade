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

    @Test(
        "an entry's edit renders again only the phones it reaches, before and after: an extension's where it is logged in, a shared line's members' phones (one taken off the line too), a device itself; a template every phone"
    )
    func editRendersTheTouchedPhonesOnly() async throws {
        try await TestServer.with(yaml: sharedLineDirectory) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            let ada = try await server.phone("yealink-t46u", mac: "001565ed0101")
            try await ada.loginApplied("Login Int", ext: "5501", password: "1234")
            let grace = try await server.phone("yealink-t46u", mac: "001565ed0102")
            try await grace.loginApplied("Login Int", ext: "5502", password: "7777")
            let idle = try await server.phone("yealink-t46u", mac: "001565ed0103")
            func put(_ path: String, _ body: String) async throws -> [String: Any] {
                let r = try await admin.call("PUT", path, body: body)
                #expect(r.status == 200 || r.status == 201, "\(path): \(r.json)")
                return r.json
            }
            let renamed = await ada.events.count
            var answer = try await put("/directory/extensions/5501", #"{"name": "Ada King"}"#)
            #expect(answer["checked"] as? Int == 1 && answer["pushed"] as? Int == 1, "Ada's phone only: \(answer)")
            // Applied before the next edit: a push still open for a phone takes the next one in (not counted again).
            #expect(await ada.waitForApply(since: renamed), "Ada's phone was pushed the rename")
            // Sales (555) without Grace: her phone is pushed though she is no longer a member.
            let mark = await grace.events.count
            answer = try await put("/directory/shared_lines/555", #"{"name": "Sales", "members": [{"extension": "5501", "button": 2}]}"#)
            // Both members' phones are rendered again; only Grace's config changed (Ada keeps Sales on key 2).
            #expect(answer["checked"] as? Int == 2 && answer["pushed"] as? Int == 1, "both members' phones, before and after: \(answer)")
            #expect(await grace.waitForApply(since: mark), "the phone of the member taken off was pushed")
            #expect(await grace.config.accounts.values.contains { $0.user == "555" } == false, "and lost the line")
            answer = try await put("/directory/devices/00:15:65:ed:01:03", #"{"model": "yealink-t46u", "emergency_caller_id": "+15550001030"}"#)
            #expect(answer["checked"] as? Int == 1, "\(answer)")
            let body = try String(contentsOf: screensDirectory.appendingPathComponent("families/yealink/config.cfg.mustache"), encoding: .utf8)
            let template = try JSONSerialization.data(withJSONObject: ["brand": "yealink", "default": true, "body": body + "\nfeatures.house = 1\n"])
            answer = try await put("/directory/templates/house", String(decoding: template, as: UTF8.self))
            #expect(answer["checked"] as? Int == 3, "a template: every phone served a config: \(answer)")
            for phone in [ada, grace, idle] { await phone.shutdown() }
        }
    }

    @Test(
        "an extension edited alone: its secrets are never shown and are kept when left out, null removes one, the phone it is logged in on is pushed, problems are the entry's own, audited"
    )
    func editExtension() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            let phone = try await server.phone("yealink-t46u", mac: "001565ed0001")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            #expect(await phone.setting("account.1.display_name") == "Ada Lovelace")

            let read = try await admin.call("GET", "/directory/extensions/5501")
            let entry = read.json["entry"] as? [String: Any] ?? [:]
            #expect(read.status == 200 && entry["name"] as? String == "Ada Lovelace" && entry["number"] as? String == "5501", "\(read.json)")
            #expect(
                entry["sip_password"] == nil && entry["voicemail_pin"] == nil && entry["voicemail_pin_hash"] == nil,
                "no secret is shown: \(entry)"
            )
            #expect((read.json["secrets_set"] as? [String])?.sorted() == ["sip_password", "voicemail_pin"], "\(read.json)")

            // Renamed, the secrets left out: kept (the same PIN and SIP password), the phone pushed.
            let mark = await phone.events.count
            let renamed = try await admin.call(
                "PUT",
                "/directory/extensions/5501",
                body: #"{"number": "5501", "name": "Ada King", "caller_id": "+15551230555"}"#
            )
            #expect(renamed.status == 200 && renamed.json["updated"] as? Int == 1 && (renamed.json["pushed"] as? Int ?? 0) >= 1, "\(renamed.json)")
            #expect(await phone.waitForApply(since: mark), "the phone 5501 is logged in on was pushed")
            #expect(await phone.setting("account.1.display_name") == "Ada King")
            let stored = try #require(try await server.store.findExtension("5501"))
            #expect(stored.name == "Ada King" && stored.sipPassword == "sip-secret-5501" && stored.callerID == "+15551230555")
            #expect(
                try await server.store.auditLog(limit: 20).contains {
                    $0.action == .directoryImport && $0.detail.hasPrefix("extensions 5501 edited: ")
                }
            )
            try await phone.logoutApplied()
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            try await phone.logoutApplied()

            // Problems are the entry's own, and nothing changes.
            let bad = try await admin.call("PUT", "/directory/extensions/5501", body: #"{"name": "Ada", "voicemail_pin": "12", "colour": "red"}"#)
            let problems = (bad.json["error"] as? [String: Any])?["problems"] as? [String] ?? []
            #expect(bad.status == 422 && admin.errorCode(bad) == "bad_entry", "\(bad.json)")
            #expect(problems.contains { $0.hasPrefix("voicemail_pin: ") } && problems.contains { $0.contains("colour") }, "\(problems)")
            #expect(try await server.store.findExtension("5501")?.name == "Ada King")
            let renumbered = try await admin.call("PUT", "/directory/extensions/5501", body: #"{"number": "5599", "name": "Ada"}"#)
            #expect(renumbered.status == 422 && (renumbered.json["error"] as? [String: Any])?["message"] as? String != nil, "\(renumbered.json)")
            #expect(try await server.store.findExtension("5599") == nil)

            // null removes a secret: no voicemail box, so the user password logs in.
            #expect(try await admin.call("PUT", "/directory/extensions/5501", body: #"{"name": "Ada King", "voicemail_pin": null}"#).status == 200)
            #expect(try await admin.call("GET", "/directory/extensions/5501").json["secrets_set"] as? [String] == ["sip_password"])
            try await phone.loginApplied("Login Int", ext: "5501", password: "7777")
        }
    }

    @Test(
        "a new entry is added only where there is none (If-None-Match: *), with what a new one needs; a dry run writes nothing; deleted by the same address"
    )
    func addAndDelete() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            func put(_ path: String, _ body: String, onlyNew: Bool = false) async throws -> (status: Int, json: [String: Any]) {
                var headers = ["Content-Type": "application/json", "Authorization": "Bearer \(admin.key)"]
                if onlyNew { headers["If-None-Match"] = "*" }
                let r = try await HTTP.request("PUT", server.baseURL + "/api/v1/directory" + path, headers: headers, body: body)
                return (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any] ?? [:])
            }
            #expect(try await put("/extensions/5501", #"{"name": "Twin"}"#, onlyNew: true).status == 409)
            let noPassword = try await put("/extensions/5590", #"{"name": "Grace Hopper"}"#, onlyNew: true)
            #expect(noPassword.status == 422 && "\(noPassword.json)".contains("sip_password"), "\(noPassword.json)")
            let grace = #"{"name": "Grace Hopper", "voicemail_pin": "4321", "sip_password": "sip-secret-5590-long"}"#
            #expect(try await put("/extensions/5590?dry_run=true", grace, onlyNew: true).status == 201)
            #expect(try await server.store.findExtension("5590") == nil, "a dry run writes nothing")
            #expect(try await put("/extensions/5590", grace, onlyNew: true).status == 201)
            #expect(try await server.store.findExtension("5590")?.name == "Grace Hopper")
            let keys = try await admin.call("GET", "/directory/extensions?limit=2")
            #expect(keys.json["keys"] as? [String] == ["5501", "5502"] && keys.json["next"] as? String == "5502", "\(keys.json)")
            #expect(try await admin.call("GET", "/directory/extensions?after=5502").json["keys"] as? [String] == ["5590"])

            // A workspace, a shared line and a template: the same way.
            #expect(try await put("/workspaces/Room%204.12", #"{"licence": "professional"}"#).status == 201)
            let line = #"{"name": "Sales", "sip_password": "shared-secret-555", "members": [{"extension": "5590", "button": 2, "ring": "ring"}]}"#
            #expect(try await put("/shared_lines/555", line).status == 201)
            let sales = try await admin.call("GET", "/directory/shared_lines/555")
            #expect(
                (sales.json["entry"] as? [String: Any])?["members"] as? [[String: Any]] != nil
                    && sales.json["secrets_set"] as? [String] == ["sip_password"]
            )
            let workspace = try await admin.call("GET", "/directory/workspaces/Room%204.12")
            #expect((workspace.json["entry"] as? [String: Any])?["hot_desking"] as? Bool == true, "\(workspace.json)")

            #expect(try await admin.call("DELETE", "/directory/shared_lines/555").status == 200)
            #expect(try await admin.call("DELETE", "/directory/extensions/5590").status == 200)
            #expect(try await server.store.findExtension("5590") == nil)
            #expect(try await admin.call("GET", "/directory/extensions/5590").status == 404)
            #expect(try await admin.call("DELETE", "/directory/sites/paris").status == 400)
            #expect(try await admin.call("GET", "/directory/people/5501").status == 404)

            // Whatever the body, an answer (no 500), and nothing written.
            for body in ["", "[]", "null", "5", "{", "\"text\"", "{\"name\": [1, 2]}", "\u{0}"] {
                let r = try await put("/extensions/5502", body)
                #expect([400, 422].contains(r.status), "\(body.debugDescription): \(r.status) \(r.json)")
            }
            #expect(try await server.store.findExtension("5502")?.name == "Bob No-Voicemail")
            let auditorKey = APIKey.make()
            try await server.store.addAPIKey(name: "eve", keyHash: APIKey.hash(auditorKey), kind: .admin, role: .auditor, at: Date())
            #expect(try await admin.call("GET", "/directory/extensions/5502", key: auditorKey).status == 200)
            #expect(try await admin.call("PUT", "/directory/extensions/5502", body: #"{"name": "Eve"}"#, key: auditorKey).status == 403)
        }
    }

    @Test(
        "a phone that enrolled itself, edited into a personal device: its claim and its own line's password are kept, it still fetches, and it offers its user"
    )
    func editDevice() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            let phone = try await server.phone("yealink-t46u", mac: "001565ed0002")
            let path = "/directory/devices/00-15-65-ED-00-02"
            let read = try await admin.call("GET", path)
            #expect(read.status == 200 && (read.json["entry"] as? [String: Any])?["provisioning_secret"] == nil, "\(read.json)")
            #expect((read.json["secrets_set"] as? [String] ?? []).contains("provisioning_secret"), "it claimed itself: \(read.json)")

            let mark = await phone.events.count
            let lined =
                #"{"mac": "00:15:65:ed:00:02", "model": "yealink-t46u", "users": ["5501"], "line": {"number": "8090", "name": "Desk 2", "sip_password": "desk-secret-8090"}}"#
            let first = try await admin.call("PUT", path, body: lined)
            #expect(first.status == 200, "\(first.json)")
            #expect(await phone.waitForApply(since: mark), "the phone was pushed its new config, and could fetch it")
            #expect(await phone.config.lineUser == "8090")
            // Edited again without the line's password: kept.
            let again = #"{"model": "yealink-t46u", "users": ["5501"], "line": {"number": "8090", "name": "Desk two"}}"#
            #expect(try await admin.call("PUT", path, body: again).status == 200)
            let device = try #require(try await server.store.device(mac: MACAddress("001565ed0002")!))
            #expect(device.ownLine?.sipPassword == "desk-secret-8090" && device.ownLine?.name == "Desk two" && device.claimedAt != nil)
            try await phone.key("hotdesk")
            try await phone.select("Login Int")
            guard case .input(_, _, let fields, _)? = await phone.screen else {
                Issue.record("not the login form")
                return
            }
            #expect(fields.first?.value == "5501", "a personal device offers its user")
        }
    }
}
