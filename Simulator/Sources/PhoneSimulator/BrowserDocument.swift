import Foundation
import LibXML

/// The document shapes the phones' XML browsers read (phone-dialects.md §1–§8). Each is read
/// strictly, the way that firmware does, into a `BrowserScreen`.
public enum DocumentShape: String, Sendable, Hashable {
    /// `TextMenu`/`InputScreen`/`TextScreen` with `MenuItem(Prompt, URI)`, `InputField(Prompt,
    /// Parameter, Default)` and `password="yes"`, `SoftKey(Label, URI)`: Yealink, Htek/Sangoma,
    /// Aastra (Yealink copied Aastra's objects).
    case xmlBrowser
    /// Cisco's objects per CiscoIPPhone.xsd v3.3.4 (field lengths and counts enforced, any order
    /// accepted as real phones do); Fanvil's Cisco-style objects [I for Fanvil's limits].
    case cisco
    /// Snom minibrowser: `MenuItem name=` + `Url`; one `InputItem` whose `InputToken` in `Url`
    /// is replaced by the typed value; `SoftKeyItem(Name, Label, Url)`.
    case snom
    /// Polycom microbrowser: a strict XHTML subset; a form is an input screen, a page with a
    /// paragraph a text screen, a page of links a menu.
    case xhtml
    /// Grandstream GRP `xmlapp` [3P; the input form is I].
    case xmlApp
}

/// An XML browser dialect as the phone's firmware reads it: its shape, root elements and limits.
public struct BrowserDialect: Sendable, Hashable {
    public let name: String
    public let shape: DocumentShape
    /// Root element per screen kind.
    public let menuRoot: String
    public let inputRoot: String
    public let textRoot: String
    /// Objects the phone knows but that are not screens (pushed commands and the like).
    public let otherRoots: Set<String>
    /// The largest document the phone takes.
    public let maxBytes: Int

    /// Yealink: `YealinkIPPhone*` roots, 10000 bytes per object [V].
    public static let yealink = BrowserDialect(
        name: "yealink",
        shape: .xmlBrowser,
        menuRoot: "YealinkIPPhoneTextMenu",
        inputRoot: "YealinkIPPhoneInputScreen",
        textRoot: "YealinkIPPhoneTextScreen",
        otherRoots: ["YealinkIPPhoneExecute", "YealinkIPPhoneConfiguration", "YealinkIPPhoneStatus", "YealinkIPPhoneFormattedTextScreen"],
        maxBytes: 10000
    )

    /// Htek (Sangoma s-series): the same objects without a vendor prefix [V for Htek, I for
    /// s-series]; the 10000-byte limit is assumed equal to Yealink's [I].
    public static let htek = BrowserDialect(
        name: "htek",
        shape: .xmlBrowser,
        menuRoot: "TextMenu",
        inputRoot: "InputScreen",
        textRoot: "TextScreen",
        otherRoots: ["Execute", "Configuration", "Status", "FormattedTextScreen", "ImageScreen", "ImageMenu", "Directory"],
        maxBytes: 10000
    )

    /// Aastra/Mitel: `AastraIPPhone*` [V]; the browse limit is [I] (pushes: under 2150 bytes [V]).
    public static let aastra = BrowserDialect(
        name: "aastra",
        shape: .xmlBrowser,
        menuRoot: "AastraIPPhoneTextMenu",
        inputRoot: "AastraIPPhoneInputScreen",
        textRoot: "AastraIPPhoneTextScreen",
        otherRoots: ["AastraIPPhoneExecute", "AastraIPPhoneStatus", "AastraIPPhoneConfiguration"],
        maxBytes: 10000
    )

    /// Cisco Enterprise: `CiscoIPPhone*` [V XSD]; the document size limit is [I].
    public static let cisco = BrowserDialect(
        name: "cisco",
        shape: .cisco,
        menuRoot: "CiscoIPPhoneMenu",
        inputRoot: "CiscoIPPhoneInput",
        textRoot: "CiscoIPPhoneText",
        otherRoots: ["CiscoIPPhoneExecute", "CiscoIPPhoneResponse", "CiscoIPPhoneError", "CiscoIPPhoneDirectory", "CiscoIPPhoneImage"],
        maxBytes: 16384
    )

