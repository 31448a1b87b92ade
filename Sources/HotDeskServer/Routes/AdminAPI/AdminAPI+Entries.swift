import DirectoryFile
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird
import PhoneFamilies
import PhoneXML

/// One entry of the directory read, replaced or removed on its own (the console's forms): the
/// entry travels in the directory file's own field names, and a change is a directory file of one
/// entry, checked and applied by the import (same checks, same change path, same audit).
extension AdminAPIController {
    /// The largest entry taken (a template's body is the largest entry there is).
    static let maxEntryBytes = 512 << 10

    /// `GET /api/v1/directory/{section}?after=&limit=`: `{section, keys, next}`, the section's
    /// keys in order (up to 1,000 a page; `next`: the `after` of the next page).
    func directoryKeys(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let section = try section(context)
        let params = request.uri.queryParameters
        let limit = min(max(Int(params.get("limit") ?? "") ?? 500, 1), 1000)
        let keys = try await store.directoryKeys(section, after: params.get("after").map { String($0) }, limit: limit)
        return .json(.ok, DirectoryKeysView(section: section.rawValue, keys: keys, next: keys.count == limit ? keys.last : nil))
    }

    /// `GET /api/v1/directory/{section}/{key}`: `{section, key, entry, secrets_set}`: the entry
    /// without secrets, and which of its secret fields are set (never their values).
    func directoryEntry(_ context: HotDeskRequestContext) async throws -> Response {
        let (section, key) = try entryAddress(context)
        // Read twice on purpose: what is shown comes from the export without secrets, never from
        // secrets stripped here by hand.
        guard let plain = try await store.directoryEntry(section, key: key, withSecrets: false),
            let stored = try await store.directoryEntry(section, key: key, withSecrets: true)
        else { throw APIError(.notFound, "not_found", "there is no \(section.rawValue) entry \"\(key)\"") }
        let entry = try JSONSerialization.jsonObject(with: DirectoryEntry.json(fromYAML: plain))
        let view: [String: Any] = [
            "section": section.rawValue, "key": key, "entry": entry, "secrets_set": DirectoryEntry.secretsSet(section, stored: stored),
        ]
        let data = try JSONSerialization.data(withJSONObject: view, options: [.sortedKeys, .withoutEscapingSlashes])
        return .text(.ok, String(decoding: data, as: UTF8.self) + "\n", contentType: "application/json")
    }

    /// `PUT /api/v1/directory/{section}/{key}?dry_run=&push=`: the entry (a JSON object of the
    /// directory file's fields) replaces the stored one, or is added (`If-None-Match: *`: only
    /// added, 409 `exists` when there is one). Secret fields left out keep their stored values;
    /// `null` removes one. 422 `bad_entry` with `error.problems` (`voicemail_pin: …`).
    func saveDirectoryEntry(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let (section, key) = try entryAddress(context)
        let params = request.uri.queryParameters
        func flag(_ name: String) -> Bool { ["true", "1", "yes"].contains(params.get(name)?.lowercased() ?? "") }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: Self.maxEntryBytes) } catch {
            throw APIError(.contentTooLarge, "too_large", "an entry is at most \(Self.maxEntryBytes >> 10) KB")
        }
        let stored = try await store.directoryEntry(section, key: key, withSecrets: true)
        if stored != nil, request.headers[.ifNoneMatch] == "*" {
            throw APIError(.conflict, "exists", "there is already a \(section.rawValue) entry \"\(key)\"")
        }
        let about = "\(section.rawValue) \(key) \(stored == nil ? "added" : "edited")"
        let document: DirectoryDocument
        do {
            let file = try DirectoryEntry.file(section, key: key, body: String(buffer: buffer), stored: stored)
            document = try await parseUpload(file, file: "entry")
        } catch let error as DirectoryError {
            throw Self.badEntry(error, section)
        }
        do {
            let (summary, changed) = try await changes.importDirectory(
                document,
                actor: context.apiActor,
                options: ImportOptions(dryRun: flag("dry_run"), about: about),
                pushChanged: params.get("push").map { _ in flag("push") } ?? true,
                // The phones this entry reaches, before and after: not every phone of the site.
                touching: { [store] in try await store.phones(touchedBy: section, key: key) }
            )
            return .json(stored == nil ? .created : .ok, Self.view(summary, pushed: changed, dryRun: flag("dry_run")))
        } catch let error as DirectoryError {
            throw Self.badEntry(error, section)
        }
    }

    /// `DELETE /api/v1/directory/{section}/{key}`: as `DELETE /extensions/{number}` and the rest.
    func deleteDirectoryEntry(_ context: HotDeskRequestContext) async throws -> Response {
        let (section, _) = try entryAddress(context)
        guard section != .sites else {
            throw APIError(.badRequest, "bad_section", "a site is removed by an import with prune (its phones and people move first)")
        }
        return try await delete(context, "key") { section.item($0) }
    }

    private func section(_ context: HotDeskRequestContext) throws -> DirectorySection {
        let name = context.parameters.get("section") ?? ""
        guard let section = DirectorySection(rawValue: name) else {
            throw APIError(
                .notFound,
                "bad_section",
                "no section \"\(TextSafety.printable(String(name.prefix(30))))\": one of \(DirectorySection.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        return section
    }

    private func entryAddress(_ context: HotDeskRequestContext) throws -> (DirectorySection, String) {
        let section = try section(context)
        let key = (context.parameters.get("key") ?? "").removingPercentEncoding ?? ""
        guard !key.isEmpty, key.count <= 64 else { throw APIError(.badRequest, "bad_key", "an entry's key is 1-64 characters") }
        // A MAC in any of its spellings names one device.
        return (section, section == .devices ? try MACAddress(key).map(\.colonSeparated) ?? { throw APIError.badMAC }() : key)
    }

    static func badEntry(_ error: DirectoryError, _ section: DirectorySection) -> APIError {
        let problems = error.problems.map { DirectoryEntry.problem($0, section: section) }
        var refusal = APIError(.unprocessableContent, "bad_entry", problems.count == 1 ? problems[0] : "\(problems.count) problems, nothing changed")
        refusal.problems = problems
        return refusal
    }
}
