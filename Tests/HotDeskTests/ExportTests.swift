import Curl
import Foundation
import GRDB
import HotDeskCore
import PhoneSimulator
import Testing

@testable import HotDeskStore

/// `hotdesk export`: the directory back as the YAML `import` reads.
@Suite("Export: the directory back as YAML that imports to the same state")
struct ExportTests {
    /// Every section and most options the directory file has.
    static let rich = """
        settings:
          default_login: true
          internal_address: 127.0.0.1:8080
          external_address: https://localhost:8443
          user_password: "7777"
          admin_password: "master-4242-admin"
          emergency_caller_id: "+15551230000"
          lockout: {extension_failures: 4, device_failures: 9, window_minutes: 20, duration_minutes: 30, source_failures: 40, global_failures: 25}
          push_port: 8081
          push_from: 127.0.0.1
          phone_credentials:
            polycom: {username: Polycom, password: "web-pw-poly"}
          auto_logout: {after_hours: 10, daily_at: "19:30"}
          multi_login: {policy: allow, max_phones: 3}
          sip: {server: "127.0.0.1:5070", transport: tcp, realm: hotdesk.test, outbound_proxy: "127.0.0.1:5080"}
          emergency_numbers: ["911", "112"]
          number_classes: {international: "^00[0-9]+$", premium: "^0900[0-9]+$"}
          enrolment: {per_minute: 30, max_unclaimed: 500, expire_unclaimed_hours: 48}
        extensions:
          - {number: "5501", name: "Ada Lovelace", voicemail_pin: "1234", sip_password: "sip-secret-5501", cos: staff, caller_id: "+15551230555"}
          - {number: "5502", name: "Bob \\"the\\" Builder: été", sip_password: "sip-secret-5502"}
          - {number: "0042", name: "Leading Zero", voicemail_pin: "004200", sip_password: "sip-secret-0042"}
        schedules:
          - name: office-hours
            time_zone: Europe/Paris
            open: [{days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00"}, {from: "22:00", to: "24:00", month_days: [1, 15], months: [12]}]
            exceptions: [{date: "2026-12-25"}, {date: "2026-01-01"}]
        classes_of_service:
          - name: staff
            default: deny
            rules: [{pattern: "XXXX", action: allow}, {class: international, action: deny, schedule: office-hours}]
            feature_codes: ["*22"]
            includes: [{cos: intl}, {cos: intl, schedule: office-hours}]
          - {name: intl, default: allow, schedule: office-hours}
        workspaces:
          - {name: "Room 4.12", licence: professional, emergency_caller_id: "+15551230412"}
          - {name: Lobby, licence: common_area, hot_desking: false}
        shared_lines:
          - name: Sales
            number: "555"
            sip_password: "sales-sip-secret"
            caller_id: "+15551239999"
            members:
              - {extension: "5501", button: 2, ring: ring}
              - {extension: "5502", button: 3, ring: {after_seconds: 10}}
              - {extension: "0042", button: 4, ring: no_ring}
        devices:
          - {mac: "00:15:65:aa:bb:dd", model: yealink-t33g, workspace: Lobby, line: {number: "9001", name: Lobby, sip_password: "lobby-sip-secret"}, cos: intl, cos_if_not_logged: staff, emergency_caller_id: "+15551230413"}
          - {mac: "00:04:f2:aa:bb:cc", model: polycom-vvx411, workspace: "Room 4.12", push_port: 8082, users: ["5502", "5501"], phone_credentials: {username: desk, password: "web-pass-3"}}
        templates:
          - name: standard
            brand: yealink
            default: true
            body: |
              #!version:1.0.0.1
              account.1.user_name = {{line.number}}
              linekey.2.value = {{app_url}}
              static.auto_provision.server.username = {{provisioning.username}}
              static.auto_provision.server.password = {{provisioning.password}}
          - {name: spare, brand: yealink, body: "{{app_url}} {{provisioning.username}} {{provisioning.password}}"}
        mappings:
          - {extension: "5501", template: spare, model: yealink-t46u}
          - {extension: "5502", template: spare, mac: "00:15:65:aa:bb:dd"}

        """

    /// What the store holds of the directory, without what only a running system writes.
    static func state(_ store: SQLStore) async throws -> [String] {
        let queries = [
            "SELECT * FROM settings", "SELECT number, name, cos, caller_id, voicemail_pin_hash FROM extensions ORDER BY number",
            "SELECT definition FROM classes_of_service ORDER BY name", "SELECT definition FROM schedules ORDER BY name",
            "SELECT * FROM workspaces ORDER BY name", "SELECT number, name, caller_id FROM shared_lines ORDER BY number",
            "SELECT * FROM shared_line_members ORDER BY line, extension",
            "SELECT mac, model, brand, push_port, phone_username, workspace, line_number, line_name, cos, cos_if_not_logged, emergency_caller_id FROM devices ORDER BY mac",
            "SELECT * FROM device_users ORDER BY mac, extension", "SELECT * FROM templates ORDER BY name",
            "SELECT * FROM mappings ORDER BY extension, model, mac",
            "SELECT brand, username FROM phone_credentials ORDER BY brand",
        ]
        return try await store.dump(queries)
    }