    /// Fanvil: `FanvilIPPhone*` with Cisco-style items [V input, I the rest].
    public static let fanvil = BrowserDialect(
        name: "fanvil",
        shape: .cisco,
        menuRoot: "FanvilIPPhoneMenu",
        inputRoot: "FanvilIPPhoneInputScreen",
        textRoot: "FanvilIPPhoneText",
        otherRoots: ["FanvilIPPhoneDirectory", "FanvilConfiguration", "FanvilIPPhoneExecute"],
        maxBytes: 16384
    )

    /// Snom minibrowser [V, Snomio/Documentation]; the size limit is [I].
    public static let snom = BrowserDialect(
        name: "snom",
        shape: .snom,
        menuRoot: "SnomIPPhoneMenu",
        inputRoot: "SnomIPPhoneInput",
        textRoot: "SnomIPPhoneText",
        otherRoots: ["SnomIPPhoneDirectory", "SnomIPPhoneBatch", "SnomIPPhoneImage"],
        maxBytes: 16384
    )

    /// Polycom microbrowser: XHTML, root `html` for every page [V]; the size limit is [I].
    public static let polycom = BrowserDialect(
        name: "polycom",
        shape: .xhtml,
        menuRoot: "html",
        inputRoot: "html",
        textRoot: "html",
        otherRoots: ["PolycomIPPhone"],
        maxBytes: 16384
    )

    /// Grandstream GRP: `xmlapp` for every screen [3P]; the size limit is [I].
    public static let grandstream = BrowserDialect(
        name: "grandstream",
        shape: .xmlApp,
        menuRoot: "xmlapp",
        inputRoot: "xmlapp",
        textRoot: "xmlapp",
        otherRoots: [],
        maxBytes: 16384
    )
}

/// A screen the phone shows, read from a document.
public enum BrowserScreen: Sendable, Hashable {
    public struct SoftKey: Sendable, Hashable {
        public var label: String
        /// An `http(s)://` URL, or one of the phone's own actions: `SoftKey:Select`, `SoftKey:Submit`,
        /// `SoftKey:Back`, `SoftKey:Exit`.
        public var uri: String
    }

    public struct MenuItem: Sendable, Hashable {
        public var prompt: String
        public var uri: String
    }

    public struct Field: Sendable, Hashable {
        public var prompt: String
        public var parameter: String
        public var masked: Bool
        public var value: String
        /// Snom: the typed value replaces this text in the screen's URL (instead of being appended).
        public var token: String? = nil
    }

    case menu(title: String, items: [MenuItem], softKeys: [SoftKey])
    /// `url` is what the form is sent to; the fields are appended as a query (or replace tokens).
    case input(title: String, url: String, fields: [Field], softKeys: [SoftKey])
    case text(title: String, text: String, softKeys: [SoftKey])

    public var title: String {
        switch self {
        case .menu(let title, _, _), .input(let title, _, _, _), .text(let title, _, _): title
        }
    }

    public var softKeys: [SoftKey] {
        switch self {
        case .menu(_, _, let keys), .input(_, _, _, let keys), .text(_, _, let keys): keys
        }
    }
}

/// Why the phone refused a document (it would show "Parse error" or similar).
public struct DocumentRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { "document refused: \(reason)" }
}

extension BrowserDialect {
    /// Reads a document strictly, as the phone does: size limit first, then a well-formed parse
    /// (an unescaped `&` is malformed), then the shape's own rules.
    public func read(_ bytes: [UInt8]) throws(DocumentRefusal) -> BrowserScreen {
        let root = try parse(bytes)
        let screen: BrowserScreen
        switch shape {
        case .xmlBrowser: screen = try readXMLBrowser(root)
        case .cisco: screen = try readCisco(root)
        case .snom: screen = try readSnom(root)
        case .xhtml: screen = try readXHTML(root)
        case .xmlApp: screen = try readXMLApp(root)
        }
        // A field asking for a password must be masked: a phone would show it in clear.
        if case .input(_, _, let fields, _) = screen,
            let open = fields.first(where: { !$0.masked && ($0.prompt.localizedCaseInsensitiveContains("password") || $0.parameter == "pw") })
        {
            throw DocumentRefusal(reason: "the password field \"\(open.prompt)\" is not masked (no password marker)")
        }
        return screen
    }

