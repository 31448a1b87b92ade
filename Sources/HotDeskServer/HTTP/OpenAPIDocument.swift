import Foundation
import HTTPTypes
import Hummingbird

/// The OpenAPI 3.1 document of `/api/v1` and `/pbx/v1`, served at `/api/v1/openapi.json`.
///
/// Its paths and methods are the router's own (`Router.routes`), so the document cannot list a
/// route the server does not have; what each operation does comes from `operations` below. An
/// operation the router has and `operations` does not describe is listed with the summary
/// `undocumented` (and a test fails), as is an entry of `operations` no route answers.
public enum OpenAPIDocument {
    /// One described operation: `"GET /api/v1/sessions"` → summary, query parameters, answers.
    struct Operation: Sendable {
        var summary: String
        var query: [String] = []
        var body = false
        var answers: [Int] = [200]
        var contentType = "application/json"
    }

    static let operations: [String: Operation] = [
        "GET /api/v1/events": .init(
            summary: "Server-sent events: `event: change` when sessions, push jobs, devices, the directory or the audit log changed; never ends.",
            contentType: "text/event-stream"
        ),
        "GET /api/v1/extensions": .init(
            summary:
                "Extensions (never a secret) with their site, the phones each is logged in on and its lock; ?site= one site's users; limit/after page them.",
            query: ["site", "limit", "after"],
            answers: [200, 400, 404]
        ),
        "GET /api/v1/accounts": .init(summary: "The web console's accounts: name, role, created, last sign-in (never a password)."),
        "POST /api/v1/accounts": .init(
            summary:
                "Create a console account {name, role, password, sites}, or give one a new role, password, sites or every_site: true (its sessions end).",
            body: true,
            answers: [200, 201, 400, 404, 409]
        ),
        "DELETE /api/v1/accounts/{name}": .init(summary: "Remove a console account; its sessions end. Not your own.", answers: [204, 404, 409]),
        "GET /api/v1/devices/{mac}/config": .init(
            summary:
                "Admin: the config the phone gets on its next fetch (its first file), every secret masked (SIP passwords, provisioning secret, web password, app token): {mac, content_type, body, secrets_masked, config: current|changed}.",
            answers: [200, 400, 404]
        ),
        "GET /api/v1/sessions": .init(
            summary:
                "Who is logged in on which phone (and its site), with each phone's last push, oldest login first; ?site= one site's; limit/after page it.",
            query: ["site", "limit", "after"],
            answers: [200, 400, 404]
        ),
        "DELETE /api/v1/sessions/{mac}": .init(
            summary: "Force the logout of a phone: logged-out config, push, audit (on a call: when the call ends, unless ?force=true).",
            query: ["force"],
            answers: [202, 404]
        ),
        "POST /api/v1/extensions/{number}/logout": .init(
            summary: "Log an extension out of every phone it is logged in on (a phone on a call: when the call ends, unless ?force=true).",
            query: ["force"],
            answers: [202, 404]
        ),
        "GET /api/v1/push-jobs": .init(
            summary: "Push jobs, newest first; from_id/to_id keep an id range; next is the following page.",
            query: ["state", "mac", "from_id", "to_id", "limit"],
            answers: [200, 400]
        ),
        "GET /api/v1/push-jobs/{id}": .init(summary: "One push job.", answers: [200, 404]),
        "POST /api/v1/devices/{mac}/push": .init(
            summary: "Push a reload, a reboot or a message (xml) to a phone.",
            body: true,
            answers: [202, 400, 404]
        ),
        "POST /api/v1/devices/push-changed": .init(
            summary: "Push every phone whose config changed since it last fetched it: counts, the new jobs' id range and their first page.",
            answers: [202]
        ),
        "POST /api/v1/extensions/{number}/sip-password": .init(
            summary: "A new SIP password for an extension's line, returned once.",
            answers: [200, 404]
        ),
        "POST /api/v1/shared-lines/{number}/sip-password": .init(
            summary: "A new SIP password for a shared line, returned once.",
            answers: [200, 404]
        ),
        "POST /api/v1/devices/{mac}/sip-password": .init(summary: "A new SIP password for a phone's own line, returned once.", answers: [200, 404]),
        "GET /api/v1/workspaces": .init(
            summary: "Workspaces with their device counts, licence limits, room type and capacity (?site= one site's).",
            query: ["site"],
            answers: [200, 403, 404]
        ),
        "GET /api/v1/sites": .init(summary: "Sites as their phones get them (addresses, PBX, zone, emergency calls) with their device counts."),
        "GET /api/v1/cos": .init(summary: "Classes of service, schedules and emergency numbers."),
        "GET /api/v1/cos/check": .init(
            summary: "Which class of service and rule decide a call.",
            query: ["extension", "cos", "number", "at"],
            answers: [200, 400, 404]
        ),
        "GET /api/v1/cos/{name}": .init(summary: "One class of service.", answers: [200, 404]),
        "GET /api/v1/devices": .init(
            summary:
                "Phones by MAC: family, workspace, site, address, last fetch, config current or changed, who, last push; filters brand/workspace/site/state; limit/after page them.",
            query: ["brand", "workspace", "site", "state", "limit", "after"],
            answers: [200, 400, 404]
        ),
        "GET /api/v1/shared-lines": .init(summary: "Shared lines and their members (never a password)."),
        "GET /api/v1/locks": .init(summary: "Extensions, phones and addresses locked by wrong passwords, until when."),
        "GET /api/v1/audit": .init(
            summary: "The audit log, newest first, filtered; next pages by before_id; format=csv for a spreadsheet.",
            query: ["actor", "action", "mac", "extension", "since", "until", "before_id", "limit", "format"],
            answers: [200, 400]
        ),
        "GET /api/v1/devices/{mac}": .init(summary: "One phone, as GET /devices shows it.", answers: [200, 400, 404]),
        "DELETE /api/v1/locks/extension/{key}": .init(summary: "Clear an extension's lock now (audited).", answers: [200, 400, 404]),
        "DELETE /api/v1/locks/device/{key}": .init(summary: "Clear a phone's lock now (audited).", answers: [200, 400, 404]),
        "DELETE /api/v1/locks/source/{key}": .init(summary: "Clear an address's lock now (audited).", answers: [200, 400, 404]),
        "GET /api/v1/apikeys": .init(summary: "Admin and PBX keys: name, kind, created, last used (never a key or its hash)."),
        "DELETE /api/v1/apikeys/{name}": .init(summary: "Revoke a key (audited); a key cannot revoke itself.", answers: [200, 404, 409]),
        "POST /api/v1/devices/{mac}/release": .init(summary: "Release a claimed phone: a new provisioning secret, unclaimed.", answers: [200, 404]),
        "POST /api/v1/devices/{mac}/approve-claim": .init(
            summary: "Approve the pending claim of an unclaimed phone (claims that wait for an admin).",
            answers: [200, 404, 409]
        ),
        "PUT /api/v1/devices/{mac}/workspace": .init(
            summary: "Put a phone in a workspace, or take it out (null).",
            body: true,
            answers: [200, 400, 404, 409]
        ),
        "GET /api/v1/organisations": .init(
            summary:
                "(Partners) the organisations beside the main directory, each served under its path /o/NAME (its own API, console and phones' URLs).",
            answers: [200, 403]
        ),
        "POST /api/v1/organisations": .init(
            summary: "(Partners) make an organisation: its empty directory beside the main one, served at once under /o/NAME (audited).",
            body: true,
            answers: [201, 400, 403, 409]
        ),
        "GET /api/v1/directory": .init(
            summary: "The directory without secrets: YAML, or one section as CSV (?format=csv&section=extensions|devices).",
            query: ["format", "section"],
            answers: [200, 400]
        ),
        "POST /api/v1/directory": .init(
            summary:
                "Import a directory file (YAML) or a CSV of extensions or devices (Content-Type: text/csv), as hotdesk import does; dry_run, prune, push.",
            query: ["dry_run", "prune", "push", "file"],
            body: true,
            answers: [200, 413, 422]
        ),
        "GET /api/v1/directory/{section}": .init(
            summary: "The keys of a section (extensions, devices, workspaces, shared_lines, templates, sites) in order, a page at a time.",
            query: ["after", "limit"],
            answers: [200, 404]
        ),
        "GET /api/v1/directory/{section}/{key}": .init(
            summary: "One entry of extensions, devices, workspaces, shared_lines, templates or sites, without secrets, and which secrets are set.",
            answers: [200, 400, 404]
        ),
        "PUT /api/v1/directory/{section}/{key}": .init(
            summary:
                "Replace or add one entry (the directory file's fields, JSON) through the import's checks; secrets left out are kept, null removes one; If-None-Match: * only adds.",
            query: ["dry_run", "push"],
            body: true,
            answers: [200, 201, 400, 409, 413, 422]
        ),
        "DELETE /api/v1/directory/{section}/{key}": .init(
            summary: "Remove one entry (as DELETE /extensions/{number} and the rest; sites by an import with prune).",
            answers: [200, 400, 404, 409]
        ),
        "DELETE /api/v1/extensions/{number}/pin": .init(
            summary: "Forget the PIN a person chose on a phone (Change PIN): the voicemail PIN or user password logs them in again (helpdesk).",
            answers: [200, 400, 404]
        ),
        "DELETE /api/v1/extensions/{number}": .init(summary: "Remove an extension from the directory (logged out first).", answers: [200, 400, 404]),
        "DELETE /api/v1/devices/{mac}": .init(summary: "Remove a phone from the directory.", answers: [200, 400, 404]),
        "DELETE /api/v1/shared-lines/{number}": .init(summary: "Remove a shared line.", answers: [200, 400, 404]),
        "DELETE /api/v1/workspaces/{name}": .init(summary: "Remove a workspace.", answers: [200, 400, 404]),
        "DELETE /api/v1/templates/{name}": .init(summary: "Remove a config template (409 while a mapping names it).", answers: [200, 400, 404, 409]),
        "POST /pbx/v1/authorize": .init(
            summary: "May this SIP user call that number now (JSON); with credentials: true also its HA1, for one question per call.",
            body: true,
            answers: [200, 400, 404]
        ),
        "GET /pbx/v1/authorize": .init(
            summary: "The same as key=value text.",
            query: ["auth_user", "callee", "caller", "source_ip"],
            answers: [200, 400, 404]
        ),
        "GET /pbx/v1/credentials/{user}": .init(
            summary: "The HA1 of a line a phone carries now, with the caller IDs to assert (the desk at ?source_ip=).",
            query: ["source_ip"],
            answers: [200, 404]
        ),
        "POST /pbx/v1/hotdesk/login": .init(summary: "Star-code login from a phone's own line.", body: true, answers: [200, 400, 404]),
        "POST /pbx/v1/hotdesk/logout": .init(summary: "Star-code logout of a phone.", body: true, answers: [200, 400, 404]),
        "GET /pbx/v1/emergency": .init(
            summary:
                "The emergency numbers of every site, or of ?site= only, for the PBX to route without asking (204: the ?known= version is current).",
            query: ["known", "site"],
            answers: [200, 204, 404]
        ),
        "GET /pbx/v1/direct-dial/{number}": .init(
            summary: "The SIP user an inbound call to a direct-dial number rings (an extension's or a shared line's direct_dial).",
            answers: [200, 400, 404]
        ),
        "GET /pbx/v1/notify": .init(
            summary: "The next SIP NOTIFY for the PBX to send to a phone (a long poll: up to ?wait= seconds); ?site= only its phones.",
            query: ["wait", "site"],
            answers: [200, 204, 400, 404]
        ),
        "POST /pbx/v1/notify/{id}": .init(summary: "How the phone answered a NOTIFY the PBX sent.", body: true, answers: [204, 400, 404]),
        "POST /pbx/v1/calls/start": .init(summary: "A party of a call answered: its phone is on a call.", body: true, answers: [200, 400, 404]),
        "POST /pbx/v1/calls/end": .init(summary: "A call ended: logouts that waited for it happen now.", body: true, answers: [204, 400]),
        "POST /pbx/v1/calls/reset": .init(
            summary: "Calls whose end was lost: a phone's (it registered afresh) or, with {}, every call of the PBX (it started; ?site= narrows).",
            query: ["site"],
            body: true,
            answers: [200, 400, 404]
        ),
    ]

