import DirectoryFile
import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

/// The phone app in its users' languages (issue 26, item 5): a site's language on its phones, a
/// user's once logged in, English where neither is set.
@Suite("Languages: the app speaks the site's language, and the user's once logged in")
struct LanguageTests {
    /// Lyon's phones speak French; 5502 reads German; Paris (no language) stays English.
    static let directory = """
        settings:
          internal_address: 127.0.0.1:{PORT}
          push_port: {PUSH_PORT}
        sites:
          - {name: paris}
          - {name: lyon, language: fr}
        extensions:
          - {number: "5501", name: Ada, voicemail_pin: "1234", sip_password: "sip-secret-5501", site: lyon}
          - {number: "5502", name: Bob, voicemail_pin: "2345", sip_password: "sip-secret-5502", site: lyon, language: de}
        devices:
          - {mac: "00:15:65:1a:00:01", model: yealink-t46u, site: lyon}
          - {mac: "00:15:65:1a:00:02", model: yealink-t46u, site: paris}
        """

    /// The texts of every language as their files hold them (not filled in from English).
    func locales() throws -> [String: [String: String]] {
        let folder = screensDirectory.appendingPathComponent("locales")
        var all: [String: [String: String]] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".json") {
            let data = try Data(contentsOf: folder.appendingPathComponent(file))
            all[String(file.dropLast(5))] = try JSONDecoder().decode([String: String].self, from: data)
        }
        return all
    }

    /// The tightest of every family's dialect limits, by kind (`title`, `label`, `prompt`, `soft_key_label`).
    func tightestLimits() throws -> [String: Int] {
        let folder = screensDirectory.appendingPathComponent("families")
        var tightest: [String: Int] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".json") {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(file))) as? [String: Any]
            let limits = ((json?["dialect"] as? [String: Any])?["limits"] as? [String: Int]) ?? [:]
            for (kind, most) in limits { tightest[kind] = min(tightest[kind] ?? .max, most) }
        }
        return tightest
    }

    @Test(
        "every language has every key of English with the same placeholders; its titles, menu items, prompts and soft keys fit every family's limits"
    )
    func everyKeyFits() throws {
        let all = try locales()
        #expect(Set(all.keys).isSuperset(of: ["en", "de", "fr", "es"]), "\(all.keys.sorted())")
        let english = try #require(all["en"])
        let limits = try tightestLimits()
        #expect(limits["title"] != nil && limits["soft_key_label"] != nil, "\(limits)")
        func placeholders(_ text: String) -> Set<String> {
            Set(text.matches(of: /\{[a-z_]+\}/).map { String($0.output) })
        }
        // As the app fills them in: the longest extension, a plain name, the login screen's suffix.
        func filled(_ text: String) -> String {
            text.replacingOccurrences(of: "{ext}", with: "123456").replacingOccurrences(of: "{name}", with: "Ada Lovelace")
        }
        for (language, texts) in all.sorted(by: { $0.key < $1.key }) {
            #expect(Set(texts.keys) == Set(english.keys), "\(language): missing \(Set(english.keys).subtracting(texts.keys).sorted())")
            for (key, text) in texts {
                #expect(placeholders(text) == placeholders(english[key] ?? ""), "\(language) \(key): \(text)")
                #expect(!text.trimmingCharacters(in: .whitespaces).isEmpty, "\(language) \(key) is empty")
                let kind: String? =
                    switch key {
                    case _ where key.hasSuffix("title"): "title"
                    case _ where key.hasPrefix("softkey."): "soft_key_label"
                    case "login.extension", "login.password": "prompt"
                    case _ where key.hasPrefix("menu.") || key == "logout.confirm.yes" || key == "logout.confirm.no": "label"
                    default: nil
                    }
                guard let kind, let most = limits[kind] else { continue }
                let shown = filled(text) + (key == "login.title" ? " (Extl)" : "")
                #expect(shown.count <= most, "\(language) \(key): \(shown.count) characters, the tightest \(kind) holds \(most)")
            }
        }
    }

    @Test("a Lyon phone speaks French; a German user logged in on it reads German, even a pushed message; Paris stays English")
    func siteAndUser() async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let lyon = try await server.phone("yealink-t46u", mac: "0015651a0001")
            try await lyon.key("hotdesk")
            var shown = await lyon.displayText
            #expect(shown.contains("Connexion Int"), "\(shown)")

            let paris = try await server.phone("yealink-t46u", mac: "0015651a0002")
            try await paris.key("hotdesk")
            shown = await paris.displayText
            #expect(shown.contains("Login Int"), "\(shown)")

            // A wrong PIN is answered in the phone's language: the user is not known yet.
            try await lyon.login("Connexion Int", ext: "5502", password: "0000")
            shown = await lyon.displayText
            #expect(shown.contains("Mot de passe incorrect pour 5502"), "\(shown)")

            try await lyon.loginApplied("Connexion Int", ext: "5502", password: "2345")
            try await lyon.key("hotdesk")
            shown = await lyon.displayText
            #expect(shown.contains("Abmelden"), "the user's language once logged in: \(shown)")

            let api = try await AdminAPITests().client(server)
            let sent = try await api.call(
                "POST",
                "/devices/00:15:65:1a:00:01/push",
                body: "{\"action\": \"xml\", \"text\": \"Feueralarm um 15 Uhr\"}"
            )
            #expect(sent.status == 202)
            #expect(await eventually { await lyon.title == "Nachricht" }, "the message's title in the user's language")

            let sites = try await api.call("GET", "/sites").json["sites"] as? [[String: Any]] ?? []
            #expect(sites.first { $0["name"] as? String == "lyon" }?["language"] as? String == "fr", "\(sites)")
        }
    }

    @Test("a language without screen texts, or not a language code, is refused at import with where it is; export writes the languages back")
    func importAndExport() async throws {
        let dir = try TempDir()
        let store = try dir.store()
        for (yaml, expected) in [
            ("settings:\n  language: xx\n", "settings.language: no screen texts for xx (there are: de, en, es, fr"),
            ("sites:\n  - {name: rome, language: Italian}\n", "sites[0].language: \"Italian\" is not a language code"),
        ] {
            do {
                _ = try await importDirectory(yaml, into: store, base: dir.url)
                Issue.record("imported \(yaml)")
            } catch let error as DirectoryError {
                #expect(error.description.contains(expected), "\(error.description)")
            }
        }
        let yaml = Self.directory.replacingOccurrences(of: "{PORT}", with: "8080").replacingOccurrences(of: "{PUSH_PORT}", with: "8081")
            .replacingOccurrences(of: "settings:\n", with: "settings:\n  language: es\n")
        _ = try await importDirectory(yaml, into: store, base: dir.url)
        #expect(try await store.settings().language == "es")
        #expect(try await store.findExtension("5502")?.language == "de")
        let (exported, _) = try await store.exportDirectory(withSecrets: true)
        #expect(["es", "fr", "de"].allSatisfy { exported.contains("language: \"\($0)\"") }, "\(exported)")
        let second = try dir.store("b.sqlite", key: "k")
        _ = try await importDirectory(exported, into: second, base: dir.url)
        let (again, _) = try await second.exportDirectory(withSecrets: true)
        #expect(again == exported)
    }
}