    /// The size limit, no DOCTYPE, well-formed XML.
    func parse(_ bytes: [UInt8]) throws(DocumentRefusal) -> XMLElement {
        guard bytes.count <= maxBytes else { throw DocumentRefusal(reason: "\(bytes.count) bytes; the \(name) limit is \(maxBytes)") }
        // No vendor documents a DTD; a document carrying one (entities, XXE) is refused [I].
        if String(decoding: bytes.prefix(512), as: UTF8.self).contains("<!DOCTYPE") {
            throw DocumentRefusal(reason: "a DOCTYPE is not allowed")
        }
        do {
            return try XMLParser.parse(bytes)
        } catch {
            throw DocumentRefusal(reason: "not well-formed XML (\(error))")
        }
    }

    func foreign(_ root: XMLElement) -> DocumentRefusal {
        if otherRoots.contains(root.name) { return DocumentRefusal(reason: "\(root.name) is not a screen the browser shows") }
        return DocumentRefusal(reason: "root <\(root.name)> is not a \(name) object")
    }

    /// Every child is one the object allows.
    func only(_ allowed: Set<String>, in element: XMLElement) throws(DocumentRefusal) {
        if let stray = element.children.first(where: { !allowed.contains($0.name) }) {
            throw DocumentRefusal(reason: "<\(stray.name)> is not allowed in <\(element.name)>")
        }
    }

    /// A text no longer than `limit` characters.
    func within(_ text: String, _ limit: Int, _ what: String) throws(DocumentRefusal) -> String {
        guard text.count <= limit else { throw DocumentRefusal(reason: "\(what) is \(text.count) characters; at most \(limit)") }
        return text
    }

    // MARK: Yealink, Htek, Aastra

    func readXMLBrowser(_ root: XMLElement) throws(DocumentRefusal) -> BrowserScreen {
        let title = root.child("Title")?.text ?? ""
        let softKeys = try root.children("SoftKey").map { key throws(DocumentRefusal) in
            guard let label = key.child("Label")?.text, let uri = key.child("URI")?.text, !uri.isEmpty else {
                throw DocumentRefusal(reason: "SoftKey without Label and URI")
            }
            return BrowserScreen.SoftKey(label: label, uri: uri)
        }
        switch root.name {
        case menuRoot:
            try only(["Title", "MenuItem", "SoftKey"], in: root)
            let items = try root.children("MenuItem").map { item throws(DocumentRefusal) in
                guard let prompt = item.child("Prompt")?.text, let uri = item.child("URI")?.text, !uri.isEmpty else {
                    throw DocumentRefusal(reason: "MenuItem without Prompt and URI")
                }
                return BrowserScreen.MenuItem(prompt: prompt, uri: uri)
            }
            guard !items.isEmpty else { throw DocumentRefusal(reason: "\(menuRoot) without MenuItem") }
            return .menu(title: title, items: items, softKeys: softKeys)
        case inputRoot:
            try only(["Title", "URL", "InputField", "SoftKey"], in: root)
            guard let url = root.child("URL")?.text, !url.isEmpty else { throw DocumentRefusal(reason: "\(inputRoot) without URL") }
            let fields = try root.children("InputField").map { field throws(DocumentRefusal) in
                guard let parameter = field.child("Parameter")?.text, !parameter.isEmpty else {
                    throw DocumentRefusal(reason: "InputField without Parameter")
                }
                let masked = field.attributes["password"]?.lowercased() == "yes"
                return BrowserScreen.Field(
                    prompt: field.child("Prompt")?.text ?? "",
                    parameter: parameter,
                    masked: masked,
                    value: field.child("Default")?.text ?? ""
                )
            }
            guard !fields.isEmpty else { throw DocumentRefusal(reason: "\(inputRoot) without InputField") }
            // Aastra: at most 6 fields [V]; Yealink/Htek take as many [I].
            return .input(title: title, url: url, fields: fields, softKeys: softKeys)
        case textRoot:
            try only(["Title", "Text", "SoftKey"], in: root)
            guard let text = root.child("Text")?.text else { throw DocumentRefusal(reason: "\(textRoot) without Text") }
            return .text(title: title, text: text, softKeys: softKeys)
        default:
            throw foreign(root)
        }
    }

    // MARK: Cisco, Fanvil

    static let ciscoFlags: Set<String> = ["A", "T", "N", "E", "U", "L", "AP", "TP", "NP", "EP", "UP", "LP", "PA", "PT", "PN", "PE", "PU", "PL"]

