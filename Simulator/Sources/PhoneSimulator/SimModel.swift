import Foundation

/// One phone family as the simulator knows it, written from `reference/phone-dialects.md` —
/// never from HotDesk's code or descriptors, so that the simulator catches HotDesk's mistakes.
/// Facts marked [I] are inferred there; correct them here (and in HotDesk) when a real phone says
/// otherwise. The table is data: `SimFamily.all`.
public struct SimFamily: Sendable, Hashable {
    public let name: String
    public let dialect: BrowserDialect
    public let configFormat: SimConfigFormat
    /// The files the phone asks for at boot, in order; the last is its own. `{mac}`, `{MAC}`
    /// (upper case), `{code}` (the model as it names itself, `D735`).
    public let configFiles: [String]
    /// `{code}`, `{firmware}`, `{mac}`, `{mac_colon}`, `{mac_dash}` filled per phone.
    public let userAgent: String
    /// The realm the phone's web server names in its challenge [I].
    public let realm: String
    /// The web login before any config set one.
    public let factoryLogin: (username: String, password: String)
    /// The requests the phone's web server takes.
    public let pushCommands: [PushCommand]
    /// The SIP NOTIFY events the phone acts on (`Event:` header, first token); any other event
    /// is refused with 489 Bad Event (RFC 6665).
    public let notifyEvents: [NotifyEvent]

    public static func == (a: SimFamily, b: SimFamily) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    public static let yealink = SimFamily(
        name: "yealink",
        dialect: .yealink,
        configFormat: .yealink,
        configFiles: ["y000000000028.cfg", "{mac}.cfg"],
        userAgent: "Yealink SIP-{code} {firmware} {mac_colon}",
        realm: "Yealink",
        factoryLogin: ("admin", "admin"),
        pushCommands: [
            // Action URIs only from `features.action_uri_limit_ip` when set [V]; newer firmware asks for Digest [3P].
            .init(method: "GET", path: "/servlet", query: "key=AutoP", action: .reload, from: .actionURIList, login: .web(.digest)),
            .init(method: "GET", path: "/cgi-bin/ConfigManApp.com", query: "key=AutoP", action: .reload, from: .actionURIList, login: .web(.digest)),
            .init(method: "GET", path: "/servlet", query: "key=Reboot", action: .reboot, from: .actionURIList, login: .web(.digest)),
            .init(method: "GET", path: "/cgi-bin/ConfigManApp.com", query: "key=Reboot", action: .reboot, from: .actionURIList, login: .web(.digest)),
            // XML push: body `xml=` + the raw document [3P], only from the Push XML Server IP [V].
            .init(method: "POST", path: "/servlet", query: "push=xml", action: .xml, from: .pushServers, login: .web(.digest), body: .xmlEquals),
        ],
        notifyEvents: [
            // sip.notify_reboot_enable: 1 (default) reboots, 0 re-provisions unless ;reboot=true, 2 ignores [V: Yealink
            // admin guide, "Rebooting Issues"].
            .init(event: "check-sync", effect: .setting("sip.notify_reboot_enable"), source: "V: Yealink admin guide")
        ]
    )

    /// Sangoma s-series (Htek inside) [I strong]: reboot verified in FreePBX endpoint code, the
    /// AutoP reload form is [I]; FreePBX sends `curl http://admin:admin@IP/…`, which is Basic.
    public static let sangoma = SimFamily(
        name: "sangoma",
        dialect: .htek,
        configFormat: .hlProvision,
        configFiles: ["cfg{mac}.xml"],
        userAgent: "Sangoma {code} {firmware} {mac_colon}",
        realm: "Sangoma",
        factoryLogin: ("admin", "admin"),
        pushCommands: [
            .init(method: "GET", path: "/Phone_ActionURL&key=Reboot", query: nil, action: .reboot, from: .anyone, login: .web(.basic)),
            .init(method: "GET", path: "/Phone_ActionURL&key=AutoP", query: nil, action: .reload, from: .anyone, login: .web(.basic)),
        ],
        notifyEvents: [
            // Wazo's Htek plugin synchronizes with check-sync [3P: wazo-provd-plugins wazo_htek]; that it re-provisions in
            // place on models that can, and reboots the others, is [I].
            .init(event: "check-sync", effect: .reload, source: "3P: wazo-provd-plugins wazo_htek; effect I")
        ]
    )

