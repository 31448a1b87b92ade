import Foundation

/// A person's extension: the line a phone becomes when they log in.
public struct Extension: Hashable, Sendable {
    /// 2–6 digits.
    public var number: String
    public var name: String
    /// The voicemail PIN's hash; `nil` means the extension has no voicemail box.
    public var voicemailPIN: SecretHash?
    /// The PIN the person chose on a phone (Change PIN), which from then on is the only secret of
    /// their own that logs them in (not the voicemail PIN, not the user password). Never imported
    /// or exported: the directory does not own it; an admin can clear it. `nil`: none chosen.
    public var ownPIN: SecretHash?
    /// Recoverable: phones need it in clear in their config. Encrypted at rest by the store.
    public var sipPassword: String
    /// The class of service that decides the calls of this user's phone while logged in.
    public var cos: String?
    /// The number the PBX asserts for this user's calls, from whatever desk (`nil`: the extension).
    public var callerID: String?
    /// The number callers outside dial to reach this user wherever they are logged in (iPECS's
    /// "Direct Dial Call Number"): the PBX asks which SIP user it rings.
    public var directDial: String?
    /// The user's home site (`nil`: none; may log in on any phone).
    public var site: String?
    /// Which other sites' phones the user may log in on.
    public var roaming: Roaming = .none
    /// The language of the phone app's screens once this user is logged in (`nil`: the phone's site's).
    public var language: String?

    public init(number: String, name: String, voicemailPIN: SecretHash?, sipPassword: String) {
        self.number = number
        self.name = name
        self.voicemailPIN = voicemailPIN
        self.sipPassword = sipPassword
    }

    public var hasVoicemail: Bool { voicemailPIN != nil }

    /// The secret of this person's own that logs them in: their chosen PIN, else the voicemail
    /// PIN; `nil` when only the global user password can (no voicemail box, no PIN chosen).
    public var personalSecret: SecretHash? { ownPIN ?? voicemailPIN }

    /// Whether `text` could be a PIN a person chooses: 4-12 ASCII digits (as a voicemail PIN).
    public static func isValidPIN(_ text: some StringProtocol) -> Bool {
        (4...12).contains(text.utf8.count) && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Whether `text` is a valid extension number (2–6 ASCII digits).
    public static func isValidNumber(_ text: some StringProtocol) -> Bool {
        (2...6).contains(text.utf8.count) && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}

/// A phone's own line, registered while nobody is logged in (a restricted line: emergency calls
/// and whatever the PBX lets it call).
public struct DeviceLine: Hashable, Sendable {
    public var number: String
    public var name: String
    /// Recoverable: sealed at rest by the store.
    public var sipPassword: String

    public init(number: String, name: String, sipPassword: String) {
        self.number = number
        self.name = name
        self.sipPassword = sipPassword
    }
}

/// A desk phone HotDesk knows.
public struct Device: Hashable, Sendable {
    public var mac: MACAddress
    public var model: PhoneModel
    /// The per-device secret in the phone's Login/Logout key URL (`/app/<token>`). Never the MAC.
    public var token: String
    /// The phone's web port, when it is not `Settings.pushPort`.
    public var pushPort: Int?
    /// The phone's web login, when it is not the brand's from `Settings.phoneCredentials`.
    public var credentials: PhoneCredentials?
    /// The address the phone last reached HotDesk from (learned, never configured).
    public var lastAddress: String?
    /// The workspace the phone is in, if any.
    public var workspace: String?
    /// The site the phone stands in (its workspace's, when it is in one): its config, clock and
    /// emergency calls are that site's whoever logs in. `nil`: the settings' alone.
    public var site: String?
    /// A personal device: only these extensions (and the admin password) may log in. Empty: anyone.
    public var assignedUsers: [String] = []
    /// The extension last logged in on the phone (kept after the logout): a personal device's
    /// Login form offers it first.
    public var lastUser: String?
    /// The phone's own line while nobody is logged in, if it has one.
    public var ownLine: DeviceLine?
    /// The class of service of the device, and the one while nobody is logged in on it.
    public var cos: String?
    public var cosIfNotLogged: String?
    /// The caller ID of an emergency call from this desk, whoever is logged in (`nil`: its
    /// workspace's, else the settings').
    public var emergencyCallerID: String?
    /// The phone's own provisioning secret: its HTTP Digest password (user `provisioningUsername`),
    /// or the key in its provisioning path for families that cannot send credentials. Written
    /// into its configs; sealed at rest.
    public var provisioningSecret: String?
    /// When the phone first fetched a config with its secret: from then on its configs are served
    /// only with it (until an admin releases it).
    public var claimedAt: Date?
    /// When an unproven config first carried the secret (a Digest phone is challenged from then on).
    public var secretIssuedAt: Date?
    /// Enrolled by its own request (default login), not listed by the directory.
    public var selfEnrolled = false
    /// Where an unclaimed phone asked from while claims need an admin's approval.
    public var claimPendingFrom: String?
    /// The address an admin approved the claim from: the next fetch from there gets the secret.
    public var claimApprovedFrom: String?

    /// The Digest user name of the phone's provisioning secret.
    public var provisioningUsername: String { "hd" + mac.canonical }

    public init(
        mac: MACAddress,
        model: PhoneModel,
        token: String,
        pushPort: Int? = nil,
        credentials: PhoneCredentials? = nil,
        lastAddress: String? = nil
    ) {
        self.mac = mac
        self.model = model
        self.token = token
        self.pushPort = pushPort
        self.credentials = credentials
        self.lastAddress = lastAddress
    }
}

/// The login of a phone's own web server: HotDesk sets it in the configs it serves and uses it
/// for pushes, so the two always agree. The password is sealed at rest and never logged.
public struct PhoneCredentials: Hashable, Sendable, CustomStringConvertible {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "\(username):•••" }
}

/// A provisioning config template for one brand.
public struct Template: Hashable, Sendable {
    public var name: String
    public var brand: Brand
    public var isDefault: Bool
    public var body: String