    @Test(
        "with secrets: export, import into a new database with the same key file, export again: the same file and the same state; PINs and passwords still work"
    )
    func roundTrip() async throws {
        let dir = try TempDir()
        let first = try dir.store("a.sqlite", key: "hotdesk.key")
        _ = try await importDirectory(Self.rich, into: first, base: dir.url)
        let (exported, summary) = try await first.exportDirectory(withSecrets: true)
        #expect(summary.extensions == 3 && summary.devices == 2)

        let second = try dir.store("b.sqlite", key: "hotdesk.key")
        _ = try await importDirectory(exported, into: second, base: dir.url)
        let (again, _) = try await second.exportDirectory(withSecrets: true)
        #expect(again == exported, "export → import → export gives the same file")
        let (a, b) = (try await Self.state(first), try await Self.state(second))
        for (x, y) in zip(a, b) { #expect(x == y) }

        #expect(try await second.findExtension("5501")?.voicemailPIN?.matches("1234") == true, "the PIN works: same key file")
        #expect(try await second.findExtension("0042")?.voicemailPIN?.matches("004200") == true)
        #expect(try await second.findExtension("5502")?.sipPassword == "sip-secret-5502")
        let settings = try await second.settings()
        #expect(settings.adminPassword?.matches("master-4242-admin") == true && settings.userPassword?.matches("7777") == true)
        #expect(settings.phoneCredentials[Brand("polycom")]?.password == "web-pw-poly")
        let devices = try await second.deviceOverview().map(\.device)
        #expect(
            devices.first { $0.mac == MACAddress("0015 65aa bbdd".replacingOccurrences(of: " ", with: ""))! }?.ownLine?.sipPassword
                == "lobby-sip-secret"
        )
        #expect(devices.first { $0.workspace == "Room 4.12" }?.credentials?.password == "web-pass-3")
        let again2 = try await importDirectory(exported, into: second, base: dir.url)
        #expect(again2.created == 0 && again2.updated == 0, "importing the export again changes nothing: \(again2)")
    }

    @Test("without secrets: no password, PIN or hash in the file, and it says so; importing it asks for the SIP passwords")
    func withoutSecrets() async throws {
        let dir = try TempDir()
        let store = try dir.store("a.sqlite")
        _ = try await importDirectory(Self.rich, into: store, base: dir.url)
        let (yaml, _) = try await store.exportDirectory(withSecrets: false)
        for secret in [
            "sip-secret", "sales-sip-secret", "lobby-sip-secret", "web-pw-poly", "web-pass-3", "hmac-sha256", "master-4242", "7777", "1234",
        ] {
            #expect(!yaml.contains(secret), "\(secret)")
        }
        #expect(yaml.contains("\"0042\"") && yaml.contains("été"), "numbers stay text; names as they are")
        let other = try dir.store("b.sqlite", key: "k2")
        await #expect(throws: DirectoryError.self) { try await importDirectory(yaml, into: other, base: dir.url) }
    }

    @Test("a hash in the file: never beside its secret, and only of the shape export writes")
    func hashes() async throws {
        let dir = try TempDir()
        let store = try dir.store("a.sqlite")
        let both =
            "extensions:\n  - {number: \"5501\", name: A, voicemail_pin: \"1234\", voicemail_pin_hash: \"hmac-sha256$AAAA$AAAA\", sip_password: \"sip-secret-5501\"}\n"
        do {
            _ = try await importDirectory(both, into: store, base: dir.url)
            Issue.record("a PIN and its hash together were accepted")
        } catch let error as DirectoryError {
            #expect(error.description.contains("not both"), "\(error)")
        }
        let bad = "settings:\n  admin_password_hash: \"plain text\"\n"
        do {
            _ = try await importDirectory(bad, into: store, base: dir.url)
            Issue.record("a malformed hash was accepted")
        } catch let error as DirectoryError {
            #expect(error.description.contains("not a hash written by hotdesk export") && !error.description.contains("plain text"), "\(error)")
        }
    }