    /// Cisco Enterprise (§2): `POST /CGI/Execute` with `XML=` form-encoded and Basic auth, whose
    /// login the phone checks at its `authenticationURL` (exactly `AUTHORIZED`) [V]. No HTTP
    /// reload or reboot is known. The User-Agent spelling is [I].
    public static let cisco = SimFamily(
        name: "cisco",
        dialect: .cisco,
        configFormat: .ciscoDevice,
        configFiles: ["SEP{MAC}.cnf.xml"],
        userAgent: "Cisco-{code}/{firmware}",
        realm: "Cisco",
        factoryLogin: ("admin", "cisco"),
        pushCommands: [
            .init(method: "POST", path: "/CGI/Execute", query: nil, action: .xml, from: .anyone, login: .authenticationURL, body: .formXML)
        ],
        notifyEvents: [
            // service-control with a text body action=restart (unregister, fetch the config again) or action=reset (reboot)
            // [3P: wazo-provd-plugins wazo_cisco_sip]; check-sync as Asterisk's cisco-check-cfg [V: pjsip_notify.conf.sample],
            // its effect (a reset) is [I].
            .init(event: "service-control", effect: .bodyAction, source: "3P: wazo-provd-plugins wazo_cisco_sip"),
            .init(event: "check-sync", effect: .reboot, source: "V: Asterisk pjsip_notify.conf.sample; effect I"),
        ]
    )

    /// Polycom VVX (§3): `POST /push` with Digest from `apps.push.*` only, `application/xhtml+xml`,
    /// at most 2 KB [V]; the REST API's `safeRestart` [I]. The User-Agent is the provisioning one [3P].
    public static let polycom = SimFamily(
        name: "polycom",
        dialect: .polycom,
        configFormat: .polycom,
        configFiles: ["{mac}.cfg"],
        userAgent: "FileTransport PolycomVVX-{code}-UA/{firmware} Type/Application",
        realm: "PolycomSPIP",
        factoryLogin: ("Polycom", "456"),
        pushCommands: [
            .init(
                method: "POST",
                path: "/push",
                query: nil,
                action: .xml,
                from: .anyone,
                login: .pushAccount(.digest),
                body: .polycomData,
                contentType: "application/xhtml+xml",
                maxBodyBytes: 2048
            ),
            .init(
                method: "POST",
                path: "/api/v1/mgmt/safeRestart",
                query: nil,
                action: .reboot,
                from: .anyone,
                login: .web(.basic),
                needsRESTAPI: true
            ),
        ],
        notifyEvents: [
            // check-sync [V: Asterisk polycom-check-cfg]; re-provisioning without a reboot is the default of
            // voIpProt.SIP.specialEvent.checkSync.alwaysReboot = 0 [I].
            .init(event: "check-sync", effect: .reload, source: "V: Asterisk pjsip_notify.conf.sample; effect I")
        ]
    )

    /// Snom (§4): `GET /advanced_update.htm?reboot=Reboot` with http_user/http_pass [V]; no HTTP
    /// reload and no XML push are known. The User-Agent form is [3P].
    public static let snom = SimFamily(
        name: "snom",
        dialect: .snom,
        configFormat: .snomSettings,
        configFiles: ["snom{code}.htm", "snom{code}-{MAC}.htm"],
        userAgent: "Mozilla/4.0 (compatible; snom{code}-SIP {firmware} {mac})",
        realm: "snom",
        factoryLogin: ("admin", "admin"),
        pushCommands: [
            .init(method: "GET", path: "/advanced_update.htm", query: "reboot=Reboot", action: .reboot, from: .anyone, login: .web(.digest))
        ],
        notifyEvents: [
            // check-sync;reboot=false re-provisions, ;reboot=true reboots [V: Asterisk snom-check-cfg, snom-reboot]; a bare
            // check-sync rebooting is [I].
            .init(event: "check-sync", effect: .rebootParameter(default: true), source: "V: Asterisk pjsip_notify.conf.sample")
        ]
    )

