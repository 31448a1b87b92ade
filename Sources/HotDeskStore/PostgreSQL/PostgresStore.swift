import Foundation
import HotDeskCore
import Logging
import PostgresNIO
import Synchronization

/// The store on PostgreSQL: the roles of `SQLStore` on `PostgresEngine`, for several HotDesk
/// nodes sharing one database. Opening connects, migrates (once, whichever node comes first)
/// and checks the key, each failure one line.
public final class PostgresStore: SQLStore, @unchecked Sendable {
    let postgres: PostgresEngine
    let side: PostgresSideConnection
    /// Connections that wait for and hold the cluster's locks of logins in progress.
    let holders: PostgresEngine
    let locks: PostgresNodeLocks

    /// Opens the database at `location`. `create`: a database without HotDesk's tables gets them
    /// (`serve`, `import`); otherwise it is refused, as a SQLite file that is not there is.
    public init(location: PostgresLocation, secrets: SecretBox, catalog: PhoneCatalog = .empty, create: Bool = true, connections: Int = 4) throws {
        let engine: PostgresEngine
        do {
            engine = try PostgresEngine(location, size: connections)
        } catch {
            throw PostgresOpenFailure(location: location, error: error)
        }
        postgres = engine
        let side: PostgresSideConnection
        let holders: PostgresEngine
        do {
            try engine.onFirstLink { link in
                try Self.migrate(link, location: location, create: create)
                try link.transaction(begin: "BEGIN ISOLATION LEVEL SERIALIZABLE") { db in (try Self.recordKey(db, secrets: secrets), .commit) }
            }
            side = try PostgresSideConnection(location: location, watchdog: engine.watchdog)
            // One connected now: a login's first lock does not wait for a connection to be made.
            holders = try PostgresEngine(location, size: 4, watchdog: engine.watchdog)
        } catch {
            engine.close()
            throw error is WrongKey || error is SchemaFromNewerVersion || error is NotHotDesk
                ? error : PostgresOpenFailure(location: location, error: error)
        }
        self.side = side
        self.holders = holders
        locks = PostgresNodeLocks(side: side, holders: holders)
        super.init(engine: engine, stamps: PostgresChangeStamps(side: side), secrets: secrets, catalog: catalog)
    }

    deinit {
        postgres.close()
        holders.close()
        side.close()
    }