    func readCisco(_ root: XMLElement) throws(DocumentRefusal) -> BrowserScreen {
        // CiscoIPPhone.xsd v3.3.4: Title ≤ 32, Prompt ≤ 32, SoftKeyItem 0..8 (Name ≤ 32, Position
        // 1–8, URL ≤ 256); any order is accepted, as the phones do [V].
        let title = try within(root.child("Title")?.text ?? "", 32, "Title")
        _ = try within(root.child("Prompt")?.text ?? "", 32, "Prompt")
        let keyItems = root.children("SoftKeyItem")
        guard keyItems.count <= 8 else { throw DocumentRefusal(reason: "\(keyItems.count) SoftKeyItems; at most 8") }
        let softKeys = try keyItems.map { key throws(DocumentRefusal) in
            guard let name = key.child("Name")?.text, let url = key.child("URL")?.text,
                let position = key.child("Position").flatMap({ Int($0.text) }),
                (1...8).contains(position)
            else { throw DocumentRefusal(reason: "SoftKeyItem needs Name, Position 1-8 and URL") }
            return BrowserScreen.SoftKey(label: try within(name, 32, "SoftKeyItem Name"), uri: try within(url, 256, "SoftKeyItem URL"))
        }
        let common: Set<String> = ["Title", "Prompt", "SoftKeyItem", "KeyItem"]
        switch root.name {
        case menuRoot:
            try only(common.union(["MenuItem"]), in: root)
            let items = try root.children("MenuItem").map { item throws(DocumentRefusal) in
                guard let name = item.child("Name")?.text, let url = item.child("URL")?.text, !url.isEmpty else {
                    throw DocumentRefusal(reason: "MenuItem without Name and URL")
                }
                return BrowserScreen.MenuItem(prompt: try within(name, 64, "MenuItem Name"), uri: try within(url, 256, "MenuItem URL"))
            }
            guard (1...100).contains(items.count) else { throw DocumentRefusal(reason: "\(items.count) MenuItems; 1 to 100") }
            return .menu(title: title, items: items, softKeys: softKeys)
        case inputRoot:
            try only(common.union(["URL", "InputItem"]), in: root)
            guard let url = root.child("URL")?.text, !url.isEmpty else { throw DocumentRefusal(reason: "\(inputRoot) without URL") }
            _ = try within(url, 256, "URL")
            let items = root.children("InputItem")
            guard (1...5).contains(items.count) else { throw DocumentRefusal(reason: "\(items.count) InputItems; 1 to 5") }
            let fields = try items.map { item throws(DocumentRefusal) in
                guard let parameter = item.child("QueryStringParam")?.text, !parameter.isEmpty, let flags = item.child("InputFlags")?.text,
                    Self.ciscoFlags.contains(flags)
                else { throw DocumentRefusal(reason: "InputItem needs QueryStringParam and valid InputFlags") }
                return BrowserScreen.Field(
                    prompt: try within(item.child("DisplayName")?.text ?? "", 32, "DisplayName"),
                    parameter: parameter,
                    masked: flags.contains("P"),
                    value: item.child("DefaultValue")?.text ?? ""
                )
            }
            return .input(title: title, url: url, fields: fields, softKeys: softKeys)
        case textRoot:
            try only(common.union(["Text"]), in: root)
            guard let text = root.child("Text")?.text else { throw DocumentRefusal(reason: "\(textRoot) without Text") }
            return .text(title: title, text: try within(text, 4000, "Text"), softKeys: softKeys)
        default:
            throw foreign(root)
        }
    }

    // MARK: Snom

