import Foundation
import LibXML
import Mustache
import TypedMustache

/// What a family descriptor (`Screens/families/<brand>.json`, its `dialect` block) says about the
/// family's XML browser. Every fact comes from `reference/phone-dialects.md`; the ones marked
/// inferred there are corrected by editing the descriptor, not the code.
public struct DialectSpec: Decodable, Hashable, Sendable {
    /// Field lengths and counts the phone enforces (Cisco's XSD); texts longer than a limit are
    /// shortened, URLs and counts over a limit refuse the document.
    public struct Limits: Decodable, Hashable, Sendable {
        public var title: Int?
        public var label: Int?
        public var prompt: Int?
        public var softKeyLabel: Int?
        public var text: Int?
        public var url: Int?
        public var items: Int?
        public var softKeys: Int?

        enum CodingKeys: String, CodingKey {
            case title, label, prompt, text, url, items
            case softKeyLabel = "soft_key_label"
            case softKeys = "soft_keys"
        }

        public init() {}
    }

    /// The family's brand (`yealink`, `cisco`, …): set from the descriptor.
    public var name: String
    /// The template folder under `Screens/dialects/` (families with the same document shape share one).
    public var templates: String
    /// Root element per screen kind (`menu`, `input`, `text`).
    public var roots: [String: String]
    /// The largest document the phone accepts, in bytes.
    public var maxBytes: Int
    public var contentType: String
    /// Input fields on one screen; 1 means the extension and the password are asked on two
    /// chained screens (Snom).
    public var maxInputFields: Int
    /// What a masked (password) field carries in the rendered document (`password="yes"`,
    /// `<InputFlags>NP</InputFlags>`): checked when the dialect is loaded.
    public var passwordMarker: String
    /// The phone's internal URIs for soft key actions: `submit`, `select`, `back`, `exit`.
    public var softKeyURIs: [String: String]
    public var limits: Limits
    /// Where the facts come from and how sure they are.
    public var source: String?

    enum CodingKeys: String, CodingKey {
        case name, templates, roots, source, limits
        case maxBytes = "max_bytes"
        case contentType = "content_type"
        case maxInputFields = "max_input_fields"
        case passwordMarker = "password_marker"
        case softKeyURIs = "soft_key_uris"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        templates = try c.decode(String.self, forKey: .templates)
        roots = try c.decode([String: String].self, forKey: .roots)
        maxBytes = try c.decode(Int.self, forKey: .maxBytes)
        contentType = try c.decode(String.self, forKey: .contentType)
        maxInputFields = try c.decode(Int.self, forKey: .maxInputFields)
        passwordMarker = try c.decode(String.self, forKey: .passwordMarker)
        softKeyURIs = try c.decodeIfPresent([String: String].self, forKey: .softKeyURIs) ?? [:]
        limits = try c.decodeIfPresent(Limits.self, forKey: .limits) ?? Limits()
        source = try c.decodeIfPresent(String.self, forKey: .source)
    }
}

/// A dialect whose documents are Mustache templates filled from a `Screen`.
///
/// Template variables: `root`, `title`, and per kind `items` (`index`, `label`, `url`); `url`,
/// `action` (the URL without its query), `query` (its parameters: `name`, `value`),
/// `url_with_tokens` (the URL with each field as `parameter=token`, for phones that substitute
/// the typed value for a token, Snom) and `fields` (`index`, `prompt`, `parameter`, `kind`,
/// `masked`, `number`, `default`, `token`); `text`; every kind has `softkeys` (`index`, `label`,
/// `uri`, and `link` when the key opens a URL, else one of `submit`, `select`, `back`, `exit` true).
/// Values are XML-escaped by the template engine.
public struct TemplateDialect: Dialect {
    public let spec: DialectSpec
    private let library: MustacheLibrary
    /// Each kind's template as `TypedTemplate` renders it (a kind not taken — a partial, a
    /// transform — is rendered by the library).
    private let typed: [Screen.Kind: TypedTemplate]

    public var name: String { spec.name }
    public var maxInputFields: Int { spec.maxInputFields }