    override public func withNodeLocks<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        try await locks.withLocks(keys, body)
    }

    override public func unlessAnotherNodeRuns<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await locks.unlessHeld(key, body)
    }

    /// Every later write fails as on a database turned read-only (tests of what the server does then).
    override func refuseWrites() async throws {
        try postgres.onFirstLink { link in
            try link.autocommit("ALTER DATABASE \(Self.quoted(postgres.location.database)) SET default_transaction_read_only = on")
            try link.autocommit(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        }
        postgres.close()
    }

    static func quoted(_ identifier: String) -> String { "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// Applies the migrations this version knows and the database lacks, under an advisory lock
    /// (two nodes started together migrate once); refuses a database a newer version migrated.
    static func migrate(_ link: PostgresLink, location: PostgresLocation, create: Bool) throws {
        try link.transaction(begin: "BEGIN", askingStamp: false) { db in
            try db.execute("SELECT pg_advisory_xact_lock(\(AdvisoryLock.migrations))")
            if !create, try db.value(String.self, "SELECT to_regclass('hotdesk_migrations')::text") == nil {
                throw NotHotDesk(location: location)
            }
            try db.execute(
                "CREATE TABLE IF NOT EXISTS hotdesk_migrations (version bigint PRIMARY KEY, name text NOT NULL, applied_at double precision NOT NULL)"
            )
            let applied = Set(try db.values(Int.self, "SELECT version FROM hotdesk_migrations"))
            if let newest = applied.max(), newest > PostgresSchema.latest {
                throw SchemaFromNewerVersion(location: location, version: newest, known: PostgresSchema.latest)
            }
            for migration in PostgresSchema.migrations where !applied.contains(migration.version) {
                for statement in migration.statements { try db.execute(statement) }
                try db.execute(
                    "INSERT INTO hotdesk_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [migration.version, migration.name, Date().timeIntervalSince1970]
                )
            }
            return ((), .commit)
        }
    }

    /// Advisory lock keys: one per thing only one node does at a time.
    enum AdvisoryLock {
        static let migrations: Int64 = 0x486F_7444_0001
    }

    /// A database without HotDesk's tables, opened by a command that does not create them.
    public struct NotHotDesk: Error, CustomStringConvertible {
        var location: PostgresLocation
        public var description: String {
            "\(location) has no HotDesk tables: pass the database the servers use (--db or HOTDESK_DATABASE_URL); only `serve` and `import` create them"
        }
    }

    /// A database migrated by a newer HotDesk.
    public struct SchemaFromNewerVersion: Error, CustomStringConvertible {
        var location: PostgresLocation
        var version: Int
        var known: Int
        public var description: String {
            "\(location) has schema version \(version), made by a newer HotDesk (this one knows up to \(known)): run that version, or restore a backup"
        }
    }
}

/// Why a database could not be opened, in one line: the address, then PostgreSQL's own reason.
public struct PostgresOpenFailure: Error, CustomStringConvertible {
    var location: PostgresLocation
    var error: any Error

    public var description: String {
        "cannot open \(location): \(PostgresOpenFailure.reason(error))"
    }

    static func reason(_ error: any Error) -> String {
        let failure: PostgresFailure
        switch error {
        case let known as PostgresFailure: failure = known
        case let psql as PSQLError: failure = PostgresFailure(psql)
        default: return "\(error)"
        }
        switch failure.state {
        case "28P01", "28000": return "\(failure.message) (check HOTDESK_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass)"
        case "3D000": return "\(failure.message) (make it first: createdb, or CREATE DATABASE)"
        default: return failure.message
        }
    }
}

/// A connection of a store's own beside its engine's, for the statements every request makes
/// (the change stamps) and the cluster's locks: one statement at a time per caller, callers
/// pipelined on it without a thread of their own; made again when the server closed it.
final class PostgresSideConnection: @unchecked Sendable {
    private let location: PostgresLocation
    private let watchdog: PostgresWatchdog
    private let connection = Mutex<PostgresConnection?>(nil)
    private let logger: Logger

    init(location: PostgresLocation, watchdog: PostgresWatchdog) throws {
        self.location = location
        self.watchdog = watchdog
        var logger = Logger(label: "hotdesk.postgres.side")
        logger.logLevel = .critical
        self.logger = logger
        let first = try PostgresSession.wait(location.connect(id: 1000, logger: logger))
        connection.withLock { $0 = first }
    }

    /// Closes the connection without waiting (it may be called on an event loop or a link's queue).
    func close() {
        let last = connection.withLock { c in
            defer { c = nil }
            return c
        }
        // Kept until closed (PostgresNIO asserts a connection is closed before it goes).
        guard let last else { return }
        last.close().whenComplete { _ in withExtendedLifetime(last) {} }
    }

    /// The open connection, or a new one when the server closed it (requests that find it
    /// closed together may each connect: the first to finish is kept, the others closed).
    private func open() async throws -> PostgresConnection {
        if let live = connection.withLock({ $0 }), !live.isClosed { return live }
        do {
            let new = try await location.connect(id: 1000, logger: logger).get()
            let (kept, spare) = connection.withLock { current -> (PostgresConnection, PostgresConnection?) in
                if let current, !current.isClosed { return (current, new) }
                defer { current = new }
                return (new, current)
            }
            if let spare { try? await spare.close() }
            return kept
        } catch let error as PSQLError {
            throw PostgresFailure(error)
        }
    }

    /// The first row of one statement (one statement is one snapshot: no transaction needed).
    func row(_ sql: String, _ arguments: SQLArguments = []) async throws -> SQLRow? {
        try await rows(sql, arguments).first
    }

    /// The rows of one statement.
    func rows(_ sql: String, _ arguments: SQLArguments = []) async throws -> [SQLRow] {
        let live = try await open()
        let result = try await watchdog.value(live.query(PostgresStatements.query(sql, arguments), logger: logger), on: live)
        return try PostgresSession.rows(result)
    }
}

/// PostgreSQL's change stamps: the same counters as SQLite's (`shared_changes`, `device_changes`),
/// read on the store's side connection. A commit of any node is seen by the next reading: every
/// request waits for a reading that started after it asked (`PostgresStampReader`).
struct PostgresChangeStamps: ChangeStamps {
    let side: PostgresSideConnection
    let reader: PostgresStampReader

    init(side: PostgresSideConnection) {
        self.side = side
        reader = PostgresStampReader(side: side)
    }

    func shared() async throws -> Int {
        try await reader.read(nil).shared
    }

    func stamp(of mac: MACAddress) async throws -> ChangeStamp {
        try await reader.read(mac)
    }

    /// Moves whenever any transaction of the cluster that wrote completes.
    func commits() async throws -> Int {
        try await side.row("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").map { $0[0] } ?? 0
    }
}

/// Stamp readings in batches: the requests that ask while a reading is on the wire wait for the
/// next one, which reads the shared stamp and every phone they asked about in one statement (one
/// snapshot). A reading never starts before a request that it answers, so it sees every commit
/// made before that request — on any node — as a reading per request would; under load the side
/// connection carries one statement per round trip instead of one per request (1,900 config
/// GETs/s over 64 connections, one per request, was the side connection's round trips).
final class PostgresStampReader: Sendable {
    private typealias Waiter = (mac: MACAddress?, continuation: CheckedContinuation<ChangeStamp, any Error>)
    private let waiting = Mutex<(waiters: [Waiter], reading: Bool)>(([], false))
    private let side: PostgresSideConnection

    init(side: PostgresSideConnection) { self.side = side }

    /// The shared stamp and, for `mac`, the phone's own (0 for a phone never changed).
    func read(_ mac: MACAddress?) async throws -> ChangeStamp {
        try await withCheckedThrowingContinuation { continuation in
            let start = waiting.withLock { state -> Bool in
                state.waiters.append((mac, continuation))
                defer { state.reading = true }
                return !state.reading
            }
            if start { Task { await self.readWhileAsked() } }
        }
    }

    private func readWhileAsked() async {
        while true {
            let batch = waiting.withLock { state -> [Waiter] in
                defer { state.waiters = [] }
                if state.waiters.isEmpty { state.reading = false }
                return state.waiters
            }
            guard !batch.isEmpty else { return }
            do {
                let stamps = try await readNow(Set(batch.compactMap(\.mac)))
                for waiter in batch {
                    waiter.continuation.resume(returning: ChangeStamp(shared: stamps.shared, device: waiter.mac.flatMap { stamps.devices[$0] } ?? 0))
                }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
    }

    /// One statement; MACs inlined as their canonical text (12 hex digits, nothing to escape).
    private func readNow(_ macs: Set<MACAddress>) async throws -> (shared: Int, devices: [MACAddress: Int]) {
        var sql = "SELECT '' AS mac, n FROM shared_changes WHERE id = 1"
        if !macs.isEmpty {
            sql += " UNION ALL SELECT mac, n FROM device_changes WHERE mac IN (" + macs.map { "'\($0.canonical)'" }.joined(separator: ", ") + ")"
        }
        var shared = -1
        var devices: [MACAddress: Int] = [:]
        for row in try await side.rows(sql) {
            let mac: String = row["mac"]
            if mac.isEmpty { shared = row["n"] } else if let key = MACAddress(mac) { devices[key] = row["n"] }
        }
        return (shared, devices)
    }
}

/// The cluster's locks: PostgreSQL's session advisory locks, keyed by a number made from each
/// key's text. A login's keys are waited for in one order (no two nodes wait on each other) on a
/// connection kept for it while it runs (`holders`): PostgreSQL queues the waiters, so nodes
/// take turns (polling let one node's queue starve the other's). A wait is bounded by the
/// statement deadline (a node that hangs holding one fails the request rather than block it for
/// good), and a lost connection gives its locks back (PostgreSQL's own rule): a node that dies
/// holds nothing. A sweep only tries its lock, on the side connection, and skips its turn.
struct PostgresNodeLocks: Sendable {
    let side: PostgresSideConnection
    let holders: PostgresEngine

    /// A key's lock number: FNV-1a of its text (two keys sharing one only wait on each other).
    static func number(_ key: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "hotdesk:\(key)".utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int64(bitPattern: hash)
    }

    func withLocks<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        let numbers = Set(keys.map(Self.number)).sorted()
        return try await holders.holdingLink { link in
            do {
                // One statement, one round trip: its locks are taken left to right, in order.
                try await link.run("SELECT " + numbers.map { "pg_advisory_lock(\($0))" }.joined(separator: ", "))
                let result = try await body()
                try? await link.run("SELECT pg_advisory_unlock_all()")
                return result
            } catch {
                try? await link.run("SELECT pg_advisory_unlock_all()")
                throw error
            }
        }
    }

    func unlessHeld<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        let number = Self.number(key)
        let taken: Bool? = try await side.row("SELECT pg_try_advisory_lock(?)", [number])?[0]
        guard taken == true else { return nil }
        do {
            let result = try await body()
            _ = try? await side.row("SELECT pg_advisory_unlock(?)", [number])
            return result
        } catch {
            _ = try? await side.row("SELECT pg_advisory_unlock(?)", [number])
            throw error
        }
    }
}

/// Databases made and dropped on a cluster (the tests' one database each; `hotdesk db copy`'s target).
public enum PostgresDatabases {
    /// Creates database `name` (letters, digits and `_`) on the cluster `admin` connects to,
    /// unless it exists.
    public static func create(_ name: String, on admin: PostgresLocation) throws {
        try run(admin, "CREATE DATABASE \(try identifier(name))", ignoring: "42P04")
    }

    /// Drops database `name`, closing whatever is still connected to it.
    public static func drop(_ name: String, on admin: PostgresLocation) throws {
        try run(admin, "DROP DATABASE IF EXISTS \(try identifier(name)) WITH (FORCE)", ignoring: nil)
    }

    /// The databases on the cluster `admin` connects to whose names begin with `prefix`, sorted.
    public static func named(startingWith prefix: String, on admin: PostgresLocation) throws -> [String] {
        let link = PostgresLink(location: admin, id: 2001)
        defer { link.close() }
        return try link.queue.sync {
            try link.alone { db in
                try db.values(String.self, "SELECT datname::text FROM pg_database WHERE starts_with(datname::text, ?) ORDER BY 1", [prefix])
            }
        }
    }

    private static func identifier(_ name: String) throws -> String {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw PostgresLocation.Problem(description: "not a database name HotDesk makes: \(name)")
        }
        return name
    }

    private static func run(_ admin: PostgresLocation, _ sql: String, ignoring state: String?) throws {
        let link = PostgresLink(location: admin, id: 2000)
        defer { link.close() }
        try link.queue.sync {
            do { try link.autocommit(sql) } catch let error as PostgresFailure where state != nil && error.state == state {}
        }
    }
}

extension PostgresLocation {
    /// The same server and user, another database.
    public func database(_ name: String) -> PostgresLocation {
        var location = self
        location.database = name
        return location
    }
}