    /// Fanvil (§6): `POST /xmlService` with a raw XML body, only from the PUSH XML Server IP, web
    /// admin auth [V]; no reload or reboot request is known. `<mac>.cfg` and the User-Agent are [I].
    public static let fanvil = SimFamily(
        name: "fanvil",
        dialect: .fanvil,
        configFormat: .fanvil,
        configFiles: ["{mac}.cfg"],
        userAgent: "Fanvil {code} {firmware} {mac}",
        realm: "Fanvil",
        factoryLogin: ("admin", "admin"),
        pushCommands: [.init(method: "POST", path: "/xmlService", query: nil, action: .xml, from: .pushServers, login: .web(.basic), body: .raw)],
        notifyEvents: [
            // Wazo's Fanvil plugin synchronizes with check-sync [3P: wazo-provd-plugins wazo_fanvil]; the reboot is [I].
            .init(event: "check-sync", effect: .reboot, source: "3P: wazo-provd-plugins wazo_fanvil; effect I")
        ]
    )

    /// Aastra/Mitel (§8): `POST /` with `xml=` (raw in later firmware, URL-encoded in older), only
    /// from the XML Push Server List, objects under 2150 bytes; `Command: Reset` reboots [V].
    /// `aastra.cfg` then `<MAC>.cfg` and the User-Agent form are [I].
    public static let mitel = SimFamily(
        name: "mitel",
        dialect: .aastra,
        configFormat: .aastra,
        configFiles: ["aastra.cfg", "{MAC}.cfg"],
        userAgent: "Aastra{code} MAC:{mac_dash} V:{firmware}-SIP",
        realm: "Aastra",
        factoryLogin: ("admin", "22222"),
        pushCommands: [
            .init(method: "POST", path: "/", query: nil, action: .xml, from: .pushServers, login: .none, body: .xmlEquals, maxBodyBytes: 2149)
        ],
        notifyEvents: [
            // check-sync as Asterisk's aastra-check-cfg [V: pjsip_notify.conf.sample]; the reboot is [I].
            .init(event: "check-sync", effect: .reboot, source: "V: Asterisk pjsip_notify.conf.sample; effect I")
        ]
    )

    /// Grandstream GRP (§5): `cfg<mac>.xml` [V]; no HTTP push of any kind is known.
    public static let grandstream = SimFamily(
        name: "grandstream",
        dialect: .grandstream,
        configFormat: .gsProvision,
        configFiles: ["cfg{mac}.xml"],
        userAgent: "Grandstream Model HW {code} SW {firmware} DevId {mac}",
        realm: "Grandstream",
        factoryLogin: ("admin", "admin"),
        pushCommands: [],
        notifyEvents: [
            // Wazo's Grandstream plugin synchronizes with check-sync [3P: wazo-provd-plugins wazo_grandstream]; the reboot is [I].
            .init(event: "check-sync", effect: .reboot, source: "3P: wazo-provd-plugins wazo_grandstream; effect I")
        ]
    )

    public static let all: [SimFamily] = [.yealink, .sangoma, .cisco, .polycom, .snom, .fanvil, .mitel, .grandstream]
}

/// One simulated phone model.
public struct SimModel: Sendable, Hashable {
    /// HotDesk's directory name for the model (`sangoma-s500`).
    public let name: String
    public let family: SimFamily
    /// How the model names itself (`T46U`, `S500`, `CP8841`, `VVX_411`, `D735`).
    public let code: String
    public let firmware: String
    /// Text display size.
    public let lines: Int
    public let columns: Int
    /// Whether the model applies a new config in place (else it must reboot).
    public let reloadsInPlace: Bool
    /// Seconds from power-on (or a reboot) to the first config fetch.
    public let bootSeconds: Double

