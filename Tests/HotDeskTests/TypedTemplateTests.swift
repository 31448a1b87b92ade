import Foundation
import HotDeskCore
import PhoneFamilies
import Testing

@testable import PhoneXML
@testable import Provisioning

/// `TypedTemplate` renders a config template from swift-mustache's own parse over typed values;
/// the library stays the reference: every built-in template must be taken and render byte for
/// byte as the library renders it, and so must the corners of Mustache an admin's template may use.
@Suite("Config templates rendered typed, as swift-mustache renders them")
struct TypedTemplateTests {
    /// A phone's states a template must get right: logged out, logged in with shared lines of
    /// every ring option, every optional value set, texts that need escaping in either format.
    static func contexts(for device: Device) -> [ConfigContext] {
        let server = ServerAddress("hotdesk.example:8080")!
        let out = ConfigContext(device: device, line: nil, server: server, network: nil, emergencyCallerID: nil)
        var plain = ConfigContext(
            device: device,
            line: .init(number: "5501", name: "Ada Lovelace", sipPassword: "s3cret"),
            server: server,
            network: .internal,
            emergencyCallerID: nil
        )
        var full = ConfigContext(
            device: device,
            line: .init(number: "5502", name: "Zoë \"O'Neil\" <&>\nline.2 = x\u{7}", sipPassword: "p<&>\"'"),
            server: ServerAddress("https://hd.example")!,
            network: .external,
            emergencyCallerID: "+1 555 & <0100>",
            phoneLogin: PhoneCredentials(username: "admin", password: "web&<pass>"),
            pushFrom: "127.0.0.7"
        )
        full.sip = SIPSettings(host: "pbx.example", port: 5070, transport: .tls, realm: "realm&", outboundProxy: "proxy.example:5061")
        full.provisioning = PhoneCredentials(username: "hd001565aabbcc", password: "prov-secret")
        full.provisioningPathKey = "path-key"
        let rings: [RingOption] = [.noRing, .after(seconds: 12), .ring]
        for (i, ring) in rings.enumerated() {
            full.accounts.append(
                .init(
                    index: i + 2,
                    number: "56\(i)",
                    name: "Shared <\(i)>",
                    sipPassword: "sp\(i)",
                    callerID: i == 0 ? nil : "Sales & Co",
                    button: i + 3,
                    shared: true,
                    ring: ring
                )
            )
        }
        plain.sip = SIPSettings(host: "pbx.example", transport: .tcp)
        var placeholder = out
        placeholder.appToken = nil
        return [out, plain, full, placeholder]
    }

