import Foundation
import HotDeskCore
import LibXML
import PhonePush
import PhoneXML
import Provisioning

/// Why the phone families could not be loaded: the file, the field and what is wrong.
public struct FamilyError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let field: String?
    public let reason: String

    public var description: String { "\(file)\(field.map { ": \($0)" } ?? ""): \(reason)" }
}

/// Every phone family HotDesk serves, loaded from `Screens/families/*.json` and checked at
/// start-up: the model catalog, the config files and templates, the XML browser dialects, the
/// push recipes, and the app's texts. A broken or incomplete descriptor stops the server with its
/// file and field named.
public struct FamilyBook: Sendable {
    public let catalog: PhoneCatalog
    public let configs: ConfigFamilies
    public let screens: ScreenLibrary
    public let pushes: PushRecipeBook

    public init(catalog: PhoneCatalog, configs: ConfigFamilies, screens: ScreenLibrary, pushes: PushRecipeBook) {
        self.catalog = catalog
        self.configs = configs
        self.screens = screens
        self.pushes = pushes
    }

    /// Loads `families/`, `dialects/` and `locales/` under a `Screens/` folder.
    public init(screens directory: URL) throws {
        let folder = directory.appendingPathComponent("families")
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted()
        } catch {
            throw FamilyError(
                file: folder.path,
                field: nil,
                reason: "cannot read the folder (the phone families: pass --screens DIR or set HOTDESK_SCREENS)"
            )
        }
        guard !files.isEmpty else { throw FamilyError(file: folder.path, field: nil, reason: "no family descriptors (*.json)") }
        var families: [PhoneCatalog.Family] = []
        var configs: [ConfigFamily] = []
        var dialects: [String: any Dialect] = [:]
        var pushes: [Brand: VendorPushRecipes] = [:]
        var modelOwners: [String: String] = [:]
        for file in files {
            let url = folder.appendingPathComponent(file)
            let loaded = try Self.load(url, screens: directory)
            for model in loaded.family.models {
                if let other = modelOwners[model.name] {
                    throw FamilyError(file: url.path, field: "models", reason: "model \(model.name) is already in \(other)")
                }
                modelOwners[model.name] = file
            }
            families.append(loaded.family)
            configs.append(loaded.config)
            dialects[loaded.family.brand.rawValue] = loaded.dialect
            pushes[loaded.family.brand] = loaded.push
        }
        let locales: [String: Texts]
        do {
            locales = try ScreenLibrary.loadLocales(directory)
        } catch let error as ScreenLibraryError {
            throw FamilyError(file: error.file, field: nil, reason: error.reason)
        }
        self.init(
            catalog: PhoneCatalog(families: families),
            configs: ConfigFamilies(configs),
            screens: ScreenLibrary(dialects: dialects, locales: locales),
            pushes: PushRecipeBook(vendors: pushes)
        )
    }

    private static func load(
        _ url: URL,
        screens: URL
    ) throws -> (family: PhoneCatalog.Family, config: ConfigFamily, dialect: any Dialect, push: VendorPushRecipes) {
        let path = url.path
        let fail = { (field: String?, reason: String) in FamilyError(file: path, field: field, reason: reason) }
        let descriptor = try readDescriptor(url, fail: fail)
        let stem = url.deletingPathExtension().lastPathComponent
        guard descriptor.brand == stem, !stem.isEmpty, stem.allSatisfy({ ($0.isLowercase || $0.isNumber) && $0.isASCII }) else {
            throw fail("brand", "\"\(descriptor.brand)\" must be the file's name (\(stem)), lower-case letters and digits")
        }
        let brand = Brand(descriptor.brand)
        guard !descriptor.userAgentMarks.isEmpty, descriptor.userAgentMarks.allSatisfy({ !$0.isEmpty }) else {
            throw fail("user_agent_marks", "at least one non-empty word that a User-Agent of this family holds")
        }
        guard !descriptor.models.isEmpty else { throw fail("models", "at least one model") }
        let models = try readModels(descriptor, brand: brand, fail: fail)
        let files = try readConfigFiles(descriptor, brand: brand, model: models[0], folder: url.deletingLastPathComponent(), fail: fail)
        let dialect = try readDialect(descriptor, screens: screens, fail: fail)
        if let problem = descriptor.push.problem() { throw fail(nil, problem) }
        return (
            PhoneCatalog.Family(brand: brand, displayName: descriptor.name, userAgentMarks: descriptor.userAgentMarks, models: models),
            ConfigFamily(
                brand: brand,
                format: descriptor.config.format,
                deviceFiles: files.device,
                commonFiles: files.common,
                provisioningAuth: descriptor.config.provisioningAuth ?? .urlKey
            ),
            dialect, descriptor.push
        )
    }

    private typealias Fail = (String?, String) -> FamilyError

    /// The JSON, with a misspelt key refused by name.
    private static func readDescriptor(_ url: URL, fail: Fail) throws -> FamilyDescriptor {
        do {
            let data = try Data(contentsOf: url)
            // A misspelt key would otherwise pass unseen (an optional fact silently missing).
            if let object = try? JSONSerialization.jsonObject(with: data), let stray = FamilyDescriptor.unknownKey(in: object) {
                throw fail(stray, "unknown key (see docs/vendors.md for the descriptor's keys)")
            }
            return try JSONDecoder().decode(FamilyDescriptor.self, from: data)
        } catch let error as FamilyError {
            throw error
        } catch let error as DecodingError {
            throw Self.describe(error, file: url.path)
        } catch {
            throw fail(nil, "cannot read: \(error)")
        }
    }

    private static func readModels(_ descriptor: FamilyDescriptor, brand: Brand, fail: Fail) throws -> [PhoneModel] {
        var models: [PhoneModel] = []
        for (i, m) in descriptor.models.enumerated() {
            guard !m.name.isEmpty, m.name == m.name.lowercased(), !m.name.contains(" ") else {
                throw fail("models[\(i)].name", "\"\(m.name)\" must be lower-case without spaces")
            }
            guard !m.userAgent.isEmpty else { throw fail("models[\(i)].user_agent", "empty") }
            guard (2...64).contains(m.lineKeys) else {
                throw fail("models[\(i)].line_keys", "2 to 64 (the own line and the Login/Logout key at least)")
            }
            models.append(
                PhoneModel(name: m.name, brand: brand, applyMethod: m.appliesConfig, userAgentModel: m.userAgent.uppercased(), lineKeys: m.lineKeys)
            )
        }

        return models
    }

    /// Config files and their built-in templates (each rendered once with hostile names).
    private static func readConfigFiles(
        _ descriptor: FamilyDescriptor,
        brand: Brand,
        model: PhoneModel,
        folder familiesFolder: URL,
        fail: Fail
    ) throws -> (device: [ConfigFamily.DeviceFile], common: [ConfigFamily.CommonFile]) {
        guard !descriptor.config.files.isEmpty else { throw fail("config.files", "at least one file a phone asks for") }
        let primaries = descriptor.config.files.filter { $0.primary == true }.count
        guard primaries == 1 || (primaries == 0 && descriptor.config.files.count == 1) else {
            throw fail("config.files", "exactly one file must be \"primary\": true (the one that carries the line)")
        }
        var deviceFiles: [ConfigFamily.DeviceFile] = []
        for (i, f) in descriptor.config.files.enumerated() {
            let field = "config.files[\(i)]"
            let pattern: FileNamePattern
            do { pattern = try FileNamePattern(f.name) } catch { throw fail("\(field).name", error.description) }
            guard pattern.hasMAC else { throw fail("\(field).name", "\"\(f.name)\" must hold {mac} or {MAC}") }
            let templateURL = familiesFolder.appendingPathComponent(f.template)
            guard let body = try? String(contentsOf: templateURL, encoding: .utf8) else {
                throw fail("\(field).template", "cannot read \(templateURL.path)")
            }
            let name = "built-in \(f.template)"
            do {
                try ConfigRenderer.validate(body, format: descriptor.config.format, name: name)
                try Self.sampleRender(body, name: name, format: descriptor.config.format, brand: brand, model: model)
            } catch {
                throw fail("\(field).template", "\(error)")
            }
            deviceFiles.append(
                .init(pattern: pattern, template: body, templateName: name, primary: f.primary ?? (descriptor.config.files.count == 1))
            )
        }
        var commonFiles: [ConfigFamily.CommonFile] = []
        for (i, f) in (descriptor.config.commonFiles ?? []).enumerated() {
            let pattern: FileNamePattern
            do { pattern = try FileNamePattern(f.name) } catch { throw fail("config.common_files[\(i)].name", error.description) }
            guard !pattern.hasMAC else { throw fail("config.common_files[\(i)].name", "a common file names no MAC") }
            commonFiles.append(.init(pattern: pattern, body: f.body))
        }

        return (deviceFiles, commonFiles)
    }

    /// The XML browser dialect: its templates must render well-formed documents.
    private static func readDialect(_ descriptor: FamilyDescriptor, screens: URL, fail: Fail) throws -> TemplateDialect {
        var spec = descriptor.dialect
        spec.name = descriptor.brand
        let dialect: TemplateDialect
        do {
            let templates = try ScreenLibrary.loadTemplates(screens, family: spec.templates)
            dialect = try TemplateDialect(spec: spec, templates: templates)
        } catch {
            throw fail("dialect", "\(error) (templates in \(screens.appendingPathComponent("dialects/\(spec.templates)").path))")
        }
        guard spec.maxInputFields >= 1 else { throw fail("dialect.max_input_fields", "at least 1") }
        return dialect
    }

    /// Renders a built-in template logged in and out, with hostile names: an XML config must stay
    /// well-formed.
    static func sampleRender(_ body: String, name: String, format: ConfigFormat, brand: Brand, model: PhoneModel) throws {
        let device = Device(mac: MACAddress("001565aabbcc")!, model: model, token: "sample-token")
        let server = ServerAddress("192.0.2.1:8080")!
        let hostile = "A&B <\"x\"> 'y'\u{1b}"
        let contexts = [
            ConfigContext(device: device, line: nil, server: server, network: nil, emergencyCallerID: hostile),
            ConfigContext(
                device: device,
                line: .init(number: "5501", name: hostile, sipPassword: hostile),
                server: server,
                network: .internal,
                emergencyCallerID: nil,
                phoneLogin: PhoneCredentials(username: "admin", password: hostile),
                pushFrom: "192.0.2.1"
            ),
        ]
        let renderer = ConfigRenderer(limits: CacheLimits(renders: contexts.count))
        for context in contexts {
            let config = try renderer.render(body, name: name, format: format, context: context)
            if format == .xml {
                do {
                    _ = try XMLParser.parse(config.body)
                } catch {
                    throw TemplateError(template: name, reason: "renders XML that is not well-formed: \(error)")
                }
            }
        }
    }

    /// A decoding error as the field it is about.
    static func describe(_ error: DecodingError, file: String) -> FamilyError {
        func path(_ context: DecodingError.Context, _ last: CodingKey? = nil) -> String {
            let keys = context.codingPath + (last.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingPrefix(".").description
        }
        switch error {
        case .keyNotFound(let key, let context):
            return FamilyError(file: file, field: path(context, key), reason: "missing")
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return FamilyError(file: file, field: path(context), reason: context.debugDescription)
        case .dataCorrupted(let context):
            return FamilyError(file: file, field: context.codingPath.isEmpty ? nil : path(context), reason: context.debugDescription)
        @unknown default:
            return FamilyError(file: file, field: nil, reason: "\(error)")
        }
    }
}
