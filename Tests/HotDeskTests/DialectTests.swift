import Foundation
import HotDeskCore
import LibXML
import PhoneXML
import Testing

@Suite("Phone XML dialects")
struct DialectTests {
    static let library = testFamilies.screens
    static let expectations: [(dialect: String, roots: [Screen.Kind: String])] = [
        ("yealink", [.menu: "YealinkIPPhoneTextMenu", .input: "YealinkIPPhoneInputScreen", .text: "YealinkIPPhoneTextScreen"]),
        ("sangoma", [.menu: "TextMenu", .input: "InputScreen", .text: "TextScreen"]),
    ]

    static let url = "http://192.0.2.10:8080/app/tok?net=int&ext=5501"
    static let screens: [Screen] = [
        .menu(.init(title: "Hot Desk", items: [.init(label: "Login Int", url: url), .init(label: "Login Extl", url: url)])),
        .input(.init(
            title: "Login", url: url,
            fields: [.init(prompt: "Extension:", parameter: "ext"), .init(prompt: "Password:", parameter: "pw", masked: true)],
            softKeys: [.init(label: "Done", action: .submit)])),
        .text(.init(title: "Logged in", text: "Logged in as 5501 & co <ok>", softKeys: [.init(label: "Try again", action: .url(url))])),
    ]

    @Test("every screen is well-formed XML with the vendor's root, escaped URLs and a masked password", arguments: expectations.map(\.dialect))
    func screensParse(dialectName: String) throws {
        let dialect = try #require(Self.library.dialects[dialectName])
        let roots = Self.expectations.first { $0.dialect == dialectName }!.roots
        for screen in Self.screens {
            let doc = try dialect.render(screen)
            let root = try XMLParser.parse(doc.body)
            #expect(root.name == roots[screen.kind])
            #expect(doc.body.utf8.count <= 10000)
            #expect(doc.body.contains("net=int&amp;ext=5501"))
            #expect(!doc.body.contains("net=int&ext"))
            if screen.kind == .input {
                let fields = root.children("InputField")
                #expect(fields.map { $0.attributes["password"] } == ["no", "yes"])
                #expect(fields.map { $0.child("Parameter")?.text } == ["ext", "pw"])
                #expect(root.child("URL")?.text == Self.url)
            }
            if screen.kind == .text {
                #expect(root.child("Text")?.text == "Logged in as 5501 & co <ok>")
            }
        }
    }

    @Test("documents over the vendor's size limit are refused, not sent", arguments: expectations.map(\.dialect))
    func sizeLimit(dialectName: String) throws {
        let dialect = try #require(Self.library.dialects[dialectName])
        let items = (0..<200).map { Screen.MenuItem(label: "Item \($0)", url: Self.url) }
        #expect(throws: RenderError.self) { try dialect.render(.menu(.init(title: "Big", items: items))) }
    }

    @Test("a broken template is caught when Screens/ is loaded")
    func brokenTemplate() throws {
        let spec = try #require((Self.library.dialects["yealink"] as? TemplateDialect)?.spec)
        let good = "<{{root}}><Title>{{title}}</Title><Text>{{text}}</Text></{{root}}>"
        #expect(throws: RenderError.self) {
            try TemplateDialect(spec: spec, templates: [.menu: "<{{root}}><Title>{{title}}</Title>", .input: good, .text: good])
        }
        #expect(throws: RenderError.self) {
            try TemplateDialect(spec: spec, templates: [.menu: good, .input: good, .text: "<{{root}}><Text>{{{text}}}</Text></{{root}}>"])
        }
    }
}
