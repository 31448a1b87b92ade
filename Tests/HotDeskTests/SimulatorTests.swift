import Curl
import Foundation
import PhoneSimulator
import Testing

@Suite("The simulator is as strict as the phones")
struct SimulatorTests {
    static let dialects: [BrowserDialect] = [.yealink, .htek]

    func menu(_ d: BrowserDialect, items: String = "<MenuItem><Prompt>Login Int</Prompt><URI>http://pbx/a?x=1&amp;y=2</URI></MenuItem>") -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><\(d.menuRoot)><Title>Hot Desk</Title>\(items)</\(d.menuRoot)>"
    }

    @Test("well-formed documents of each kind are shown", arguments: dialects)
    func accepts(dialect: BrowserDialect) throws {
        guard case .menu(_, let items, _) = try dialect.read(Array(menu(dialect).utf8)) else { Issue.record("not a menu"); return }
        #expect(items.first?.uri == "http://pbx/a?x=1&y=2")
        let input = """
            <\(dialect.inputRoot)><Title>Login</Title><URL>http://pbx/s</URL>
            <InputField type="number"><Prompt>Ext</Prompt><Parameter>ext</Parameter></InputField>
            <InputField password="yes"><Prompt>PIN</Prompt><Parameter>pw</Parameter></InputField></\(dialect.inputRoot)>
            """
        guard case .input(_, _, let fields, _) = try dialect.read(Array(input.utf8)) else { Issue.record("not an input"); return }
        #expect(fields.map(\.masked) == [false, true])
        let text = "<\(dialect.textRoot)><Title>T</Title><Text>Hello</Text></\(dialect.textRoot)>"
        guard case .text(_, let body, _) = try dialect.read(Array(text.utf8)) else { Issue.record("not a text"); return }
        #expect(body == "Hello")
    }

    @Test("broken, foreign, incomplete and over-size documents are refused", arguments: dialects)
    func refuses(dialect: BrowserDialect) {
        let other = dialect == .yealink ? BrowserDialect.htek : .yealink
        let bad: [(String, String)] = [
            ("unescaped &", menu(dialect, items: "<MenuItem><Prompt>A</Prompt><URI>http://pbx/a?x=1&y=2</URI></MenuItem>")),
            ("unclosed element", "<\(dialect.menuRoot)><Title>x</Title>"),
            ("not XML", "Login Int\nLogin Extl"),
            ("another vendor's root", menu(other)),
            ("a root the browser does not show", "<\(dialect == .yealink ? "YealinkIPPhoneExecute" : "Execute")/>"),
            ("menu without items", menu(dialect, items: "")),
            ("item without URI", menu(dialect, items: "<MenuItem><Prompt>A</Prompt></MenuItem>")),
            ("input without URL", "<\(dialect.inputRoot)><InputField><Parameter>p</Parameter></InputField></\(dialect.inputRoot)>"),
            ("input field without parameter", "<\(dialect.inputRoot)><URL>http://x</URL><InputField><Prompt>p</Prompt></InputField></\(dialect.inputRoot)>"),
            ("text without Text", "<\(dialect.textRoot)><Title>x</Title></\(dialect.textRoot)>"),
            ("over the size limit", menu(dialect, items: String(repeating: "<MenuItem><Prompt>Item</Prompt><URI>http://pbx/x</URI></MenuItem>", count: 200))),
            ("an external entity", "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><\(dialect.textRoot)><Text>&e;</Text></\(dialect.textRoot)>"),
        ]
        for (what, document) in bad {
            #expect(throws: DocumentRefusal.self, "\(dialect.name): \(what)") { try dialect.read(Array(document.utf8)) }
        }
    }

    @Test("config files: broken ones are refused, Yealink keys and Htek paras are read")
    func configs() throws {
        var config = PhoneConfig()
        #expect(throws: ConfigRefusal.self) { try config.apply(Array("account.1.enable = 1\n".utf8), format: .yealink) }
        #expect(throws: ConfigRefusal.self) { try config.apply(Array("<hl_provision><config>".utf8), format: .hlProvision) }
        #expect(throws: ConfigRefusal.self) { try config.apply(Array("<other/>".utf8), format: .hlProvision) }
        try config.apply(Array("#!version:1.0.0.1\naccount.1.enable = 1\naccount.1.user_name = 5501\nlinekey.2.type = 27\nlinekey.2.value = http://h/app/t\n".utf8), format: .yealink)
        #expect(config.lineActive && config.lineUser == "5501" && config.browserKeyURL == "http://h/app/t")
    }

    @Test("scripts: every step parses; an unknown step names its line")
    func scripts() throws {
        let script = try PhoneScript("key hotdesk   # the key\n\nexpect Login Int\nselect 1\ntype 5501\nnext\npress Done\nexpect-reload 15\nwait 0.5\n")
        #expect(script.lines.count == 8)
        #expect(script.lines[0].step == .key("hotdesk"))
        #expect(throws: PhoneScript.ParseError.self) { try PhoneScript("key hotdesk\njump 3\n") }
        #expect(throws: PhoneScript.ParseError.self) { try PhoneScript("wait forever") }
    }

    @Test("the phone's web server: its own commands, its vendor's auth, the login its config set")
    func webServer() async throws {
        let phone = SimulatedPhone(
            model: SimModel.named("yealink-t46u")!, mac: "001565aaee01",
            options: .init(server: "http://127.0.0.1:9", address: Loopback.next(), pushPort: testPushPort, bootTimeScale: 0))
        try await phone.boot()  // no server: it comes up with factory settings
        let base = "http://\(phone.options.address):\(testPushPort)"
        func status(_ path: String, _ credentials: HTTPCredentials?) async throws -> Int {
            try await CurlEngine.shared.perform(CurlRequest(url: base + path, credentials: credentials)).status
        }
        #expect(try await status("/servlet?key=Reboot", nil) == 401)
        #expect(try await status("/servlet?key=Reboot", .init(username: "admin", password: "wrong", scheme: .digest)) == 401)
        #expect(try await status("/servlet?key=Reboot", .init(username: "admin", password: "admin", scheme: .basic)) == 401, "Yealink wants Digest")
        #expect(try await status("/servlet?key=Explode", .init(username: "admin", password: "admin", scheme: .digest)) == 404)
        #expect(try await status("/servlet?key=AutoP", .init(username: "admin", password: "admin", scheme: .any)) == 200)
        #expect(await phone.events.contains(.pushAccepted(.reload, path: "/servlet?key=AutoP")))
        await phone.shutdown()
        do {
            _ = try await CurlEngine.shared.perform(CurlRequest(url: base + "/servlet?key=AutoP"))
            Issue.record("a phone that is off still answered")
        } catch {
            #expect(error.kind == .refused)
        }
    }
}
