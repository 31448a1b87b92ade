import Curl
import Foundation
import HotDeskCore

/// The phone a push goes to.
public struct PushTarget: Hashable, Sendable {
    public var brand: Brand
    /// The phone's IP address, as learned from its own requests.
    public var address: String
    public var port: Int
    /// `nil`: the brand's factory login.
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
}

/// Sends reload and reboot commands to phones over HTTP, through libcurl, following each
/// vendor's recipe.
public struct PhonePusher: Sendable {
    public let recipes: PushRecipeBook
    let engine: CurlEngine

    public init(recipes: PushRecipeBook, engine: CurlEngine = .shared) {
        self.recipes = recipes
        self.engine = engine
    }

    /// The exact request a push sends (exposed for tests and `--dry-run` style tooling).
    /// `document` is the XML an `xml` push carries.
    public func request(_ action: PushAction, to target: PushTarget, document: String? = nil, policy: PushPolicy) -> CurlRequest? {
        guard let vendor = recipes.vendors[target.brand], let recipe = vendor.recipe(action) else { return nil }
        let body = recipe.body.map { $0.replacingOccurrences(of: VendorPushRecipes.documentSlot, with: document ?? "") }
        let host = target.address.contains(":") ? "[\(target.address)]" : target.address
        let login = target.credentials.map { ($0.username, $0.password) } ?? (vendor.factoryCredentials.username, vendor.factoryCredentials.password)
        var headers: [(name: String, value: String)] = []
        if let type = recipe.contentType { headers.append(("Content-Type", type)) }
        return CurlRequest(
            method: recipe.method, url: "http://\(host):\(target.port)\(recipe.path)", headers: headers, body: body.map { Array($0.utf8) },
            credentials: HTTPCredentials(username: login.0, password: login.1, scheme: recipe.auth),
            connectTimeout: policy.connectTimeout, timeout: policy.transferTimeout, localAddress: target.from, maxResponseBytes: 64 * 1024)
    }

    public func push(_ action: PushAction, to target: PushTarget, document: String? = nil, policy: PushPolicy) async -> PushOutcome {
        guard let request = request(action, to: target, document: document, policy: policy) else {
            return .failed(code: "no_recipe", message: "\(target.brand.rawValue) phones have no known \(action.rawValue) push")
        }
        do {
            let response = try await engine.perform(request)
            switch response.status {
            case 200..<300: return .accepted(status: response.status)
            case 401: return .failed(code: "http_401", message: "the phone refused its web login (wrong phone credentials)")
            case 403: return .failed(code: "http_403", message: "the phone refused the command (not allowed from this server?)")
            case 404: return .failed(code: "http_404", message: "the phone does not know \(request.method) \(Self.pathOf(request.url))")
            default: return .failed(code: "http_\(response.status)", message: "the phone answered HTTP \(response.status)")
            }
        } catch {
            let what: String = switch error.kind {
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

    static func pathOf(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let slash = url[scheme.upperBound...].firstIndex(of: "/") else { return url }
        return String(url[slash...])
    }
}