    /// The operations described, `"METHOD /path"`.
    public static var described: Set<String> { Set(operations.keys) }

    /// `"METHOD /path"` of every route under `/api/v1` and `/pbx/v1` but the document itself.
    static func apiRoutes(_ routes: [Router<HotDeskRequestContext>.RouteDescription]) -> [String] {
        routes.map { "\($0.method) \($0.path)" }.filter {
            ($0.contains(" /api/v1/") || $0.contains(" /pbx/v1/")) && !$0.hasSuffix("/openapi.json")
        }.sorted()
    }

    /// The document for these routes, as JSON.
    static func json(routes: [String]) -> String {
        var paths: [String: [String: Any]] = [:]
        for route in routes {
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            let (method, path) = (parts[0].lowercased(), parts[1])
            let described = operations[route]
            let isPBX = path.hasPrefix("/pbx/v1/")
            var parameters: [[String: Any]] = path.split(separator: "/").filter { $0.hasPrefix("{") }.map { segment in
                ["name": String(segment.dropFirst().dropLast()), "in": "path", "required": true, "schema": ["type": "string"]]
            }
            parameters += (described?.query ?? []).map { ["name": $0, "in": "query", "required": false, "schema": ["type": "string"]] }
            var responses: [String: Any] = [:]
            for code in described?.answers ?? [200] {
                var answer: [String: Any] = ["description": HTTPResponse.Status(code: code).reasonPhrase]
                if code != 204 {
                    // Errors are always JSON; a success is in the operation's own type.
                    let type = code < 300 ? described?.contentType ?? "application/json" : "application/json"
                    answer["content"] = [type: ["schema": ["type": type == "application/json" ? "object" : "string"]]]
                }
                responses["\(code)"] = answer
            }
            responses["401"] = ["description": "no key, or a wrong one"]
            if !isPBX {
                responses["403"] = [
                    "description":
                        "the key's role may not do this (auditor: reads; helpdesk: also logouts, locks, pushes), or the key is limited to sites: "
                        + "forbidden_scope (for keys of every site), out_of_scope (another site's phone or user)"
                ]
            }
            var operation: [String: Any] = [
                "summary": described?.summary ?? "undocumented",
                "operationId": (method + path).replacingOccurrences(of: "[^A-Za-z0-9]+", with: "_", options: .regularExpression),
                "tags": [isPBX ? "pbx" : "admin"],
                "security": isPBX ? [["pbxKey": [] as [String]]] : [["apiKey": [] as [String]], ["consoleCookie": [] as [String]]],
                "responses": responses,
            ]
            if !parameters.isEmpty { operation["parameters"] = parameters }
            if described?.body == true {
                operation["requestBody"] = ["required": true, "content": ["application/json": ["schema": ["type": "object"]]]]
            }
            paths[path, default: [:]][method] = operation
        }
        let document: [String: Any] = [
            "openapi": "3.1.0",
            "info": [
                "title": "HotDesk admin and PBX API", "version": "1",
                "description": "The admin API (/api/v1, docs/api.md) and the PBX API (/pbx/v1, docs/pbx.md). Keys are snake_case, times ISO 8601.",
            ],
            "paths": paths,
            "components": [
                "securitySchemes": [
                    "apiKey": ["type": "http", "scheme": "bearer", "description": "hotdesk apikey create"],
                    "pbxKey": ["type": "http", "scheme": "bearer", "description": "hotdesk pbxkey create (or the Basic password)"],
                    "consoleCookie": [
                        "type": "apiKey", "in": "cookie", "name": "hotdesk_console",
                        "description": "the web console's session (POST /admin/sign-in); changes also need the X-CSRF-Token header",
                    ],
                ]
            ],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
