import DirectoryFile
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird
import PhoneFamilies
import PhoneXML

/// The directory imported through the API (and the console): what `hotdesk import` does, with
/// a file in the request's body.
extension AdminAPIController {
    /// The largest directory file taken in one request.
    static let maxDirectoryBytes = 4 << 20

    /// `POST /api/v1/directory`: a directory file (YAML), or a CSV of extensions or devices
    /// (`Content-Type: text/csv`), imported through the same checks and change path as the
    /// CLI's; `dry_run`, `prune` and `push` as its flags. Problems: 422 with each on its line.
    func importDirectory(_ request: Request, _ context: HotDeskRequestContext) async throws -> Response {
        let params = request.uri.queryParameters
        func flag(_ name: String) -> Bool { ["true", "1", "yes"].contains(params.get(name)?.lowercased() ?? "") }
        let csv = request.headers[.contentType]?.lowercased().hasPrefix("text/csv") == true
        let file = String((params.get("file") ?? (csv ? "upload.csv" : "directory.yaml")).prefix(64))
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maxDirectoryBytes)
        } catch {
            throw APIError(.contentTooLarge, "too_large", "a directory file is at most \(Self.maxDirectoryBytes >> 20) MB")
        }
        var text = String(buffer: buffer)
        if csv {
            do { text = try CSVDirectory.yaml(fromCSV: text, file: file).yaml } catch { throw Self.badDirectory([error.description]) }
        }
        let document: DirectoryDocument
        do {
            document = try await parseUpload(text, file: file)
        } catch let error as DirectoryError {
            throw Self.badDirectory(error.problems.map { "\(file): \($0)" })
        }
        do {
            let (summary, changed) = try await changes.importDirectory(
                document,
                actor: context.apiActor,
                options: ImportOptions(prune: flag("prune"), dryRun: flag("dry_run")),
                pushChanged: flag("push")
            )
            return .json(.ok, Self.view(summary, pushed: changed, dryRun: flag("dry_run")))
        } catch let error as DirectoryError {
            throw Self.badDirectory(error.problems.map { "\(file): \($0)" })
        }
    }

    /// `GET /api/v1/directory`: the directory without secrets, as YAML (`hotdesk export`), or one
    /// section as CSV (`?format=csv&section=extensions|devices`), for reading and spreadsheets.
    func exportDirectory(_ request: Request) async throws -> Response {
        let params = request.uri.queryParameters
        let yaml = try await store.exportedDirectory()
        switch params.get("format") ?? "yaml" {
        case "yaml":
            return .text(
                .ok,
                yaml,
                contentType: "application/yaml; charset=UTF-8",
                headers: [.contentDisposition: "attachment; filename=\"hotdesk-directory.yaml\""]
            )
        case "csv":
            guard let section = params.get("section").flatMap({ CSVDirectory.Section(rawValue: String($0)) }) else {
                throw APIError(.badRequest, "bad_section", "section is extensions or devices")
            }
            let csv = try CSVDirectory.csv(fromYAML: yaml, section: section)
            return .text(
                .ok,
                csv,
                contentType: "text/csv; charset=UTF-8",
                headers: [.contentDisposition: "attachment; filename=\"hotdesk-\(section.rawValue).csv\""]
            )
        default:
            throw APIError(.badRequest, "bad_format", "format is yaml or csv")
        }
    }

    /// A directory file sent to the server, read against the store. Its templates are inline: an
    /// upload never names a file, so nothing of the server's is read.
    func parseUpload(_ yaml: String, file: String) async throws -> DirectoryDocument {
        try await DirectoryDocument.parse(
            yaml: yaml,
            file: file,
            baseDirectory: nil,
            catalog: families.catalog,
            configs: families.configs,
            languages: Set(families.screens.locales.keys),
            against: store
        )
    }

    /// What an import did, as the API answers it.
    static func view(_ summary: ImportSummary, pushed: PhoneChanges.ChangedPushes?, dryRun: Bool) -> DirectoryImportView {
        var view = DirectoryImportView(
            dryRun: dryRun,
            created: summary.created,
            updated: summary.updated,
            unchanged: summary.unchanged,
            deleted: summary.deleted,
            removed: summary.removed,
            loggedOut: summary.endedSessions.map { "\($0.extensionNumber) on \($0.mac.colonSeparated)" },
            pushed: pushed?.queued
        )
        view.checked = pushed?.checked
        return view
    }

    static func badDirectory(_ problems: [String]) -> APIError {
        var error = APIError(
            .unprocessableContent,
            "bad_directory",
            problems.count == 1 ? problems[0] : "\(problems.count) problems, nothing imported"
        )
        error.problems = problems
        return error
    }
}