    /// Display sizes and boot times are approximate [I]. Sangoma primer: only s500/s700 update
    /// their config without a reboot [V]; Yealink applies one via AutoP [3P].
    public static let all: [SimModel] = [
        SimModel(
            name: "sangoma-s300",
            family: .sangoma,
            code: "S300",
            firmware: "2.0.4.80",
            lines: 4,
            columns: 24,
            reloadsInPlace: false,
            bootSeconds: 40
        ),
        SimModel(
            name: "sangoma-s500",
            family: .sangoma,
            code: "S500",
            firmware: "2.0.4.80",
            lines: 6,
            columns: 30,
            reloadsInPlace: true,
            bootSeconds: 45
        ),
        SimModel(
            name: "sangoma-s700",
            family: .sangoma,
            code: "S700",
            firmware: "2.0.4.80",
            lines: 10,
            columns: 40,
            reloadsInPlace: true,
            bootSeconds: 50
        ),
        SimModel(
            name: "yealink-t46u",
            family: .yealink,
            code: "T46U",
            firmware: "108.86.0.45",
            lines: 8,
            columns: 36,
            reloadsInPlace: true,
            bootSeconds: 60
        ),
        SimModel(
            name: "yealink-t54w",
            family: .yealink,
            code: "T54W",
            firmware: "96.86.0.45",
            lines: 10,
            columns: 40,
            reloadsInPlace: true,
            bootSeconds: 60
        ),
        SimModel(
            name: "cisco-8841",
            family: .cisco,
            code: "CP8841",
            firmware: "14.2.1",
            lines: 10,
            columns: 40,
            reloadsInPlace: false,
            bootSeconds: 90
        ),
        SimModel(
            name: "polycom-vvx411",
            family: .polycom,
            code: "VVX_411",
            firmware: "6.4.3.5018",
            lines: 8,
            columns: 36,
            reloadsInPlace: false,
            bootSeconds: 70
        ),
        SimModel(
            name: "snom-d735",
            family: .snom,
            code: "D735",
            firmware: "10.1.54.13",
            lines: 8,
            columns: 36,
            reloadsInPlace: false,
            bootSeconds: 50
        ),
        SimModel(name: "fanvil-x4u", family: .fanvil, code: "X4U", firmware: "2.12.2", lines: 8, columns: 32, reloadsInPlace: false, bootSeconds: 45),
        SimModel(
            name: "mitel-6867i",
            family: .mitel,
            code: "6867i",
            firmware: "5.1.0.2036",
            lines: 8,
            columns: 32,
            reloadsInPlace: false,
            bootSeconds: 60
        ),
        SimModel(
            name: "grandstream-grp2614",
            family: .grandstream,
            code: "GRP2614",
            firmware: "1.0.5.33",
            lines: 8,
            columns: 32,
            reloadsInPlace: false,
            bootSeconds: 50
        ),
    ]

    /// The model with this name; an unknown name is `nil` (never a default model).
    public static func named(_ name: String) -> SimModel? { all.first { $0.name == name.lowercased() } }

    public var dialect: BrowserDialect { family.dialect }

    public func userAgent(mac: String) -> String {
        fill(family.userAgent, mac: mac).replacingOccurrences(of: "{firmware}", with: firmware)
    }

    /// The config files the model asks for at boot, in order (§0).
    public func configFiles(mac: String) -> [String] { family.configFiles.map { fill($0, mac: mac) } }

