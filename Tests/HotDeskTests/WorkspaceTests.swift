import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

@Suite("Workspaces and personal devices")
struct WorkspaceTests {
    static func devices(_ n: Int, in workspace: String, from first: Int = 1) -> String {
        (first..<(first + n)).map { "  - {mac: \"00:15:65:c0:00:\(String(format: "%02x", $0))\", model: yealink-t46u, workspace: \"\(workspace)\"}" }
            .joined(separator: "\n")
    }

    static let directory =
        flowDirectory + """

            workspaces:
              - {name: "Room 4.12", licence: professional}
              - {name: "Lobby", licence: common_area, hot_desking: false}
              - {name: "Kitchen", licence: common_area}
            devices:
            \(devices(5, in: "Room 4.12"))
              - {mac: "00:15:65:c0:01:01", model: yealink-t46u, workspace: Lobby}
              - {mac: "00:15:65:c0:02:01", model: sangoma-s500, users: ["5501"]}
            """

    @Test(
        "a workspace's room type and capacity (Webex): listed, exported and imported back unchanged, edited alone; a type or capacity that cannot be is refused on its field"
    )
    func roomTypeAndCapacity() async throws {
        let yaml = Self.directory.replacingOccurrences(
            of: #"{name: "Room 4.12", licence: professional}"#,
            with: #"{name: "Room 4.12", licence: professional, room_type: meeting_room, capacity: 12}"#
        )
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            func room() async throws -> [String: Any]? {
                (try await admin.call("GET", "/workspaces").json["workspaces"] as? [[String: Any]])?.first { $0["name"] as? String == "Room 4.12" }
            }
            var shown = try await room()
            #expect(shown?["room_type"] as? String == "meeting_room" && shown?["capacity"] as? Int == 12, "\(shown ?? [:])")
            let exported = try await server.store.exportDirectory(withSecrets: true).yaml
            #expect(exported.contains("room_type: \"meeting_room\"") && exported.contains("capacity: 12"), "\(exported)")
            let again = try await importDirectory(exported, into: server.store, base: server.directory)
            #expect(again.created == 0 && again.updated == 0, "\(again)")
            let edited = try await admin.call(
                "PUT",
                "/directory/workspaces/Room%204.12",
                body: #"{"licence": "professional", "room_type": "huddle", "capacity": 4}"#
            )
            #expect(edited.status == 200, "\(edited.json)")
            shown = try await room()
            #expect(shown?["room_type"] as? String == "huddle" && shown?["capacity"] as? Int == 4)
            let bad = try await admin.call(
                "PUT",
                "/directory/workspaces/Room%204.12",
                body: #"{"licence": "professional", "room_type": "ballroom", "capacity": 0}"#
            )
            let problems = (bad.json["error"] as? [String: Any])?["problems"] as? [String] ?? []
            #expect(
                bad.status == 422 && problems.contains { $0.hasPrefix("room_type: ") } && problems.contains { $0.hasPrefix("capacity: ") },
                "\(problems)"
            )
            #expect(try await room()?["capacity"] as? Int == 4, "nothing changed")
            #expect(try await admin.call("GET", "/workspaces?site=mars").status == 404, "an unknown site")
        }
    }

    @Test("licence limits: a 6th device in a professional workspace and a 2nd in a common-area one are refused, nothing written")
    func limits() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let before = try await server.store.workspaces().map(\.devices)
            #expect(before == [0, 1, 5], "Kitchen 0, Lobby 1, Room 4.12 5")
            for (extra, expected) in [
                (Self.devices(1, in: "Room 4.12", from: 9), "a professional licence allows 5"),
                (Self.devices(1, in: "Lobby", from: 9), "a common_area licence allows 1"),
            ] {
                do {
                    _ = try await importDirectory(
                        "devices:\n" + extra + "\n  - {mac: \"00:15:65:c0:09:09\", model: yealink-t46u}\n",
                        into: server.store,
                        base: server.directory
                    )
                    Issue.record("an import over the licence went through")
                } catch let error as DirectoryError {
                    #expect(error.description.contains(expected) && error.description.contains("devices[0].workspace"), "\(error.description)")
                }
                #expect(try await server.store.device(mac: MACAddress("00:15:65:c0:09:09")!) == nil, "nothing written")
            }
            #expect(try await server.store.workspaces().map(\.devices) == before)

            let api = try await AdminAPITests().client(server)
            let full = try await api.call("PUT", "/devices/001565c00101/workspace", body: #"{"workspace": "Room 4.12"}"#)
            #expect(full.status == 409 && api.errorCode(full) == "workspace_full", "\(full.json)")
            let moved = try await api.call("PUT", "/devices/001565c00101/workspace", body: #"{"workspace": "Kitchen"}"#)
            #expect(moved.status == 200)
            let list = try await api.call("GET", "/workspaces")
            let kitchen = (list.json["workspaces"] as? [[String: Any]])?.first { $0["name"] as? String == "Kitchen" }
            #expect(kitchen?["devices"] as? Int == 1 && kitchen?["max_devices"] as? Int == 1, "\(list.json)")
            #expect(try await api.call("PUT", "/devices/001565c00101/workspace", body: #"{"workspace": "Nowhere"}"#).status == 404)
            #expect(try await server.store.auditLog(limit: 10).contains { $0.action == .deviceChanged && $0.detail.contains("Kitchen") })
        }
    }

    @Test("workspace names: at most 30 characters, none of % # < > , \\ \"", arguments: ["%", "#", "<", ">", ",", "\\\\", "\\\""])
    func names(bad: String) async throws {
        let dir = try TempDir()
        let store = try dir.store("db", key: "k")
        for name in ["Room \(bad) 1", String(repeating: "R", count: 31)] {
            do {
                _ = try await importDirectory("workspaces:\n  - {name: \"\(name)\", licence: professional}\n", into: store, base: dir.url)
                Issue.record("\(name) accepted")
            } catch let error as DirectoryError {
                #expect(error.description.contains("workspaces[0].name"), "\(error.description)")
            }
        }
        #expect(try await store.workspaces().isEmpty)
        _ = try await importDirectory(
            "workspaces:\n  - {name: \"\(String(repeating: "R", count: 30))\", licence: common_area}\n",
            into: store,
            base: dir.url
        )
        #expect(try await store.workspaces().count == 1, "30 characters are fine")
    }

    @Test("a common-area phone with hot desking off offers no login, even to a crafted URL")
    func hotDeskingOff() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565c00101")
            try await phone.key("hotdesk")
            #expect(await phone.displayText.contains("Hot desking is off"))
            #expect(await phone.menuLabels.isEmpty)
            let key = try #require(await phone.config.browserKeyURL)
            let crafted = try await HTTP.get(key + "/submit?net=int&ext=5501&pw=1234", headers: ["User-Agent": "Yealink SIP-T46U"])
            #expect(crafted.body.contains("Hot desking is off") && !crafted.body.contains("Logged in"))
            #expect(try await server.store.sessions().isEmpty)
        }
    }

    @Test("a personal device: its user logs in, another is refused with the screen and audited, the admin password works")
    func personal() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let phone = try await server.phone("sangoma-s500", mac: "001565c00201")
            try await phone.login("Login Int", ext: "5502", password: "7777")
            let refused = await phone.displayText
            #expect(refused.contains("belongs to its own users"), "\(refused)")
            #expect(try await server.store.auditLog(limit: 5).contains { $0.action == .loginFailed && $0.detail.contains("personal device of 5501") })
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            #expect(await phone.title == "Logged in")
            try await phone.login("Login Int", ext: "5502", password: "master-4242-admin")
            #expect(await phone.title == "Logged in", "the admin password logs anyone in anywhere")
        }
    }
}

