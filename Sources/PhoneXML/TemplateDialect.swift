import LibXML
import Mustache

import Foundation

/// What a dialect file (`Screens/dialects/<name>.json`) says about a vendor's XML browser.
/// Every fact here comes from `reference/phone-dialects.md`; the ones marked inferred there
/// are corrected by editing the JSON, not the code.
public struct DialectSpec: Decodable, Hashable, Sendable {
    /// `yealink`, `sangoma`, …
    public var name: String
    /// The template folder under `Screens/dialects/` (vendors with the same document shape share one).
    public var templates: String
    /// Root element per screen kind (`menu`, `input`, `text`).
    public var roots: [String: String]
    /// The largest document the phone accepts, in bytes.
    public var maxBytes: Int
    public var contentType: String
    public var maxInputFields: Int
    /// The phone's internal URIs for soft key actions: `submit`, `select`, `back`, `exit`.
    public var softKeyURIs: [String: String]
    /// Where the facts come from and how sure they are.
    public var source: String?

    enum CodingKeys: String, CodingKey {
        case name, templates, roots, source
        case maxBytes = "max_bytes"
        case contentType = "content_type"
        case maxInputFields = "max_input_fields"
        case softKeyURIs = "soft_key_uris"
    }
}

/// A dialect whose documents are Mustache templates filled from a `Screen`.
///
/// Template variables: `root`, `title`, and per kind `items` (`index`, `label`, `url`), `url`
/// and `fields` (`index`, `prompt`, `parameter`, `kind`, `masked`, `default`), `text`; every
/// kind has `softkeys` (`index`, `label`, `uri`). Values are XML-escaped by the template engine.
public struct TemplateDialect: Dialect {
    public let spec: DialectSpec
    private let library: MustacheLibrary

    public var name: String { spec.name }
    public var maxInputFields: Int { spec.maxInputFields }

    /// Loads and checks a dialect: each template must render a sample screen (with hostile
    /// text) into well-formed XML with the declared root element.
    public init(spec: DialectSpec, templates: [Screen.Kind: String]) throws {
        self.spec = spec
        var library = MustacheLibrary()
        for kind in Screen.Kind.allCases {
            guard let text = templates[kind] else {
                throw RenderError.badTemplate(dialect: spec.name, kind: kind, reason: "missing \(kind.rawValue).mustache")
            }
            guard spec.roots[kind.rawValue] != nil else {
                throw RenderError.badTemplate(dialect: spec.name, kind: kind, reason: "no root element for \(kind.rawValue) in the dialect file")
            }
            do {
                try library.register(text, named: kind.rawValue)
            } catch {
                throw RenderError.badTemplate(dialect: spec.name, kind: kind, reason: "\(error)")
            }
        }
        self.library = library
        try selfCheck()
    }

    public func render(_ screen: Screen) throws(RenderError) -> PhoneDocument {
        let body = try renderUnchecked(screen)
        let size = body.utf8.count
        guard size <= spec.maxBytes else { throw .tooLarge(dialect: spec.name, bytes: size, limit: spec.maxBytes) }
        return PhoneDocument(body: body, contentType: spec.contentType)
    }

    private func renderUnchecked(_ screen: Screen) throws(RenderError) -> String {
        var context: [String: Any] = ["root": spec.roots[screen.kind.rawValue] ?? ""]
        let softKeys: [Screen.SoftKey]
        switch screen {
        case .menu(let menu):
            context["title"] = menu.title
            context["items"] = menu.items.enumerated().map { ["index": $0.offset + 1, "label": $0.element.label, "url": $0.element.url] }
            softKeys = menu.softKeys
        case .input(let input):
            guard input.fields.count <= spec.maxInputFields else {
                throw .unsupported(dialect: spec.name, reason: "\(input.fields.count) input fields, at most \(spec.maxInputFields)")
            }
            context["title"] = input.title
            context["url"] = input.url
            context["fields"] = input.fields.enumerated().map { offset, field -> [String: Any] in
                [
                    "index": offset + 1, "prompt": field.prompt, "parameter": field.parameter, "kind": field.kind.rawValue,
                    "masked": field.masked, "default": field.defaultValue,
                ]
            }
            softKeys = input.softKeys
        case .text(let text):
            context["title"] = text.title
            context["text"] = text.text
            softKeys = text.softKeys
        }
        context["softkeys"] = softKeys.enumerated().map { offset, key -> [String: Any] in
            ["index": offset + 1, "label": key.label, "uri": uri(for: key.action)]
        }
        guard let body = library.render(context, withTemplate: screen.kind.rawValue) else {
            throw .badTemplate(dialect: spec.name, kind: screen.kind, reason: "template not loaded")
        }
        return body
    }

    private func uri(for action: Screen.SoftKey.Action) -> String {
        switch action {
        case .url(let url): url
        case .submit: spec.softKeyURIs["submit"] ?? "SoftKey:Submit"
        case .select: spec.softKeyURIs["select"] ?? "SoftKey:Select"
        case .back: spec.softKeyURIs["back"] ?? "SoftKey:Back"
        case .exit: spec.softKeyURIs["exit"] ?? "SoftKey:Exit"
        }
    }

    private func selfCheck() throws {
        let hostile = "A&B <\"x\"> 'y'"
        let url = "http://192.0.2.1:8080/app/t?a=1&b=2"
        let samples: [Screen] = [
            .menu(.init(title: hostile, items: [.init(label: hostile, url: url), .init(label: "2", url: url)])),
            .input(.init(
                title: hostile, url: url,
                fields: Array([Screen.InputField(prompt: hostile, parameter: "ext"), .init(prompt: "P", parameter: "pw", masked: true)]
                    .prefix(max(1, spec.maxInputFields))),
                softKeys: [.init(label: "Done", action: .submit), .back])),
            .text(.init(title: hostile, text: hostile, softKeys: [.init(label: hostile, action: .url(url)), .exit])),
        ]
        for sample in samples {
            let body = try renderUnchecked(sample)
            let root: XMLElement
            do {
                root = try XMLParser.parse(body)
            } catch {
                throw RenderError.badTemplate(dialect: spec.name, kind: sample.kind, reason: error.description)
            }
            guard root.name == spec.roots[sample.kind.rawValue] else {
                throw RenderError.badTemplate(
                    dialect: spec.name, kind: sample.kind, reason: "root is <\(root.name)>, expected <\(spec.roots[sample.kind.rawValue] ?? "")>")
            }
            guard body.contains(hostile) == false, root.text.contains(hostile) else {
                throw RenderError.badTemplate(dialect: spec.name, kind: sample.kind, reason: "text is not escaped or not shown")
            }
        }
    }
}