    func fill(_ pattern: String, mac: String) -> String {
        pattern.replacingOccurrences(of: "{code}", with: code).replacingOccurrences(of: "{mac_colon}", with: Self.grouped(mac, ":"))
            .replacingOccurrences(of: "{mac_dash}", with: Self.grouped(mac, "-").uppercased()).replacingOccurrences(
                of: "{MAC}",
                with: mac.uppercased()
            )
            .replacingOccurrences(of: "{mac}", with: mac)
    }

    static func grouped(_ mac: String, _ separator: String) -> String {
        stride(from: 0, to: mac.count, by: 2).map { i -> String in
            let start = mac.index(mac.startIndex, offsetBy: i)
            return String(mac[start..<mac.index(start, offsetBy: 2, limitedBy: mac.endIndex)!])
        }.joined(separator: separator)
    }

    public var pushCommands: [PushCommand] { family.pushCommands }
    public var factoryLogin: (username: String, password: String) { family.factoryLogin }
    public var webRealm: String { family.realm }
}

/// A SIP NOTIFY event a phone acts on, and what it does.
public struct NotifyEvent: Sendable, Hashable {
    public enum Effect: Sendable, Hashable {
        /// Fetches its config again and applies it in place (a model that cannot reboots).
        case reload
        case reboot
        /// `;reboot=true` or `;reboot=false` on the event decides; without it, `default`.
        case rebootParameter(default: Bool)
        /// Cisco `service-control`: the body's `action=restart` reloads, `action=reset` reboots.
        case bodyAction
        /// Yealink: the config key decides: 1 (or unset) reboots, 0 reloads unless `;reboot=true`,
        /// 2 ignores the event.
        case setting(String)
    }

    public let event: String
    public let effect: Effect
    /// Where the fact comes from and how sure it is.
    public let source: String
}

/// A command a phone's web server takes.
public struct PushCommand: Sendable, Hashable {
    public enum Action: String, Sendable { case reload, reboot, xml }

    /// Whom the phone takes the command from. That a refusal is answered 403 is [I].
    public enum Sources: Sendable, Hashable {
        case anyone
        /// The config's action URI list (Yealink `features.action_uri_limit_ip`); anyone when empty.
        case actionURIList
        /// Only the config's push servers (Yealink `push_xml.server`, Fanvil, Aastra); nobody when unset.
        case pushServers
    }

    /// How the phone checks the sender's login.
    public enum Login: Sendable, Hashable {
        /// Its web login (the config's, else the factory one), Basic or Digest.
        case web(WebAuth)
        /// Polycom's separate push account (`apps.push.username`/`password`); unset: refused.
        case pushAccount(WebAuth)
        /// Cisco: Basic credentials checked by asking the config's `authenticationURL`.
        case authenticationURL
        /// No login: the source list is the only check (Aastra).
        case none
    }

    /// How the body carries the document.
    public enum Body: Sendable, Hashable {
        case none
        /// `xml=` then the document, raw or URL-encoded.
        case xmlEquals
        /// A form with `XML=` URL-encoded (Cisco).
        case formXML
        /// The document as the whole body (Fanvil).
        case raw
        /// `<PolycomIPPhone><Data>…</Data></PolycomIPPhone>`.
        case polycomData
    }

    public let method: String
    public let path: String
    /// The exact query string, or `nil` for none.
    public let query: String?
    public let action: Action
    public let from: Sources
    public let login: Login
    public let body: Body
    public let contentType: String?
    public let maxBodyBytes: Int?
    /// Polycom: only when the config enabled the REST API.
    public let needsRESTAPI: Bool

    public init(
        method: String,
        path: String,
        query: String?,
        action: Action,
        from: Sources,
        login: Login,
        body: Body = .none,
        contentType: String? = nil,
        maxBodyBytes: Int? = nil,
        needsRESTAPI: Bool = false
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.action = action
        self.from = from
        self.login = login
        self.body = body
        self.contentType = contentType
        self.maxBodyBytes = maxBodyBytes
        self.needsRESTAPI = needsRESTAPI
    }
}

public enum WebAuth: String, Sendable {
    case basic
    case digest
}
