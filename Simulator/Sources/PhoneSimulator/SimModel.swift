import Foundation

/// One simulated phone model, written from `reference/phone-dialects.md` — never from
/// HotDesk's code, so that the simulator catches HotDesk's mistakes. Facts marked [I] are
/// inferred there; correct them here (and in HotDesk) when a real phone says otherwise.
public struct SimModel: Sendable, Hashable {
    public enum Vendor: String, Sendable {
        case yealink
        case sangoma
    }

    /// HotDesk's directory name for the model (`sangoma-s500`).
    public let name: String
    public let vendor: Vendor
    /// As the model spells itself in its User-Agent (`SIP-T46U`, `S500`).
    public let userAgentModel: String
    public let firmware: String
    /// Text display size.
    public let lines: Int
    public let columns: Int
    /// Whether the model applies a new config in place (else it must reboot).
    public let reloadsInPlace: Bool
    /// Seconds from power-on (or a reboot) to the first config fetch.
    public let bootSeconds: Double

    public static let all: [SimModel] = [
        // Sangoma primer: only s500/s700 update their config without a reboot [V]. Display
        // sizes and boot times are approximate [I].
        SimModel(name: "sangoma-s300", vendor: .sangoma, userAgentModel: "S300", firmware: "2.0.4.80", lines: 4, columns: 24, reloadsInPlace: false, bootSeconds: 40),
        SimModel(name: "sangoma-s500", vendor: .sangoma, userAgentModel: "S500", firmware: "2.0.4.80", lines: 6, columns: 30, reloadsInPlace: true, bootSeconds: 45),
        SimModel(name: "sangoma-s700", vendor: .sangoma, userAgentModel: "S700", firmware: "2.0.4.80", lines: 10, columns: 40, reloadsInPlace: true, bootSeconds: 50),
        // Yealink: config applied without reboot via AutoP or a Configuration push [3P].
        SimModel(name: "yealink-t46u", vendor: .yealink, userAgentModel: "SIP-T46U", firmware: "108.86.0.45", lines: 8, columns: 36, reloadsInPlace: true, bootSeconds: 60),
        SimModel(name: "yealink-t54w", vendor: .yealink, userAgentModel: "SIP-T54W", firmware: "96.86.0.45", lines: 10, columns: 40, reloadsInPlace: true, bootSeconds: 60),
    ]

    public static func named(_ name: String) -> SimModel? { all.first { $0.name == name.lowercased() } }

    public var dialect: BrowserDialect { vendor == .yealink ? .yealink : .htek }

    /// `Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:cc` — vendor, model, firmware, MAC (the
    /// Sangoma spelling is [I], following Htek's).
    public func userAgent(mac: String) -> String {
        let vendorName = vendor == .yealink ? "Yealink" : "Sangoma"
        return "\(vendorName) \(userAgentModel) \(firmware) \(SimModel.colonMAC(mac))"
    }

    /// The config files the model asks for at boot, in order (§0): Yealink the family file
    /// `y0000000000xx.cfg` then `<mac>.cfg`; Sangoma `cfg<mac>.xml`.
    public func configFiles(mac: String) -> [String] {
        switch vendor {
        case .yealink: ["y000000000028.cfg", "\(mac).cfg"]
        case .sangoma: ["cfg\(mac).xml"]
        }
    }

    /// The requests the phone's web server takes for push commands (§1, §7, §11).
    public var pushCommands: [PushCommand] {
        switch vendor {
        case .yealink:
            [
                // Action URIs only from `features.action_uri_limit_ip` when set [V].
                PushCommand(method: "GET", path: "/servlet", query: "key=AutoP", action: .reload, from: .actionURIList),
                PushCommand(method: "GET", path: "/cgi-bin/ConfigManApp.com", query: "key=AutoP", action: .reload, from: .actionURIList),
                PushCommand(method: "GET", path: "/servlet", query: "key=Reboot", action: .reboot, from: .actionURIList),
                PushCommand(method: "GET", path: "/cgi-bin/ConfigManApp.com", query: "key=Reboot", action: .reboot, from: .actionURIList),
                // XML push: `POST /servlet?push=xml`, body `xml=` + the raw document [3P], only
                // from the Push XML Server IP [V].
                PushCommand(method: "POST", path: "/servlet", query: "push=xml", action: .xml, from: .pushXMLServer),
            ]
        case .sangoma:
            // Reboot verified in FreePBX endpoint code; the AutoP reload form is [I]. No limit on
            // who may send them is known.
            [
                PushCommand(method: "GET", path: "/Phone_ActionURL&key=Reboot", query: nil, action: .reboot, from: .anyone),
                PushCommand(method: "GET", path: "/Phone_ActionURL&key=AutoP", query: nil, action: .reload, from: .anyone),
            ]
        }
    }

    /// Yealink newer firmware asks for Digest [3P]; Htek/Sangoma take Basic (FreePBX uses
    /// `curl http://admin:admin@IP/…`, which is Basic) [I for Digest support].
    public var webAuth: WebAuth { vendor == .yealink ? .digest : .basic }

    /// The realm the phone's web server names in its challenge [I].
    public var webRealm: String { vendor == .yealink ? "Yealink" : "Sangoma" }

    /// The web login before any config set one.
    public var factoryLogin: (username: String, password: String) { ("admin", "admin") }

    static func colonMAC(_ mac: String) -> String {
        stride(from: 0, to: mac.count, by: 2).map { i -> String in
            let start = mac.index(mac.startIndex, offsetBy: i)
            return String(mac[start..<mac.index(start, offsetBy: 2, limitedBy: mac.endIndex)!])
        }.joined(separator: ":")
    }
}

/// A command a phone's web server takes.
public struct PushCommand: Sendable, Hashable {
    public enum Action: String, Sendable { case reload, reboot, xml }

    /// Whom the phone takes the command from. That a refusal is answered 403 is [I].
    public enum Sources: Sendable, Hashable {
        case anyone
        /// The config's action URI list (Yealink `features.action_uri_limit_ip`); anyone when empty.
        case actionURIList
        /// Only the config's push server (Yealink `push_xml.server`); nobody when unset.
        case pushXMLServer
    }

    public let method: String
    public let path: String
    /// The exact query string, or `nil` for none.
    public let query: String?
    public let action: Action
    public let from: Sources
}

public enum WebAuth: String, Sendable {
    case basic
    case digest
}
