import Foundation
import HotDeskCore
import PhoneSimulator
import Testing

@testable import HotDeskStore

let fullDirectory = """
    settings:
      default_login: true
      internal_address: 192.0.2.10:8080
      external_address: hotdesk.example.com:443
      user_password: "7777"
      admin_password: "master-4242-admin"
      emergency_caller_id: "+15551230000"
      push_port: 8081
      phone_credentials:
        yealink: {username: admin, password: "web-pass-1"}
        sangoma: {username: admin, password: "web-pass-2"}
    extensions:
      - number: "5501"
        name: Ada Lovelace
        voicemail_pin: "1234"
        sip_password: "sip-secret-5501"
      - number: "0042"
        name: Leading Zero
        sip_password: "sip-secret-0042"
    devices:
      - mac: 00:15:65:aa:bb:cc
        model: yealink-t46u
      - mac: 0015.65aa.bbdd
        model: sangoma-s500
        push_port: 8080
        phone_credentials: {username: desk, password: "web-pass-3"}
    templates:
      - name: standard
        brand: sangoma
        default: true
        body: "<hl_provision version=\\"1\\"><config version=\\"1\\"><P271 para=\\"Account1.Active\\">{{#logged_in}}1{{/logged_in}}</P271><P41400 para=\\"LineKey2.Value\\">{{app_url}}</P41400><P237 para=\\"Autoprovision.ServerURL\\">{{provision_url}}</P237></config></hl_provision>"
      - name: yealink-file
        brand: yealink
        file: yealink.cfg
    mappings:
      - extension: "5501"
        template: standard
        model: sangoma-s500
        mac: 00:15:65:aa:bb:dd
      - extension: "0042"
        template: yealink-file
    """

@Suite("hotdesk import")
struct ImportTests {
    func withStore(_ body: (SQLStore, URL) async throws -> Void) async throws {
        let dir = try TempDir()
        try
            "#!version:1.0.0.1\naccount.1.user_name = {{line.number}}\nlinekey.2.value = {{app_url}}\nstatic.auto_provision.server.username = {{provisioning.username}}\nstatic.auto_provision.server.password = {{provisioning.password}}\n"
            .write(to: dir.url.appendingPathComponent("yealink.cfg"), atomically: true, encoding: .utf8)
        let store = try dir.store()
        try await body(store, dir.url)
    }

    func snapshot(_ store: SQLStore) async throws -> String {
        try await store.dump(["settings", "extensions", "devices", "templates", "mappings"].map { "SELECT * FROM \($0) ORDER BY 1" })
            .joined(separator: "\n--\n")
    }

    @Test("auto_logout and push_from: set, kept when not mentioned, turned off with 0 and none")
    func autoLogoutSettings() async throws {
        try await withStore { store, dir in
            _ = try await importDirectory(
                "settings:\n  push_from: 192.0.2.10\n  auto_logout: {after_hours: 12, daily_at: 19:00}\n",
                into: store,
                base: dir
            )
            var settings = try await store.settings()
            #expect(settings.pushFrom == "192.0.2.10")
            #expect(settings.autoLogout == AutoLogoutPolicy(maxDuration: 12 * 3600, dailyAt: DailyTime("19:00")))
            _ = try await importDirectory("settings:\n  default_login: true\n", into: store, base: dir)
            #expect(try await store.settings().autoLogout == settings.autoLogout, "not mentioned: kept")
            _ = try await importDirectory("settings:\n  auto_logout: {after_hours: 0, daily_at: none}\n", into: store, base: dir)
            settings = try await store.settings()
            #expect(settings.autoLogout.isOff)
        }
    }