    public init(name: String, brand: Brand, isDefault: Bool, body: String) {
        self.name = name
        self.brand = brand
        self.isDefault = isDefault
        self.body = body
    }
}

/// Extension → template, optionally narrowed to a phone model and a MAC.
public struct Mapping: Hashable, Sendable {
    public var extensionNumber: String
    public var templateName: String
    public var model: String?
    public var mac: MACAddress?

    public init(extensionNumber: String, templateName: String, model: String? = nil, mac: MACAddress? = nil) {
        self.extensionNumber = extensionNumber
        self.templateName = templateName
        self.model = model
        self.mac = mac
    }
}

/// Where phones reach HotDesk: `host:port`, optionally with a scheme (`https://host`). Port 443
/// without a scheme means HTTPS.
public struct ServerAddress: Hashable, Sendable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int
    /// Where under the host the phones' routes are: empty, or an organisation's `/o/NAME` (set
    /// by the server that serves it, never read from the directory).
    public private(set) var path = ""
    /// `http://host:port` (the port left out when it is the scheme's default), and the path:
    /// made once (phones' URLs and cache keys read it on every fetch).
    public private(set) var baseURL = ""

    public init?(_ text: String) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var scheme: String?
        if let range = rest.range(of: "://") {
            scheme = rest[..<range.lowerBound].lowercased()
            rest = rest[range.upperBound...]
            guard scheme == "http" || scheme == "https" else { return nil }
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var host = rest
        var port: Int?
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            host = rest[..<colon]
        }
        let hostAllowed = host.allSatisfy { $0.isLetter || $0.isNumber || "-.[]:".contains($0) }
        guard !host.isEmpty, hostAllowed, host.unicodeScalars.allSatisfy(\.isASCII) else { return nil }
        let resolvedScheme = scheme ?? (port == 443 ? "https" : "http")
        self.scheme = resolvedScheme
        self.host = String(host)
        self.port = port ?? (resolvedScheme == "https" ? 443 : 80)
        baseURL = makeBaseURL()
    }

    private func makeBaseURL() -> String {
        let defaultPort = scheme == "https" ? 443 : 80
        return (port == defaultPort ? "\(scheme)://\(host)" : "\(scheme)://\(host):\(port)") + path
    }

    /// This address with the routes under `path` (`/o/acme`; empty: at the root).
    public func under(_ path: String) -> ServerAddress {
        guard path != self.path else { return self }
        var address = self
        address.path = path
        address.baseURL = address.makeBaseURL()
        return address
    }

    public var description: String { baseURL }
}

/// Which of the two server addresses a person chose at login.
public enum Network: String, Sendable, Codable, CaseIterable {
    /// "Login Int": the phone is on the office network.
    case `internal` = "int"
    /// "Login Extl": the phone is remote.
    case external = "ext"
}

/// Where the phones' SIP accounts register: the PBX's registrar/proxy (`settings.sip`).
public struct SIPSettings: Hashable, Sendable {
    public enum Transport: String, Hashable, Sendable, CaseIterable {
        case udp, tcp, tls
    }

    /// `host` or `host:port` of the registrar.
    public var host: String
    public var port: Int?
    public var transport: Transport
    /// The digest realm the PBX challenges with (for `/pbx/v1/credentials`), if not the host.
    public var realm: String?
    /// `host[:port]` of an outbound proxy, if the phones must use one.
    public var outboundProxy: String?

