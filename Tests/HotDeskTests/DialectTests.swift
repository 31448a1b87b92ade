import Foundation
import HotDeskCore
import LibXML
import PhoneFamilies
import PhonePush
import PhoneXML
import Provisioning
import Testing

/// What each family's documents must look like, written from `reference/phone-dialects.md`
/// (not from the descriptors): the roots, and how the password field is marked.
struct DialectFacts: Sendable, CustomStringConvertible {
    let family: String
    let roots: [Screen.Kind: String]
    /// Reads the masking of each input field from a parsed input document.
    let masking: @Sendable (XMLElement) -> [Bool]
    /// Reads the field names.
    let parameters: @Sendable (XMLElement) -> [String]
    var description: String { family }

    static func all(_ element: XMLElement, _ name: String) -> [XMLElement] {
        (element.name == name ? [element] : []) + element.children.flatMap { all($0, name) }
    }

    static let xmlbrowser: @Sendable (XMLElement) -> [Bool] = { root in root.children("InputField").map { $0.attributes["password"] == "yes" } }
    static let xmlbrowserParams: @Sendable (XMLElement) -> [String] = { root in root.children("InputField").compactMap { $0.child("Parameter")?.text }
    }
    static let ciscoFlags: @Sendable (XMLElement) -> [Bool] = { root in
        root.children("InputItem").map { $0.child("InputFlags")?.text.hasSuffix("P") == true }
    }
    static let ciscoParams: @Sendable (XMLElement) -> [String] = { root in
        root.children("InputItem").compactMap { $0.child("QueryStringParam")?.text }
    }
    static let htmlInputs: @Sendable (XMLElement) -> [XMLElement] = { root in
        all(root, "input").filter { $0.attributes["type"] != "hidden" && $0.attributes["type"] != "submit" }
    }

    static let facts: [DialectFacts] = [
        .init(
            family: "yealink",
            roots: [.menu: "YealinkIPPhoneTextMenu", .input: "YealinkIPPhoneInputScreen", .text: "YealinkIPPhoneTextScreen"],
            masking: xmlbrowser,
            parameters: xmlbrowserParams
        ),
        .init(
            family: "sangoma",
            roots: [.menu: "TextMenu", .input: "InputScreen", .text: "TextScreen"],
            masking: xmlbrowser,
            parameters: xmlbrowserParams
        ),
        .init(
            family: "mitel",
            roots: [.menu: "AastraIPPhoneTextMenu", .input: "AastraIPPhoneInputScreen", .text: "AastraIPPhoneTextScreen"],
            masking: xmlbrowser,
            parameters: xmlbrowserParams
        ),
        .init(
            family: "cisco",
            roots: [.menu: "CiscoIPPhoneMenu", .input: "CiscoIPPhoneInput", .text: "CiscoIPPhoneText"],
            masking: ciscoFlags,
            parameters: ciscoParams
        ),
        .init(
            family: "fanvil",
            roots: [.menu: "FanvilIPPhoneMenu", .input: "FanvilIPPhoneInputScreen", .text: "FanvilIPPhoneText"],
            masking: ciscoFlags,
            parameters: ciscoParams
        ),
        .init(
            family: "snom",
            roots: [.menu: "SnomIPPhoneMenu", .input: "SnomIPPhoneInput", .text: "SnomIPPhoneText"],
            masking: { root in root.children("InputItem").map { $0.child("InputFlags")?.text.hasPrefix("p") == true } },
            parameters: { root in
                // The value replaces the token inside Url: `…&pw=__PW__`.
                let url = root.child("Url")?.text ?? ""
                return root.children("InputItem").compactMap { item in
                    guard let token = item.child("InputToken")?.text, let range = url.range(of: "=" + token) else { return nil }
                    return String(url[..<range.lowerBound].split(whereSeparator: { $0 == "&" || $0 == "?" }).last ?? "")
                }
            }
        ),
        .init(
            family: "polycom",
            roots: [.menu: "html", .input: "html", .text: "html"],
            masking: { root in htmlInputs(root).map { $0.attributes["type"] == "password" } },
            parameters: { root in htmlInputs(root).compactMap { $0.attributes["name"] } }
        ),
        .init(
            family: "grandstream",
            roots: [.menu: "xmlapp", .input: "xmlapp", .text: "xmlapp"],
            masking: { root in all(root, "input").map { $0.attributes["type"] == "password" } },
            parameters: { root in all(root, "input").compactMap { $0.attributes["name"] } }
        ),
    ]
}

