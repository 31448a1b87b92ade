import Foundation
import HTTPTypes
import HotDeskAPI
import HotDeskCore
import Hummingbird

/// An error with its answer: the one shape (`{"error": {"code", "message"}}`) of the admin API,
/// the console and the PBX API. Thrown anywhere below a route, Hummingbird answers it.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    /// Seconds, for `Retry-After` on 429.
    var retryAfter: Int?
    /// Every problem of a file refused.
    var problems: [String]?

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    static let badMAC = APIError(.badRequest, "bad_mac", "not a MAC address (12 hex digits, e.g. 00:15:65:aa:bb:cc)")

    static func unknownDevice(_ mac: MACAddress) -> APIError {
        APIError(.notFound, "unknown_device", "there is no device \(mac.colonSeparated)")
    }

    func response(from request: Request, context: some RequestContext) throws -> Response { response }

    var response: Response {
        var response = Response.json(status, ErrorView(code: code, message: message, problems: problems))
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"hotdesk\"" }
        if let retryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
        return response
    }
}