    @Test("a valid file imports everything; importing it again changes nothing")
    func validAndIdempotent() async throws {
        try await withStore { store, dir in
            let first = try await importDirectory(fullDirectory, into: store, base: dir)
            #expect(first.created == 8)
            let ext = try #require(try await store.findExtension("0042"))
            #expect(ext.name == "Leading Zero")
            #expect(ext.voicemailPIN == nil)
            #expect(ext.sipPassword == "sip-secret-0042")
            #expect(try await store.findExtension("5501")?.voicemailPIN?.matches("1234") == true)
            #expect(try await store.device(mac: MACAddress("00-15-65-AA-BB-DD")!)?.model.name == "sangoma-s500")
            let settings = try await store.settings()
            #expect(settings.externalAddress?.baseURL == "https://hotdesk.example.com")
            #expect(settings.adminPassword?.matches("master-4242-admin") == true)
            #expect(settings.pushPort == 8081 && settings.phoneCredentials["sangoma"]?.password == "web-pass-2")
            let device = try #require(try await store.device(mac: MACAddress("0015.65aa.bbdd")!))
            #expect(device.pushPort == 8080 && device.credentials == PhoneCredentials(username: "desk", password: "web-pass-3"))
            #expect(settings.pushPort(for: device) == 8080 && settings.credentials(for: device)?.username == "desk")

            let before = try await snapshot(store)
            let second = try await importDirectory(fullDirectory, into: store, base: dir)
            #expect(second.created == 0 && second.updated == 0)
            #expect(try await snapshot(store) == before)
        }
    }

    @Test("secrets are not stored in clear")
    func secretsAtRest() async throws {
        try await withStore { store, dir in
            // A PIN no other value contains, so that finding it could only mean it is stored in clear.
            let pin = "739146"
            let directory = fullDirectory.replacingOccurrences(of: "voicemail_pin: \"1234\"", with: "voicemail_pin: \"\(pin)\"")
            #expect(directory.contains(pin))
            _ = try await importDirectory(directory, into: store, base: dir)
            // SQLite: the file's bytes and its WAL's; PostgreSQL: every value of every table.
            let bytes = try await TestDatabase.storedBytes(store, file: dir.appendingPathComponent("db.sqlite"))
            func stored(_ text: String) -> Bool { bytes.range(of: Data(text.utf8)) != nil }
            // The search finds what is stored in clear (the extension's name), so a miss below means something.
            #expect(stored("Ada Lovelace"), "the control value is not found: the search proves nothing")
            for secret in ["sip-secret-5501", "master-4242-admin", pin, "web-pass-1", "web-pass-3"] {
                #expect(!stored(secret), "\(secret) found in the database")
            }
        }
    }

