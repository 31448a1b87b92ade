import CLibXML2

/// Why a document was refused.
public enum XMLError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Not well-formed (unescaped `&`, unclosed tag, …), with libxml2's message and line.
    case malformed(message: String, line: Int)
    /// Empty input.
    case empty
    /// An XPath expression libxml2 could not compile.
    case badXPath(String)

    public var description: String {
        switch self {
        case .malformed(let message, let line): "malformed XML at line \(line): \(message)"
        case .empty: "empty document"
        case .badXPath(let expression): "bad XPath expression: \(expression)"
        }
    }
}

/// An element of a parsed document, copied out of libxml2 so it outlives the parse.
public struct XMLElement: Hashable, Sendable {
    public var name: String
    public var attributes: [String: String]
    public var children: [XMLElement]
    /// The element's text content, including its descendants' text.
    public var text: String

    public init(name: String, attributes: [String: String] = [:], children: [XMLElement] = [], text: String = "") {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The first child element with this name.
    public func child(_ name: String) -> XMLElement? { children.first { $0.name == name } }

    /// Every child element with this name.
    public func children(_ name: String) -> [XMLElement] { children.filter { $0.name == name } }
}

/// Strict parsing with libxml2: no network, no entity expansion, no DTD loading, nothing printed
/// to stderr. Each call parses, reads and frees in one synchronous step, so it is safe from any
/// thread.
public enum XMLParser {
    private static let initialized: Void = { xmlInitParser() }()

    private static let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)

    /// Parses `bytes` into an element tree, or says exactly why it is not well-formed XML.
    public static func parse(_ bytes: [UInt8]) throws(XMLError) -> XMLElement {
        try withDocument(bytes) { doc throws(XMLError) in
            guard let root = xmlDocGetRootElement(doc) else { throw .empty }
            return copy(root)
        }
    }

    public static func parse(_ text: String) throws(XMLError) -> XMLElement {
        try parse(Array(text.utf8))
    }

    /// The text of every node `expression` selects.
    public static func xpath(_ expression: String, in bytes: [UInt8]) throws(XMLError) -> [String] {
        try withDocument(bytes) { doc throws(XMLError) in
            guard let context = xmlXPathNewContext(doc) else { throw .badXPath(expression) }
            defer { xmlXPathFreeContext(context) }
            let object = expression.withCString { cString in
                cString.withMemoryRebound(to: xmlChar.self, capacity: expression.utf8.count + 1) {
                    xmlXPathEvalExpression($0, context)
                }
            }
            guard let object else { throw .badXPath(expression) }
            defer { xmlXPathFreeObject(object) }
            guard let nodeSet = object.pointee.nodesetval, nodeSet.pointee.nodeNr > 0 else { return [] }
            return (0..<Int(nodeSet.pointee.nodeNr)).compactMap { i in
                nodeSet.pointee.nodeTab[i].map(content)
            }
        }
    }

    private static func withDocument<T>(_ bytes: [UInt8], _ body: (xmlDocPtr) throws(XMLError) -> T) throws(XMLError) -> T {
        _ = initialized
        guard !bytes.isEmpty else { throw .empty }
        let parsed: xmlDocPtr? = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                xmlReadMemory($0, Int32(buffer.count), "document.xml", nil, options)
            }
        }
        guard let doc = parsed else {
            // libxml2 keeps the last error per thread; read it before anything else can run here.
            if let error = xmlGetLastError() {
                let message = error.pointee.message.map { String(cString: $0) } ?? "parse error"
                throw .malformed(message: message.trimmingCharacters(in: "\n "), line: Int(error.pointee.line))
            }
            throw .malformed(message: "parse error", line: 0)
        }
        defer { xmlFreeDoc(doc) }
        return try body(doc)
    }

    private static func content(_ node: xmlNodePtr) -> String {
        guard let raw = xmlNodeGetContent(node) else { return "" }
        defer { cxml_free(raw) }
        return String(cString: raw)
    }

    private static func copy(_ node: xmlNodePtr) -> XMLElement {
        var attributes: [String: String] = [:]
        var attribute = node.pointee.properties
        while let a = attribute {
            let name = String(cString: a.pointee.name)
            if let value = xmlGetProp(node, a.pointee.name) {
                attributes[name] = String(cString: value)
                cxml_free(value)
            }
            attribute = a.pointee.next
        }
        var children: [XMLElement] = []
        var child = node.pointee.children
        while let c = child {
            if c.pointee.type == XML_ELEMENT_NODE { children.append(copy(c)) }
            child = c.pointee.next
        }
        return XMLElement(name: String(cString: node.pointee.name), attributes: attributes, children: children, text: content(node))
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