    @Test(
        "a site rebuilt from export --with-secrets: its claimed phones (Digest, path key, address-bound, self-enrolled or not) keep fetching with what they know; nobody else gets in"
    )
    func rebuild() async throws {
        let yaml = flowDirectory + "\ndevices:\n  - {mac: \"00:15:65:ee:00:01\", model: yealink-t46u}\n"
        let exported: String
        let secrets: [String: String]
        let old = try await TestServer.start(yaml: yaml)
        let yealink = try await old.phone("yealink-t46u", mac: "001565ee0001", pushes: false)
        let sangoma = try await old.phone("sangoma-s500", mac: "001565ee0002", pushes: false)
        let cisco = try await old.phone("cisco-8841", mac: "001565ee0003", pushes: false)
        do {
            exported = try await old.store.exportDirectory(withSecrets: true).yaml
            var found: [String: String] = [:]
            for mac in ["001565ee0001", "001565ee0002"] { found[mac] = try await old.store.device(mac: MACAddress(mac)!)?.provisioningSecret }
            secrets = found
        }
        await old.stop()
        let new = try await TestServer.start(yaml: exported.replacingOccurrences(of: "127.0.0.1:\(old.port)", with: "127.0.0.1:{PORT}"))
        do {
            // Each phone, as it is configured, gets its config from the new server and proves itself.
            let digest = try await new.fetchAsPhone("001565ee0001.cfg", mac: "001565ee0001", from: yealink.options.address)
            #expect(digest.status == 200 && digest.text.contains("static.auto_provision.server.password = \(secrets["001565ee0001"] ?? "?")"))
            #expect(try await new.store.device(mac: MACAddress("001565ee0001")!)?.provisioningSecret == secrets["001565ee0001"])
            let key = try #require(secrets["001565ee0002"])
            let path = try await CurlEngine.shared.perform(
                CurlRequest(url: "\(new.baseURL)/provision/\(key)/cfg001565ee0002.xml", localAddress: sangoma.options.address)
            )
            #expect(path.status == 200, "the path-key phone is not stuck: \(path.status)")
            let own = try await CurlEngine.shared.perform(
                CurlRequest(url: "\(new.baseURL)/provision/SEP001565EE0003.cnf.xml", localAddress: cisco.options.address)
            )
            #expect(own.status == 200, "the Cisco phone from its own address")
            // They are claimed: a fetch without the secret, or from elsewhere, gets nothing.
            let stranger = Loopback.next()
            #expect(
                try await CurlEngine.shared.perform(CurlRequest(url: "\(new.baseURL)/provision/cfg001565ee0002.xml", localAddress: stranger)).status
                    == 403
            )
            #expect(
                try await CurlEngine.shared.perform(CurlRequest(url: "\(new.baseURL)/provision/SEP001565EE0003.cnf.xml", localAddress: stranger))
                    .status == 403
            )
            let plain = try await CurlEngine.shared.perform(
                CurlRequest(
                    url: "\(new.baseURL)/provision/001565ee0001.cfg",
                    headers: [("User-Agent", "Yealink SIP-T46U 108.86.0.45")],
                    localAddress: stranger
                )
            )
            #expect(plain.status == 401 && !plain.text.contains(secrets["001565ee0001"] ?? "?"))
            // Importing the same file again changes nothing.
            let again = try await importDirectory(
                exported.replacingOccurrences(of: "127.0.0.1:\(old.port)", with: "127.0.0.1:\(new.port)"),
                into: new.store,
                base: new.directory
            )
            #expect(again.created == 0 && again.updated <= 1, "\(again)")
        }
        await new.stop()
    }

    @Test("a provisioning secret set beforehand: the device is claimed at import, served only with that secret (no trust on first use)")
    func preSharedSecret() async throws {
        let secret = "staged-" + String(repeating: "k", count: 30)
        let yaml = flowDirectory + "\ndevices:\n  - {mac: \"00:15:65:ee:00:11\", model: sangoma-s500, provisioning_secret: \"\(secret)\"}\n"
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let device = try #require(try await server.store.device(mac: MACAddress("001565ee0011")!))
            #expect(device.claimedAt != nil && device.provisioningSecret == secret)
            // The first to ask without the secret gets nothing (it would have got the secret before).
            let first = try await CurlEngine.shared.perform(
                CurlRequest(url: "\(server.baseURL)/provision/cfg001565ee0011.xml", localAddress: Loopback.next())
            )
            #expect(first.status == 403 && !first.text.contains(secret))
            let staged = try await CurlEngine.shared.perform(
                CurlRequest(url: "\(server.baseURL)/provision/\(secret)/cfg001565ee0011.xml", localAddress: Loopback.next())
            )
            #expect(staged.status == 200)
        }
        let dir = try TempDir()
        let store = try dir.store()
        for (bad, why) in [
            ("provisioning_secret: short", "32 to 128 of letters"),
            ("provisioning_secret: \"\(secret)\"", "give claimed_from"),
        ] {
            let file = "devices:\n  - {mac: \"00:15:65:ee:00:12\", model: \(bad.contains("claimed") ? "cisco-8841" : "cisco-8841"), \(bad)}\n"
            do {
                _ = try await importDirectory(file, into: store, base: dir.url)
                Issue.record("\(bad) was accepted")
            } catch let error as DirectoryError {
                #expect(error.description.contains(why), "\(error)")
            }
        }
    }
}
