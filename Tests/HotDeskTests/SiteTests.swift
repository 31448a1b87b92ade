import DirectoryFile
import Foundation
import HotDeskCore
import HotDeskServer
import HotDeskStore
import PhoneFamilies
import PhoneSimulator
import Testing

/// Sites (issue 25): each phone is served its own site's settings, whoever logs in on it.
@Suite("Sites: a phone's site decides its PBX, addresses, emergency calls and clock")
struct SiteTests {
    /// Paris is the settings' own office; Lyon has its own address, PBX and emergency calls.
    /// 5501 (Paris) roams to Lyon; 5502 (Paris) does not; 5503 has no site.
    static let directory = """
        settings:
          internal_address: 127.0.0.1:{PORT}
          push_port: {PUSH_PORT}
          sip: {server: "127.0.0.2:5060", realm: hq.test}
          emergency_numbers: ["112"]
          emergency_caller_id: "+33100000000"
        sites:
          - name: paris
            time_zone: Europe/Paris
          - name: lyon
            internal_address: localhost:{PORT}
            sip: {server: "127.0.0.3:5062", realm: lyon.test}
            emergency_numbers: ["112", "15"]
            emergency_caller_id: "+33478000000"
            emergency_location: "Lyon office, 3rd floor, desk 12"
        extensions:
          - {number: "5501", name: Ada, voicemail_pin: "1234", sip_password: "sip-secret-5501", site: paris, roaming: [lyon]}
          - {number: "5502", name: Bob, voicemail_pin: "2345", sip_password: "sip-secret-5502", site: paris}
          - {number: "5503", name: Cy, voicemail_pin: "3456", sip_password: "sip-secret-5503"}
        workspaces:
          - {name: "Lyon 3.12", licence: professional, site: lyon}
        devices:
          - {mac: "00:15:65:5e:00:01", model: yealink-t46u, site: paris}
          - {mac: "00:15:65:5e:00:02", model: yealink-t46u, workspace: "Lyon 3.12"}
        """

    @Test(
        "a roaming user on a Lyon phone gets Lyon's PBX and address, and its emergency calls carry Lyon's caller ID and location; a user who does not roam there is refused"
    )
    func roaming() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let lyon = try await server.phone("yealink-t46u", mac: "001565 5e0002".replacingOccurrences(of: " ", with: ""))
            #expect(await lyon.config.provisionURL == "http://localhost:\(server.port)/provision/", "the Lyon phone is pointed at Lyon's address")

            try await lyon.login("Login Int", ext: "5502", password: "2345")
            let refusal = await lyon.displayText
            #expect(refusal.contains("another site"), "\(refusal)")
            #expect(try await server.store.sessions().isEmpty)
            let refused = try #require(try await server.store.auditLog(limit: 10).first { $0.action == .loginFailed })
            #expect(refused.outcome == .refused && refused.extensionNumber == "5502" && refused.detail.contains("site lyon"), "\(refused.detail)")

            let mark = await lyon.events.count
            try await lyon.login("Login Int", ext: "5501", password: "1234")
            #expect(await lyon.waitForApply(since: mark))
            let config = await lyon.config
            #expect(config.lineUser == "5501" && config.sipServer == "127.0.0.3" && config.sipPort == 5062, "Lyon's PBX: \(config)")

            let pbx = try await PBXTests().pbx(server)
            var a = try await pbx.authorize("5501", "15")
            #expect(a["rule"] as? String == "emergency number", "15 is an emergency number in Lyon: \(a)")
            #expect(a["caller_id"] as? String == "+33478000000" && a["emergency_location"] as? String == "Lyon office, 3rd floor, desk 12", "\(a)")
            let credentials = try await pbx.call("GET", "/credentials/5501").json
            #expect(credentials["realm"] as? String == "lyon.test" && credentials["emergency_caller_id"] as? String == "+33478000000")

            // Paris (the settings' PBX, emergency caller ID and numbers) for 5502 on a Paris phone.
            let paris = try await server.phone("yealink-t46u", mac: "0015655e0001")
            let parisMark = await paris.events.count
            try await paris.login("Login Int", ext: "5502", password: "2345")
            #expect(await paris.waitForApply(since: parisMark))
            let parisConfig = await paris.config
            #expect(parisConfig.sipServer == "127.0.0.2" && parisConfig.sipPort == 5060)
            a = try await pbx.authorize("5502", "15")
            #expect(a["rule"] as? String != "emergency number", "15 is not an emergency number in Paris: \(a)")
            a = try await pbx.authorize("5502", "112")
            #expect(a["caller_id"] as? String == "+33100000000" && a["emergency_location"] == nil, "\(a)")