@Suite("Phone XML dialects: every family's documents")
struct DialectTests {
    static let library = testFamilies.screens

    static let url = "http://192.0.2.10:8080/app/tok?net=int&ext=5501"
    static let hostile = "Zoë & \"Bob\" <admin> 'x'"

    @Test("eight families, each with a dialect")
    func everyFamily() {
        #expect(Set(Self.library.dialects.keys) == Set(DialectFacts.facts.map(\.family)))
    }

    @Test("every screen: well-formed, the vendor's root, URLs and hostile names escaped, the password marked", arguments: DialectFacts.facts)
    func screens(facts: DialectFacts) throws {
        let dialect = try #require(Self.library.dialects[facts.family])
        let fields: [Screen.InputField] =
            dialect.maxInputFields >= 2
            ? [.init(prompt: "Extension:", parameter: "ext"), .init(prompt: "Password:", parameter: "pw", masked: true)]
            : [.init(prompt: "Password:", parameter: "pw", masked: true)]
        let screens: [Screen] = [
            .menu(.init(title: Self.hostile, items: [.init(label: Self.hostile, url: Self.url), .init(label: "Login Extl", url: Self.url)])),
            .input(.init(title: "Login", url: Self.url, fields: fields, softKeys: [.init(label: "Done", action: .submit), .exit])),
            .text(.init(title: "Logged in", text: Self.hostile, softKeys: [.init(label: "Try again", action: .url(Self.url)), .exit])),
        ]
        for screen in screens {
            let doc = try dialect.render(screen)
            let root = try XMLParser.parse(doc.body)
            #expect(root.name == facts.roots[screen.kind], "\(facts.family) \(screen.kind)")
            #expect(!doc.body.contains("net=int&ext"), "a raw & in a URL breaks the document")
            #expect(!doc.body.contains(Self.hostile), "names are escaped")
            #expect(DialectTests.shows(Self.hostile, root) || screen.kind == .input, "… and still shown")
            if screen.kind == .input {
                // Only the form goes to the form's URL: a soft key without one (Exit) must not.
                #expect(doc.body.components(separatedBy: "net=int&amp;ext=5501").count - 1 <= 1, "\(facts.family): the form URL appears once")
                #expect(facts.masking(root) == fields.map(\.masked), "\(facts.family): the password field, and only it, is masked")
                #expect(facts.parameters(root) == fields.map(\.parameter), "\(facts.family): the phone sends ext and pw")
            }
        }
    }

    static func shows(_ text: String, _ element: XMLElement) -> Bool {
        element.text.contains(text) || element.attributes.values.contains { $0.contains(text) } || element.children.contains { shows(text, $0) }
    }

    @Test("Cisco's XSD limits: long titles are shortened, over-long URLs and too many items refused")
    func ciscoLimits() throws {
        let cisco = try #require(Self.library.dialects["cisco"])
        let long = String(repeating: "T", count: 80)
        let doc = try cisco.render(.text(.init(title: long, text: "x")))
        let title = try #require(try XMLParser.parse(doc.body).child("Title")?.text)
        #expect(title.count <= 32, "Title ≤ 32 (CiscoIPPhone.xsd)")
        let items = (0..<101).map { Screen.MenuItem(label: "Item \($0)", url: Self.url) }
        #expect(throws: RenderError.self) { try cisco.render(.menu(.init(title: "Big", items: items))) }
        let longURL = "http://192.0.2.10/" + String(repeating: "a", count: 300)
        #expect(throws: RenderError.self) { try cisco.render(.menu(.init(title: "x", items: [.init(label: "a", url: longURL)]))) }
        let keys = (0..<9).map { Screen.SoftKey(label: "K\($0)", action: .url(Self.url)) }
        #expect(throws: RenderError.self) { try cisco.render(.text(.init(title: "x", text: "y", softKeys: keys))) }
    }