    public init(host: String, port: Int? = nil, transport: Transport = .udp, realm: String? = nil, outboundProxy: String? = nil) {
        self.host = host
        self.port = port
        self.transport = transport
        self.realm = realm
        self.outboundProxy = outboundProxy
    }

    /// `host[:port]`, as the directory writes it; `nil` for anything else.
    public init?(server text: String, transport: Transport = .udp) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let host = parts.first, !host.isEmpty, host.utf8.count <= 253,
            host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") })
        else { return nil }
        var port: Int?
        if parts.count == 2 {
            guard let p = Int(parts[1]), (1...65535).contains(p) else { return nil }
            port = p
        }
        self.init(host: String(host), port: port, transport: transport)
    }

    /// The port phones use: the one set, else SIP's default for the transport.
    public var effectivePort: Int { port ?? (transport == .tls ? 5061 : 5060) }

    /// The digest realm the PBX challenges with and `/pbx/v1/credentials` keys the `ha1` by.
    public var effectiveRealm: String { realm ?? host }
}

/// Limits on wrong passwords.
public struct LockoutPolicy: Hashable, Sendable {
    /// Failures of one extension (on any phone) within `window` that lock the extension.
    public var extensionFailures: Int
    /// Failures on one phone (for any extension) within `window` that lock the phone.
    public var deviceFailures: Int
    /// Seconds over which failures are counted.
    public var window: TimeInterval
    /// Seconds a lock lasts.
    public var duration: TimeInterval
    /// Failures from one source address (any phone, any extension) within `window` that lock
    /// the address out of the Login app.
    public var sourceFailures: Int
    /// Failures within `window`, over every phone and extension, that could have matched a global
    /// password (the admin or the user password): past it, global passwords stop working for
    /// `duration` while voicemail PINs still do.
    public var globalFailures: Int

    public init(
        extensionFailures: Int = 5,
        deviceFailures: Int = 10,
        window: TimeInterval = 900,
        duration: TimeInterval = 900,
        sourceFailures: Int = 30,
        globalFailures: Int = 20
    ) {
        self.sourceFailures = sourceFailures
        self.globalFailures = globalFailures
        self.extensionFailures = extensionFailures
        self.deviceFailures = deviceFailures
        self.window = window
        self.duration = duration
    }

    public static let standard = LockoutPolicy()
}

/// Limits on phones HotDesk does not know yet (`settings.enrolment`): a fake-MAC flood cannot
/// fill the store or squat on real phones' MACs.
public struct EnrolmentPolicy: Hashable, Sendable {
    /// Unknown phones enrolled per minute at most; past it they get 503 with `Retry-After`.
    public var perMinute: Int
    /// Enrolled phones that never proved themselves (never fetched with their secret) at most.
    public var maxUnclaimed: Int
    /// Such phones are forgotten after this long; `nil`: kept.
    public var expireUnclaimedAfter: TimeInterval?

    /// How an unclaimed phone becomes the owner of its device (docs/security.md, "Claims").
    public enum Claims: String, Hashable, Sendable {
        /// Whoever fetches the device's config first (trust on first use): the default.
        case firstFetch = "first_fetch"
        /// An admin approves each pending claim (`hotdesk device approve`, the API).
        case approval
    }

    public var claims: Claims
    /// With `firstFetch`: first fetches claim until then; after it, claims need approval.
    public var claimsUntil: Date?

    public init(
        perMinute: Int = 60,
        maxUnclaimed: Int = 1000,
        expireUnclaimedAfter: TimeInterval? = 7 * 86400,
        claims: Claims = .firstFetch,
        claimsUntil: Date? = nil
    ) {
        self.perMinute = perMinute
        self.maxUnclaimed = maxUnclaimed
        self.expireUnclaimedAfter = expireUnclaimedAfter
        self.claims = claims
        self.claimsUntil = claimsUntil
    }

    /// Whether a claim made at `now` waits for an admin's approval.
    public func claimNeedsApproval(at now: Date) -> Bool {
        claims == .approval || (claimsUntil.map { now > $0 } ?? false)
    }
}