            // The admin API: each list by site.
            let admin = try await AdminAPITests().client(server)
            let lyonSessions = try await admin.call("GET", "/sessions?site=lyon").json["sessions"] as? [[String: Any]] ?? []
            #expect(lyonSessions.map { $0["extension"] as? String } == ["5501"] && lyonSessions.first?["site"] as? String == "lyon")
            let parisSessions = try await admin.call("GET", "/sessions?site=paris").json["sessions"] as? [[String: Any]] ?? []
            #expect(parisSessions.map { $0["extension"] as? String } == ["5502"])
            let lyonDevices = try await admin.call("GET", "/devices?site=lyon").json["devices"] as? [[String: Any]] ?? []
            #expect(lyonDevices.map { $0["mac"] as? String } == ["00:15:65:5e:00:02"] && lyonDevices.first?["site"] as? String == "lyon")
            #expect(try await admin.call("GET", "/sessions?site=mars").status == 404)
            let parisUsers = try await admin.call("GET", "/extensions?site=paris").json["extensions"] as? [[String: Any]] ?? []
            #expect(parisUsers.map { $0["number"] as? String } == ["5501", "5502"], "the users whose home is Paris")
            let siteList = try await admin.call("GET", "/sites").json
            let sites = siteList["sites"] as? [[String: Any]] ?? []
            #expect(sites.map { $0["name"] as? String } == ["lyon", "paris"])
            // The zone the console shows each site's times in: its own, else the directory's (here the server's).
            // (Foundation names UTC "GMT" on Linux.)
            let utc = ["UTC", "GMT"]
            #expect(utc.contains(siteList["time_zone"] as? String ?? "") && utc.contains(sites.first?["time_zone"] as? String ?? ""), "\(siteList)")
            #expect(sites.first?["sip_server"] as? String == "127.0.0.3:5062" && sites.first?["devices"] as? Int == 1, "\(sites)")
            #expect(sites.last?["sip_server"] as? String == "127.0.0.2:5060" && sites.last?["time_zone"] as? String == "Europe/Paris", "\(sites)")

            // The metrics by site.
            let counted = await eventually(timeout: 10) {
                let text = (try? await HTTP.get("\(server.baseURL)/metrics").body) ?? ""
                return text.contains("hotdesk_site_sessions{site=\"lyon\"} 1") && text.contains("hotdesk_site_devices{site=\"paris\"} 1")
            }
            #expect(counted, "sessions and devices by site in /metrics")

