import Foundation

/// Why `Screens/` could not be loaded. Each case names the file.
public struct ScreenLibraryError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// The app's words and markup: the texts of each language and the XML browser dialect of each
/// phone family (by brand).
/// - `locales/<lang>.json` under `Screens/`: the texts, `{name}` placeholders filled in by the app;
/// - the dialects are built from the family descriptors (`Screens/families/`) and the document
///   templates they name (`Screens/dialects/<template family>/{menu,input,text}.mustache`).
public struct ScreenLibrary: Sendable {
    public let dialects: [String: any Dialect]
    public let locales: [String: Texts]

    public init(dialects: [String: any Dialect], locales: [String: Texts]) {
        self.dialects = dialects
        self.locales = locales
    }

    /// Reads `locales/*.json` under `directory`; `en.json` must hold every key the app uses.
    public static func loadLocales(_ directory: URL) throws -> [String: Texts] {
        let localeDir = directory.appendingPathComponent("locales")
        var locales: [String: Texts] = [:]
        for file in try Self.list(localeDir, suffix: ".json") {
            let url = localeDir.appendingPathComponent(file)
            do {
                let table = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: url))
                locales[String(file.dropLast(5))] = Texts(table)
            } catch {
                throw ScreenLibraryError(file: url.path, reason: "not a JSON object of strings: \(error)")
            }
        }
        guard let english = locales["en"] else {
            throw ScreenLibraryError(file: localeDir.path, reason: "en.json is required")
        }
        let missing = Texts.requiredKeys.filter { english.table[$0] == nil }
        guard missing.isEmpty else {
            throw ScreenLibraryError(
                file: localeDir.appendingPathComponent("en.json").path,
                reason: "missing keys: \(missing.sorted().joined(separator: ", "))"
            )
        }
        return locales.mapValues { $0.fallingBack(to: english) }
    }

    /// Reads a template family's documents (`menu`, `input`, `text`) from `Screens/dialects/<name>/`.
    public static func loadTemplates(_ directory: URL, family: String) throws -> [Screen.Kind: String] {
        var templates: [Screen.Kind: String] = [:]
        for kind in Screen.Kind.allCases {
            let path = directory.appendingPathComponent("dialects").appendingPathComponent(family).appendingPathComponent("\(kind.rawValue).mustache")
            if FileManager.default.fileExists(atPath: path.path) {
                templates[kind] = try String(contentsOf: path, encoding: .utf8)
            }
        }
        return templates
    }

    /// The texts for `language`, else English.
    public func texts(_ language: String) -> Texts { locales[language] ?? locales["en"] ?? Texts([:]) }

    /// The first language of `preferred` that has texts (a user's, then a site's…), else `fallback`.
    public func language(_ preferred: [String?], fallback: String) -> String {
        preferred.lazy.compactMap { $0 }.first { locales[$0] != nil } ?? fallback
    }

    static func list(_ directory: URL, suffix: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(suffix) }.sorted()
        } catch {
            throw ScreenLibraryError(file: directory.path, reason: "cannot read the folder")
        }
    }
}

/// The app's texts in one language. `{name}` placeholders are filled from the arguments.
public struct Texts: Sendable {
    public let table: [String: String]
    private let fallback: [String: String]

    public init(_ table: [String: String], fallback: [String: String] = [:]) {
        self.table = table
        self.fallback = fallback
    }

    func fallingBack(to other: Texts) -> Texts { Texts(table, fallback: other.table) }

    public subscript(_ key: String, _ arguments: KeyValuePairs<String, String> = [:]) -> String {
        var text = table[key] ?? fallback[key] ?? key
        for (name, value) in arguments {
            text = text.replacingOccurrences(of: "{\(name)}", with: value)
        }
        return text
    }

    /// Every key the app uses; `en.json` must have them all.
    public static let requiredKeys: Set<String> = [
        "app.title", "menu.login_int", "menu.login_extl", "menu.login", "menu.logout", "menu.logged_in_as",
        "login.title", "login.extension", "login.password", "softkey.done", "softkey.back", "softkey.exit",
        "softkey.select", "softkey.try_again", "login.ok.title", "login.ok.reload", "login.ok.reboot",
        "error.title", "updating.title", "updating.text", "error.no_extension", "error.bad_extension", "error.no_password",
        "error.wrong_password", "error.wrong_password_last", "error.extension_locked", "error.device_locked",
        "error.no_address", "error.too_long", "error.unknown_device", "error.internal", "unavailable.title", "error.unavailable",
        "logout.confirm.title", "logout.confirm.text", "logout.confirm.yes", "logout.confirm.no",
        "logout.ok.title", "logout.ok.reload", "logout.ok.reboot", "login.ok.manual", "logout.ok.manual", "login.password_title",
        "error.logged_in_elsewhere", "error.too_many_phones", "error.not_assigned", "error.other_site", "error.hot_desking_off",
        "error.shared_password_held",
        "logout.not_logged_in", "message.title",
    ]
}