@Suite("Admin API: devices and shared lines")
struct DeviceListTests {
    @Test(
        "GET /devices: family, model, workspace, users, address, config current or changed, who is logged in; GET /shared-lines never shows a password"
    )
    func devices() async throws {
        try await TestServer.with(
            yaml: WorkspaceTests.directory
                + "\nshared_lines:\n  - {number: \"555\", name: Sales, sip_password: \"sales-sip-secret\", members: [{extension: \"5501\", button: 2}]}\n"
        ) {
            (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let phone = try await server.phone("sangoma-s500", mac: "001565c00201")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            _ = try await server.waitForJob("001565c00201") { $0.state == .applied }
            let list = try await api.call("GET", "/devices")
            let devices = try #require(list.json["devices"] as? [[String: Any]])
            #expect(devices.count == 7)
            let mine = try #require(devices.first { $0["mac"] as? String == "00:15:65:c0:02:01" })
            #expect(mine["brand"] as? String == "sangoma" && mine["model"] as? String == "sangoma-s500" && mine["config"] as? String == "current")
            #expect((mine["logged_in"] as? [String: Any])?["extension"] as? String == "5501" && mine["users"] as? [String] == ["5501"])
            #expect(mine["address"] as? String == phone.options.address)
            let idle = try #require(devices.first { $0["mac"] as? String == "00:15:65:c0:00:01" })
            #expect(idle["workspace"] as? String == "Room 4.12" && idle["config"] as? String == "never_fetched")

            // A new SIP password: the phone's config is no longer the one it has until it fetches it.
            // (Its push held back an hour, so that the phone does not fetch the new config before the look.)
            _ = try await server.store.resetSIPPassword(
                .ownLine(extensionNumber: "5501"),
                to: "brand-new-secret",
                actor: "test",
                source: nil,
                at: Date(),
                outbox: testOutbox(delay: 3600)
            )
            let after = try #require(
                (try await api.call("GET", "/devices").json["devices"] as? [[String: Any]])?.first { $0["mac"] as? String == "00:15:65:c0:02:01" }
            )
            #expect(after["config"] as? String == "changed")

            let lines = try await api.call("GET", "/shared-lines")
            #expect(lines.status == 200 && "\(lines.json)".contains("Sales") && !"\(lines.json)".contains("sales-sip-secret"), "\(lines.json)")
        }
    }
}