    @Test("Snom takes one input per screen: two fields are refused, not sent")
    func snomOneField() throws {
        let snom = try #require(Self.library.dialects["snom"])
        #expect(snom.maxInputFields == 1)
        let two = Screen.input(
            .init(title: "x", url: Self.url, fields: [.init(prompt: "a", parameter: "a"), .init(prompt: "b", parameter: "b")], softKeys: [])
        )
        #expect(throws: RenderError.self) { try snom.render(two) }
    }

    @Test("documents over the vendor's size limit are refused, not sent", arguments: DialectFacts.facts.map(\.family))
    func sizeLimit(family: String) throws {
        let dialect = try #require(Self.library.dialects[family])
        let items = (0..<400).map { Screen.MenuItem(label: "Item \($0) with a long label", url: Self.url) }
        #expect(throws: RenderError.self) { try dialect.render(.menu(.init(title: "Big", items: items))) }
    }

    @Test("a broken template is caught when the families are loaded")
    func brokenTemplate() throws {
        let spec = try #require((Self.library.dialects["yealink"] as? TemplateDialect)?.spec)
        let good =
            "<{{root}}><Title>{{title}}</Title><Text>{{text}}</Text>{{#fields}}<F p=\"{{#masked}}password=&quot;yes&quot;{{/masked}}\"/>{{/fields}}</{{root}}>"
        #expect(throws: RenderError.self) {
            try TemplateDialect(spec: spec, templates: [.menu: "<{{root}}><Title>{{title}}</Title>", .input: good, .text: good])
        }
        #expect(throws: RenderError.self) {
            try TemplateDialect(spec: spec, templates: [.menu: good, .input: good, .text: "<{{root}}><Text>{{{text}}}</Text></{{root}}>"])
        }
        // An input template that drops the password marker.
        let unmarked = "<{{root}}><Title>{{title}}</Title>{{#fields}}<InputField><Prompt>{{prompt}}</Prompt></InputField>{{/fields}}</{{root}}>"
        #expect(throws: RenderError.self) { try TemplateDialect(spec: spec, templates: [.menu: good, .input: unmarked, .text: good]) }
    }
}

@Suite("Family descriptors are checked at start-up")
struct FamilyLoadTests {
    /// A copy of `Screens/` (in `dir`) with one file changed.
    func broken(_ file: String, in dir: borrowing TempDir, _ change: (String) -> String) throws -> URL {
        let copy = dir.url.appendingPathComponent("Screens")
        try FileManager.default.copyItem(at: screensDirectory, to: copy)
        let url = copy.appendingPathComponent(file)
        try change(try String(contentsOf: url, encoding: .utf8)).write(to: url, atomically: true, encoding: .utf8)
        return copy
    }

