import Mustache

/// A value a template reads, typed: what a config's `ConfigContext` or an app screen holds (issue
/// 27: swift-mustache reads `[String: Any]` and its protocol checks and dynamic casts were half of
/// a render).
public enum TemplateValue: Hashable, Sendable {
    case text(String)
    case number(Int)
    case flag(Bool)
    case list([TemplateValue])
    case object([String: TemplateValue])

    /// The same value as swift-mustache reads it (for a template `TypedTemplate` does not take).
    public var untyped: Any {
        switch self {
        case .text(let text): text
        case .number(let number): number
        case .flag(let flag): flag
        case .list(let list): list.map(\.untyped)
        case .object(let object): object.mapValues(\.untyped)
        }
    }
}

/// A template as swift-mustache parsed it (so every rule of whitespace, standalone lines
/// and delimiters is the library's own), rendered over `TemplateValue`s with the library's
/// semantics: a name is looked up from the innermost section outwards (its dotted rest inside what
/// the first part found), a list repeats its section, `false` and an empty list skip it, any other
/// value is pushed for it; values are escaped by the template's content type.
///
/// The tokens are read from the parsed template by reflection (they are internal to the library).
/// A template with anything this renderer does not do — partials, blocks, transforms — is not
/// taken (`init` answers nil) and is rendered by swift-mustache itself; `TypedTemplateTests`
/// checks that every built-in config template and app screen is taken and renders byte for byte
/// as the library does.
public struct TypedTemplate: Sendable {
    enum Node: Sendable {
        case text(String)
        case value(Name, escaped: Bool)
        case section(Name, [Node])
        case inverted(Name, [Node])
        case contentType(any MustacheContentType)
    }

    /// A tag's name: `.` (the innermost value), `.a.b` (inside the innermost value only) or
    /// `a.b` (`a` looked up from the innermost section outwards).
    struct Name: Sendable {
        let parts: [String]
        let anchored: Bool

        init(_ text: String) {
            parts = text.split(separator: ".").map(String.init)
            anchored = text.first == "."
        }
    }

    let nodes: [Node]

    public init?(_ template: MustacheTemplate) {
        guard let nodes = Self.nodes(of: template) else { return nil }
        self.nodes = nodes
    }

    /// The output is gathered as bytes and made a `String` once: appending hundreds of pieces to
    /// a `String` was a sixth of a render (callgrind).
    public func render(_ root: TemplateValue, contentType: any MustacheContentType) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        var stack = [root]
        Self.render(nodes, &stack, contentType, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: rendering

    private static func render(_ nodes: [Node], _ stack: inout [TemplateValue], _ contentType: any MustacheContentType, into out: inout [UInt8]) {
        var contentType = contentType
        for node in nodes {
            switch node {
            case .text(let text):
                out.append(contentsOf: text.utf8)
            case .value(let name, let escaped):
                guard let value = lookup(name, stack) else { continue }
                let text = description(of: value)
                out.append(contentsOf: (escaped ? contentType.escapeText(text) : text).utf8)
            case .section(let name, let body):
                switch lookup(name, stack) {
                case nil, .flag(false)?:
                    continue
                case .flag(true)?:
                    render(body, &stack, contentType, into: &out)
                case .list(let items)?:
                    for item in items { renderPushing(item, body, &stack, contentType, into: &out) }
                case let value?:
                    renderPushing(value, body, &stack, contentType, into: &out)
                }
            case .inverted(let name, let body):
                switch lookup(name, stack) {
                case nil, .flag(false)?:
                    render(body, &stack, contentType, into: &out)
                case .list(let items)? where items.isEmpty:
                    renderPushing(.list(items), body, &stack, contentType, into: &out)
                default:
                    continue
                }
            case .contentType(let type):
                contentType = type
            }
        }
    }

    private static func renderPushing(
        _ value: TemplateValue,
        _ nodes: [Node],
        _ stack: inout [TemplateValue],
        _ contentType: any MustacheContentType,
        into out: inout [UInt8]
    ) {
        stack.append(value)
        render(nodes, &stack, contentType, into: &out)
        stack.removeLast()
    }

    private static func lookup(_ name: Name, _ stack: [TemplateValue]) -> TemplateValue? {
        guard let first = name.parts.first else { return stack.last }
        if name.anchored { return stack.last.flatMap { child(name.parts[...], of: $0) } }
        for value in stack.reversed() {
            if let found = child(first, of: value) { return child(name.parts.dropFirst(), of: found) }
        }
        return nil
    }

    private static func child(_ parts: ArraySlice<String>, of value: TemplateValue) -> TemplateValue? {
        var value = value
        for part in parts {
            guard let next = child(part, of: value) else { return nil }
            value = next
        }
        return value
    }

    private static func child(_ name: String, of value: TemplateValue) -> TemplateValue? {
        if case .object(let object) = value { object[name] } else { nil }
    }

    private static func description(of value: TemplateValue) -> String {
        switch value {
        case .text(let text): text
        case .number(let number): String(number)
        case .flag(let flag): flag ? "true" : "false"
        case .list, .object: String(describing: value.untyped)
        }
    }

    // MARK: reading swift-mustache's parse

    private static func nodes(of template: MustacheTemplate) -> [Node]? {
        guard let tokens = Mirror(reflecting: template).children.first(where: { $0.label == "tokens" })?.value as? [Any] else { return nil }
        var nodes: [Node] = []
        for token in tokens {
            guard let node = node(of: token) else { return nil }
            nodes.append(node)
        }
        return nodes
    }

    private static func node(of token: Any) -> Node? {
        guard let (kind, payload) = Mirror(reflecting: token).children.first.map({ ($0.label, $0.value) }) else { return nil }
        let fields = Dictionary(
            Mirror(reflecting: payload).children.compactMap { c in c.label.map { ($0, c.value) } },
            uniquingKeysWith: { a, _ in a }
        )
        let name = (fields["name"] as? String).map(Name.init)
        // Transforms (`{{uppercased(name)}}`) are the library's own: not taken.
        guard (fields["transforms"] as? [String])?.isEmpty ?? true else { return nil }
        switch kind {
        case "text": return (payload as? String).map(Node.text)
        case "variable": return name.map { .value($0, escaped: true) }
        case "unescapedVariable": return name.map { .value($0, escaped: false) }
        case "section", "invertedSection":
            guard let name, let template = fields["template"] as? MustacheTemplate, let body = nodes(of: template) else { return nil }
            return kind == "section" ? .section(name, body) : .inverted(name, body)
        case "contentType": return (payload as? any MustacheContentType).map(Node.contentType)
        default: return nil
        }
    }
}

/// swift-mustache's default escaping (HTML), as the library does it: each of `<`, `>`, `&`, `"`
/// and `'` that is a character of its own (not the start of a combined one) is replaced. The
/// library's own is internal; a template without a content type pragma is escaped with this.
public struct LibraryHTMLContent: MustacheContentType {
    public init() {}

    /// `<`, `>`, `&`, `"` or `'`: the bytes markup escapes (XML's five; the library's HTML ones).
    public static func isSpecial(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "&") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
    }

    public func escapeText(_ text: String) -> String {
        if !text.utf8.contains(where: Self.isSpecial) { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
