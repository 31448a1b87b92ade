import Crypto
import Foundation
import HotDeskCore
import Mustache
import Synchronization
import TypedMustache

/// Everything a config template may use. See `docs/templates.md`.
public struct ConfigContext: Hashable, Sendable {
    public struct Line: Hashable, Sendable {
        public var number: String
        public var name: String
        public var sipPassword: String

        public init(number: String, name: String, sipPassword: String) {
            self.number = number
            self.name = name
            self.sipPassword = sipPassword
        }
    }

    /// One SIP account the config carries: the user's own line (index 1, key 1) or a shared line
    /// (index 2…, on its key).
    public struct Account: Hashable, Sendable {
        public var index: Int
        public var number: String
        public var name: String
        public var sipPassword: String
        public var callerID: String?
        public var button: Int
        public var shared: Bool
        public var ring: RingOption

        public init(index: Int, number: String, name: String, sipPassword: String, callerID: String?, button: Int, shared: Bool, ring: RingOption) {
            self.index = index
            self.number = number
            self.name = name
            self.sipPassword = sipPassword
            self.callerID = callerID
            self.button = button
            self.shared = shared
            self.ring = ring
        }
    }

    /// Account slots a template clears when unused (a phone keeps a setting its config no longer names).
    public static let accountSlots = 8

    public var device: Device
    /// `nil` when nobody is logged in.
    public var line: Line?
    /// The own line first, then the shared lines placed on this phone; empty when logged out.
    public var accounts: [Account] = []
    /// The address the phone uses: the one chosen at login, or the one it reached HotDesk at.
    public var server: ServerAddress
    public var network: Network?
    public var emergencyCallerID: String?
    /// The phone's web login, set by the config so that HotDesk's pushes are accepted.
    public var phoneLogin: PhoneCredentials?
    /// The IP address HotDesk's pushes come from: the phone should take remote commands from
    /// it and from nowhere else.
    public var pushFrom: String?
    /// Where the accounts register; `nil`: the host the phone reaches HotDesk at.
    public var sip: SIPSettings?
    /// The phone's provisioning login (its per-device secret), written with the family's own keys.
    public var provisioning: PhoneCredentials?
    /// The secret as the first segment of the provisioning path, for families that cannot send
    /// credentials (`ProvisioningAuth.urlKey`).
    public var provisioningPathKey: String?
    /// The app token the Login/Logout key carries; `nil`: the placeholder of a phone that has not
    /// proved itself yet (its key shows "please wait" until its next, authenticated fetch).
    public var appToken: String?

    /// The token path segment of a phone that has not fetched its config with its secret yet.
    public static let pendingToken = "pending"

    public init(
        device: Device,
        line: Line?,
        server: ServerAddress,
        network: Network?,
        emergencyCallerID: String?,
        phoneLogin: PhoneCredentials? = nil,
        pushFrom: String? = nil
    ) {
        self.pushFrom = pushFrom
        self.device = device
        self.line = line
        self.server = server
        self.network = network
        self.emergencyCallerID = emergencyCallerID
        self.phoneLogin = phoneLogin
        self.appToken = device.token
        // The own line on key 1; shared lines are added by whoever knows the memberships.
        self.accounts =
            line.map {
                [
                    Account(
                        index: 1,
                        number: $0.number,
                        name: $0.name,
                        sipPassword: $0.sipPassword,
                        callerID: nil,
                        button: 1,
                        shared: false,
                        ring: .ring
                    )
                ]
            } ?? []
    }

    /// The Login/Logout key's URL: the per-device app entry.
    public var appURL: String { "\(server.baseURL)/app/\(appToken ?? Self.pendingToken)" }
    public var provisionURL: String { "\(server.baseURL)/provision/" + (provisioningPathKey.map { "\($0)/" } ?? "") }
    /// Where a phone asks whether a push's login is HotDesk's own (Cisco `authenticationURL`).
    public var pushAuthURL: String { "\(server.baseURL)/push-auth" }

    /// The values of an unused slot and an unused key: the same for every phone, made once.
    private static let slotValues = (0...accountSlots).map { TemplateValue.object(["index": .number($0)]) }
    private static let keyValues = (0..<128).map(makeKeyValue)
    private static func makeKeyValue(_ position: Int) -> TemplateValue {
        .object(["position": .number(position), "position0": .number(position - 1)])
    }
    private static func keyValue(_ position: Int) -> TemplateValue { position < keyValues.count ? keyValues[position] : makeKeyValue(position) }