    @Test(
        "every kind of invalid file is refused whole, with the place of each problem",
        arguments: [
            ("extensions:\n  - number: \"55a\"\n    name: X\n    sip_password: \"long-enough\"\n", "extensions[0].number"),
            ("extensions:\n  - number: \"5501\"\n    name: X\n", "extensions[0].sip_password: missing"),
            ("extensions:\n  - number: \"5501\"\n    name: X\n    voicemail_pin: \"12\"\n    sip_password: \"long-enough\"\n", "voicemail_pin"),
            ("devices:\n  - mac: 00:15:65:zz:bb:cc\n    model: yealink-t46u\n", "devices[0].mac"),
            ("devices:\n  - mac: 00:15:65:aa:bb:cc\n    model: nokia-3310\n", "unknown model"),
            ("settings:\n  defualt_login: true\n", "settings.defualt_login: unknown key"),
            ("settings:\n  internal_address: \"not an address:99999\"\n", "settings.internal_address"),
            (
                "templates:\n  - {name: a, brand: yealink, default: true, body: \"{{app_url}} {{provisioning.username}} {{provisioning.password}}\"}\n  - {name: b, brand: yealink, default: true, body: \"{{app_url}} {{provisioning.username}} {{provisioning.password}}\"}\n",
                "default templates"
            ),
            ("templates:\n  - {name: a, brand: nokia, body: x}\n", "unknown brand"),
            (
                "templates:\n  - {name: a, brand: yealink, body: \"{{#broken}} {{app_url}} {{provisioning.username}} {{provisioning.password}}\"}\n",
                "not a valid template"
            ),
            ("templates:\n  - {name: a, brand: yealink, body: \"account.1.enable = 1\"}\n", "does not use {{app_url}}"),
            (
                "templates:\n  - {name: a, brand: yealink, body: \"linekey.2.value = {{app_url}}\"}\n",
                "does not use {{provisioning.username}} and {{provisioning.password}}"
            ),
            ("templates:\n  - {name: a, brand: snom, body: \"<settings>{{app_url}}</settings>\"}\n", "does not use {{provision_url}}"),
            ("mappings:\n  - {extension: \"9999\", template: nope}\n", "no extension 9999"),
            ("settings:\n  push_port: 70000\n", "settings.push_port"),
            ("settings:\n  push_from: pbx.example.com\n", "settings.push_from: \"pbx.example.com\" is not an IP address"),
            ("settings:\n  auto_logout: {after_hours: 500}\n", "settings.auto_logout.after_hours"),
            ("settings:\n  auto_logout: {daily_at: \"25:00\"}\n", "settings.auto_logout.daily_at: \"25:00\" is not a time of day"),
            ("settings:\n  auto_logout: {at: \"19:00\"}\n", "settings.auto_logout.at: unknown key"),
            ("settings:\n  phone_credentials:\n    nokia: {username: a, password: \"long\"}\n", "settings.phone_credentials.nokia: unknown key"),
            ("settings:\n  phone_credentials:\n    yealink: {username: \"a:b\", password: \"long\"}\n", "phone_credentials.yealink.username"),
            (
                "devices:\n  - {mac: 00:15:65:aa:bb:cc, model: yealink-t46u, phone_credentials: {username: admin}}\n",
                "devices[0].phone_credentials.password: missing"
            ),
            (
                "shared_lines:\n  - {number: \"555\", name: S, sip_password: \"long-enough\", members: [{extension: \"7001\", button: 1}]}\n",
                "key 1 is the member's own line"
            ),
            (
                "shared_lines:\n  - {number: \"555\", name: S, sip_password: \"long-enough\", members: [{extension: \"7001\", button: 99}]}\n",
                "shared_lines[0].members[0].button: expected a whole number from 2 to"
            ),
            ("shared_lines:\n  - {number: \"7001\", name: S, sip_password: \"long-enough\"}\n", "7001 is an extension's number"),
            (
                "shared_lines:\n  - {number: \"555\", name: S, sip_password: \"long-enough\", members: [{extension: \"7002\", button: 2}]}\n",
                "no extension 7002"
            ),
            (
                "shared_lines:\n  - {number: \"555\", name: S, sip_password: \"long-enough\", members: [{extension: \"7001\", button: 2, ring: loud}]}\n",
                "ring, no_ring or {after_seconds: N}"
            ),
            (
                "shared_lines:\n  - {number: \"555\", name: S, sip_password: \"long-enough\", members: [{extension: \"7001\", button: 2}]}\n  - {number: \"556\", name: T, sip_password: \"long-enough\", members: [{extension: \"7001\", button: 2}]}\n",
                "extension 7001 has shared lines 555 and 556 on key 2"
            ),
            ("settings:\n  multi_login: {policy: allow}\n", "settings.multi_login.max_phones: missing"),
            ("settings:\n  multi_login: {policy: sometimes}\n", "is not move, deny or allow"),
            ("settings:\n  multi_login: {policy: deny, max_phones: 2}\n", "goes with policy allow only"),
            ("settings:\n  sip: {server: \"pbx example:5060\"}\n", "settings.sip.server"),
            ("settings:\n  sip: {server: pbx.example.com, transport: sctp}\n", "settings.sip.transport: \"sctp\" is not udp, tcp or tls"),
            ("settings:\n  sip: {transport: udp}\n", "settings.sip.server: missing"),
            (
                "extensions: [1, 2\n",
                "line 2: (file): not valid YAML at column 1: did not find expected ',' or ']' (while parsing a flow sequence on line 1)"
            ),
            ("extensions:\n\t- {number: \"5501\"}\n", "line 2: (file): not valid YAML at column 1: found character that cannot start any token"),
            ("extensions:\n\t- {number: \"5501\"}\n", "this line has a tab: YAML indents with spaces only"),
            ("settings:\n  admin_password: \"eleven-char\"\n", "settings.admin_password: at least 12 characters"),
            (
                "extensions:\n  - {number: \"5501\", name: \"Ada\\e[2J\", sip_password: \"long-enough\"}\n",
                "extensions[0].name: invisible or control character U+001B at character 4"
            ),
            (
                "extensions:\n  - {number: \"5501\", name: \"A\\vB\", sip_password: \"long-enough\"}\n",
                "extensions[0].name: invisible or control character U+000B"
            ),
            (
                "extensions:\n  - {number: \"5501\", name: \"A\\fB\", sip_password: \"long-enough\"}\n",
                "extensions[0].name: invisible or control character U+000C"
            ),
            (
                "extensions:\n  - {number: \"5501\", name: \"Ada\\0Evil\", sip_password: \"long-enough\"}\n",
                "extensions[0].name: invisible or control character U+0000"
            ),
            ("extensions:\n  - {number: \"5501\", name: \"Ada\\r\\n2026 login ok\", sip_password: \"long-enough\"}\n", "control character U+000D"),
            ("extensions:\n  - {number: \"5501\", name: \"Ada\\L\", sip_password: \"long-enough\"}\n", "control character U+2028"),
            (
                "extensions:\n  - {number: \"5501\", name: \"\\u202Eecila\", sip_password: \"long-enough\"}\n",
                "control character U+202E at character 1"
            ),
            (
                "shared_lines:\n  - {number: \"555\", name: \"S\\x85\", sip_password: \"long-enough\"}\n",
                "shared_lines[0].name: invisible or control character U+0085"
            ),
            ("workspaces:\n  - {name: \"Desk\\e1\", licence: professional}\n", "workspaces[0].name: invisible or control character U+001B"),
            // Invisible characters: two names that look alike must be alike (issue 21).
            (
                "extensions:\n  - {number: \"5501\", name: \"Ad\\u200Ba\", sip_password: \"long-enough\"}\n",
                "extensions[0].name: invisible or control character U+200B at character 3"
            ),
            ("extensions:\n  - {number: \"5501\", name: \"A\\uFEFFda\", sip_password: \"long-enough\"}\n", "character U+FEFF"),
            ("extensions:\n  - {number: \"5501\", name: \"Ad\\u00ADa\", sip_password: \"long-enough\"}\n", "character U+00AD"),
            ("extensions:\n  - {number: \"5501\", name: \"Ad\\u061Ca\", sip_password: \"long-enough\"}\n", "character U+061C"),
            ("extensions:\n  - {number: \"5501\", name: \"Ad\\u200Fa\", sip_password: \"long-enough\"}\n", "character U+200F"),
            ("extensions:\n  - {number: \"5501\", name: \"Ada\\U000E0041\", sip_password: \"long-enough\"}\n", "character U+E0041"),
            (
                "shared_lines:\n  - {number: \"555\", name: \"S\\uFFF9\", sip_password: \"long-enough\"}\n",
                "shared_lines[0].name: invisible or control character U+FFF9"
            ),
            ("workspaces:\n  - {name: \"Desk\\u200D1\", licence: professional}\n", "workspaces[0].name: invisible or control character U+200D"),
            ("- just a list\n", "expected a mapping"),
        ]
    )
    func invalid(yaml: String, expected: String) async throws {
        try await withStore { store, dir in
            let good = "extensions:\n  - {number: \"7001\", name: Fine, sip_password: \"long-enough\"}\n"
            // The good part of an otherwise bad file must not be written either.
            let text = yaml.hasPrefix("extensions") || yaml.hasPrefix("-") || !yaml.contains(":") ? yaml : good + yaml
            do {
                _ = try await importDirectory(text, into: store, base: dir)
                Issue.record("import of a bad file succeeded")
            } catch let error as DirectoryError {
                #expect(error.description.contains(expected), "\(error.description)")
                #expect(error.problems.allSatisfy { !$0.path.isEmpty })
            }
            #expect(try await store.findExtension("7001") == nil)
            #expect(try await store.directoryNames().extensions.isEmpty)
        }
    }

