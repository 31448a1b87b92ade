import Foundation
import GRDB

/// Online copies of a HotDesk database (SQLite's backup API: consistent while the server runs
/// and writes), and putting one back.
public enum DatabaseBackup {
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    /// What a copy holds, to tell the admin (and to check it is a HotDesk database at all).
    public struct Contents: Sendable, CustomStringConvertible {
        public var extensions = 0
        public var devices = 0
        public var sessions = 0
        public var pushJobs = 0

        public var description: String { "\(extensions) extension(s), \(devices) device(s), \(sessions) session(s), \(pushJobs) push job(s)" }
    }

    /// Copies `database` to `destination` (which must not exist), then checks the copy with
    /// `PRAGMA integrity_check`. Every transaction committed before the copy began is in it.
    public static func backup(database: String, to destination: String) throws -> Contents {
        guard FileManager.default.fileExists(atPath: database) else { throw Problem(description: "no database at \(database)") }
        guard !FileManager.default.fileExists(atPath: destination) else { throw Problem(description: "\(destination) exists: give a new file") }
        var readOnly = Configuration()
        readOnly.readonly = true
        let source = try DatabasePool(path: database, configuration: readOnly)
        do {
            // Readable by its owner only (it holds names, the audit and sealed secrets); a single
            // file (the copy leaves WAL mode, so no -wal or -shm is made beside it).
            try DatabaseFiles.createPrivate(destination)
            let copy = try DatabaseQueue(path: destination)
            try source.backup(to: copy)
            try copy.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try copy.close()
            return try check(destination)
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw error
        }
    }

    /// Checks a copy: SQLite's integrity check, that it holds HotDesk's tables and nothing else
    /// (every table, index, trigger and view exactly as HotDesk's migrations made them, at the
    /// copy's own version: a planted trigger is refused), and, given the key it will be opened
    /// with, that its secrets were sealed with that key.
    public static func check(_ path: String, secrets: SecretBox? = nil) throws -> Contents {
        guard FileManager.default.fileExists(atPath: path) else { throw Problem(description: "no file at \(path)") }
        var readOnly = Configuration()
        readOnly.readonly = true
        return try DatabaseQueue(path: path, configuration: readOnly).read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            guard integrity == ["ok"] else {
                throw Problem(description: "\(path) fails SQLite's integrity check: \(integrity.prefix(3).joined(separator: "; "))")
            }
            guard try db.tableExists("extensions"), try db.tableExists("devices"), try db.tableExists("sessions") else {
                throw Problem(description: "\(path) is not a HotDesk database")
            }
            if let unexpected = try unexpectedSchema(db) { throw Problem(description: "\(path) is not as HotDesk made it: \(unexpected)") }
            if let secrets {
                do { try SQLiteStore.checkKeyReadOnly(GRDBConnection(db: db), secrets: secrets) } catch let wrong as SQLiteStore.WrongKey {
                    throw Problem(description: "\(path) was made with another key: \(wrong)")
                }
            }
            var contents = Contents()
            contents.extensions = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM extensions") ?? 0
            contents.devices = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM devices") ?? 0
            contents.sessions = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sessions") ?? 0
            contents.pushJobs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM push_jobs") ?? 0
            return contents
        }
    }

    /// Puts a copy back as `database` (replacing it). The caller makes sure no server uses it
    /// (`ServerLock`).
    public static func restore(_ copy: String, as database: String, secrets: SecretBox? = nil) throws -> Contents {
        let contents = try check(copy, secrets: secrets)
        try DatabaseFiles.createPrivate(database)
        DatabaseFiles.restrict(database)
        try DatabaseQueue(path: copy).backup(to: try DatabaseQueue(path: database))
        return contents
    }
}

/// Held by `hotdesk serve` for as long as it runs (an `flock` on `<db>.lock`, released by the
/// kernel however the process ends): `restore` refuses a database a server is using.
public final class ServerLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock, or returns `nil` when another process holds it.
    public init?(database: String) throws {
        let path = database + ".lock"
        let fd = Foundation.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DatabaseBackup.Problem(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
    }

    deinit { close(descriptor) }
}

extension DatabaseBackup {
    /// What in `db`'s schema HotDesk's migrations did not make, at the migrations `db` has
    /// applied (a copy from an older version is compared with that version's schema).
    static func unexpectedSchema(_ db: Database) throws -> String? {
        let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        let expected = try DatabaseQueue()
        let migrator = SQLiteStore.migrator
        guard let last = migrator.migrations.last(where: applied.contains) else { return "no HotDesk migration is recorded" }
        try migrator.migrate(expected, upTo: last)
        let query = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'"
        func objects(_ db: Database) throws -> [String: String] {
            Dictionary(try Row.fetchAll(db, sql: query).map { ("\($0["type"] as String) \($0["name"] as String)", ($0["sql"] as String?) ?? "") }) {
                a,
                _ in a
            }
        }
        let have = try objects(db)
        let want = try expected.read(objects)
        if let extra = have.keys.sorted().first(where: { want[$0] == nil }) { return "\(extra) is not one of HotDesk's" }
        if let changed = have.keys.sorted().first(where: { want[$0] != have[$0] }) { return "\(changed) differs from HotDesk's" }
        return nil
    }
}

/// The files of a database: readable and writable by their owner only.
public enum DatabaseFiles {
    /// Makes `path` an empty file with mode 0600 if it does not exist (SQLite takes an empty file
    /// as a new database; its -wal and -shm are then made with the same mode).
    public static func createPrivate(_ path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw DatabaseBackup.Problem(description: "cannot create \(path): the folder is missing or not writable")
        }
    }

    /// Sets mode 0600 on the database and its -wal and -shm, where they exist (a database made
    /// by an earlier version was readable by every local user).
    public static func restrict(_ path: String) {
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
    }
}
