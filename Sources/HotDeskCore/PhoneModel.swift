/// A family of phones HotDesk serves (`yealink`, `cisco`, …). Which families exist is data: one
/// descriptor per family under `Screens/families/`, loaded at start-up into a `PhoneCatalog`.
/// Code never names a family.
public struct Brand: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: Brand, rhs: Brand) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// How a phone picks up a new config after login or logout.
public enum ApplyMethod: String, Sendable, Codable {
    /// The phone re-reads its config and applies it without restarting.
    case reload
    /// The phone must restart to apply a new config.
    case reboot
}

/// One phone model: what HotDesk needs to know to serve it.
public struct PhoneModel: Hashable, Sendable, CustomStringConvertible {
    /// The directory name, e.g. `sangoma-s500`, `cisco-8841`.
    public let name: String
    public let brand: Brand
    /// How this model applies a new config (from its family descriptor).
    public let applyMethod: ApplyMethod
    /// The model as the phone spells it in its User-Agent, upper-case (`S500`, `T46U`, `CP-8841`).
    public let userAgentModel: String
    /// Line keys: key 1 carries the user's own line, the last one the Login/Logout key (where the
    /// family puts it on a line key), those between shared lines.
    public let lineKeys: Int

    public var description: String { name }

    public init(name: String, brand: Brand, applyMethod: ApplyMethod, userAgentModel: String, lineKeys: Int = 2) {
        self.name = name
        self.brand = brand
        self.applyMethod = applyMethod
        self.userAgentModel = userAgentModel
        self.lineKeys = lineKeys
    }

    /// A placeholder for a phone of a known family whose exact model is not known yet (it asked
    /// for a config file without a recognisable User-Agent). It reboots to be safe.
    public static func generic(_ brand: Brand) -> PhoneModel {
        PhoneModel(name: "\(brand.rawValue)-generic", brand: brand, applyMethod: .reboot, userAgentModel: "", lineKeys: 2)
    }

    public var isGeneric: Bool { userAgentModel.isEmpty }
}

/// Every phone family and model HotDesk knows, as loaded from the family descriptors.
public struct PhoneCatalog: Sendable {
    public struct Family: Sendable, Hashable {
        public var brand: Brand
        /// `Cisco`, `Aastra/Mitel`: for people.
        public var displayName: String
        /// Words that, found in a User-Agent (case-insensitive), say a phone is of this family
        /// (`Yealink`, `PolycomVVX`).
        public var userAgentMarks: [String]
        public var models: [PhoneModel]

        public init(brand: Brand, displayName: String, userAgentMarks: [String], models: [PhoneModel]) {
            self.brand = brand
            self.displayName = displayName
            self.userAgentMarks = userAgentMarks
            self.models = models
        }
    }

    public let families: [Brand: Family]
    private let byName: [String: PhoneModel]
    /// What User-Agents were read as: a site's phones send a handful of them on every fetch, and
    /// reading one costs case conversions and substring searches (issue 12: 9 % of a config GET).
    private let agentBrands = Memo<String, [Brand]>(limit: CacheLimits().requests)
    private let agentModels = Memo<String, PhoneModel?>(limit: CacheLimits().requests)

    /// Each family's User-Agent marks as lower-case bytes, in brand order (read on every unknown agent).
    private let marks: [(brand: Brand, marks: [[UInt8]])]
    /// Each family's models with a User-Agent spelling, the longest spelling first (so that `VVX_411`
    /// is not taken for `VVX_41`).
    private let spellings: [Brand: [(model: PhoneModel, spelling: [UInt8])]]

