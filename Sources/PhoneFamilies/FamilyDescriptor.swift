import HotDeskCore
import PhonePush
import PhoneXML
import Provisioning

/// One phone family as data: `Screens/families/<brand>.json`. Everything that differs between
/// vendors lives here (or in the templates it names); see `docs/vendors.md`.
struct FamilyDescriptor: Decodable {
    struct Model: Decodable {
        /// The directory name, `<brand>-<model>` by convention (`cisco-8841`).
        var name: String
        /// How the model names itself in its User-Agent (`CP-8841`, `T46U`).
        var userAgent: String
        /// `reload` (applies a new config in place) or `reboot`.
        var appliesConfig: ApplyMethod
        /// Programmable line keys (own line, shared lines, the Login/Logout key).
        var lineKeys: Int

        enum CodingKeys: String, CodingKey {
            case name
            case userAgent = "user_agent"
            case appliesConfig = "applies_config"
            case lineKeys = "line_keys"
        }
    }

    struct ConfigFile: Decodable {
        /// The name pattern (`{mac}.cfg`, `SEP{MAC}.cnf.xml`, `snom{model}-{MAC}.htm`).
        var name: String
        /// The built-in template, relative to `Screens/families/`.
        var template: String
        /// The file that carries the line (required when a family has several device files).
        var primary: Bool?
    }

    struct CommonFile: Decodable {
        var name: String
        var body: String
    }

    struct Config: Decodable {
        var format: ConfigFormat
        var files: [ConfigFile]
        var commonFiles: [CommonFile]?
        var provisioningAuth: ProvisioningAuth?
        var source: String?

        enum CodingKeys: String, CodingKey {
            case format, files, source
            case commonFiles = "common_files"
            case provisioningAuth = "provisioning_auth"
        }
    }

    var brand: String
    /// For people: `Aastra/Mitel`.
    var name: String
    /// Words in a User-Agent that say a phone is of this family (`Yealink`, `PolycomVVX`).
    var userAgentMarks: [String]
    var models: [Model]
    var config: Config
    var dialect: DialectSpec
    var push: VendorPushRecipes
    var source: String?

    enum CodingKeys: String, CodingKey {
        case brand, name, models, config, dialect, push, source
        case userAgentMarks = "user_agent_marks"
    }

    /// The keys each object of a descriptor may have (`source` and `note`, for people, anywhere).
    static let keys: [String: Set<String>] = [
        "": ["brand", "name", "user_agent_marks", "models", "config", "dialect", "push"],
        "models[]": ["name", "user_agent", "applies_config", "line_keys"],
        "config": ["format", "files", "common_files", "provisioning_auth"],
        "config.files[]": ["name", "template", "primary"],
        "config.common_files[]": ["name", "body"],
        "dialect": ["templates", "roots", "max_bytes", "content_type", "max_input_fields", "password_marker", "soft_key_uris", "limits"],
        "dialect.roots": ["menu", "input", "text"],
        "dialect.soft_key_uris": ["submit", "select", "back", "exit"],
        "dialect.limits": ["title", "label", "prompt", "soft_key_label", "text", "url", "items", "soft_keys"],
        "push": ["factory_credentials", "reload", "reboot", "xml", "sip_notify"],
        "push.factory_credentials": ["username", "password"],
        "push.reload": recipeKeys, "push.reboot": recipeKeys, "push.xml": recipeKeys,
        "push.sip_notify": ["reload", "reboot"],
        "push.sip_notify.reload": notifyKeys, "push.sip_notify.reboot": notifyKeys,
    ]
    static let notifyKeys: Set<String> = ["event", "body", "content_type"]
    static let recipeKeys: Set<String> = ["transport", "method", "path", "body", "content_type", "auth", "login", "max_body_bytes", "failure_marker"]

    /// The path of the first key no descriptor has (`dialect.max_byte`), if any.
    static func unknownKey(in object: Any, at path: String = "", shape: String = "") -> String? {
        if let list = object as? [Any] {
            for (i, item) in list.enumerated() {
                if let stray = unknownKey(in: item, at: "\(path)[\(i)]", shape: shape + "[]") { return stray }
            }
            return nil
        }
        guard let map = object as? [String: Any], let allowed = keys[shape] else { return nil }
        for key in map.keys.sorted() where key != "source" && key != "note" {
            let here = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else { return here }
            if let stray = unknownKey(in: map[key]!, at: here, shape: shape.isEmpty ? key : "\(shape).\(key)") { return stray }
        }
        return nil
    }
}
