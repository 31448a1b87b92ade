import Foundation
import LibXML

/// An XML browser dialect as the phone's firmware reads it (phone-dialects.md §1, §7, §11).
public struct BrowserDialect: Sendable, Hashable {
    public let name: String
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
        name: "yealink", menuRoot: "YealinkIPPhoneTextMenu", inputRoot: "YealinkIPPhoneInputScreen", textRoot: "YealinkIPPhoneTextScreen",
        otherRoots: ["YealinkIPPhoneExecute", "YealinkIPPhoneConfiguration", "YealinkIPPhoneStatus", "YealinkIPPhoneFormattedTextScreen"],
        maxBytes: 10000)

    /// Htek (Sangoma s-series): the same objects without a vendor prefix [V for Htek, I for
    /// s-series]; the 10000-byte limit is assumed equal to Yealink's [I].
    public static let htek = BrowserDialect(
        name: "htek", menuRoot: "TextMenu", inputRoot: "InputScreen", textRoot: "TextScreen",
        otherRoots: ["Execute", "Configuration", "Status", "FormattedTextScreen", "ImageScreen", "ImageMenu", "Directory"], maxBytes: 10000)
}

/// A screen the phone shows, read from a document.
public enum BrowserScreen: Sendable, Hashable {
    public struct SoftKey: Sendable, Hashable {
        public var label: String
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
    }

    case menu(title: String, items: [MenuItem], softKeys: [SoftKey])
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
    /// Reads a document strictly, as the phone does: size limit first, then a well-formed
    /// parse (an unescaped `&` is malformed), then the root and the required elements.
    public func read(_ bytes: [UInt8]) throws(DocumentRefusal) -> BrowserScreen {
        guard bytes.count <= maxBytes else { throw DocumentRefusal(reason: "\(bytes.count) bytes; the \(name) limit is \(maxBytes)") }
        // No vendor documents a DTD; a document carrying one (entities, XXE) is refused [I].
        if String(decoding: bytes.prefix(512), as: UTF8.self).contains("<!DOCTYPE") {
            throw DocumentRefusal(reason: "a DOCTYPE is not allowed")
        }
        let root: XMLElement
        do {
            root = try XMLParser.parse(bytes)
        } catch {
            throw DocumentRefusal(reason: "not well-formed XML (\(error))")
        }
        let title = root.child("Title")?.text ?? ""
        let softKeys = try root.children("SoftKey").map { key throws(DocumentRefusal) in
            guard let label = key.child("Label")?.text, let uri = key.child("URI")?.text, !uri.isEmpty else {
                throw DocumentRefusal(reason: "SoftKey without Label and URI")
            }
            return BrowserScreen.SoftKey(label: label, uri: uri)
        }
        switch root.name {
        case menuRoot:
            let items = try root.children("MenuItem").map { item throws(DocumentRefusal) in
                guard let prompt = item.child("Prompt")?.text, let uri = item.child("URI")?.text, !uri.isEmpty else {
                    throw DocumentRefusal(reason: "MenuItem without Prompt and URI")
                }
                return BrowserScreen.MenuItem(prompt: prompt, uri: uri)
            }
            guard !items.isEmpty else { throw DocumentRefusal(reason: "\(menuRoot) without MenuItem") }
            return .menu(title: title, items: items, softKeys: softKeys)
        case inputRoot:
            guard let url = root.child("URL")?.text, !url.isEmpty else { throw DocumentRefusal(reason: "\(inputRoot) without URL") }
            let fields = try root.children("InputField").map { field throws(DocumentRefusal) in
                guard let parameter = field.child("Parameter")?.text, !parameter.isEmpty else {
                    throw DocumentRefusal(reason: "InputField without Parameter")
                }
                let masked = field.attributes["password"]?.lowercased() == "yes"
                return BrowserScreen.Field(
                    prompt: field.child("Prompt")?.text ?? "", parameter: parameter, masked: masked, value: field.child("Default")?.text ?? "")
            }
            guard !fields.isEmpty else { throw DocumentRefusal(reason: "\(inputRoot) without InputField") }
            return .input(title: title, url: url, fields: fields, softKeys: softKeys)
        case textRoot:
            guard let text = root.child("Text")?.text else { throw DocumentRefusal(reason: "\(textRoot) without Text") }
            return .text(title: title, text: text, softKeys: softKeys)
        default:
            if otherRoots.contains(root.name) { throw DocumentRefusal(reason: "\(root.name) is not a screen the browser shows") }
            throw DocumentRefusal(reason: "root <\(root.name)> is not a \(name) object")
        }
    }
}
