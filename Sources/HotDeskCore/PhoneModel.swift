/// A phone vendor whose phones HotDesk serves. Each brand has one config format, one XML
/// browser dialect and one default template.
public enum Brand: String, Sendable, CaseIterable, Codable, Comparable {
    case sangoma
    case yealink

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
///
/// The model table is data: to add or correct a model, edit `PhoneModel.catalog`.
public struct PhoneModel: Hashable, Sendable, CustomStringConvertible {
    /// The directory name, e.g. `sangoma-s500`, `yealink-t46u`.
    public let name: String
    public let brand: Brand
    /// How this model applies a new config (Sangoma primer: only s500/s700 reload in place;
    /// Yealink applies a pushed Configuration object or an AutoP trigger without rebooting).
    public let applyMethod: ApplyMethod
    /// The model as the phone spells it in its User-Agent, upper-case (`S500`, `T46U`).
    public let userAgentModel: String

    public var description: String { name }

    public init(name: String, brand: Brand, applyMethod: ApplyMethod, userAgentModel: String) {
        self.name = name
        self.brand = brand
        self.applyMethod = applyMethod
        self.userAgentModel = userAgentModel
    }

    public static let catalog: [PhoneModel] = [
        PhoneModel(name: "sangoma-s300", brand: .sangoma, applyMethod: .reboot, userAgentModel: "S300"),
        PhoneModel(name: "sangoma-s400", brand: .sangoma, applyMethod: .reboot, userAgentModel: "S400"),
        PhoneModel(name: "sangoma-s500", brand: .sangoma, applyMethod: .reload, userAgentModel: "S500"),
        PhoneModel(name: "sangoma-s700", brand: .sangoma, applyMethod: .reload, userAgentModel: "S700"),
        PhoneModel(name: "yealink-t33g", brand: .yealink, applyMethod: .reload, userAgentModel: "T33G"),
        PhoneModel(name: "yealink-t46u", brand: .yealink, applyMethod: .reload, userAgentModel: "T46U"),
        PhoneModel(name: "yealink-t48u", brand: .yealink, applyMethod: .reload, userAgentModel: "T48U"),
        PhoneModel(name: "yealink-t54w", brand: .yealink, applyMethod: .reload, userAgentModel: "T54W"),
        PhoneModel(name: "yealink-t57w", brand: .yealink, applyMethod: .reload, userAgentModel: "T57W"),
    ]

    private static let byName: [String: PhoneModel] = Dictionary(uniqueKeysWithValues: catalog.map { ($0.name, $0) })

    /// The model with this directory name, if HotDesk knows it.
    public static func named(_ name: String) -> PhoneModel? { byName[name.lowercased()] }

    /// A placeholder for a phone of a known brand whose exact model is not known yet (it asked
    /// for a config file without a recognisable User-Agent). It reboots to be safe.
    public static func generic(_ brand: Brand) -> PhoneModel {
        PhoneModel(name: "\(brand.rawValue)-generic", brand: brand, applyMethod: .reboot, userAgentModel: "")
    }

    /// Reads a model out of a phone's User-Agent header, e.g. `Yealink SIP-T46U 108.86.0.45
    /// 00:15:65:aa:bb:cc` or `Sangoma S500 2.0.4.67 00:15:65:aa:bb:cc` (the Sangoma spelling is
    /// inferred from Htek firmware; correct it here if a real phone says otherwise).
    public static func fromUserAgent(_ userAgent: String, brand: Brand) -> PhoneModel? {
        let words = userAgent.uppercased().split(whereSeparator: { $0 == " " || $0 == "/" || $0 == ";" })
        for word in words.prefix(4) {
            let token = word.hasPrefix("SIP-") ? word.dropFirst(4) : word[...]
            if let model = catalog.first(where: { $0.brand == brand && $0.userAgentModel == token }) {
                return model
            }
        }
        return nil
    }
}
