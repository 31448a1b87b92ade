import Crypto
import Foundation
import HotDeskCore
import HotDeskServer
import PhoneFamilies

@testable import HotDeskStore

/// Which database the tests' stores are on: a SQLite file in the test's folder, or — when
/// `HOTDESK_TEST_POSTGRES` names a cluster (`scripts/postgres start` prints it; `scripts/test`
/// runs the suite once more that way) — a database of that cluster made for the test, named after
/// the file it stands for, so that opening "the same file" twice opens the same database.
enum TestDatabase {
    static let postgres: PostgresLocation? = {
        guard let url = ProcessInfo.processInfo.environment["HOTDESK_TEST_POSTGRES"], !url.isEmpty else { return nil }
        do { return try PostgresLocation(url: url) } catch { fatalError("HOTDESK_TEST_POSTGRES: \(error)") }
    }()

    static var isPostgres: Bool { postgres != nil }

    /// The database standing for the SQLite file `path`.
    static func name(for path: String) -> String {
        "hotdesk_t_" + SHA256.hash(data: Data(path.utf8)).prefix(10).map { String(format: "%02x", $0) }.joined()
    }

    /// What `--db` takes for `path`: the file, or its database's URL.
    static func argument(for path: String) -> String {
        guard let postgres else { return path }
        return postgres.database(name(for: path)).description
    }

    /// A store for `path`, its secrets sealed with the key in `keyFile`.
    /// `deadline`: on PostgreSQL, the seconds a statement may wait for its answer.
    static func open(path: String, keyFile: String, catalog: PhoneCatalog = testFamilies.catalog, deadline: Int64? = nil) throws -> SQLStore {
        let secrets = try SecretBox.load(keyFile: keyFile, environment: [:])
        guard let postgres else { return try SQLiteStore(path: path, secrets: secrets, catalog: catalog) }
        try PostgresDatabases.create(name(for: path), on: postgres)
        var location = postgres.database(name(for: path))
        if let deadline { location.deadline = deadline }
        return try PostgresStore(location: location, secrets: secrets, catalog: catalog, connections: 2)
    }

    /// Whether the database standing for `path` exists.
    static func exists(path: String) throws -> Bool {
        guard let postgres else { return FileManager.default.fileExists(atPath: path) }
        return try PostgresDatabases.named(startingWith: name(for: path), on: postgres).contains(name(for: path))
    }

    /// Organisations as a server finds and makes them while it runs: `folder/NAME.sqlite` (or
    /// the database standing for it), its key beside it.
    static func organisations(in folder: URL) -> OrganisationStores {
        @Sendable func path(_ name: String) -> String { folder.appendingPathComponent("\(name).sqlite").path }
        return OrganisationStores(
            open: { name in try exists(path: path(name)) ? try open(path: path(name), keyFile: path(name) + ".key") : nil },
            create: { name in try open(path: path(name), keyFile: path(name) + ".key") }
        )
    }

    /// Drops the database standing for `path` (nothing for a file: its folder is removed).
    static func remove(path: String) {
        guard let postgres else { return }
        try? PostgresDatabases.drop(name(for: path), on: postgres)
    }
}

extension SQLStore {
    /// Every row of each query, one line per row (`SQLRow.description`), on either database.
    func dump(_ queries: [String]) async throws -> [String] {
        try await engine.read { db in try queries.map { sql in try db.rows(sql).map(\.description).joined(separator: "\n") } }
    }

    /// The first column of the first row of `sql`.
    func scalar<T: SQLValueConvertible>(_ type: T.Type, _ sql: String) async throws -> T? {
        try await engine.read { db in try db.value(type, sql) }
    }
}

extension TestDatabase {
    /// Everything the database holds as bytes: a SQLite file and its WAL as they are on disk;
    /// on PostgreSQL every value of every table (text as UTF-8, blobs as they are).
    static func storedBytes(_ store: SQLStore, file: URL) async throws -> Data {
        guard isPostgres else {
            let wal = URL(fileURLWithPath: file.path + "-wal")
            return try Data(contentsOf: file) + ((try? Data(contentsOf: wal)) ?? Data())
        }
        return try await store.engine.read { db in
            var bytes = Data()
            for table in try db.values(String.self, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") {
                for row in try db.rows("SELECT * FROM \(table)") {
                    for value in row.values {
                        switch value {
                        case .text(let text): bytes += Data(text.utf8)
                        case .blob(let blob): bytes += blob
                        default: continue
                        }
                        bytes.append(0)
                    }
                }
            }
            return bytes
        }
    }
}

extension TestDatabase {
    /// What the `hotdesk` command line takes for the database standing for `path`: the file (its
    /// key beside it), or the database's URL and the key file (the database made first: `serve`
    /// and `import` make HotDesk's tables, never the database itself).
    static func commandLine(for path: String) throws -> [String] {
        guard let postgres else { return ["--db", path] }
        try PostgresDatabases.create(name(for: path), on: postgres)
        return ["--db", argument(for: path), "--key-file", path + ".key"]
    }

    /// The environment a `hotdesk` process needs to reach the test database (the password).
    static var commandEnvironment: [String: String] {
        guard isPostgres, let password = ProcessInfo.processInfo.environment["PGPASSWORD"] else { return [:] }
        return ["PGPASSWORD": password]
    }
}

extension TestDatabase {
    /// The database standing for `path` out of reach: new connections refused, open ones closed.
    static func cut(path: String) throws {
        let name = name(for: path)
        try administer("ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
        try administer("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'")
    }

    /// The database standing for `path` reachable again.
    static func restore(path: String) throws {
        try administer("ALTER DATABASE \(name(for: path)) ALLOW_CONNECTIONS true")
    }

    private static func administer(_ sql: String) throws {
        guard let postgres else { return }
        let link = PostgresLink(location: postgres, id: 3000)
        defer { link.close() }
        try link.queue.sync { try link.autocommit(sql) }
    }
}
