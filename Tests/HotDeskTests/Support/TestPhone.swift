import Foundation
import LibXML
import Testing

/// A phone for the end-to-end tests, written from `reference/phone-dialects.md` (never from
/// HotDesk's renderers): it fetches its config by its vendor's file name with its vendor's
/// User-Agent, finds its Login/Logout key in that config, and browses the app the way the
/// vendor's XML browser does, refusing documents the phone would refuse.
/// (The full simulator, `Simulator/`, is its own issue; this is the part the core flows need.)
struct TestPhone {
    struct Kind: Sendable {
        let model: String
        let vendor: String
        let userAgentModel: String
        /// Root element per screen kind.
        let roots: [String: String]
        let maxBytes: Int
    }

    /// What the phone shows.
    struct Display: CustomStringConvertible {
        var kind: String
        var title: String
        var items: [(label: String, url: String)] = []
        var formURL: String = ""
        var fields: [(parameter: String, masked: Bool, value: String)] = []
        var text: String = ""
        var softKeys: [(label: String, uri: String)] = []

        var description: String { "[\(kind)] \(title) \(items.map(\.label)) \(text) \(softKeys.map(\.label))" }
    }

    enum PhoneError: Error, CustomStringConvertible {
        case refused(String)
        case noSuchItem(String)
        case http(Int, String)

        var description: String {
            switch self {
            case .refused(let why): "phone refused the document: \(why)"
            case .noSuchItem(let what): "no such item: \(what)"
            case .http(let status, let body): "HTTP \(status): \(body)"
            }
        }
    }

    let kind: Kind
    let mac: String  // 12 lower-case hex digits
    let server: String
    var config: String = ""
    var configETag: String?
    var display: Display?

    init(_ kind: Kind, mac: String, server: String) {
        self.kind = kind
        self.mac = mac
        self.server = server
    }

    var userAgent: String {
        let colon = stride(from: 0, to: 12, by: 2).map { i in String(Array(mac)[i..<i + 2]) }.joined(separator: ":")
        return "\(kind.vendor) \(kind.userAgentModel) 2.0.4.67 \(colon)"
    }

    var configFileName: String { kind.vendor == "Yealink" ? "\(mac).cfg" : "cfg\(mac).xml" }

    /// Fetches the config as the phone does at boot (honouring ETag); returns the HTTP status.
    @discardableResult
    mutating func fetchConfig() async throws -> Int {
        var headers = ["User-Agent": userAgent]
        if let configETag { headers["If-None-Match"] = configETag }
        let r = try await HTTP.get("\(server)/provision/\(configFileName)", headers: headers)
        if r.status == 200 {
            config = r.body
            configETag = r.header("ETag")
        }
        return r.status
    }

