import HotDeskCore

/// How variables are escaped when a config template is rendered.
public enum ConfigFormat: String, Sendable, Codable {
    /// `key = value` (or `key: value`) lines: a value may not break the line.
    case keyValue = "key_value"
    /// XML: values are XML-escaped.
    case xml

    public var contentType: String {
        switch self {
        case .keyValue: "text/plain; charset=UTF-8"
        case .xml: "text/xml; charset=UTF-8"
        }
    }
}

/// A family's provisioning facts, from its descriptor: the files its phones ask for, their
/// format and built-in templates.
public struct ConfigFamily: Sendable {
    /// One file a phone asks for about itself.
    public struct DeviceFile: Sendable {
        public var pattern: FileNamePattern
        /// The built-in template's text and its name (for errors).
        public var template: String
        public var templateName: String
        /// The file that carries the line: its hash is the config HotDesk tracks (ETag, push
        /// confirmation), and an admin's template replaces its built-in one. One per family.
        public var primary: Bool

        public init(pattern: FileNamePattern, template: String, templateName: String, primary: Bool) {
            self.pattern = pattern
            self.template = template
            self.templateName = templateName
            self.primary = primary
        }
    }

    /// A file every phone of the family reads (`y000000000028.cfg`, Polycom `000000000000.cfg`).
    public struct CommonFile: Sendable {
        public var pattern: FileNamePattern
        public var body: String

        public init(pattern: FileNamePattern, body: String) {
            self.pattern = pattern
            self.body = body
        }
    }

    public var brand: Brand
    public var format: ConfigFormat
    public var deviceFiles: [DeviceFile]
    public var commonFiles: [CommonFile]
    /// How the family's phones prove who they are when they fetch their config.
    public var provisioningAuth: ProvisioningAuth

    public init(
        brand: Brand,
        format: ConfigFormat,
        deviceFiles: [DeviceFile],
        commonFiles: [CommonFile],
        provisioningAuth: ProvisioningAuth = .urlKey
    ) {
        self.provisioningAuth = provisioningAuth
        self.brand = brand
        self.format = format
        self.deviceFiles = deviceFiles
        self.commonFiles = commonFiles
    }

    /// The file that carries the line.
    public var primaryFile: DeviceFile { deviceFiles.first(where: \.primary) ?? deviceFiles[0] }
}

/// How a family's phones authenticate their config fetches with their per-device secret.
public enum ProvisioningAuth: String, Sendable, Decodable {
    /// HTTP Digest with the user and password the config set (`{{provisioning.username}}`,
    /// `{{provisioning.password}}` in the template's own keys).
    case digest
    /// The secret as a path segment of the provisioning URL the config sets
    /// (`…/provision/<secret>/<file>`): for phones whose credential keys are not known for sure.
    case urlKey = "url_key"
    /// Neither: the phone fetches fixed names from a server it was given by DHCP/TFTP (Cisco SEP
    /// files). Such a phone is bound to the address it claimed from; see docs/security.md.
    case address
}

/// What a config file name stands for in one family.
public struct ConfigFileMatch: Sendable {
    public enum Kind: Sendable {
        /// A phone's own file: which of the family's device files, and for which MAC.
        case device(MACAddress, file: ConfigFamily.DeviceFile)
        case common(ConfigFamily.CommonFile)
    }

    public var brand: Brand
    public var kind: Kind
    /// The model the file name says, if it says one (`D735` in `snomD735-000413AABBCC.htm`).
    public var modelInName: String?

    public var mac: MACAddress? {
        if case .device(let mac, _) = kind { return mac }
        return nil
    }
}

/// Every family's provisioning facts.
public struct ConfigFamilies: Sendable {
    public let families: [Brand: ConfigFamily]

    public init(_ families: [ConfigFamily]) {
        self.families = Dictionary(families.map { ($0.brand, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public subscript(_ brand: Brand) -> ConfigFamily? { families[brand] }

    /// Every family file this name is (several when families share a name: `<mac>.cfg` is asked
    /// for by Yealink, Polycom, Fanvil and Aastra phones). Never touches the file system;
    /// anything that is not a plausible file name matches nothing.
    public func matches(fileName: String) -> [ConfigFileMatch] {
        guard (1...64).contains(fileName.utf8.count) else { return [] }
        var found: [ConfigFileMatch] = []
        for brand in families.keys.sorted() {
            let family = families[brand]!
            for file in family.deviceFiles {
                if let m = file.pattern.match(fileName), let mac = m.mac {
                    found.append(ConfigFileMatch(brand: brand, kind: .device(mac, file: file), modelInName: m.model))
                }
            }
            for file in family.commonFiles {
                if let m = file.pattern.match(fileName) {
                    found.append(ConfigFileMatch(brand: brand, kind: .common(file), modelInName: m.model))
                }
            }
        }
        return found
    }
}

/// Which family a config request is for, or why HotDesk cannot tell.
public enum FileIdentification: Sendable {
    /// A file every phone of a family reads.
    case common(ConfigFileMatch)
    /// A phone's own file, in this family.
    case device(ConfigFileMatch)
    /// A known device asked for a file of other families: refused, never re-enrolled.
    case otherFamily(known: Brand, fileFamilies: [Brand])
    /// Several families' phones ask for this name and nothing says which one is asking.
    case ambiguous(fileFamilies: [Brand])
    /// The User-Agent names a family whose phones never ask for this name.
    case userAgentMismatch(userAgentFamilies: [Brand], fileFamilies: [Brand])

    /// Decides from the matches of a file name, the brand the store holds for its MAC (if the
    /// device is known) and the families the User-Agent names.
    public static func decide(_ matches: [ConfigFileMatch], knownBrand: Brand?, userAgentBrands: [Brand]) -> FileIdentification? {
        let devices = matches.filter { $0.mac != nil }
        guard !devices.isEmpty else {
            let commons = matches.filter { $0.mac == nil }
            return (commons.first { userAgentBrands.contains($0.brand) } ?? commons.first).map(FileIdentification.common)
        }
        if let knownBrand, let match = devices.first(where: { $0.brand == knownBrand }) { return .device(match) }
        let fileFamilies = Array(Set(devices.map(\.brand))).sorted()
        if let knownBrand { return .otherFamily(known: knownBrand, fileFamilies: fileFamilies) }
        if !userAgentBrands.isEmpty {
            let both = fileFamilies.filter(userAgentBrands.contains)
            if both.isEmpty { return .userAgentMismatch(userAgentFamilies: userAgentBrands, fileFamilies: fileFamilies) }
            if both.count > 1 { return .ambiguous(fileFamilies: both) }
            return devices.first { $0.brand == both[0] }.map(FileIdentification.device)
        }
        return fileFamilies.count == 1 ? .device(devices[0]) : .ambiguous(fileFamilies: fileFamilies)
    }
}