    @Test("problems carry line numbers and all of them are reported")
    func allProblems() async throws {
        try await withStore { store, dir in
            let yaml = "extensions:\n  - number: \"1\"\n    name: A\n    sip_password: short\ndevices:\n  - mac: nope\n    model: yealink-t46u\n"
            do {
                _ = try await importDirectory(yaml, into: store, base: dir)
                Issue.record("import succeeded")
            } catch let error as DirectoryError {
                #expect(error.problems.count == 3)
                #expect(error.problems.contains { $0.path == "devices[0].mac" && $0.line == 6 })
                #expect(!error.description.contains("short"), "a secret is never echoed")
            }
        }
    }
}

@Suite("PIN and password hashes from before keyed hashes")
struct HashUpgradeTests {
    /// What a store written before keyed hashes holds: PBKDF2 hashes of the same secrets.
    func downgrade(_ store: SQLStore) async throws {
        let pin = SecretHash(pbkdf2Hashing: "1234", rounds: 1000).encoded
        let admin = SecretHash(pbkdf2Hashing: "master-4242-admin", rounds: 1000).encoded
        try await store.engine.write { db in
            try db.execute("UPDATE extensions SET voicemail_pin_hash = ? WHERE number = '5501'", [pin])
            try db.execute("UPDATE settings SET admin_password_hash = ?", [admin])
        }
    }

