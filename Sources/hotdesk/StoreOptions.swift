import ArgumentParser
import Foundation
import HotDeskCore
import HotDeskStore

/// Options every command that opens the store shares.
struct StoreOptions: ParsableArguments {
    @Option(
        help: """
            The database: a SQLite file (serve and import create it if missing; other commands refuse to), or a PostgreSQL URL \
            postgres://USER@HOST:PORT/DATABASE (its password from HOTDESK_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass, never the URL). \
            Default: $HOTDESK_DATABASE_URL, else $HOTDESK_DB, else ./hotdesk.sqlite
            """
    )
    var db: String?

    @Option(
        help:
            "File holding the key that encrypts SIP passwords and keys PIN hashes (created with the database; HOTDESK_SECRET_KEY overrides). Default: <db>.key; for PostgreSQL it must be given (the same file on every node)"
    )
    var keyFile: String?

    /// The database as given: `--db`, else the environment, else the file in this folder.
    var database: String {
        let environment = ProcessInfo.processInfo.environment
        return db ?? environment["HOTDESK_DATABASE_URL"] ?? environment["HOTDESK_DB"] ?? "./hotdesk.sqlite"
    }

    var isPostgres: Bool { PostgresLocation.isURL(database) }

    var keyPath: String { keyFile ?? (isPostgres ? "" : database + ".key") }

    /// The database as messages and the start-up log name it: a file's absolute path, a URL
    /// without any password.
    var databasePath: String {
        guard isPostgres else { return URL(fileURLWithPath: database).standardizedFileURL.path }
        return (try? PostgresLocation(url: database).description) ?? "the PostgreSQL URL given"
    }
    var keyFilePath: String { URL(fileURLWithPath: keyPath).standardizedFileURL.path }

    /// Opens the store. Only `serve` and `import` may `create` it: any other command run in the
    /// wrong folder would otherwise make an empty database (and, say, a key the server never sees).
    func open(catalog: PhoneCatalog = .empty, create: Bool = false) throws -> SQLStore {
        try openReporting(catalog: catalog, create: create).store
    }

    /// Opens the store (never creating it), or exits with one clear line saying why.
    func openOrExit(catalog: PhoneCatalog = .empty) throws -> SQLStore {
        do { return try open(catalog: catalog) } catch { throw fail("\(error)") }
    }

    /// Opens the store; returns whether the database and the key file were just created.
    func openReporting(
        catalog: PhoneCatalog = .empty,
        create: Bool,
        caches: CacheLimits = CacheLimits()
    ) throws -> (store: SQLStore, createdDatabase: Bool, createdKey: Bool) {
        let files = FileManager.default
        let keyFromEnvironment = ProcessInfo.processInfo.environment["HOTDESK_SECRET_KEY"] != nil
        if isPostgres && keyFile == nil && !keyFromEnvironment {
            throw Failure(
                description:
                    "a PostgreSQL database needs --key-file FILE (the same file on every node; serve and import create it for a new database) or HOTDESK_SECRET_KEY"
            )
        }
        let database = databasePath
        let newDatabase = !isPostgres && !files.fileExists(atPath: database)
        let newKey = !keyFromEnvironment && !files.fileExists(atPath: keyPath)
        if !create {
            if newDatabase {
                throw Failure(
                    description:
                        "no database at \(database): run this where the server's database is, or pass --db (or set HOTDESK_DB); only `serve` and `import` create one"
                )
            }
            if newKey {
                throw Failure(
                    description:
                        "no key file at \(keyFilePath) for \(database): pass --key-file (or set HOTDESK_SECRET_KEY); without it the database's secrets cannot be read"
                )
            }
        }
        let secrets = try SecretBox.load(keyFile: keyPath, caches: caches)
        do {
            if isPostgres {
                let location = try PostgresLocation(url: self.database)
                return (try PostgresStore(location: location, secrets: secrets, catalog: catalog, create: create), false, newKey)
            }
            return (try SQLiteStore(path: self.database, secrets: secrets, catalog: catalog), newDatabase, newKey)
        } catch is SQLStore.WrongKey {
            if newKey { try? files.removeItem(atPath: keyPath) }
            let key = keyFromEnvironment ? "HOTDESK_SECRET_KEY" : "the key file \(keyFilePath)"
            throw Failure(
                description:
                    "\(key) is not the key \(database)'s secrets were sealed with: use the key file made with it (a backup restores only with its own)"
            )
        } catch {
            if newKey { try? files.removeItem(atPath: keyPath) }
            throw error
        }
    }
}
