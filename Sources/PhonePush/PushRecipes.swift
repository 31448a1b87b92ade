import Curl
import Foundation
import HotDeskCore

/// How one family's phones are told to reload, reboot or show a message: data, read from the
/// `push` block of the family's descriptor (`Screens/families/<brand>.json`).
public struct VendorPushRecipes: Decodable, Hashable, Sendable {
    /// One request to the phone.
    public struct Recipe: Decodable, Hashable, Sendable {
        /// How the request travels: `http` (the phone's web server). A SIP NOTIFY sent through
        /// the PBX is another transport, added beside it without touching the families.
        public var transport: String
        public var method: String
        /// Path and query as the phone expects them, e.g. `/servlet?key=Reboot`.
        public var path: String
        /// The body, if the request has one. `{document}` stands for the document an `xml` push
        /// carries, inserted raw (Yealink: `xml={document}`); `{document_urlencoded}` for the same,
        /// form-encoded (Cisco: `XML={document_urlencoded}`).
        public var body: String?
        public var contentType: String?
        /// The one HTTP authentication the phone was set up for: `basic`, `digest`, or `none`
        /// (the phone checks only the sender's address). Never "whichever the host asks for": a
        /// host that answers 401 Basic must not receive the phone's web password in clear.
        public var auth: PushAuth
        /// Which login the request carries: the phone's own web login (`phone`, the default), or a
        /// single-use login HotDesk makes for this one request (`one_time`) where the phone checks
        /// a command's login by asking HotDesk (Cisco's `authenticationURL`, `POST /push-auth`).
        public var login: PushLogin
        /// The largest body the phone takes (Aastra 2150 bytes, Polycom 2 KB), if it has a limit.
        public var maxBodyBytes: Int?
        /// Text in a 2xx answer that means the phone refused after all (Cisco answers 200 with
        /// `CiscoIPPhoneError`).
        public var failureMarker: String?
        /// Where the fact comes from and how sure it is.
        public var source: String?

