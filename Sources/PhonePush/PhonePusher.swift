import Curl
import Foundation
import HotDeskCore

/// The phone a push goes to.
public struct PushTarget: Hashable, Sendable {
    public var brand: Brand
    /// The phone's IP address, as learned from its own requests.
    public var address: String
    public var port: Int
    /// `nil`: the family's factory login.
    public var credentials: PhoneCredentials?
    /// The local address to send from (`Settings.pushFrom`); `nil`: whatever the route picks.
    public var from: String?

    public init(brand: Brand, address: String, port: Int, credentials: PhoneCredentials?, from: String? = nil) {
        self.brand = brand
        self.address = address
        self.port = port
        self.credentials = credentials
        self.from = from
    }
}

/// How one push attempt ended.
public enum PushOutcome: Hashable, Sendable {
    /// The phone answered 2xx: it took the command (not yet proof it applied the config).
    case accepted(status: Int)
    /// It did not; `code` is short and stable (`refused`, `timed_out`, `http_401`, …).
    case failed(code: String, message: String)

    /// `code: message`, for job records and logs. Never holds a credential.
    public var errorText: String? {
        if case .failed(let code, let message) = self { return "\(code): \(message)" }
        return nil
    }

    /// The family has no way to do this at all: trying again cannot help.
    public var isFinal: Bool {
        if case .failed(let code, _) = self { return code == PhonePusher.unsupportedAction || code == "too_large" }
        return false
    }
}

/// One way of carrying a push to a phone (`http`: the phone's web server). Families name the
/// transport of each recipe; a SIP NOTIFY through the PBX would be another one.
public protocol PushTransport: Sendable {
    func send(
        _ recipe: VendorPushRecipes.Recipe,
        factory: VendorPushRecipes.Credentials,
        to target: PushTarget,
        document: String?,
        policy: PushPolicy
    )
        async -> PushOutcome
}

/// Sends pushes to phones following each family's recipe, through the recipe's transport.
public struct PhonePusher: Sendable {
    public static let unsupportedAction = "unsupported_action"

    public let recipes: PushRecipeBook
    let transports: [String: any PushTransport]

    public init(recipes: PushRecipeBook, engine: CurlEngine = .shared) {
        self.recipes = recipes
        self.transports = ["http": HTTPPushTransport(engine: engine)]
    }

    /// The exact HTTP request a push sends (exposed for tests and tooling); `nil` when the family
    /// has no such push or it does not travel over HTTP.
    public func request(_ action: PushAction, to target: PushTarget, document: String? = nil, policy: PushPolicy) -> CurlRequest? {
        guard let vendor = recipes.vendors[target.brand], let recipe = vendor.recipe(action), recipe.transport == "http" else { return nil }
        return HTTPPushTransport.request(recipe, factory: vendor.factoryCredentials, to: target, document: document, policy: policy)
    }

    public func push(_ action: PushAction, to target: PushTarget, document: String? = nil, policy: PushPolicy) async -> PushOutcome {
        guard let vendor = recipes.vendors[target.brand], let recipe = vendor.recipe(action) else {
            return .failed(code: Self.unsupportedAction, message: "\(target.brand.rawValue) phones have no known \(action.rawValue) push")
        }
        guard let transport = transports[recipe.transport] else {
            return .failed(
                code: Self.unsupportedAction,
                message: "no \(recipe.transport) transport for \(target.brand.rawValue) \(action.rawValue) pushes"
            )
        }
        return await transport.send(recipe, factory: vendor.factoryCredentials, to: target, document: document, policy: policy)
    }
}

/// Pushes over the phone's own web server, through libcurl.
struct HTTPPushTransport: PushTransport {
    let engine: CurlEngine

    static func request(
        _ recipe: VendorPushRecipes.Recipe,
        factory: VendorPushRecipes.Credentials,
        to target: PushTarget,
        document: String?,
        policy: PushPolicy
    ) -> CurlRequest {
        let encoded = (document ?? "").addingPercentEncoding(withAllowedCharacters: formSafe) ?? ""
        let body = recipe.body.map {
            $0.replacingOccurrences(of: VendorPushRecipes.encodedDocumentSlot, with: encoded)
                .replacingOccurrences(of: VendorPushRecipes.documentSlot, with: document ?? "")
        }
        let host = target.address.contains(":") ? "[\(target.address)]" : target.address
        let login = target.credentials.map { ($0.username, $0.password) } ?? (factory.username, factory.password)
        var headers: [(name: String, value: String)] = []
        if let type = recipe.contentType { headers.append(("Content-Type", type)) }
        return CurlRequest(
            method: recipe.method,
            url: "http://\(host):\(target.port)\(recipe.path)",
            headers: headers,
            body: body.map { Array($0.utf8) },
            credentials: recipe.auth.scheme.map { HTTPCredentials(username: login.0, password: login.1, scheme: $0) },
            connectTimeout: policy.connectTimeout,
            timeout: policy.transferTimeout,
            localAddress: target.from,
            maxResponseBytes: 64 * 1024
        )
    }

    /// What a form value may hold unencoded.
    static let formSafe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._*"))

    func send(
        _ recipe: VendorPushRecipes.Recipe,
        factory: VendorPushRecipes.Credentials,
        to target: PushTarget,
        document: String?,
        policy: PushPolicy
    )
        async -> PushOutcome
    {
        let request = Self.request(recipe, factory: factory, to: target, document: document, policy: policy)
        if let limit = recipe.maxBodyBytes, let size = request.body?.count, size > limit {
            return .failed(code: "too_large", message: "the request is \(size) bytes; \(target.brand.rawValue) phones take at most \(limit)")
        }
        do {
            let response = try await engine.perform(request)
            switch response.status {
            case 200..<300:
                if let marker = recipe.failureMarker, response.text.contains(marker) {
                    let said = String(response.text.prefix(120)).filter { !$0.isNewline }
                    return .failed(code: "refused_by_phone", message: "the phone answered \(response.status) but refused: \(said)")
                }
                return .accepted(status: response.status)
            case 401: return .failed(code: "http_401", message: "the phone refused its web login (wrong phone credentials)")
            case 403: return .failed(code: "http_403", message: "the phone refused the command (not allowed from this server?)")
            case 404: return .failed(code: "http_404", message: "the phone does not know \(request.method) \(recipe.path)")
            default: return .failed(code: "http_\(response.status)", message: "the phone answered HTTP \(response.status)")
            }
        } catch {
            let what: String =
                switch error.kind {
                case .refused: "connection refused at \(target.address):\(target.port)"
                case .timedOut: "no answer from \(target.address):\(target.port) in time"
                case .dns: "cannot resolve \(target.address)"
                case .unreachable: "no route to \(target.address)"
                case .localAddress: "cannot send from \(target.from ?? "?"): not an address of this server (settings.push_from)"
                case .tooLarge, .other: error.message
                }
            return .failed(code: error.kind.rawValue, message: what)
        }
    }
}