            // The PBX's list: every site's numbers, or one site's.
            #expect(try await pbx.call("GET", "/emergency").json["numbers"] as? String == "112;15")
            #expect(try await pbx.call("GET", "/emergency?site=paris").json["numbers"] as? String == "112")
            #expect(try await pbx.call("GET", "/emergency?site=mars").status == 404)
        }
    }

    @Test(
        "one PBX per site: two NOTIFY polls at once are both answered (a second poll used to leave the first waiting for ever), and a Lyon phone's NOTIFY goes to Lyon's PBX only"
    )
    func notifiesPerSite() async throws {
        let yaml = Self.directory + "\n  - {mac: \"00:0b:82:5e:00:03\", model: grandstream-grp2614, workspace: \"Lyon 3.12\"}\n"
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let pbx = try await PBXTests().pbx(server)
            let polls = ["paris", "lyon"].map { site in Task { try await pbx.call("GET", "/notify?wait=2&site=\(site)").status } }
            for poll in polls { #expect(try await poll.value == 204, "each poll is answered when its wait is over") }

            let phone = try await server.phone("grandstream-grp2614", mac: "000b825e0003", pushes: false)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(try await pbx.call("GET", "/notify?wait=2&site=paris").status == 204, "not Paris's phone")
            let order = try await pbx.call("GET", "/notify?wait=5&site=lyon")
            #expect(order.status == 200 && order.json["address"] as? String == phone.options.address, "\(order.text)")
            #expect(try await pbx.call("GET", "/notify?site=mars").status == 404)
        }
    }

    @Test(
        "a site's visitor_cos restricts visitors: a Paris user's international call from a Lyon phone is refused with why; the same call from Paris, a local call and 112 go through"
    )
    func visitorClassOfService() async throws {
        let yaml =
            Self.directory
            .replacingOccurrences(of: "desk 12\"\n", with: "desk 12\"\n    visitor_cos: lyon-visitors\n")
            .replacingOccurrences(of: "site: paris, roaming: [lyon]}", with: "site: paris, roaming: [lyon], cos: staff}")
            .replacingOccurrences(of: "\"sip-secret-5502\", site: paris}", with: "\"sip-secret-5502\", site: paris, cos: staff}")
                + """

                classes_of_service:
                  - {name: staff, default: allow}
                  - {name: lyon-visitors, default: allow, rules: [{pattern: "00.", action: deny}]}
                """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let lyon = try await server.phone("yealink-t46u", mac: "0015655e0002")
            try await lyon.login("Login Int", ext: "5501", password: "1234")
            let paris = try await server.phone("yealink-t46u", mac: "0015655e0001")
            try await paris.login("Login Int", ext: "5502", password: "2345")
            #expect(try await eventually { try await server.store.sessions().count == 2 })
            let pbx = try await PBXTests().pbx(server)
            let refused = try await pbx.authorize("5501", "0044201234567")
            #expect(refused["decision"] as? String == "deny" && refused["cos"] as? String == "lyon-visitors", "\(refused)")
            #expect((refused["reason"] as? String)?.contains("a visitor from paris at lyon") == true, "\(refused)")
            #expect(try await pbx.authorize("5501", "5502")["decision"] as? String == "allow", "a local call")
            #expect(try await pbx.authorize("5501", "112")["decision"] as? String == "allow", "an emergency call")
            #expect(try await pbx.authorize("5502", "0044201234567")["decision"] as? String == "allow", "at home, staff allows it")
        }
    }

    @Test("a phone shows times in its site's zone: a lock's end on a Paris phone is Paris time")
    func screenTimesInTheSiteZone() async throws {
        let yaml = withSettings(Self.directory, "  lockout: {extension_failures: 1}\n")
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let paris = try await server.phone("yealink-t46u", mac: "0015655e0001")
            try await paris.login("Login Int", ext: "5502", password: "0000")
            let text = await paris.displayText
            let zone = TimeZone(identifier: "Europe/Paris")!
            let until = server.clock.now() + 15 * 60
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            // The server's lock began a moment before this test's clock read: either hour is its.
            let hours = [until - 5, until].map { String(format: "%02d:", calendar.component(.hour, from: $0)) }
            #expect(text.contains(zone.abbreviation(for: until) ?? "?") && hours.contains { text.contains($0) }, "\(text)")
        }
    }

    @Test("the daily logout of each site happens at its own local time")
    func dailyLogoutPerSite() async throws {
        let yaml = """
            settings:
              internal_address: 127.0.0.1:{PORT}
              push_port: {PUSH_PORT}
            sites:
              - {name: paris, time_zone: Europe/Paris, auto_logout: {daily_at: "19:00"}}
              - {name: newyork, time_zone: America/New_York, auto_logout: {daily_at: "19:00"}}
            extensions:
              - {number: "5501", name: Ada, voicemail_pin: "1234", sip_password: "sip-secret-5501"}
              - {number: "5502", name: Bob, voicemail_pin: "2345", sip_password: "sip-secret-5502"}
            devices:
              - {mac: "00:15:65:5e:01:01", model: yealink-t46u, site: paris}
              - {mac: "00:15:65:5e:01:02", model: yealink-t46u, site: newyork}
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            server.clock.stop()
            let paris = try await server.phone("yealink-t46u", mac: "0015655e0101")
            let newYork = try await server.phone("yealink-t46u", mac: "0015655e0102")
            try await paris.login("Login Int", ext: "5501", password: "1234")
            try await newYork.login("Login Int", ext: "5502", password: "2345")
            #expect(try await eventually { try await server.store.sessions().count == 2 })

            func next(_ zone: String) -> Date {
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(identifier: zone)!
                return calendar.nextDate(after: server.clock.now(), matching: DateComponents(hour: 19, minute: 0), matchingPolicy: .nextTime)!
            }
            let boundaries = [("0015655e0101", next("Europe/Paris")), ("0015655e0102", next("America/New_York"))].sorted { $0.1 < $1.1 }
            let (first, second) = (boundaries[0], boundaries[1])

            server.clock.advance(by: first.1.timeIntervalSince(server.clock.now()) - 60)
            _ = await server.service.autoLogoutSweep()
            #expect(try await server.store.sessions().count == 2, "a minute before the first site's 19:00, nobody is logged out")
            server.clock.advance(by: 120)
            _ = await server.service.autoLogoutSweep()
            let left = try await server.store.sessions().map(\.mac.canonical)
            #expect(left == [second.0], "at 19:00 in the first site, only its phone is logged out: \(left)")
            let entry = try #require(try await server.store.auditLog(limit: 20).first { $0.action == .logout })
            #expect(entry.actor == "policy" && entry.mac?.canonical == first.0 && entry.detail.contains("daily logout at 19:00"), "\(entry.detail)")

            server.clock.advance(by: second.1.timeIntervalSince(server.clock.now()) + 60)
            _ = await server.service.autoLogoutSweep()
            #expect(try await server.store.sessions().isEmpty, "at 19:00 in the second site, its phone is logged out too")
        }
    }

    @Test(
        "a site named nowhere, a device given a site and a workspace, a bad time zone, a site's call-wait setting: clear problems, nothing imported",
        arguments: [
            ("extensions:\n  - {number: \"7001\", name: A, sip_password: \"long-enough\", site: mars}\n", "no site \"mars\""),
            ("extensions:\n  - {number: \"7001\", name: A, sip_password: \"long-enough\", roaming: [mars]}\n", "no site \"mars\""),
            (
                "extensions:\n  - {number: \"7001\", name: A, sip_password: \"long-enough\", roaming: sometimes}\n",
                "true (any site), false, or a list"
            ),
            (
                "sites:\n  - {name: lyon}\nworkspaces:\n  - {name: W, licence: professional}\ndevices:\n  - {mac: \"00:15:65:5e:02:01\", model: yealink-t46u, workspace: W, site: lyon}\n",
                "give site to the workspace"
            ),
            ("sites:\n  - {name: lyon, time_zone: Mars/Olympus}\n", "not a time zone"),
            ("sites:\n  - {name: lyon, auto_logout: {wait_for_call: false}}\n", "unknown key"),
            ("sites:\n  - {name: \"ly on\"}\n", "letters, digits"),
            ("sites:\n  - {name: lyon, visitor_cos: nobody}\n", "visitor_cos: unknown class of service \"nobody\""),
            ("sites:\n  - {name: lyon}\n  - {name: lyon}\n", "site name"),
        ]
    )
    func invalid(yaml: String, expected: String) async throws {
        let dir = try TempDir()
        let store = try dir.store()
        do {
            _ = try await importDirectory(yaml, into: store, base: dir.url)
            Issue.record("import of a bad file succeeded")
        } catch let error as DirectoryError {
            #expect(error.description.contains(expected), "\(error.description)")
        }
        #expect(try await store.siteNames().isEmpty)
        #expect(try await store.directoryNames().extensions.isEmpty)
    }

    @Test("a site's own address is one of HotDesk's names (the console and /provision answer it); another name is still refused 421")
    func siteHostAccepted() async throws {
        let yaml = """
            settings:
              internal_address: 127.0.0.1:{PORT}
            sites:
              - {name: lyon, internal_address: "hotdesk-lyon.test:{PORT}"}
            """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            for (host, status) in [("hotdesk-lyon.test", 200), ("HOTDESK-Lyon.test", 200), ("hotdesk-paris.test", 421)] {
                let page = try await HTTP.get("\(server.baseURL)/admin/", headers: ["Host": "\(host):\(server.port)"])
                #expect(page.status == status, "\(host): \(page.status)")
            }
        }
    }

    @Test("a site still named by an extension is not pruned; export, import, export gives the same file")
    func pruneAndExport() async throws {
        let dir = try TempDir()
        let store = try dir.store("a.sqlite", key: "k")
        let yaml = Self.directory.replacingOccurrences(of: "{PORT}", with: "8080").replacingOccurrences(of: "{PUSH_PORT}", with: "8081")
        _ = try await importDirectory(yaml, into: store, base: dir.url)
        let refused = try await refusedPrune("sites:\n  - {name: paris}\n", into: store, dir: dir.url)
        #expect(refused.contains("in site lyon, which is not in the directory"), "\(refused)")
        #expect(try await store.siteNames() == ["paris", "lyon"])

        let (exported, _) = try await store.exportDirectory(withSecrets: true)
        #expect(exported.contains("roaming:") && exported.contains("emergency_location: \"Lyon office, 3rd floor, desk 12\""))
        let second = try dir.store("b.sqlite", key: "k")
        _ = try await importDirectory(exported, into: second, base: dir.url)
        let (again, _) = try await second.exportDirectory(withSecrets: true)
        #expect(again == exported, "export → import → export gives the same file")
        let devices = try await second.deviceSites()
        #expect(devices[MACAddress("0015655e0002")!] == "lyon", "a device takes its workspace's site")
        let again2 = try await importDirectory(exported, into: second, base: dir.url)
        #expect(again2.created == 0 && again2.updated == 0, "importing the export again changes nothing: \(again2)")
    }

    @Test(
        "a site's phones have the site's own web login (in their config and in pushes), other phones the settings'; exported with secrets only, imported back unchanged, kept when the site is edited without it"
    )
    func sitePhoneLogins() async throws {
        let yaml =
            pushDirectory + """

                sites:
                  - name: lyon
                    phone_credentials: {yealink: {username: lyonadmin, password: "lyon-phones-77"}}
                devices:
                  - {mac: "00:15:65:5e:10:01", model: yealink-t46u, site: lyon}
                """
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let lyon = try await server.phone("yealink-t46u", mac: "0015655e1001")
            let elsewhere = try await server.phone("yealink-t46u", mac: "0015655e1002")
            let config = await lyon.config
            #expect(config.webUsername == "lyonadmin" && config.webPassword == "lyon-phones-77")
            #expect(await elsewhere.config.webPassword == "desk-9911", "a phone of no site keeps the settings' login")
            // The push to the Lyon phone logs in with Lyon's login (the phone refuses any other).
            try await lyon.loginApplied("Login Int", ext: "5501", password: "1234")
            let job = try #require(try await server.waitForJob("0015655e1001") { $0.state == .applied })
            let events = await lyon.events
            #expect(job.attempts == 1 && !events.contains { if case .pushRefused = $0 { true } else { false } })

            let withSecrets = try await server.store.exportDirectory(withSecrets: true).yaml
            #expect(withSecrets.contains("lyon-phones-77"))
            #expect(!(try await server.store.exportDirectory(withSecrets: false).yaml.contains("lyon-phones-77")))
            let again = try await importDirectory(withSecrets, into: server.store, base: server.directory)
            #expect(again.created == 0 && again.updated == 0, "the sealed login is kept as it was: \(again)")

            let admin = try await AdminAPITests().client(server)
            let read = try await admin.call("GET", "/directory/sites/lyon")
            #expect(read.json["secrets_set"] as? [String] == ["phone_credentials"] && !"\(read.json)".contains("lyon-phones-77"), "\(read.json)")
            #expect(try await admin.call("PUT", "/directory/sites/lyon", body: #"{"time_zone": "Europe/Paris"}"#).status == 200)
            #expect(try await server.store.settings().sites["lyon"]?.phoneCredentials[Brand("yealink")]?.password == "lyon-phones-77")
        }
    }

    /// Imports `yaml` with `--prune`, which must be refused: the problems it was refused with.
    func refusedPrune(_ yaml: String, into store: SQLStore, dir: URL) async throws -> String {
        do {
            let document = try await parse(yaml, store: store, dir: dir)
            _ = try await store.importDirectory(document, actor: "test", at: Date(), options: ImportOptions(prune: true), outbox: testOutbox())
            Issue.record("the prune was not refused")
            return ""
        } catch let error as DirectoryError {
            return error.description
        }
    }

    func parse(_ yaml: String, store: SQLStore, dir: URL) async throws -> DirectoryDocument {
        try DirectoryDocument.parse(
            yaml: yaml,
            file: "directory.yaml",
            baseDirectory: dir,
            catalog: testFamilies.catalog,
            configs: testFamilies.configs,
            knownSites: try await store.siteNames()
        )
    }
}