    /// Loads and checks a dialect: each template must render a sample screen (with hostile
    /// text) into well-formed XML with the declared root element.
    public init(spec: DialectSpec, templates: [Screen.Kind: String]) throws {
        self.spec = spec
        var library = MustacheLibrary()
        var typed: [Screen.Kind: TypedTemplate] = [:]
        for kind in Screen.Kind.allCases {
            guard let text = templates[kind] else {
                throw RenderError.badTemplate(dialect: spec.name, kind: kind, reason: "missing \(kind.rawValue).mustache")
            }
            guard spec.roots[kind.rawValue] != nil else {
                throw RenderError.badTemplate(dialect: spec.name, kind: kind, reason: "no root element for \(kind.rawValue) in the dialect file")
            }
            do {
                try library.register(text, named: kind.rawValue)
                typed[kind] = library.getTemplate(named: kind.rawValue).flatMap(TypedTemplate.init)
            } catch {
                throw RenderError.badTemplate(dialect: spec.name, kind: kind, reason: "\(error)")
            }
        }
        self.library = library
        self.typed = typed
        try selfCheck()
    }

    public func render(_ screen: Screen) throws(RenderError) -> PhoneDocument {
        let body = try renderUnchecked(screen)
        let size = body.utf8.count
        guard size <= spec.maxBytes else { throw .tooLarge(dialect: spec.name, bytes: size, limit: spec.maxBytes) }
        return PhoneDocument(body: body, contentType: spec.contentType)
    }

    private func renderUnchecked(_ screen: Screen) throws(RenderError) -> String {
        let context = try values(screen)
        if let template = typed[screen.kind] { return template.render(context, contentType: LibraryHTMLContent()) }
        return try renderByLibrary(screen.kind, context)
    }

    private func renderByLibrary(_ kind: Screen.Kind, _ context: TemplateValue) throws(RenderError) -> String {
        guard let body = library.render(context.untyped, withTemplate: kind.rawValue) else {
            throw .badTemplate(dialect: spec.name, kind: kind, reason: "template not loaded")
        }
        return body
    }

    /// `screen` rendered by the library and by `TypedTemplate` (nil: not taken): what
    /// `TypedTemplateTests` compares.
    func renderBoth(_ screen: Screen) throws(RenderError) -> (library: String, typed: String?) {
        let context = try values(screen)
        return (try renderByLibrary(screen.kind, context), typed[screen.kind]?.render(context, contentType: LibraryHTMLContent()))
    }

    /// What the screen's template reads (see the type's comment), typed.
    private func values(_ screen: Screen) throws(RenderError) -> TemplateValue {
        var context: [String: TemplateValue] = ["root": .text(spec.roots[screen.kind.rawValue] ?? "")]
        let softKeys: [Screen.SoftKey]
        switch screen {
        case .menu(let menu):
            if let most = spec.limits.items, menu.items.count > most {
                throw .unsupported(dialect: spec.name, reason: "\(menu.items.count) menu items, at most \(most)")
            }
            context["title"] = .text(cut(menu.title, spec.limits.title))
            context["items"] = .list(
                try menu.items.enumerated().map { offset, item throws(RenderError) -> TemplateValue in
                    .object(["index": .number(offset + 1), "label": .text(cut(item.label, spec.limits.label)), "url": .text(try checked(item.url))])
                }
            )
            softKeys = menu.softKeys
        case .input(let input):
            guard input.fields.count <= spec.maxInputFields else {
                throw .unsupported(dialect: spec.name, reason: "\(input.fields.count) input fields, at most \(spec.maxInputFields)")
            }
            context["title"] = .text(cut(input.title, spec.limits.title))
            context["url"] = .text(try checked(input.url))
            let (action, query) = Self.split(input.url)
            context["action"] = .text(action)
            context["query"] = .list(query.map { .object(["name": .text($0.name), "value": .text($0.value)]) })
            let tokens = input.fields.map { "__\($0.parameter.uppercased())__" }
            let separator = input.url.contains("?") ? "&" : "?"
            context["url_with_tokens"] = .text(
                try checked(input.url + separator + zip(input.fields, tokens).map { "\($0.0.parameter)=\($0.1)" }.joined(separator: "&"))
            )
            context["fields"] = .list(
                input.fields.enumerated().map { offset, field -> TemplateValue in
                    .object([
                        "index": .number(offset + 1), "prompt": .text(cut(field.prompt, spec.limits.prompt)), "parameter": .text(field.parameter),
                        "kind": .text(field.kind.rawValue), "masked": .flag(field.masked), "default": .text(field.defaultValue),
                        "token": .text(tokens[offset]), "number": .flag(field.kind == .number),
                    ])
                }
            )
            softKeys = input.softKeys
        case .text(let text):
            context["title"] = .text(cut(text.title, spec.limits.title))
            context["text"] = .text(cut(text.text, spec.limits.text))
            softKeys = text.softKeys
        }
        if let most = spec.limits.softKeys, softKeys.count > most {
            throw .unsupported(dialect: spec.name, reason: "\(softKeys.count) soft keys, at most \(most)")
        }
        context["softkeys"] = .list(
            try softKeys.enumerated().map { offset, key throws(RenderError) -> TemplateValue in
                var values: [String: TemplateValue] = [
                    "index": .number(offset + 1), "label": .text(cut(key.label, spec.limits.softKeyLabel)),
                    "uri": .text(try checked(uri(for: key.action))),
                ]
                switch key.action {
                // `link`, not `url`: Mustache would find a screen's own `url` for keys without one.
                case .url(let url): values["link"] = .text(url)
                case .submit: values["submit"] = .flag(true)
                case .select: values["select"] = .flag(true)
                case .back: values["back"] = .flag(true)
                case .exit: values["exit"] = .flag(true)
                }
                return .object(values)
            }
        )
        return .object(context)
    }