    /// A setting from the config: Yealink `key = value`, Sangoma `<Pn para="key">value</Pn>`.
    func setting(_ key: String) throws -> String? {
        if kind.vendor == "Yealink" {
            for line in config.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == key {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
        let root = try XMLParser.parse(config)
        guard root.name == "hl_provision", let configElement = root.child("config") else { throw PhoneError.refused("not hl_provision") }
        return configElement.children.first { $0.attributes["para"] == key }?.text
    }

    /// The line the phone registers, if any.
    func registeredLine() throws -> (user: String, server: String)? {
        let keys = kind.vendor == "Yealink"
            ? ("account.1.enable", "account.1.user_name", "account.1.sip_server.1.address")
            : ("Account1.Active", "Account1.UserId", "Account1.SipServer")
        guard try setting(keys.0) == "1", let user = try setting(keys.1), !user.isEmpty else { return nil }
        return (user, try setting(keys.2) ?? "")
    }

    /// The Login/Logout key's URL: the XML-browser line key the config set.
    func hotdeskKeyURL() throws -> String? {
        if kind.vendor == "Yealink" {
            for n in 1...30 where try setting("linekey.\(n).type") == "27" {
                return try setting("linekey.\(n).value")
            }
            return nil
        }
        for n in 1...30 where try setting("LineKey\(n).Type") == "XMLBrowser" {
            return try setting("LineKey\(n).Value")
        }
        return nil
    }

    /// Presses the Login/Logout key.
    mutating func pressHotDeskKey() async throws {
        guard let url = try hotdeskKeyURL() else { throw PhoneError.noSuchItem("Login/Logout key in config") }
        try await open(url)
    }

    mutating func open(_ url: String) async throws {
        let r = try await HTTP.get(url, headers: ["User-Agent": userAgent])
        guard r.status == 200 else { throw PhoneError.http(r.status, r.body) }
        display = try parse(r.body)
    }

    /// Reads a document strictly, as the phone's XML browser does.
    func parse(_ body: String) throws -> Display {
        guard body.utf8.count <= kind.maxBytes else { throw PhoneError.refused("\(body.utf8.count) bytes > \(kind.maxBytes)") }
        let root: XMLElement
        do { root = try XMLParser.parse(body) } catch { throw PhoneError.refused("\(error)") }
        guard let screenKind = kind.roots.first(where: { $0.value == root.name })?.key else {
            throw PhoneError.refused("root <\(root.name)> is not a \(kind.vendor) object")
        }
        var d = Display(kind: screenKind, title: root.child("Title")?.text ?? "")
        d.softKeys = root.children("SoftKey").map { ($0.child("Label")?.text ?? "", $0.child("URI")?.text ?? "") }
        switch screenKind {
        case "menu":
            d.items = try root.children("MenuItem").map {
                guard let p = $0.child("Prompt"), let u = $0.child("URI") else { throw PhoneError.refused("MenuItem without Prompt/URI") }
                return (p.text, u.text)
            }
        case "input":
            guard let url = root.child("URL") else { throw PhoneError.refused("InputScreen without URL") }
            d.formURL = url.text
            d.fields = try root.children("InputField").map {
                guard let p = $0.child("Parameter") else { throw PhoneError.refused("InputField without Parameter") }
                return (p.text, $0.attributes["password"] == "yes", $0.child("Default")?.text ?? "")
            }
        default:
            guard let text = root.child("Text") else { throw PhoneError.refused("TextScreen without Text") }
            d.text = text.text
        }
        return d
    }

    mutating func select(_ label: String) async throws {
        guard let item = display?.items.first(where: { $0.label == label }) else {
            throw PhoneError.noSuchItem("menu item \(label) on \(display?.description ?? "nothing")")
        }
        try await open(item.url)
    }

    /// Types into the form's fields by parameter name.
    mutating func type(_ values: [String: String]) {
        guard var d = display else { return }
        for i in d.fields.indices {
            if let v = values[d.fields[i].parameter] { d.fields[i].value = v }
        }
        display = d
    }

    /// "Done" on an input screen: GET the form URL with every field appended.
    mutating func submit() async throws {
        guard let d = display, d.kind == "input" else { throw PhoneError.noSuchItem("input screen") }
        var components = URLComponents()
        components.queryItems = d.fields.map { URLQueryItem(name: $0.parameter, value: $0.value) }
        let query = components.percentEncodedQuery ?? ""
        try await open(d.formURL + (d.formURL.contains("?") ? "&" : "?") + query)
    }

    mutating func pressSoftKey(_ label: String) async throws {
        guard let key = display?.softKeys.first(where: { $0.label == label }) else { throw PhoneError.noSuchItem("soft key \(label)") }
        guard key.uri.hasPrefix("http") else { throw PhoneError.noSuchItem("soft key \(label) is internal (\(key.uri))") }
        try await open(key.uri)
    }

    /// Login Int/Extl → extension + password → Done.
    mutating func login(_ menuItem: String, ext: String, password: String) async throws {
        try await pressHotDeskKey()
        if display?.items.contains(where: { $0.label == "Login" }) == true { try await select("Login") }
        try await select(menuItem)
        type(["ext": ext, "pw": password])
        try await submit()
    }
}

extension TestPhone.Kind {
    static let yealinkT46U = TestPhone.Kind(
        model: "yealink-t46u", vendor: "Yealink", userAgentModel: "SIP-T46U",
        roots: ["menu": "YealinkIPPhoneTextMenu", "input": "YealinkIPPhoneInputScreen", "text": "YealinkIPPhoneTextScreen"], maxBytes: 10000)
    static let sangomaS500 = TestPhone.Kind(
        model: "sangoma-s500", vendor: "Sangoma", userAgentModel: "S500", roots: ["menu": "TextMenu", "input": "InputScreen", "text": "TextScreen"],
        maxBytes: 10000)
}
