import Curl
import Foundation
import HotDeskCore

/// How one vendor's phones are told to reload or reboot: data, read from the `push` block of
/// the vendor's dialect file (`Screens/dialects/<vendor>.json`), next to its screen facts.
public struct VendorPushRecipes: Decodable, Hashable, Sendable {
    /// One HTTP request to the phone's web server.
    public struct Recipe: Decodable, Hashable, Sendable {
        public var method: String
        /// Path and query as the phone expects them, e.g. `/servlet?key=Reboot`.
        public var path: String
        /// The body, if the request has one; `{document}` stands for the XML document an `xml`
        /// push carries, inserted raw (Yealink: `xml={document}`).
        public var body: String?
        public var contentType: String?
        /// Which HTTP authentication the phone takes: `any` (whichever it asks for), `basic`, `digest`.
        public var auth: HTTPCredentials.Scheme
        /// Where the fact comes from and how sure it is.
        public var source: String?

        enum CodingKeys: String, CodingKey {
            case method, path, body, auth, source
            case contentType = "content_type"
        }
    }

    public struct Credentials: Decodable, Hashable, Sendable {
        public var username: String
        public var password: String
    }

    /// The web login a phone has before HotDesk's config set one.
    public var factoryCredentials: Credentials
    public var reload: Recipe
    public var reboot: Recipe
    /// Shows a document on the phone's screen; `nil` when the vendor has no known XML push.
    public var xml: Recipe?

    enum CodingKeys: String, CodingKey {
        case reload, reboot, xml
        case factoryCredentials = "factory_credentials"
    }

    public func recipe(_ action: PushAction) -> Recipe? {
        switch action {
        case .reload: reload
        case .reboot: reboot
        case .xml: xml
        }
    }
}

extension VendorPushRecipes {
    /// Where an `xml` push's document goes in the recipe's body.
    public static let documentSlot = "{document}"
}

/// Every vendor's push recipes, by brand.
public struct PushRecipeBook: Sendable {
    public let vendors: [Brand: VendorPushRecipes]

    public init(vendors: [Brand: VendorPushRecipes]) {
        self.vendors = vendors
    }

    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public var file: String
        public var reason: String
        public var description: String { "\(file): \(reason)" }
    }

    /// Reads the `push` block of each `dialects/<brand>.json` under `screensDirectory`. Every
    /// brand HotDesk serves must have one.
    public init(screensDirectory: URL) throws(LoadError) {
        struct File: Decodable {
            var push: VendorPushRecipes?
        }
        var vendors: [Brand: VendorPushRecipes] = [:]
        for brand in Brand.allCases {
            let url = screensDirectory.appendingPathComponent("dialects/\(brand.rawValue).json")
            let file: File
            do {
                file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
            } catch {
                throw LoadError(file: url.path, reason: "cannot read push recipes: \(error)")
            }
            guard let push = file.push else { throw LoadError(file: url.path, reason: "no \"push\" block (reload and reboot recipes)") }
            for recipe in [push.reload, push.reboot, push.xml].compactMap({ $0 }) where !recipe.path.hasPrefix("/") {
                throw LoadError(file: url.path, reason: "push path \"\(recipe.path)\" must start with /")
            }
            if let xml = push.xml, xml.body?.contains(VendorPushRecipes.documentSlot) != true {
                throw LoadError(file: url.path, reason: "the xml push body must hold \(VendorPushRecipes.documentSlot)")
            }
            vendors[brand] = push
        }
        self.vendors = vendors
    }

    /// Whether phones of `brand` take `action` at all.
    public func supports(_ action: PushAction, brand: Brand) -> Bool {
        vendors[brand]?.recipe(action) != nil
    }
}
