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
        guard case .menu(_, let items, _) = try dialect.read(Array(menu(dialect).utf8)) else {
            Issue.record("not a menu")
            return
        }
        #expect(items.first?.uri == "http://pbx/a?x=1&y=2")
        let input = """
            <\(dialect.inputRoot)><Title>Login</Title><URL>http://pbx/s</URL>
            <InputField type="number"><Prompt>Ext</Prompt><Parameter>ext</Parameter></InputField>
            <InputField password="yes"><Prompt>PIN</Prompt><Parameter>pw</Parameter></InputField></\(dialect.inputRoot)>
            """
        guard case .input(_, _, let fields, _) = try dialect.read(Array(input.utf8)) else {
            Issue.record("not an input")
            return
        }
        #expect(fields.map(\.masked) == [false, true])
        let text = "<\(dialect.textRoot)><Title>T</Title><Text>Hello</Text></\(dialect.textRoot)>"
        guard case .text(_, let body, _) = try dialect.read(Array(text.utf8)) else {
            Issue.record("not a text")
            return
        }
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
            (
                "input field without parameter",
                "<\(dialect.inputRoot)><URL>http://x</URL><InputField><Prompt>p</Prompt></InputField></\(dialect.inputRoot)>"
            ),
            ("text without Text", "<\(dialect.textRoot)><Title>x</Title></\(dialect.textRoot)>"),
            (
                "over the size limit",
                menu(dialect, items: String(repeating: "<MenuItem><Prompt>Item</Prompt><URI>http://pbx/x</URI></MenuItem>", count: 200))
            ),
            (
                "an external entity",
                "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><\(dialect.textRoot)><Text>&e;</Text></\(dialect.textRoot)>"
            ),
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
        try config.apply(
            Array(
                "#!version:1.0.0.1\naccount.1.enable = 1\naccount.1.user_name = 5501\nlinekey.2.type = 27\nlinekey.2.value = http://h/app/t\n".utf8
            ),
            format: .yealink
        )
        #expect(config.lineActive && config.lineUser == "5501" && config.browserKeyURL == "http://h/app/t")
    }

    @Test("scripts: every step parses; an unknown step names its line")
    func scripts() throws {
        let script = try PhoneScript(
            "key hotdesk   # the key\n\nexpect Login Int\nselect 1\ntype 5501\nnext\npress Done\nexpect-reload 15\nwait 0.5\n"
        )
        #expect(script.lines.count == 8)
        #expect(script.lines[0].step == .key("hotdesk"))
        #expect(throws: PhoneScript.ParseError.self) { try PhoneScript("key hotdesk\njump 3\n") }
        #expect(throws: PhoneScript.ParseError.self) { try PhoneScript("wait forever") }
    }

    @Test("the phone's web server: its own commands, its vendor's auth, the login its config set")
    func webServer() async throws {
        let phone = SimulatedPhone(
            model: SimModel.named("yealink-t46u")!,
            mac: "001565aaee01",
            options: .init(server: "http://127.0.0.1:9", address: Loopback.next(), pushPort: testPushPort, bootTimeScale: 0)
        )
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

/// Each document shape read as strictly as its phones do: a good document of each kind is shown,
/// and what the firmware would refuse is refused.
@Suite("The simulator reads every family's documents strictly")
struct SimulatorShapeTests {
    static let u = "http://127.0.0.1/app/t?net=int&amp;x=1"

    struct Case: Sendable, CustomStringConvertible {
        let dialect: BrowserDialect
        let good: [String]
        let bad: [(String, String)]
        var description: String { dialect.name }
    }

    static func cisco(_ d: BrowserDialect) -> Case {
        let item = "<MenuItem><Name>Login Int</Name><URL>\(u)</URL></MenuItem>"
        let input = { (flags: String) in
            "<\(d.inputRoot)><Title>Login</Title><URL>\(u)</URL><InputItem><DisplayName>Extension</DisplayName><QueryStringParam>ext</QueryStringParam><InputFlags>N</InputFlags></InputItem><InputItem><DisplayName>Password</DisplayName><QueryStringParam>pw</QueryStringParam><InputFlags>\(flags)</InputFlags></InputItem></\(d.inputRoot)>"
        }
        return Case(
            dialect: d,
            good: [
                "<\(d.menuRoot)><Title>Hot Desk</Title><SoftKeyItem><Name>Select</Name><Position>1</Position><URL>SoftKey:Select</URL></SoftKeyItem>\(item)</\(d.menuRoot)>",
                "<\(d.menuRoot)><Title>Any order</Title>\(item)<SoftKeyItem><Name>Exit</Name><Position>3</Position><URL>SoftKey:Exit</URL></SoftKeyItem></\(d.menuRoot)>",
                input("NP"), "<\(d.textRoot)><Title>T</Title><Text>Hello</Text></\(d.textRoot)>",
            ],
            bad: [
                ("an element the object does not have", "<\(d.menuRoot)><Title>x</Title><Foo/>\(item)</\(d.menuRoot)>"),
                ("a Title over 32 characters", "<\(d.menuRoot)><Title>\(String(repeating: "T", count: 33))</Title>\(item)</\(d.menuRoot)>"),
                ("101 menu items", "<\(d.menuRoot)>\(String(repeating: item, count: 101))</\(d.menuRoot)>"),
                (
                    "a URL over 256",
                    "<\(d.menuRoot)><MenuItem><Name>a</Name><URL>http://h/\(String(repeating: "a", count: 260))</URL></MenuItem></\(d.menuRoot)>"
                ),
                (
                    "nine soft keys",
                    "<\(d.textRoot)><Text>x</Text>\(String(repeating: "<SoftKeyItem><Name>K</Name><Position>1</Position><URL>SoftKey:Exit</URL></SoftKeyItem>", count: 9))</\(d.textRoot)>"
                ),
                ("a password without the P flag", input("N")), ("unknown InputFlags", input("ZZ")),
                ("an unescaped &", "<\(d.menuRoot)><MenuItem><Name>a</Name><URL>http://h/?a=1&b=2</URL></MenuItem></\(d.menuRoot)>"),
            ]
        )
    }

    static let cases: [Case] = [
        cisco(.cisco), cisco(.fanvil),
        Case(
            dialect: .snom,
            good: [
                "<SnomIPPhoneMenu><Title>Hot Desk</Title><MenuItem name=\"Login Int\"><Url>\(u)</Url></MenuItem></SnomIPPhoneMenu>",
                "<SnomIPPhoneInput><Title>PIN</Title><Url>\(u)&amp;pw=__PW__</Url><InputItem><DisplayName>Password</DisplayName><InputToken>__PW__</InputToken><InputFlags>pn</InputFlags></InputItem></SnomIPPhoneInput>",
                "<SnomIPPhoneText><Title>T</Title><Text>Hello</Text><SoftKeyItem><Name>F1</Name><Label>Again</Label><Url>\(u)</Url></SoftKeyItem></SnomIPPhoneText>",
            ],
            bad: [
                ("a MenuItem without a name", "<SnomIPPhoneMenu><MenuItem><Url>\(u)</Url></MenuItem></SnomIPPhoneMenu>"),
                (
                    "two InputItems",
                    "<SnomIPPhoneInput><Url>\(u)&amp;a=__A__&amp;b=__B__</Url><InputItem><InputToken>__A__</InputToken></InputItem><InputItem><InputToken>__B__</InputToken></InputItem></SnomIPPhoneInput>"
                ),
                (
                    "a token missing from the Url",
                    "<SnomIPPhoneInput><Url>\(u)</Url><InputItem><InputToken>__PW__</InputToken></InputItem></SnomIPPhoneInput>"
                ),
                (
                    "a password shown in clear",
                    "<SnomIPPhoneInput><Url>\(u)&amp;pw=__PW__</Url><InputItem><DisplayName>Password</DisplayName><InputToken>__PW__</InputToken><InputFlags>n</InputFlags></InputItem></SnomIPPhoneInput>"
                ),
                ("an element the object does not have", "<SnomIPPhoneText><Text>x</Text><Script/></SnomIPPhoneText>"),
            ]
        ),
        Case(
            dialect: .polycom,
            good: [
                "<html><head><title>Hot Desk</title></head><body><a href=\"\(u)\">Login Int</a><br/></body></html>",
                "<html><head><title>Login</title></head><body><form action=\"http://h/s\" method=\"get\"><input type=\"hidden\" name=\"net\" value=\"int\"/>Extension: <input type=\"text\" name=\"ext\"/><br/>Password: <input type=\"password\" name=\"pw\"/><input type=\"submit\" value=\"Done\"/></form></body></html>",
                "<html><head><title>T</title></head><body><p>Hello</p><a href=\"\(u)\">Back</a></body></html>",
            ],
            bad: [
                ("a tag the microbrowser does not know", "<html><body><script>x</script><a href=\"\(u)\">a</a></body></html>"),
                (
                    "a form sent by POST",
                    "<html><body><form action=\"http://h/s\" method=\"post\"><input type=\"text\" name=\"ext\"/></form></body></html>"
                ),
                ("an unclosed tag", "<html><body><a href=\"\(u)\">a</a><br></body></html>"),
                (
                    "a password shown in clear",
                    "<html><body><form action=\"http://h/s\" method=\"get\">Password: <input type=\"text\" name=\"pw\"/></form></body></html>"
                ),
                ("another root", "<PolycomIPPhone><Data>x</Data></PolycomIPPhone>"),
            ]
        ),
        Case(
            dialect: .grandstream,
            good: [
                "<xmlapp title=\"Hot Desk\"><view><section><item label=\"Login Int\" action=\"UseURL\" commandArgs=\"\(u)\"/></section></view><SoftKeys><Softkey label=\"Exit\" action=\"QuitApp\"/></SoftKeys></xmlapp>",
                "<xmlapp title=\"Login\"><view><form action=\"\(u)\"><input label=\"Extension\" name=\"ext\" type=\"number\"/><input label=\"Password\" name=\"pw\" type=\"password\"/></form></view></xmlapp>",
                "<xmlapp title=\"T\"><view><section><text label=\"Hello\"/></section></view></xmlapp>",
            ],
            bad: [
                (
                    "an unknown soft key action",
                    "<xmlapp><view><section><text label=\"x\"/></section></view><Softkeys><Softkey label=\"x\" action=\"Explode\"/></Softkeys></xmlapp>"
                ),
                ("an item without commandArgs", "<xmlapp><view><section><item label=\"a\" action=\"UseURL\"/></section></view></xmlapp>"),
                (
                    "a password shown in clear",
                    "<xmlapp><view><form action=\"\(u)\"><input label=\"Password\" name=\"pw\" type=\"number\"/></form></view></xmlapp>"
                ),
                ("no view", "<xmlapp title=\"x\"/>"),
            ]
        ),
    ]

    @Test("good documents of each kind are shown; what the firmware refuses is refused", arguments: cases)
    func strict(c: Case) {
        for (i, document) in c.good.enumerated() {
            #expect(throws: Never.self, "\(c.dialect.name) good document \(i)") { try c.dialect.read(Array(document.utf8)) }
        }
        let oversize =
            "<\(c.dialect.textRoot)>" + String(repeating: "<!-- padding -->", count: c.dialect.maxBytes / 16 + 1) + "</\(c.dialect.textRoot)>"
        for (what, document) in c.bad + [("over the size limit", oversize)] {
            #expect(throws: DocumentRefusal.self, "\(c.dialect.name): \(what)") { try c.dialect.read(Array(document.utf8)) }
        }
    }

    @Test("config files of each family are read; broken ones refused")
    func configs() throws {
        var config = PhoneConfig()
        try config.apply(
            Array(
                "<device><sipProfile><sipLines><line button=\"1\"><name>5501</name><proxy>pbx</proxy><authPassword>x</authPassword></line></sipLines></sipProfile><servicesURL>http://h/app/t</servicesURL></device>"
                    .utf8
            ),
            format: .ciscoDevice
        )
        #expect(config.lineUser == "5501" && config.browserKeyURL == "http://h/app/t" && config.hasSIPPassword)
        try config.apply(Array("<APPLICATION CONFIG_FILES=\"a.cfg, b.cfg\"/>".utf8), format: .polycom)
        #expect(config.moreFiles == ["a.cfg", "b.cfg"])
        try config.apply(Array("sip line1 user name: 5502\nsoftkey1 type: xml\nsoftkey1 value: http://h/app/u\n".utf8), format: .aastra)
        #expect(config.lineUser == "5502" && config.browserKeyURL == "http://h/app/u")
        #expect(throws: ConfigRefusal.self) { try config.apply(Array("<settings>".utf8), format: .snomSettings) }
        #expect(throws: ConfigRefusal.self) { try config.apply(Array("<other/>".utf8), format: .gsProvision) }
        #expect(throws: ConfigRefusal.self) { try config.apply(Array("no separator here\n".utf8), format: .fanvil) }
        #expect(SimModel.named("nokia-3310") == nil, "an unknown model is no model, not a default one")
    }
}
