import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import NIOCore
import PhoneXML

/// A phone app request whose token named a device's current state: what `PhoneAppMiddleware`
/// resolved once, for the route's handler. A class: the request context carries one pointer.
final class ResolvedPhone: Sendable {
    let token: String
    /// The phone's change stamp the state was read at (the screens' cache keys on it).
    let stamp: ChangeStamp?
    let state: AppState
    let dialect: any Dialect

    init(token: String, stamp: ChangeStamp?, state: AppState, dialect: any Dialect) {
        self.token = token
        self.stamp = stamp
        self.state = state
        self.dialect = dialect
    }
}

/// The context of every `/app/{token}` route: the parent's, with the phone resolved.
struct PhoneAppContext: ChildRequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    let phone: ResolvedPhone

    /// A route of the group reached without the middleware (a wiring mistake, never a phone's).
    struct Unresolved: Error {}

    init(context: HotDeskRequestContext) throws {
        guard let phone = context.resolvedPhone else { throw Unresolved() }
        coreContext = context.coreContext
        remoteAddress = context.remoteAddress
        self.phone = phone
    }

    /// Phone routes never take bodies.
    var maxUploadSize: Int { 64 * 1024 }
}

/// Resolves `/app/{token}` once for every route under it: the token's phone and state (cached
/// while its change stamp stays the same) and its dialect. A token that names no current state
/// (an older one, or none) is answered here with a "please wait" or "unknown phone" screen. Any
/// failure below, the routes' too (the store unreachable, a write refused), is a screen the
/// phone shows in its own dialect: "not available, try again", never a bare 500.
struct PhoneAppMiddleware: RouterMiddleware {
    let app: PhoneAppController

    func handle(
        _ request: Request,
        context: HotDeskRequestContext,
        next: (Request, HotDeskRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            var context = context
            switch try await app.resolve(request, context) {
            case .answer(let response): return response
            case .phone(let phone): context.resolvedPhone = phone
            }
            return try await next(request, context)
        } catch let error as CancellationError {
            throw error
        } catch {
            context.logger.error("phone app request failed", metadata: ["error": "\(error)"])
            var response = try app.unavailable(request, context)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }
}