    /// What the template reads (`docs/templates.md`), typed.
    var values: TemplateValue {
        var values: [String: TemplateValue] = [
            "mac": .text(device.mac.canonical),
            "mac_colon": .text(device.mac.colonSeparated),
            "mac_upper": .text(device.mac.upperCased),
            "model": .text(device.model.name),
            "model_code": .text(device.model.userAgentModel),
            "brand": .text(device.model.brand.rawValue),
            "logged_in": .flag(line != nil),
            "server": .object(["host": .text(server.host), "port": .number(server.port), "url": .text(server.baseURL)]),
            "app_url": .text(appURL),
            "provision_url": .text(provisionURL),
            "push_auth_url": .text(pushAuthURL),
        ]
        let registrar = sip ?? SIPSettings(host: server.host)
        var sipValues: [String: TemplateValue] = [
            "host": .text(registrar.host), "port": .number(registrar.effectivePort), "transport": .text(registrar.transport.rawValue),
            "realm": .text(registrar.realm ?? registrar.host),
        ]
        sipValues[registrar.transport.rawValue] = .flag(true)
        if let proxy = registrar.outboundProxy { sipValues["outbound_proxy"] = .text(proxy) }
        values["sip"] = .object(sipValues)
        if let line {
            values["line"] = .object(["number": .text(line.number), "name": .text(line.name), "sip_password": .text(line.sipPassword)])
        }
        let accountValues = accounts.map { a -> TemplateValue in
            var v: [String: TemplateValue] = [
                "index": .number(a.index), "number": .text(a.number), "name": .text(a.name), "auth_name": .text(a.number),
                "sip_password": .text(a.sipPassword), "button": .number(a.button), "button0": .number(a.button - 1),
                "shared": .flag(a.shared), "label": .text(a.shared ? a.name : a.number),
            ]
            if let callerID = a.callerID { v["caller_id"] = .text(callerID) }
            switch a.ring {
            case .ring: v["ring"] = .flag(true)
            case .noRing: v["no_ring"] = .flag(true)
            case .after(let seconds): v["ring_after"] = .number(seconds)
            }
            return .object(v)
        }
        values["accounts"] = .list(accountValues)
        // By slot, for formats that name each account's settings apart (P-codes): `{{#slot.2}}…{{/slot.2}}`.
        values["slot"] = .object(Dictionary(zip(accounts.map { "\($0.index)" }, accountValues), uniquingKeysWith: { a, _ in a }))
        values["shared_accounts"] = .list(Array(accountValues.dropFirst()))
        let firstUnused = max(2, accounts.count + 1)
        values["unused_accounts"] = .list(firstUnused <= Self.accountSlots ? (firstUnused...Self.accountSlots).map { Self.slotValues[$0] } : [])
        let taken = Set(accounts.map(\.button))
        let lastKey = max(2, device.model.lineKeys)
        values["unused_keys"] = .list((2..<lastKey).filter { !taken.contains($0) }.map(Self.keyValue))
        values["login_key"] = .number(lastKey)
        values["login_key0"] = .number(lastKey - 1)
        if let network { values["network"] = .text(network.rawValue) }
        if let emergencyCallerID { values["emergency_caller_id"] = .text(emergencyCallerID) }
        if let pushFrom { values["push_from"] = .text(pushFrom) }
        if let phoneLogin { values["phone_login"] = .object(["username": .text(phoneLogin.username), "password": .text(phoneLogin.password)]) }
        if let provisioning {
            values["provisioning"] = .object(["username": .text(provisioning.username), "password": .text(provisioning.password)])
        }
        return .object(values)
    }
}

/// A rendered config and its hash.
public struct RenderedConfig: Hashable, Sendable {
    public let body: String
    public let contentType: String
    /// SHA-256 of the body, hex: the ETag, and how HotDesk knows which config a phone has.
    public let hash: String

    public init(body: String, contentType: String) {
        self.body = body
        self.contentType = contentType
        self.hash = Hex.string(SHA256.hash(data: Data(body.utf8)))
    }
}

public struct TemplateError: Error, CustomStringConvertible, Sendable {
    public let template: String
    public let reason: String

    public init(template: String, reason: String) {
        self.template = template
        self.reason = reason
    }

    public var description: String { "template \(template): \(reason)" }
}

/// Renders config templates with the vendor's escaping: XML-escaped values for XML formats,
/// line breaks removed for `key = value` formats (a display name cannot inject a setting).
/// One per server (its caches are its own): `ConfigBuilder` renders with it.
public final class ConfigRenderer: Sendable {
    /// Configs as rendered, by template and context: a login renders the phone's new config for
    /// the push (the hash to wait for) and the phone's fetch asks for the same one a moment later
    /// (issue 12: rendering was the largest part of a login). A context that differs in anything
    /// is another key.
    private let rendered: Memo<RenderKey, RenderedConfig>
    /// Compiled templates by their format and text: each is parsed once, not at every fetch.
    private let compiled: Memo<TemplateKey, Compiled>

    /// A template as parsed, and as `TypedTemplate` renders it (nil: swift-mustache renders it).
    private struct Compiled: Sendable {
        let mustache: MustacheTemplate
        let typed: TypedTemplate?
    }

    public init(limits: CacheLimits = CacheLimits()) {
        rendered = Memo(limit: limits.renders)
        compiled = Memo(limit: limits.renders)
    }

    private static let registered: Void = {
        MustacheContentTypes.register(KeyValueContent(), named: "HOTDESK_KEYVALUE")
        MustacheContentTypes.register(XMLContent(), named: "HOTDESK_XML")
    }()