    public init(families: [Family]) {
        self.families = Dictionary(families.map { ($0.brand, $0) }, uniquingKeysWith: { first, _ in first })
        byName = Dictionary(families.flatMap(\.models).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        marks = self.families.values.sorted { $0.brand < $1.brand }.map { family in
            (family.brand, family.userAgentMarks.map { ASCIIBytes.lowercased($0.utf8) })
        }
        spellings = self.families.mapValues { family in
            family.models.filter { !$0.userAgentModel.isEmpty }
                .map { ($0, Array($0.userAgentModel.utf8)) }
                .sorted { $0.1.count > $1.1.count }
        }
    }

    /// No families: a store opened only to read its audit log or keys needs none.
    public static let empty = PhoneCatalog(families: [])

    public var brands: [Brand] { families.keys.sorted() }

    /// The most line keys any model has (a shared line's button must fit one model at least).
    public var mostLineKeys: Int { families.values.flatMap(\.models).map(\.lineKeys).max() ?? 2 }
    public var models: [PhoneModel] { families.values.flatMap(\.models).sorted { $0.name < $1.name } }

    /// The model with this directory name, if HotDesk knows it.
    public func model(named name: String) -> PhoneModel? { byName[name.lowercased()] }

    /// The families whose marks appear in a User-Agent (usually one; none for `curl/8.0`).
    public func brands(inUserAgent userAgent: String) -> [Brand] {
        agentBrands.value(userAgent) { readBrands(inUserAgent: userAgent) }
    }

    /// A byte search, ASCII case-insensitive: String's own `contains` compares Characters (with
    /// Unicode canonical equivalence) and cost a boot storm, where every agent is new, 1.5 % of its CPU.
    private func readBrands(inUserAgent userAgent: String) -> [Brand] {
        let agent = ASCIIBytes.lowercased(userAgent.utf8)
        guard !agent.isEmpty else { return [] }
        return marks.filter { family in family.marks.contains { ASCIIBytes.contains(agent, $0) } }.map(\.brand)
    }

    /// Reads a model of `brand` out of a phone's User-Agent: a word (split at spaces, `/`, `;`,
    /// `_`, `-UA`) equal to the model's User-Agent spelling, with or without a `SIP-` prefix,
    /// e.g. `Yealink SIP-T46U 108.86.0.45 …`, `FileTransport PolycomVVX-VVX_411-UA/6.4.3`.
    public func model(fromUserAgent userAgent: String, brand: Brand) -> PhoneModel? {
        agentModels.value("\(brand.rawValue)\u{0}\(userAgent)") { readModel(fromUserAgent: userAgent, brand: brand) }
    }

    private func readModel(fromUserAgent userAgent: String, brand: Brand) -> PhoneModel? {
        guard let family = families[brand] else { return nil }
        let agent = userAgent.uppercased()
        let words = agent.split(whereSeparator: { $0 == " " || $0 == "/" || $0 == ";" || $0 == "(" || $0 == ")" || $0 == "," })
        for word in words.prefix(6) {
            let token = word.hasPrefix("SIP-") ? word.dropFirst(4) : word[...]
            if let model = family.models.first(where: { !$0.userAgentModel.isEmpty && $0.userAgentModel == token }) {
                return model
            }
        }
        // Spellings that embed the model inside a longer word (`PolycomVVX-VVX_411-UA`).
        let bytes = Array(agent.utf8)
        return spellings[brand]?.first { ASCIIBytes.contains(bytes, $0.spelling) }?.model
    }
}

/// Byte-level text helpers for ASCII protocol words (User-Agents, marks), where Character
/// comparison would cost Unicode work for nothing.
enum ASCIIBytes {
    /// The bytes with `A`–`Z` lowered; other bytes as they are.
    static func lowercased(_ text: String.UTF8View) -> [UInt8] {
        text.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
    }

    /// Whether `needle` occurs in `haystack`, byte for byte (an empty needle occurs everywhere).
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        guard let first = needle.first else { return true }
        var start = 0
        let last = haystack.count - needle.count
        while start <= last {
            if haystack[start] == first && haystack[start..<start + needle.count].elementsEqual(needle) { return true }
            start += 1
        }
        return false
    }
}