    func stored(_ store: SQLStore) async throws -> (pin: String, admin: String) {
        (
            try await store.scalar(String.self, "SELECT voicemail_pin_hash FROM extensions WHERE number = '5501'") ?? "",
            try await store.scalar(String.self, "SELECT admin_password_hash FROM settings") ?? ""
        )
    }

    @Test("a login with an old PBKDF2 PIN works and replaces it by a keyed hash; the admin password's too")
    func loginUpgrades() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            try await downgrade(server.store)
            #expect(try await stored(server.store).pin.hasPrefix("pbkdf2-sha256$"))
            let phone = try await server.phone("sangoma-s500", mac: "001565aabb61")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await phone.title == "Logged in")
            #expect(try await stored(server.store).pin.hasPrefix("hmac-sha256$"))
            #expect(try await stored(server.store).admin.hasPrefix("pbkdf2-sha256$"), "only the secret proven")
            let other = try await server.phone("sangoma-s500", mac: "001565aabb62")
            try await other.login("Login Int", ext: "5502", password: "master-4242-admin")
            #expect(await other.title == "Logged in")
            #expect(try await stored(server.store).admin.hasPrefix("hmac-sha256$"))
        }
    }

    @Test("re-importing the same file replaces old hashes and counts nothing as changed")
    func importUpgrades() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            try await downgrade(server.store)
            let yaml = flowDirectory.replacingOccurrences(of: "{PORT}", with: "\(server.port)").replacingOccurrences(
                of: "{PUSH_PORT}",
                with: "\(testPushPort)"
            )
            let summary = try await importDirectory(yaml, into: server.store, base: server.directory)
            #expect(summary.created == 0 && summary.updated == 0, "\(summary)")
            #expect(try await stored(server.store).pin.hasPrefix("hmac-sha256$"))
            #expect(try await stored(server.store).admin.hasPrefix("hmac-sha256$"))
            #expect(try await server.store.findExtension("5501")?.voicemailPIN?.matches("1234") == true)
            #expect(try await server.store.settings().adminPassword?.matches("master-4242-admin") == true)
        }
    }
}
