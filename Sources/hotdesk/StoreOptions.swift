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

    @Option(
        help: """
            The organisation (a partner's customer) this is for: its own database beside the main one (import creates it), \
            served under /o/NAME: orgs/NAME.sqlite and its own key file beside a SQLite file; the database <DATABASE>_org_NAME \
            (- written _) on the same PostgreSQL server, sealed with the same key file. Default: $HOTDESK_ORG, else none (the main directory)
            """
    )
    var org: String?

    func validate() throws {
        guard let organisation else { return }
        if let why = Organisation.nameProblem(organisation) { throw ValidationError("--org \(organisation): \(why)") }
        if PostgresLocation.isURL(mainDatabase) {
            do { _ = try PostgresLocation(url: mainDatabase).organisation(organisation) } catch { throw ValidationError("--org: \(error)") }
        }
    }

    /// The organisation named by `--org` or `HOTDESK_ORG` (`--org ""`: the main directory).
    var organisation: String? {
        guard let org else { return ProcessInfo.processInfo.environment["HOTDESK_ORG"].flatMap { $0.isEmpty ? nil : $0 } }
        return org.isEmpty ? nil : org
    }

    /// The main database as given: `--db`, else the environment, else the file in this folder.
    var mainDatabase: String {
        let environment = ProcessInfo.processInfo.environment
        return db ?? environment["HOTDESK_DATABASE_URL"] ?? environment["HOTDESK_DB"] ?? "./hotdesk.sqlite"
    }

    /// The folder of the organisations' databases: `orgs/` beside the main one.
    var organisationsFolder: URL { URL(fileURLWithPath: mainDatabase).standardizedFileURL.deletingLastPathComponent().appendingPathComponent("orgs") }

    /// The database this command opens: the organisation's when one is named, else the main one.
    var database: String {
        guard let organisation else { return mainDatabase }
        guard PostgresLocation.isURL(mainDatabase) else { return organisationsFolder.appendingPathComponent("\(organisation).sqlite").path }
        // `validate` made sure it can be made; never the main database in its place.
        return (try? PostgresLocation(url: mainDatabase).organisation(organisation).description) ?? "postgres://-/-"
    }

    /// The other directories beside this one — the main one and every other organisation — whose
    /// phones an import here may not take (a phone belongs to one organisation).
    func otherDirectories() throws -> [(name: String, store: any DirectoryStore)] {
        var others: [(name: String, store: any DirectoryStore)] = []
        var main = self
        main.org = ""
        if organisation != nil, main.isPostgres || FileManager.default.fileExists(atPath: main.databasePath) {
            others.append(("", try main.open()))
        }
        for name in try organisationNames() where name != organisation {
            var other = self
            other.org = name
            others.append((name, try other.open()))
        }
        return others
    }

    /// A partner (who manages every organisation) belongs to the main directory, of every site.
    func checkPartner(_ role: AdminRole, limited: Bool) throws {
        guard role == .partner else { return }
        if organisation != nil { throw fail("--role partner is the main directory's (a partner manages every organisation): leave out --org") }
        if limited { throw fail("a partner is of every site: leave out --site") }
    }

    /// Where the organisation's phone routes are (`/o/NAME`), as the server renders their configs.
    var pathPrefix: String { Organisation.pathPrefix(organisation) }

    /// The organisations whose databases are beside the main one (in `orgs/`, or on the same
    /// PostgreSQL server), by name.
    func organisationNames() throws -> [String] {
        if PostgresLocation.isURL(mainDatabase) { return try PostgresLocation(url: mainDatabase).organisationNames() }
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: organisationsFolder.path) else { return [] }
        return files.filter { $0.hasSuffix(".sqlite") }.map { String($0.dropLast(".sqlite".count)) }.filter { Organisation.nameProblem($0) == nil }
            .sorted()
    }

    /// Makes organisation `name`'s PostgreSQL database beside the main one, unless it exists.
    private func createOrganisationDatabase(_ name: String, _ location: PostgresLocation) throws {
        do {
            let main = try PostgresLocation(url: mainDatabase)
            // Asked first: a role that may not make databases is refused even one that exists.
            guard try !PostgresDatabases.named(startingWith: location.database, on: main).contains(location.database) else { return }
            try PostgresDatabases.create(location.database, on: main)
        } catch {
            throw Failure(
                description: "organisation \(name): its database \(location.database) cannot be made: \(error) "
                    + "(let the role make databases, ALTER ROLE \(location.user) CREATEDB, or make it first: createdb -O \(location.user) \(location.database))"
            )
        }
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
        if create, newDatabase, organisation != nil { try files.createDirectory(at: organisationsFolder, withIntermediateDirectories: true) }
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
                // An organisation's database is made beside the main one by the commands that create.
                if create, let organisation { try createOrganisationDatabase(organisation, location) }
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