    func readSnom(_ root: XMLElement) throws(DocumentRefusal) -> BrowserScreen {
        let title = root.child("Title")?.text ?? ""
        let softKeys = try root.children("SoftKeyItem").map { key throws(DocumentRefusal) in
            guard let label = key.child("Label")?.text ?? key.child("Name")?.text else { throw DocumentRefusal(reason: "SoftKeyItem without Label") }
            guard let url = key.child("Url")?.text ?? key.child("SoftKey")?.text, !url.isEmpty else {
                throw DocumentRefusal(reason: "SoftKeyItem without Url or SoftKey")
            }
            return BrowserScreen.SoftKey(label: label, uri: url)
        }
        switch root.name {
        case menuRoot:
            try only(["Title", "MenuItem", "SoftKeyItem", "Fetch"], in: root)
            let items = try root.children("MenuItem").map { item throws(DocumentRefusal) in
                guard let name = item.attributes["name"], let url = item.child("Url")?.text, !url.isEmpty else {
                    throw DocumentRefusal(reason: "MenuItem needs a name attribute and a Url")
                }
                return BrowserScreen.MenuItem(prompt: name, uri: url)
            }
            guard !items.isEmpty else { throw DocumentRefusal(reason: "\(menuRoot) without MenuItem") }
            return .menu(title: title, items: items, softKeys: softKeys)
        case inputRoot:
            try only(["Title", "Prompt", "Url", "InputItem", "SoftKeyItem"], in: root)
            guard let url = root.child("Url")?.text, !url.isEmpty else { throw DocumentRefusal(reason: "\(inputRoot) without Url") }
            let items = root.children("InputItem")
            guard items.count == 1 else { throw DocumentRefusal(reason: "\(items.count) InputItems; a Snom input screen has exactly one") }
            let item = items[0]
            guard let token = item.child("InputToken")?.text, !token.isEmpty, url.contains(token) else {
                throw DocumentRefusal(reason: "the InputToken must appear in Url")
            }
            let flags = item.child("InputFlags")?.text ?? "a"
            guard ["a", "t", "n", "e", "u", "l", "p", "pn"].contains(flags) else { throw DocumentRefusal(reason: "InputFlags \"\(flags)\" unknown") }
            let field = BrowserScreen.Field(
                prompt: item.child("DisplayName")?.text ?? "",
                parameter: token,
                masked: flags.hasPrefix("p"),
                value: item.child("DefaultValue")?.text ?? "",
                token: token
            )
            return .input(title: title, url: url, fields: [field], softKeys: softKeys)
        case textRoot:
            try only(["Title", "Text", "SoftKeyItem", "Fetch", "LED"], in: root)
            guard let text = root.child("Text")?.text else { throw DocumentRefusal(reason: "\(textRoot) without Text") }
            return .text(title: title, text: text, softKeys: softKeys)
        default:
            throw foreign(root)
        }
    }

    // MARK: Polycom XHTML

    static let xhtmlTags: Set<String> = [
        "html", "head", "title", "body", "img", "b", "u", "a", "br", "hr", "form", "input", "p", "table", "tr", "td", "th",
    ]

    static func descendants(_ element: XMLElement) -> [XMLElement] { element.children.flatMap { [$0] + descendants($0) } }

    func readXHTML(_ root: XMLElement) throws(DocumentRefusal) -> BrowserScreen {
        guard root.name == "html" else { throw foreign(root) }
        let all = Self.descendants(root)
        if let stray = all.first(where: { !Self.xhtmlTags.contains($0.name) }) {
            throw DocumentRefusal(reason: "<\(stray.name)> is not a tag the microbrowser knows")
        }
        guard let body = root.child("body") else { throw DocumentRefusal(reason: "html without body") }
        let title = root.child("head")?.child("title")?.text ?? ""
        let anchors = try Self.descendants(body).filter { $0.name == "a" }.map { link throws(DocumentRefusal) -> BrowserScreen.SoftKey in
            guard let href = link.attributes["href"], !href.isEmpty else { throw DocumentRefusal(reason: "<a> without href") }
            return BrowserScreen.SoftKey(label: link.text.trimmingCharacters(in: .whitespacesAndNewlines), uri: href)
        }
        if let form = all.first(where: { $0.name == "form" }) {
            guard let action = form.attributes["action"], !action.isEmpty else { throw DocumentRefusal(reason: "form without action") }
            guard form.attributes["method"]?.lowercased() == "get" else {
                throw DocumentRefusal(reason: "the microbrowser sends forms with method=\"get\"")
            }
            let inputs = Self.descendants(form).filter { $0.name == "input" }
            var hidden: [(String, String)] = []
            var fields: [BrowserScreen.Field] = []
            var submit = "Submit"
            // The prompt of a field is the text just before it in the form.
            // (libxml2's copy keeps an element's text, not where it sits between children: each
            // "Label:" in the form's text is taken for the next field.)
            var prompts = form.text.split(separator: ":").dropLast().map { $0.trimmingCharacters(in: .whitespacesAndNewlines) + ":" }
                .filter { $0.count > 1 }.makeIterator()
            for input in inputs {
                let type = input.attributes["type"]?.lowercased() ?? "text"
                switch type {
                case "hidden": hidden.append((input.attributes["name"] ?? "", input.attributes["value"] ?? ""))
                case "submit": submit = input.attributes["value"] ?? "Submit"
                case "text", "password":
                    guard let name = input.attributes["name"], !name.isEmpty else { throw DocumentRefusal(reason: "input without name") }
                    fields.append(
                        .init(prompt: prompts.next() ?? name, parameter: name, masked: type == "password", value: input.attributes["value"] ?? "")
                    )
                default: throw DocumentRefusal(reason: "input type \"\(type)\" unknown")
                }
            }
            guard !fields.isEmpty else { throw DocumentRefusal(reason: "a form without fields") }
            // A GET form sends only its fields: the action's own query is replaced (hence hidden fields).
            let base = action.split(separator: "?", maxSplits: 1).first.map(String.init) ?? action
            let query = hidden.map { "\(SimulatedPhone.encode($0.0))=\(SimulatedPhone.encode($0.1))" }.joined(separator: "&")
            let keys = [BrowserScreen.SoftKey(label: submit, uri: "SoftKey:Submit")] + anchors
            return .input(title: title, url: query.isEmpty ? base : base + "?" + query, fields: fields, softKeys: keys)
        }
        let paragraphs = Self.descendants(body).filter { $0.name == "p" }
        if !paragraphs.isEmpty {
            return .text(title: title, text: paragraphs.map(\.text).joined(separator: "\n"), softKeys: anchors)
        }
        guard !anchors.isEmpty else { throw DocumentRefusal(reason: "a page with neither links, a paragraph nor a form") }
        return .menu(title: title, items: anchors.map { BrowserScreen.MenuItem(prompt: $0.label, uri: $0.uri) }, softKeys: [])
    }