    @Test("every built-in template is taken, and renders as the library does for a phone logged out, logged in, and with everything set")
    func builtInTemplates() throws {
        var checked = 0
        for (brand, family) in testFamilies.configs.families {
            let models = try #require(testFamilies.catalog.families[brand]?.models)
            for model in [models.first, models.last].compactMap({ $0 }) {
                let device = Device(mac: MACAddress("001565aabbcc")!, model: model, token: "app-token")
                for file in family.deviceFiles {
                    #expect(try ConfigRenderer.isTyped(file.template, format: family.format), "\(file.templateName) falls back to swift-mustache")
                    for context in Self.contexts(for: device) {
                        let (library, typed) = try ConfigRenderer.renderBoth(file.template, format: family.format, context: context)
                        #expect(typed == library, "\(file.templateName), \(model.name), logged in: \(context.line != nil)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked >= 8 * 2 * 4)
    }

    /// Corners of Mustache as the library parses them: standalone tags take their line, a name
    /// climbs out of sections (its dotted rest does not), `.` is the value itself, delimiters
    /// change, comments vanish, `{{{…}}}`/`{{&…}}` are not escaped, a number or flag is text.
    static let corners = [
        "a\n{{#logged_in}}\n  in {{line.name}}\n{{/logged_in}}\n{{^logged_in}}\nout\n{{/logged_in}}\nb\n",
        "  {{#accounts}}  [{{index}}:{{label}}:{{mac}}:{{server.port}}]  {{/accounts}}\n",
        "{{#accounts}}{{#shared}}{{name}}{{/shared}}{{^shared}}own {{number}}{{/shared}}|{{/accounts}}",
        "{{#line}}{{number}} {{.number}} {{mac}} {{.mac}}{{/line}}",
        "{{#server}}{{host}}:{{port}} {{url}} {{line.number}}{{/server}}",
        "{{#server.host}}{{.}}{{/server.host}} {{#server.port}}<{{.}}>{{/server.port}} {{logged_in}} {{login_key}}",
        "{{#unused_keys}}{{position}},{{/unused_keys}}{{^unused_keys}}none{{/unused_keys}} {{^shared_accounts}}[{{.}}]{{/shared_accounts}}",
        "{{! a comment }}\n{{=<% %>=}}\n<% line.name %> {{line.name}}\n<%={{ }}=%>\n{{ line.name }}\n",
        "{{{line.name}}} {{&line.name}} {{line.name}} {{ line.sip_password }}",
        "{{#slot.2}}two {{name}}{{/slot.2}}{{^slot.5}}no five{{/slot.5}} {{slot.2.ring_after}} {{missing.name}} {{line.missing}}",
        "{{#emergency_caller_id}}ecid {{.}}{{/emergency_caller_id}}{{^emergency_caller_id}}no ecid{{/emergency_caller_id}}\r\n{{#logged_in}}\r\nx\r\n{{/logged_in}}\r\n",
        "{{#accounts}}{{#ring_after}}after {{.}} {{index}}{{/ring_after}}{{/accounts}} {{#phone_login}}{{username}}/{{password}}{{/phone_login}}",
    ]

    @Test("the corners of Mustache render as the library renders them, in both formats")
    func corners() throws {
        let model = try #require(testFamilies.catalog.model(named: "yealink-t46u"))
        let device = Device(mac: MACAddress("001565aabbcc")!, model: model, token: "app-token")
        for template in Self.corners {
            for format in [ConfigFormat.keyValue, .xml] {
                #expect(try ConfigRenderer.isTyped(template, format: format), "\(template.debugDescription) is not taken")
                for context in Self.contexts(for: device) {
                    let (library, typed) = try ConfigRenderer.renderBoth(template, format: format, context: context)
                    #expect(typed == library, "\(template.debugDescription) (\(format))")
                }
            }
        }
    }

    @Test("every dialect's app screens are taken, and render as the library does: menus, forms, texts, with texts to escape")
    func appScreens() throws {
        let odd = ["Zoë \"O'Neil\" <&>", "e\u{301} <\u{301} &\u{20DD}", "line\r\nbreak\ttab", "plain"]
        var checked = 0
        for (family, dialect) in testFamilies.screens.dialects {
            let dialect = try #require(dialect as? TemplateDialect, "\(family)")
            for text in odd {
                let url = "http://127.0.0.1:8080/app/token/login?net=int&x=\(text.utf8.count)"
                let screens: [Screen] = [
                    .menu(.init(title: text, items: [.init(label: text, url: url), .init(label: "Login Extl", url: url)])),
                    .input(
                        .init(
                            title: text,
                            url: url,
                            fields: Array(
                                [
                                    Screen.InputField(prompt: text, parameter: "ext", defaultValue: text),
                                    .init(prompt: "PIN", parameter: "pw", masked: true),
                                ]
                                .prefix(dialect.maxInputFields)
                            ),
                            softKeys: [.init(label: "Done", action: .submit), .back, .init(label: text, action: .url(url))]
                        )
                    ),
                    .text(.init(title: text, text: text, softKeys: [.init(label: text, action: .url(url)), .exit])),
                ]
                for screen in screens {
                    let (library, typed) = try dialect.renderBoth(screen)
                    #expect(typed != nil, "\(family) \(screen.kind) falls back to swift-mustache")
                    #expect(typed == library, "\(family) \(screen.kind): \(text.debugDescription)")
                    checked += 1
                }
            }
        }
        #expect(checked >= 8 * 4 * 3)
    }

    @Test("a template with what only the library does (a transform, a partial) is rendered by the library")
    func libraryOnly() throws {
        let model = try #require(testFamilies.catalog.model(named: "yealink-t46u"))
        let device = Device(mac: MACAddress("001565aabbcc")!, model: model, token: "app-token")
        let context = Self.contexts(for: device)[1]
        for template in ["{{uppercased(line.name)}} {{#accounts}}{{#first()}}first {{/first()}}{{number}} {{/accounts}}", "a {{> other}} b"] {
            #expect(try !ConfigRenderer.isTyped(template, format: .keyValue))
            let rendered = try ConfigRenderer().render(template, name: "t", format: .keyValue, context: context)
            #expect(rendered.body == (try ConfigRenderer.renderBoth(template, format: .keyValue, context: context)).library)
        }
        let upper = try ConfigRenderer().render("{{uppercased(line.name)}}", name: "t", format: .keyValue, context: context)
        #expect(upper.body == "ADA LOVELACE")
    }
}
