import Foundation
import HotDeskCore

/// A site as the store keeps it (JSON in `sites.definition`). An auto-logout rule the site turns
/// off is kept as 0 (`after_minutes`, `idle_minutes`) or `"none"` (`daily_at`).
struct StoredSite: Codable, Hashable {
    var name: String
    var internalAddress: String?
    var externalAddress: String?
    var sipServer: String?
    var sipTransport: String?
    var sipRealm: String?
    var sipOutboundProxy: String?
    var timeZone: String?
    var emergencyNumbers: [String]?
    var emergencyCallerID: String?
    var emergencyLocation: String?
    var afterMinutes: Int?
    var dailyAt: String?
    var idleMinutes: Int?
    var visitorCos: String?
    var language: String?
    /// The phones' web logins by brand, each password sealed with the key file.
    var phoneCredentials: [String: Login]?

    struct Login: Codable, Hashable {
        var username: String
        var passwordSealed: Data
    }

    /// `login` seals a login (or keeps the sealed one already stored for it).
    init(_ s: Site, login: (Brand, PhoneCredentials) throws -> Login) rethrows {
        name = s.name
        internalAddress = s.internalAddress?.baseURL
        externalAddress = s.externalAddress?.baseURL
        if let sip = s.sip {
            sipServer = sip.port.map { "\(sip.host):\($0)" } ?? sip.host
            sipTransport = sip.transport.rawValue
            sipRealm = sip.realm
            sipOutboundProxy = sip.outboundProxy
        }
        timeZone = s.timeZone?.identifier
        emergencyNumbers = s.emergencyNumbers
        emergencyCallerID = s.emergencyCallerID
        emergencyLocation = s.emergencyLocation
        afterMinutes = s.maxDuration.map { $0.map { Int($0 / 60) } ?? 0 }
        dailyAt = s.dailyAt.map { $0?.description ?? "none" }
        idleMinutes = s.idleAfter.map { $0.map { Int($0 / 60) } ?? 0 }
        visitorCos = s.visitorCoS
        language = s.language
        if !s.phoneCredentials.isEmpty {
            phoneCredentials = try Dictionary(uniqueKeysWithValues: s.phoneCredentials.map { ($0.key.rawValue, try login($0.key, $0.value)) })
        }
    }

    /// The site, its logins opened with `secrets` (nil, or one that cannot be opened: left out).
    func site(secrets: SecretBox?) -> Site {
        var s = Site(name: name)
        s.internalAddress = internalAddress.flatMap(ServerAddress.init)
        s.externalAddress = externalAddress.flatMap(ServerAddress.init)
        if let sipServer, var sip = SIPSettings(server: sipServer, transport: sipTransport.flatMap(SIPSettings.Transport.init) ?? .udp) {
            sip.realm = sipRealm
            sip.outboundProxy = sipOutboundProxy
            s.sip = sip
        }
        s.timeZone = timeZone.flatMap(TimeZone.init(identifier:))
        s.emergencyNumbers = emergencyNumbers
        s.emergencyCallerID = emergencyCallerID
        s.emergencyLocation = emergencyLocation
        s.maxDuration = afterMinutes.map { $0 == 0 ? nil : TimeInterval($0 * 60) }
        s.dailyAt = dailyAt.map { $0 == "none" ? nil : DailyTime($0) }
        s.idleAfter = idleMinutes.map { $0 == 0 ? nil : TimeInterval($0 * 60) }
        s.visitorCoS = visitorCos
        s.language = language
        for (brand, login) in phoneCredentials ?? [:] {
            guard let password = try? secrets?.open(login.passwordSealed) else { continue }
            s.phoneCredentials[Brand(brand)] = PhoneCredentials(username: login.username, password: password)
        }
        return s
    }
}

/// An extension's `roaming` as the store keeps it: `NULL` none, `*` any site, else the sites'
/// names as a JSON list.
enum StoredRoaming {
    static func text(_ r: Roaming) -> String? {
        switch r {
        case .none: nil
        case .everywhere: "*"
        case .sites(let names): try? JSONText.encode(names.sorted())
        }
    }

    static func roaming(_ text: String?) -> Roaming {
        guard let text else { return .none }
        if text == "*" { return .everywhere }
        return .sites(Set(JSONText.decode([String].self, text) ?? []))
    }
}
