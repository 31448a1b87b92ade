import ArgumentParser
import DirectoryFile
import Foundation
import HotDeskServer
import HotDeskStore
import PhoneFamilies

/// `hotdesk backup PATH`: a consistent copy of the database while the server runs.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Copy the database to PATH while the server runs (SQLite's backup API), and check the copy. Keep the key file with it, stored apart."
    )

    @OptionGroup var store: StoreOptions

    @Argument(help: "The new file to write.")
    var path: String

    func run() async throws {
        let database = store.databasePath
        if store.isPostgres { throw fail(PostgresBackup.advice(database, path: path)) }
        guard FileManager.default.fileExists(atPath: database) else {
            throw fail("no database at \(database): pass --db (or set HOTDESK_DB)")
        }
        let contents: DatabaseBackup.Contents
        do { contents = try DatabaseBackup.backup(database: database, to: path) } catch { throw fail("\(error)") }
        print("backed up \(database) to \(path): \(contents); integrity check ok")
        print("keep the key file (\(store.keyFilePath)) with this copy, stored apart: without it the copy's SIP passwords and PINs cannot be used")
    }
}

/// `hotdesk restore PATH`: puts a backup back, never under a running server.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the database with a backup (checked first). Refused while a HotDesk server uses the database: stop it, restore, start it."
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var screens: ScreensOptions

    @Argument(help: "The backup to restore.")
    var path: String

    func run() async throws {
        let database = store.databasePath
        if store.isPostgres { throw fail(PostgresBackup.restoreAdvice(database, path: path)) }
        let lock: ServerLock?
        do { lock = try ServerLock(database: database) } catch { throw fail("\(error)") }
        guard let lock else { throw fail("a HotDesk server is running on \(database): stop it first (restoring under it would lose what it writes)") }
        let contents: DatabaseBackup.Contents
        do {
            // The key the restored database will be opened with must be the backup's own.
            guard ProcessInfo.processInfo.environment["HOTDESK_SECRET_KEY"] != nil || FileManager.default.fileExists(atPath: store.keyPath) else {
                throw ValidationError("no key file at \(store.keyFilePath): put the key file the backup was made with there (or pass --key-file)")
            }
            let secrets = try SecretBox.load(keyFile: store.keyPath)
            contents = try DatabaseBackup.restore(path, as: database, secrets: secrets)
        } catch { throw fail("\(error)") }
        // What each phone holds now is not what the backup says it was served: every phone is
        // pushed the config the restored directory gives it (sent when the server starts).
        let pushed: PhoneChanges.ChangedPushes
        do {
            let families = try screens.load()
            let restored = try store.open(catalog: families.catalog)
            pushed = try await PhoneChanges(store: restored, families: families, pathPrefix: store.pathPrefix, logger: quietLogger).pushChanged(
                actor: "restore",
                keep: 0,
                all: true
            )
        } catch {
            throw fail("restored \(database), but its phones were not queued for a push (\(error)): run hotdesk push-changed once the server runs")
        }
        withExtendedLifetime(lock) {}
        print("restored \(database) from \(path): \(contents)")
        print("\(pushed.queued) phone(s) queued for a push of their restored config (sent when the server starts)")
        print("the key file the backup was made with must be the one at \(store.keyFilePath)")
    }
}

/// `hotdesk export`: the directory back as the YAML `hotdesk import` reads.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write the directory as YAML (stdout, or --output): without secrets, for reading and comparing; with --with-secrets, a file import restores the same directory from."
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var screens: ScreensOptions

    @Flag(
        help:
            "Include SIP passwords and phones' web logins (in clear) and PIN and password hashes: the file then restores the directory, with the same key file for the PINs. Keep it like the key file."
    )
    var withSecrets = false

    @Option(help: "Write to this file (with --with-secrets, readable by its owner only) instead of stdout.")
    var output: String?

    @Option(help: "Write one section as CSV instead: extensions or devices (what hotdesk import takes back from a .csv file).")
    var csv: CSVDirectory.Section?

    static let headerWithout =
        "# HotDesk directory (hotdesk export). Secrets left out: this file is for reading and comparing;\n# hotdesk export --with-secrets writes one that imports.\n"
    static let headerWith =
        "# HotDesk directory (hotdesk export --with-secrets): SIP passwords in clear, PINs as hashes that only a\n# store with the same key file checks (import with --key-file). Keep this file as safe as the key file.\n"

    func run() async throws {
        // The phone families name the stored models (without them every model reads as its brand's generic one).
        let families: FamilyBook
        do { families = try screens.load() } catch { throw fail("\(error)") }
        let sqlite = try store.openOrExit(catalog: families.catalog)
        let (yaml, summary) = try await sqlite.exportDirectory(withSecrets: withSecrets)
        var text = (withSecrets ? Self.headerWith : Self.headerWithout) + yaml
        if let csv {
            do { text = try CSVDirectory.csv(fromYAML: yaml, section: csv) } catch { throw fail("\(error)") }
        }
        if let output {
            guard
                FileManager.default.createFile(
                    atPath: output,
                    contents: Data(text.utf8),
                    attributes: [.posixPermissions: withSecrets ? 0o600 : 0o644]
                )
            else {
                throw fail("cannot write \(output)")
            }
        } else {
            // As it is: the YAML emitter already escapes what a terminal would act on.
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        printError(
            "exported \(summary.extensions) extension(s), \(summary.devices) device(s)"
                + (summary.selfEnrolled > 0
                    ? "; \(summary.selfEnrolled) phone(s) that enrolled themselves are not part of the directory and were left out" : "")
                + (withSecrets ? "" : "; secrets left out (--with-secrets for a file that imports)")
        )
    }
}

/// PostgreSQL's backups are its own tools': HotDesk says the exact command.
enum PostgresBackup {
    static func advice(_ database: String, path: String) -> String {
        "a PostgreSQL database is backed up with PostgreSQL's own tool, consistent while the servers run: "
            + "pg_dump --format=custom --file='\(path)' '\(database)' (keep the key file with it, stored apart)"
    }

    static func restoreAdvice(_ database: String, path: String) -> String {
        "a PostgreSQL database is restored with PostgreSQL's own tool, every HotDesk node stopped: "
            + "pg_restore --clean --if-exists --dbname='\(database)' '\(path)' (then start the nodes with the key file the dump was made with)"
    }
}