    /// A text shortened to the phone's limit (an ellipsis marks the cut).
    private func cut(_ text: String, _ limit: Int?) -> String {
        guard let limit, text.count > limit else { return text }
        return String(text.prefix(max(0, limit - 1))) + "…"
    }

    /// A URL the phone can take: one over its limit cannot be shortened, so the screen is refused.
    private func checked(_ url: String) throws(RenderError) -> String {
        if let limit = spec.limits.url, url.count > limit {
            throw .unsupported(dialect: spec.name, reason: "a URL of \(url.count) characters, the phone takes \(limit)")
        }
        return url
    }

    /// `http://h/p?a=1&b=2` → (`http://h/p`, [a=1, b=2]), the query decoded.
    static func split(_ url: String) -> (String, [(name: String, value: String)]) {
        guard let mark = url.firstIndex(of: "?") else { return (url, []) }
        let query = url[url.index(after: mark)...].split(separator: "&").map { pair -> (name: String, value: String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
        return (String(url[..<mark]), query)
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

    /// Whether the parsed document holds `text` as an element's text or an attribute's value.
    static func shows(_ text: String, in element: XMLElement) -> Bool {
        element.text.contains(text) || element.attributes.values.contains { $0.contains(text) } || element.children.contains { shows(text, in: $0) }
    }

    private func selfCheck() throws {
        let hostile = "A&B <\"x\"> 'y'"
        let url = "http://192.0.2.1:8080/app/t?a=1&b=2"
        let samples: [Screen] = [
            .menu(.init(title: hostile, items: [.init(label: hostile, url: url), .init(label: "2", url: url)])),
            .input(
                .init(
                    title: hostile,
                    url: url,
                    fields: Array(
                        [Screen.InputField(prompt: hostile, parameter: "ext"), .init(prompt: "P", parameter: "pw", masked: true)]
                            .prefix(max(1, spec.maxInputFields))
                    ),
                    softKeys: [.init(label: "Done", action: .submit), .back]
                )
            ),
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
                    dialect: spec.name,
                    kind: sample.kind,
                    reason: "root is <\(root.name)>, expected <\(spec.roots[sample.kind.rawValue] ?? "")>"
                )
            }
            guard body.contains(hostile) == false, Self.shows(hostile, in: root) else {
                throw RenderError.badTemplate(dialect: spec.name, kind: sample.kind, reason: "text is not escaped or not shown")
            }
        }
        // The password marker appears for a masked field, and only for it.
        let masked = try renderUnchecked(
            .input(.init(title: "T", url: url, fields: [.init(prompt: "P", parameter: "pw", masked: true)], softKeys: []))
        )
        let plain = try renderUnchecked(.input(.init(title: "T", url: url, fields: [.init(prompt: "E", parameter: "ext")], softKeys: [])))
        guard masked.contains(spec.passwordMarker), !plain.contains(spec.passwordMarker) else {
            throw RenderError.badTemplate(
                dialect: spec.name,
                kind: .input,
                reason: "a masked field must carry the password marker \(spec.passwordMarker), and only a masked one"
            )
        }
    }
}
