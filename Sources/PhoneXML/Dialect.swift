/// A document for the phone: the body and how to label it.
public struct PhoneDocument: Hashable, Sendable {
    public var body: String
    public var contentType: String

    public init(body: String, contentType: String) {
        self.body = body
        self.contentType = contentType
    }
}

/// Why a screen could not be rendered.
public enum RenderError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The document is larger than the phone accepts.
    case tooLarge(dialect: String, bytes: Int, limit: Int)
    /// The dialect's template produced something that is not the expected XML (an edited
    /// template under `Screens/` is broken).
    case badTemplate(dialect: String, kind: Screen.Kind, reason: String)
    /// The dialect cannot show this screen (e.g. more input fields than it allows).
    case unsupported(dialect: String, reason: String)

    public var description: String {
        switch self {
        case .tooLarge(let d, let bytes, let limit): "\(d): document is \(bytes) bytes, the phone accepts \(limit)"
        case .badTemplate(let d, let kind, let reason): "\(d): template for \(kind.rawValue) is broken: \(reason)"
        case .unsupported(let d, let reason): "\(d): \(reason)"
        }
    }
}

/// A vendor's XML browser: turns a `Screen` into that vendor's document.
///
/// Adding a vendor is adding a dialect (usually a `TemplateDialect` described by a JSON file
/// under `Screens/dialects/`) plus its templates.
public protocol Dialect: Sendable {
    /// `yealink`, `sangoma`, …
    var name: String { get }
    /// The most input fields one input screen may hold; fewer than two means the extension and
    /// password are asked on chained screens.
    var maxInputFields: Int { get }
    func render(_ screen: Screen) throws(RenderError) -> PhoneDocument
}