    /// Checks that a template parses (used when a directory is imported).
    public static func validate(_ body: String, format: ConfigFormat, name: String) throws(TemplateError) {
        _ = try compile(TemplateKey(format: format, body: body), name: name)
    }

    public func render(_ body: String, name: String, format: ConfigFormat, context: ConfigContext) throws(TemplateError) -> RenderedConfig {
        let templateKey = TemplateKey(format: format, body: body)
        let key = RenderKey(template: templateKey, context: context)
        return try rendered.value(key) { () throws(TemplateError) in
            let template = try compiled.value(templateKey) { () throws(TemplateError) in
                let mustache = try Self.compile(templateKey, name: name)
                return Compiled(mustache: mustache, typed: TypedTemplate(mustache))
            }
            let values = context.values
            let body = template.typed?.render(values, contentType: Self.contentType(format)) ?? template.mustache.render(values.untyped)
            return RenderedConfig(body: body, contentType: format.contentType)
        }
    }

    /// Hashed once, outside the lock (a template is kilobytes); compared in full only when the
    /// hashes match. (Hashing and comparing inside the lock made a boot storm 11 times slower:
    /// every probe compared the template text byte by byte while the other cores waited.)
    private struct RenderKey: Hashable, Sendable {
        let template: TemplateKey
        let context: ConfigContext
        let fingerprint: Int

        init(template: TemplateKey, context: ConfigContext) {
            self.template = template
            self.context = context
            var hasher = Hasher()
            hasher.combine(template.fingerprint)
            context.hash(into: &hasher)
            fingerprint = hasher.finalize()
        }

        func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

        static func == (a: RenderKey, b: RenderKey) -> Bool {
            a.fingerprint == b.fingerprint && a.context == b.context && a.template == b.template
        }
    }

    /// The escaping of a format (the content type its pragma names).
    static func contentType(_ format: ConfigFormat) -> any MustacheContentType {
        format == .xml ? XMLContent() : KeyValueContent()
    }

    /// Whether swift-mustache's parse of `body` is rendered by `TypedTemplate` (the built-in
    /// templates all are: a test says so).
    static func isTyped(_ body: String, format: ConfigFormat) throws(TemplateError) -> Bool {
        TypedTemplate(try compile(TemplateKey(format: format, body: body), name: "")) != nil
    }

    /// `body` rendered by swift-mustache itself, and by `TypedTemplate` (nil: not taken): what
    /// `TypedTemplateTests` compares.
    static func renderBoth(_ body: String, format: ConfigFormat, context: ConfigContext) throws(TemplateError) -> (library: String, typed: String?) {
        let mustache = try compile(TemplateKey(format: format, body: body), name: "")
        let values = context.values
        return (mustache.render(values.untyped), TypedTemplate(mustache)?.render(values, contentType: contentType(format)))
    }

    private static func compile(_ key: TemplateKey, name: String) throws(TemplateError) -> MustacheTemplate {
        _ = registered
        let pragma = key.format == .xml ? "{{% CONTENT_TYPE: HOTDESK_XML}}" : "{{% CONTENT_TYPE: HOTDESK_KEYVALUE}}"
        do {
            return try MustacheTemplate(string: pragma + key.body)
        } catch {
            throw TemplateError(template: name, reason: "\(error)")
        }
    }
}

/// A template text as a cache key: hashed and compared as UTF-8 bytes. (A `String` key hashes
/// its Unicode-normalised form: a template with one non-ASCII character cost more to look up
/// than to render.)
private struct TemplateKey: Hashable, Sendable {
    let format: ConfigFormat
    let body: String
    /// The bytes hashed once, where the key is made (not inside a cache's lock).
    let fingerprint: Int

    init(format: ConfigFormat, body: String) {
        self.format = format
        self.body = body
        var hasher = Hasher()
        hasher.combine(format)
        var bytes = body
        bytes.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        fingerprint = hasher.finalize()
    }

    func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

    static func == (a: TemplateKey, b: TemplateKey) -> Bool {
        guard a.fingerprint == b.fingerprint, a.format == b.format, a.body.utf8.count == b.body.utf8.count else { return false }
        var (x, y) = (a.body, b.body)
        // Bytes, as hashed; `memcmp`, not element by element.
        return x.withUTF8 { p in y.withUTF8 { q in p.count == q.count && (p.count == 0 || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0) } }
    }
}

/// Printable ASCII needs no escaping in either format but XML's five: most values (numbers,
/// addresses, plain names) are returned as they are, without a character-by-character copy.
private func isPlainASCII(_ text: String, except special: (UInt8) -> Bool = { _ in false }) -> Bool {
    text.utf8.allSatisfy { $0.isASCIIPrintable && !special($0) }
}

private struct KeyValueContent: MustacheContentType {
    func escapeText(_ text: String) -> String {
        if isPlainASCII(text) { return text }
        return String(text.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? " " : Character($0) })
    }
}

private struct XMLContent: MustacheContentType {
    func escapeText(_ text: String) -> String {
        if isPlainASCII(text, except: LibraryHTMLContent.isSpecial) { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // Control characters other than tab/newline are not allowed in XML 1.0.
                if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" { out += " " } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}
