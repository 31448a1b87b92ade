import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird

// Organisations: a partner makes one (its empty directory), served at once under /o/NAME.
extension AdminAPIController {
    struct NewOrganisation: Decodable {
        var name: String
    }

    /// `POST /organisations {"name": "acme"}`: partners only; 201 with where it is served, 409
    /// when it exists. Audited in the main directory; the organisation's own admins are made in
    /// it (its console's first page, or the partner's session there).
    func createOrganisation(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        guard let organisations else { throw APIError(.notFound, "no_organisations", "an organisation has no organisations of its own") }
        guard context.role == .partner else { throw APIError(.forbidden, "partner", "only a partner makes an organisation") }
        let body = try await request.decodeJSON(NewOrganisation.self, expected: "{\"name\": \"acme\"}")
        if let why = Organisation.nameProblem(body.name) { throw APIError(.badRequest, "bad_name", "name: \(why)") }
        let view = OrganisationView(name: body.name, path: Organisation.pathPrefix(body.name))
        switch try await organisations.create(body.name) {
        case .exists:
            throw APIError(.conflict, "organisation_exists", "organisation \(body.name) exists (\(view.path))")
        case .unsupported:
            throw APIError(.notImplemented, "no_organisation_stores", "this server was started without a place for organisations' databases")
        case .created:
            try await store.audit(
                AuditEntry(
                    at: clock(),
                    actor: context.apiActor,
                    action: .organisationCreated,
                    outcome: .success,
                    detail: "organisation \(body.name) created (\(view.path))"
                )
            )
            return .json(.created, view)
        }
    }
}