        enum CodingKeys: String, CodingKey {
            case transport, method, path, body, auth, source, login
            case contentType = "content_type"
            case maxBodyBytes = "max_body_bytes"
            case failureMarker = "failure_marker"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            transport = try c.decodeIfPresent(String.self, forKey: .transport) ?? "http"
            method = try c.decode(String.self, forKey: .method)
            path = try c.decode(String.self, forKey: .path)
            body = try c.decodeIfPresent(String.self, forKey: .body)
            contentType = try c.decodeIfPresent(String.self, forKey: .contentType)
            let auth = try c.decode(String.self, forKey: .auth)
            guard let scheme = PushAuth(rawValue: auth) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .auth,
                    in: c,
                    debugDescription: "\"\(auth.prefix(20))\": name the phone's one scheme: basic, digest or none (never any)"
                )
            }
            self.auth = scheme
            let login = try c.decodeIfPresent(String.self, forKey: .login) ?? PushLogin.phone.rawValue
            guard let kind = PushLogin(rawValue: login) else {
                throw DecodingError.dataCorruptedError(forKey: .login, in: c, debugDescription: "\"\(login.prefix(20))\": phone or one_time")
            }
            self.login = kind
            maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes)
            failureMarker = try c.decodeIfPresent(String.self, forKey: .failureMarker)
            source = try c.decodeIfPresent(String.self, forKey: .source)
        }
    }

    /// Whose login a push carries.
    public enum PushLogin: String, Hashable, Sendable {
        /// The phone's web login (from the settings, else the family's factory login).
        case phone
        /// A login made for this request alone, which the phone checks with HotDesk.
        case oneTime = "one_time"
    }

    /// Whether any of the family's pushes carries a one-time login (its phones ask `/push-auth`).
    public var usesOneTimeLogins: Bool { [reload, reboot, xml].contains { $0?.login == .oneTime } }

    /// How a push proves itself to the phone.
    public enum PushAuth: String, Hashable, Sendable {
        case basic
        case digest
        case none

        /// libcurl's scheme; `nil`: send no credentials.
        var scheme: HTTPCredentials.Scheme? {
            switch self {
            case .basic: .basic
            case .digest: .digest
            case .none: nil
            }
        }
    }

    public struct Credentials: Decodable, Hashable, Sendable {
        public var username: String
        public var password: String
    }

    /// A SIP NOTIFY the PBX sends the phone (through the registration the phone keeps with
    /// it): what the family's phones take it as.
    public struct Notify: Decodable, Hashable, Sendable {
        /// The `Event:` header, e.g. `check-sync;reboot=false`.
        public var event: String
        /// A body, for the families that read one (Cisco `service-control`: `action=restart`).
        public var body: String?
        public var contentType: String?
        public var source: String?

        enum CodingKeys: String, CodingKey {
            case event, body, source
            case contentType = "content_type"
        }
    }

    /// The NOTIFYs a family's phones act on: `reload` (the config applied in place) and `reboot`.
    public struct NotifyRecipes: Decodable, Hashable, Sendable {
        public var reload: Notify?
        public var reboot: Notify?
    }

    /// The web login a phone has before HotDesk's config set one.
    public var factoryCredentials: Credentials
    /// How the PBX makes the family's phones reload or reboot (`push.sip_notify`); `nil` when
    /// no NOTIFY is known. Used when the phone cannot be reached over HTTP (logged in with
    /// Login Extl, or its HTTP push failed) or the family has no HTTP command.
    public var sipNotify: NotifyRecipes?
    /// `nil` when no way to make the family's phones re-read their config in place is known.
    public var reload: Recipe?
    /// `nil` when no remote restart is known (the phone applies its config when restarted by hand
    /// or by the PBX).
    public var reboot: Recipe?
    /// Shows a document on the phone's screen; `nil` when the family has no known XML push.
    public var xml: Recipe?

    enum CodingKeys: String, CodingKey {
        case reload, reboot, xml
        case factoryCredentials = "factory_credentials"
        case sipNotify = "sip_notify"
    }

    /// The NOTIFY for `action`, if the family has one (never for `xml`).
    public func notify(_ action: PushAction) -> Notify? {
        switch action {
        case .reload: sipNotify?.reload
        case .reboot: sipNotify?.reboot
        case .xml: nil
        }
    }

    public func recipe(_ action: PushAction) -> Recipe? {
        switch action {
        case .reload: reload
        case .reboot: reboot
        case .xml: xml
        }
    }

    /// Where an `xml` push's document goes in the recipe's body, raw or form-encoded.
    public static let documentSlot = "{document}"
    public static let encodedDocumentSlot = "{document_urlencoded}"

    /// The transports HotDesk has.
    public static let transports: Set<String> = ["http"]

    /// Why these recipes cannot be used, if they cannot (checked when the descriptor is loaded).
    public func problem() -> String? {
        for (name, recipe) in [("reload", reload), ("reboot", reboot), ("xml", xml)] {
            guard let recipe else { continue }
            guard Self.transports.contains(recipe.transport) else {
                return "push.\(name).transport \"\(recipe.transport)\" is not one HotDesk has (\(Self.transports.sorted().joined(separator: ", ")))"
            }
            guard recipe.path.hasPrefix("/") else { return "push.\(name).path \"\(recipe.path)\" must start with /" }
        }
        if let xml, xml.body?.contains(Self.documentSlot) != true, xml.body?.contains(Self.encodedDocumentSlot) != true {
            return "push.xml.body must hold \(Self.documentSlot) or \(Self.encodedDocumentSlot)"
        }
        for (name, notify) in [("reload", sipNotify?.reload), ("reboot", sipNotify?.reboot)] {
            guard let notify else { continue }
            // One header value for the PBX to send: no line breaks, nothing a script quotes.
            guard !notify.event.isEmpty, notify.event.allSatisfy({ $0.isASCII && !$0.isNewline && $0 != "\"" && $0 != "\\" }) else {
                return "push.sip_notify.\(name).event must be one line of plain text, e.g. check-sync;reboot=false"
            }
        }
        return nil
    }
}

/// Every family's push recipes, by brand.
public struct PushRecipeBook: Sendable {
    public let vendors: [Brand: VendorPushRecipes]

    public init(vendors: [Brand: VendorPushRecipes]) {
        self.vendors = vendors
    }

    /// Whether phones of `brand` take `action` at all: over HTTP, or, `viaPBX`, by a NOTIFY
    /// the PBX sends.
    public func supports(_ action: PushAction, brand: Brand, viaPBX: Bool = true) -> Bool {
        vendors[brand]?.recipe(action) != nil || (viaPBX && vendors[brand]?.notify(action) != nil)
    }

    /// What a phone of `brand` is sent to apply a new config: its model's way when the family has
    /// it, else the other way (a family with no reload reboots), else `nil` (nothing is known).
    /// `viaPBX`: whether a NOTIFY through the PBX counts (a PBX asks HotDesk for them).
    public func configAction(for model: PhoneModel, viaPBX: Bool = true) -> PushAction? {
        let preferred = PushAction(model.applyMethod)
        if supports(preferred, brand: model.brand, viaPBX: viaPBX) { return preferred }
        return supports(.reboot, brand: model.brand, viaPBX: viaPBX) ? .reboot : nil
    }
}
