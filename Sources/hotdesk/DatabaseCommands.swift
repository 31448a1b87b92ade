import ArgumentParser
import Foundation
import HotDeskServer
import HotDeskStore

/// `hotdesk db …`: the database as a whole.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "The database as a whole: copy it into another one (a site moving from SQLite to PostgreSQL).",
        subcommands: [DatabaseCopy.self]
    )
}

/// `hotdesk db copy --from hotdesk.sqlite --to postgres://…`: everything, into a database HotDesk
/// has not used yet, with the same key; phones go on working without noticing.
struct DatabaseCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy everything (directory, sessions, phones and their secrets, push jobs, audit, accounts and keys) into an empty database.",
        discussion: """
            Stop the servers first: what they write during the copy would not be in it. The target keeps the source's key \
            (--key-file, default <from>.key for a file): start every server on it with that key file. Example:
              hotdesk db copy --from hotdesk.sqlite --to postgres://hotdesk@db.example:5432/hotdesk
            """
    )

    @Option(help: "The database copied: a SQLite file or a PostgreSQL URL.")
    var from: String

    @Option(help: "The database copied into, holding nothing yet: a PostgreSQL URL (made first: createdb) or a new SQLite file.")
    var to: String

    @Option(help: "The key file of the source, used by the target too. Default: <from>.key for a file; required for a URL.")
    var keyFile: String?

    func run() async throws {
        let sourceOptions = try StoreOptions.parse(["--db", from] + (keyFile.map { ["--key-file", $0] } ?? []))
        let key = sourceOptions.keyPath
        let targetOptions = try StoreOptions.parse(["--db", to, "--key-file", key])
        guard sourceOptions.databasePath != targetOptions.databasePath else { throw fail("--from and --to are the same database") }
        var lock: ServerLock?
        if !sourceOptions.isPostgres {
            do { lock = try ServerLock(database: sourceOptions.databasePath) } catch { throw fail("\(error)") }
            guard lock != nil else {
                throw fail(
                    "a HotDesk server is running on \(sourceOptions.databasePath): stop it first (what it writes during the copy would be lost)"
                )
            }
        }
        let summary: SQLStore.CopySummary
        do {
            let source = try sourceOptions.open()
            let target = try targetOptions.open(create: true)
            summary = try await source.copy(into: target)
        } catch {
            throw fail("\(error)")
        }
        _ = lock
        let tables = summary.rows.filter { $0.count > 0 }.map { "\($0.table) \($0.count)" }.joined(separator: ", ")
        print("copied \(summary.total) rows from \(sourceOptions.databasePath) to \(targetOptions.databasePath): \(tables)")
        print("start the servers with --db \(targetOptions.databasePath) --key-file \(targetOptions.keyFilePath)")
    }
}