/// Global settings from the directory's `settings:` block.
public struct Settings: Hashable, Sendable {
    /// Enrol unknown phones and offer them the Login app.
    public var defaultLogin: Bool
    public var internalAddress: ServerAddress?
    public var externalAddress: ServerAddress?
    /// For extensions without a voicemail box.
    public var userPassword: SecretHash?
    /// Logs any extension into any phone.
    public var adminPassword: SecretHash?
    /// The caller ID of an emergency call from a desk that names none (device or workspace).
    public var emergencyCallerID: String?
    public var lockout: LockoutPolicy
    /// The phones' web port for pushes, unless a device says otherwise.
    public var pushPort: Int
    /// The phones' web login per brand, unless a device says otherwise.
    public var phoneCredentials: [Brand: PhoneCredentials]
    /// The IP address HotDesk sends pushes from. Configs tell phones to take remote commands
    /// from it (Yealink `features.action_uri_limit_ip`); `nil`: the address the phone reached
    /// HotDesk at, when that is an IP address.
    public var pushFrom: String?
    /// Sessions that end by themselves (off by default).
    public var autoLogout: AutoLogoutPolicy
    /// An extension already logged in elsewhere: move, deny, or allow up to N phones.
    public var multiLogin: MultiLoginPolicy = .move
    /// The PBX the phones register with; `nil`: the host phones reach HotDesk at (HotDesk beside
    /// the PBX on one host).
    public var sip: SIPSettings?
    /// Always allowed, whatever any class of service says.
    public var emergencyNumbers: [String] = []
    public var enrolment = EnrolmentPolicy()
    /// The zone of the daily auto logout (`nil`: the server's).
    public var timeZone: TimeZone?
    /// Where a caller is, for the PBX to pass on with an emergency call (a site's, usually).
    public var emergencyLocation: String?
    /// The language of the phone app's screens (`nil`: the server's, `hotdesk serve --language`).
    public var language: String?
    /// The directory's sites, by name.
    public var sites: [String: Site] = [:] {
        didSet { siteHosts = Set(sites.values.flatMap { [$0.internalAddress, $0.externalAddress] }.compactMap { $0?.host.lowercased() }) }
    }
    /// The host names of the sites' addresses, lower case: kept with `sites` (the host check
    /// asks on every phone request).
    public private(set) var siteHosts: Set<String> = []
    /// The site these settings were made for by `forSite` (`nil`: the settings themselves).
    public var site: String?

    public init(
        defaultLogin: Bool = false,
        internalAddress: ServerAddress? = nil,
        externalAddress: ServerAddress? = nil,
        userPassword: SecretHash? = nil,
        adminPassword: SecretHash? = nil,
        emergencyCallerID: String? = nil,
        lockout: LockoutPolicy = .standard,
        pushPort: Int = 80,
        phoneCredentials: [Brand: PhoneCredentials] = [:],
        pushFrom: String? = nil,
        autoLogout: AutoLogoutPolicy = AutoLogoutPolicy(),
        multiLogin: MultiLoginPolicy = .move,
        emergencyNumbers: [String] = [],
        sip: SIPSettings? = nil
    ) {
        self.sip = sip
        self.emergencyNumbers = emergencyNumbers
        self.multiLogin = multiLogin
        self.autoLogout = autoLogout
        self.pushPort = pushPort
        self.pushFrom = pushFrom
        self.phoneCredentials = phoneCredentials
        self.defaultLogin = defaultLogin
        self.internalAddress = internalAddress
        self.externalAddress = externalAddress
        self.userPassword = userPassword
        self.adminPassword = adminPassword
        self.emergencyCallerID = emergencyCallerID
        self.lockout = lockout
    }

    /// The web login HotDesk sets on (and uses for) this phone, if any is configured.
    public func credentials(for device: Device) -> PhoneCredentials? {
        device.credentials ?? phoneCredentials[device.model.brand]
    }

    /// The port the phone's web server listens on.
    public func pushPort(for device: Device) -> Int { device.pushPort ?? pushPort }

    public func address(for network: Network) -> ServerAddress? {
        switch network {
        case .internal: internalAddress
        case .external: externalAddress
        }
    }
}

/// A person logged into a phone.
public struct Session: Hashable, Sendable {
    public var mac: MACAddress
    public var extensionNumber: String
    public var network: Network
    public var credential: Credential
    public var startedAt: Date
    /// The address the login came from.
    public var source: String?

    public init(mac: MACAddress, extensionNumber: String, network: Network, credential: Credential, startedAt: Date, source: String?) {
        self.mac = mac
        self.extensionNumber = extensionNumber
        self.network = network
        self.credential = credential
        self.startedAt = startedAt
        self.source = source
    }
}

/// IP address literals (`192.0.2.10`, `2001:db8::1`), as phones take them in address lists.
public enum IPAddressLiteral {
    public static func isValid(_ text: String) -> Bool { canonical(text) != nil }

    /// `text` in its canonical form (`::1`, `10.0.0.2`) when it is exactly an IPv4 or IPv6
    /// address: no port, no brackets, no name, no zone.
    public static func canonical(_ text: String) -> String? {
        guard (2...45).contains(text.utf8.count) else { return nil }
        var v4 = in_addr()
        var v6 = in6_addr()
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if text.contains(":") {
            guard inet_pton(AF_INET6, text, &v6) == 1, inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        } else {
            guard inet_pton(AF_INET, text, &v4) == 1, inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