    @Test(
        "a broken or incomplete descriptor stops loading with its file and field",
        arguments: [
            ("families/cisco.json", "\"max_input_fields\": 5,", "", "cisco.json: dialect.max_input_fields: missing"),
            ("families/snom.json", "\"templates\": \"snom\"", "\"templates\": \"nosuch\"", "snom.json: dialect"),
            ("families/fanvil.json", "{mac}.cfg", "{mac.cfg", "fanvil.json: config.files[0].name"),
            ("families/polycom.json", "\"primary\": true", "\"primary\": false", "polycom.json: config.files"),
            ("families/mitel.json", "\"brand\": \"mitel\"", "\"brand\": \"aastra\"", "mitel.json: brand"),
            ("families/grandstream/config.xml.mustache", "</gs_provision>", "", "grandstream.json: config.files[0].template"),
            ("families/yealink.json", "\"yealink-t46u\"", "\"sangoma-s500\"", "yealink.json: models"),
            ("families/snom.json", "\"max_input_fields\"", "\"max_inputs_fields\"", "snom.json: dialect.max_inputs_fields: unknown key"),
            ("families/polycom.json", "\"max_body_bytes\"", "\"max_body_byte\"", "polycom.json: push.xml.max_body_byte: unknown key"),
            ("families/snom.json", "\"auth\": \"digest\"", "\"auth\": \"any\"", "snom.json: push.reboot.auth: \"any\": name the phone's one scheme"),
            (
                "families/yealink.json", "\"provisioning_auth\": \"digest\"", "\"provisioning_auth\": \"maybe\"",
                "yealink.json: config.provisioning_auth"
            ),
        ]
    )
    func brokenDescriptor(file: String, from: String, to: String, expected: String) throws {
        let dir = try TempDir()
        let screens = try broken(file, in: dir) { text in
            #expect(text.contains(from), "the test's edit must apply")
            return text.replacingOccurrences(of: from, with: to)
        }
        do {
            _ = try FamilyBook(screens: screens)
            Issue.record("\(file) loaded though broken")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }
}

extension FamilyLoadTests {
    @Test("a ninth family is one data file and its template: loaded, its phones identified, its config and screens rendered")
    func ninthFamily() throws {
        let dir = try TempDir()
        let screens = dir.url.appendingPathComponent("Screens")
        try FileManager.default.copyItem(at: screensDirectory, to: screens)
        let families = screens.appendingPathComponent("families")
        try FileManager.default.createDirectory(at: families.appendingPathComponent("htek"), withIntermediateDirectories: true)
        try
            "<?xml version=\"1.0\"?>\n<hl_provision><config><P271>{{#logged_in}}1{{/logged_in}}{{^logged_in}}0{{/logged_in}}</P271><K>{{app_url}}</K><U>{{provision_url}}</U></config></hl_provision>\n"
            .write(to: families.appendingPathComponent("htek/config.xml.mustache"), atomically: true, encoding: .utf8)
        try """
        {"brand": "htek", "name": "Htek", "user_agent_marks": ["Htek"],
         "models": [{"name": "htek-uc926", "user_agent": "UC926", "applies_config": "reboot", "line_keys": 6}],
         "config": {"format": "xml", "files": [{"name": "htek{mac}.xml", "template": "htek/config.xml.mustache"}]},
         "dialect": {"templates": "xmlbrowser", "roots": {"menu": "TextMenu", "input": "InputScreen", "text": "TextScreen"}, "max_bytes": 10000,
                     "content_type": "text/xml", "max_input_fields": 6, "password_marker": "password=\\"yes\\""},
         "push": {"factory_credentials": {"username": "admin", "password": "admin"},
                  "reboot": {"method": "GET", "path": "/Phone_ActionURL&key=Reboot", "auth": "basic"}}}
        """.write(to: families.appendingPathComponent("htek.json"), atomically: true, encoding: .utf8)
        let book = try FamilyBook(screens: screens)
        #expect(book.catalog.brands.count == 9)
        let matches = book.configs.matches(fileName: "htek001565aabbcc.xml")
        guard
            case .device(let m)? = FileIdentification.decide(
                matches,
                knownBrand: nil,
                userAgentBrands: book.catalog.brands(inUserAgent: "Htek UC926 2.0")
            )
        else {
            Issue.record("htek001565aabbcc.xml is not a device file")
            return
        }
        #expect(m.brand == "htek" && book.catalog.model(fromUserAgent: "Htek UC926 2.0", brand: "htek")?.name == "htek-uc926")
        #expect(book.pushes.configAction(for: book.catalog.model(named: "htek-uc926")!) == .reboot)
        let menu = try #require(book.screens.dialects["htek"]).render(
            .menu(.init(title: "Hot Desk", items: [.init(label: "Login Int", url: "http://h/a")]))
        )
        #expect(menu.body.contains("<TextMenu"))
    }
}