    // MARK: Grandstream xmlapp

    func readXMLApp(_ root: XMLElement) throws(DocumentRefusal) -> BrowserScreen {
        guard root.name == "xmlapp" else { throw foreign(root) }
        let title = root.attributes["title"] ?? ""
        // Third-party code writes both Softkeys and SoftKeys [I]: either is read.
        let keyList = root.children.first { $0.name.lowercased() == "softkeys" }?.children ?? []
        let softKeys = try keyList.map { key throws(DocumentRefusal) in
            guard key.name.lowercased() == "softkey", let action = key.attributes["action"], let label = key.attributes["label"] else {
                throw DocumentRefusal(reason: "Softkey needs action and label")
            }
            switch action {
            case "UseURL":
                guard let url = key.attributes["commandArgs"], !url.isEmpty else { throw DocumentRefusal(reason: "UseURL without commandArgs") }
                return BrowserScreen.SoftKey(label: label, uri: url)
            case "QuitApp": return .init(label: label, uri: "SoftKey:Exit")
            case "SubmitForm": return .init(label: label, uri: "SoftKey:Submit")
            case "Select": return .init(label: label, uri: "SoftKey:Select")
            case "Back": return .init(label: label, uri: "SoftKey:Back")
            default: throw DocumentRefusal(reason: "Softkey action \"\(action)\" unknown")
            }
        }
        guard let view = root.child("view") else { throw DocumentRefusal(reason: "xmlapp without view") }
        if let form = view.child("form") {
            guard let action = form.attributes["action"], !action.isEmpty else { throw DocumentRefusal(reason: "form without action") }
            let fields = try form.children("input").map { input throws(DocumentRefusal) in
                guard let name = input.attributes["name"], !name.isEmpty else { throw DocumentRefusal(reason: "input without name") }
                return BrowserScreen.Field(
                    prompt: input.attributes["label"] ?? name,
                    parameter: name,
                    masked: input.attributes["type"] == "password",
                    value: input.attributes["value"] ?? ""
                )
            }
            guard !fields.isEmpty else { throw DocumentRefusal(reason: "a form without inputs") }
            return .input(title: title, url: action, fields: fields, softKeys: softKeys)
        }
        let section = view.children("section")
        let items = section.flatMap { $0.children("item") }
        if !items.isEmpty {
            let menu = try items.map { item throws(DocumentRefusal) in
                guard let label = item.attributes["label"], item.attributes["action"] == "UseURL", let url = item.attributes["commandArgs"],
                    !url.isEmpty
                else {
                    throw DocumentRefusal(reason: "item needs label, action UseURL and commandArgs")
                }
                return BrowserScreen.MenuItem(prompt: label, uri: url)
            }
            return .menu(title: title, items: menu, softKeys: softKeys)
        }
        let texts = section.flatMap { $0.children("text") }.compactMap { $0.attributes["label"] }
        guard !texts.isEmpty else { throw DocumentRefusal(reason: "a view with neither items, text nor form") }
        return .text(title: title, text: texts.joined(separator: "\n"), softKeys: softKeys)
    }
}
