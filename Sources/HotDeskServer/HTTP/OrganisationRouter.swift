import HTTPTypes
import HotDeskCore
import Hummingbird
import Logging

/// `/o/NAME/…`: a request for an organisation's HotDesk, answered by that organisation's own
/// routes (its store, caches, keys and console) as if it had come at the root — the prefix taken
/// off, so every route, check and log line reads the path it always has. An organisation that is
/// not served here (nor found by `OrganisationHost`) is 404, as a path that does not exist.
struct OrganisationRouter: Sendable {
    let host: OrganisationHost

    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .patch, .options]

    func register(with router: Router<HotDeskRequestContext>) {
        for method in Self.methods {
            router.on("/o/{organisation}", method: method) { request, context in try await self.respond(request, context) }
            router.on("/o/{organisation}/**", method: method) { request, context in try await self.respond(request, context) }
        }
    }

    func respond(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let name = context.parameters.get("organisation") ?? ""
        guard let responder = await host.responder(for: name) else {
            throw APIError(.notFound, "no_organisation", "no organisation \"\(TextSafety.printable(String(name.prefix(30))))\" here")
        }
        var head = request.head
        let target = head.path ?? ""
        var rest = String(target.dropFirst(Organisation.pathPrefix(name).count))
        if !rest.hasPrefix("/") { rest = "/" + rest }
        head.path = rest
        var inner = context
        inner.logger[metadataKey: "organisation"] = "\(name)"
        return try await responder.respond(to: Request(head: head, body: request.body), context: inner)
    }
}
