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

        enum CodingKeys: String, CodingKey {
            case name
            case userAgent = "user_agent"
            case appliesConfig = "applies_config"
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
        var source: String?

        enum CodingKeys: String, CodingKey {
            case format, files, source
            case commonFiles = "common_files"
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
}
