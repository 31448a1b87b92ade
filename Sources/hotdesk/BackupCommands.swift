import ArgumentParser
import Foundation
import HotDeskStore

/// `hotdesk backup PATH`: a consistent copy of the database while the server runs.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the database to PATH while the server runs (SQLite's backup API), and check the copy. Keep the key file with it, stored apart.")

    @OptionGroup var store: StoreOptions

    @Argument(help: "The new file to write.")
    var path: String

    func run() async throws {
        let database = store.databasePath
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
        abstract: "Replace the database with a backup (checked first). Refused while a HotDesk server uses the database: stop it, restore, start it.")

    @OptionGroup var store: StoreOptions

    @Argument(help: "The backup to restore.")
    var path: String

    func run() async throws {
        let database = store.databasePath
        let lock: ServerLock?
        do { lock = try ServerLock(database: database) } catch { throw fail("\(error)") }
        guard let lock else { throw fail("a HotDesk server is running on \(database): stop it first (restoring under it would lose what it writes)") }
        let contents: DatabaseBackup.Contents
        do { contents = try DatabaseBackup.restore(path, as: database) } catch { throw fail("\(error)") }
        withExtendedLifetime(lock) {}
        print("restored \(database) from \(path): \(contents)")
        print("the key file the backup was made with must be the one at \(store.keyFilePath)")
    }
}
