import Foundation
import HotDeskCore
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// Where a PostgreSQL database is: `postgres://USER@HOST:PORT/DATABASE` (or `postgresql://`), a
/// unix socket's folder as `?host=/run/postgresql`. The password is never in the URL (a command
/// line is seen by every user of the machine): it comes from a file
/// (`HOTDESK_DATABASE_PASSWORD_FILE`), `PGPASSWORD`, or `~/.pgpass` (`PGPASSFILE`) as libpq reads
/// them; none at all for `trust` or `peer` authentication.
public struct PostgresLocation: Sendable, CustomStringConvertible {
    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    /// The socket's folder, when the URL names one (`?host=/path`).
    public var socketFolder: String?
    /// Seconds a statement may wait for its answer before its connection is given up
    /// (`PostgresDeadline`): HotDesk's statements take milliseconds; half a minute is a server
    /// or a network that stopped answering.
    public var deadline: Int64 = 30
    var password: String?

    /// Whether `text` is meant as a PostgreSQL URL (anything else passed as `--db` is a SQLite file).
    public static func isURL(_ text: String) -> Bool { text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") }

    /// A URL that cannot be used, in one line.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard Self.isURL(text), let url = URLComponents(string: text), let host = url.host ?? (url.queryItems?.isEmpty == false ? "" : nil)
        else {
            throw Problem(description: "not a PostgreSQL URL: \(Self.redacted(text)) (postgres://USER@HOST:PORT/DATABASE)")
        }
        if url.password != nil {
            throw Problem(
                description: "the database URL carries a password: leave it out (a command line is seen by every user) and put it in "
                    + "HOTDESK_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass"
            )
        }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw Problem(description: "the database URL names no database: \(Self.redacted(text)) (postgres://USER@HOST:PORT/DATABASE)")
        }
        let socket = url.queryItems?.first { $0.name == "host" }?.value
        if let unknown = url.queryItems?.first(where: { $0.name != "host" }) {
            throw Problem(description: "the database URL has an option HotDesk does not know: \(unknown.name) (known: host=SOCKET_FOLDER)")
        }
        self.user = url.user ?? environment["PGUSER"] ?? environment["USER"] ?? "postgres"
        self.host = host.isEmpty ? (socket ?? "localhost") : host
        self.port = url.port ?? 5432
        self.database = database
        self.socketFolder = socket.flatMap { $0.hasPrefix("/") ? $0 : nil }
        self.password = try Self.password(user: user, host: self.host, port: port, database: database, environment: environment)
    }

    public var description: String {
        "postgres://\(user)@\(socketFolder == nil ? host : "")\(socketFolder == nil ? ":\(port)" : "")/\(database)"
            + (socketFolder.map { "?host=\($0)" } ?? "")
    }

    var configuration: PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketFolder {
            configuration = .init(unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// A new connection to this database (every connection HotDesk makes goes through here).
    func connect(id: Int, logger: Logger) -> EventLoopFuture<PostgresConnection> {
        PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id, logger: logger)
    }

    /// The URL as it may be printed: a password, if one was typed, replaced.
    static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "***"
        return url.string ?? "the URL"
    }

    /// libpq's order: a password file of HotDesk's own, `PGPASSWORD`, then the first matching
    /// line of `~/.pgpass` (`host:port:database:user:password`, `*` matches anything).
    static func password(user: String, host: String, port: Int, database: String, environment: [String: String]) throws -> String? {
        if let file = environment["HOTDESK_DATABASE_PASSWORD_FILE"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw Problem(description: "cannot read the database password file \(file) (HOTDESK_DATABASE_PASSWORD_FILE)")
            }
            return text.trimmingCharacters(in: .newlines)
        }
        if let password = environment["PGPASSWORD"] { return password }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let file = environment["PGPASSFILE"] ?? "\(home)/.pgpass"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = passFields(String(line))
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// A `.pgpass` line's fields: `:` separates, `\` escapes.
    private static func passFields(_ line: String) -> [String] {
        var fields = [""]
        var escaped = false
        for ch in line {
            if escaped {
                fields[fields.count - 1].append(ch)
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else if ch == ":" {
                fields.append("")
            } else {
                fields[fields.count - 1].append(ch)
            }
        }
        return fields
    }
}

extension PostgresLocation {
    /// The prefix of the databases of this database's organisations: `<database>_org_`.
    var organisationPrefix: String { database + "_org_" }

    /// Where organisation `name`'s directory is: a database of its own beside this one,
    /// `<database>_org_<name>` (its `-` written `_`, which a name cannot hold), on the same server.
    public func organisation(_ name: String) throws -> PostgresLocation {
        let database = organisationPrefix + name.replacingOccurrences(of: "-", with: "_")
        guard database.utf8.count <= 63 else {
            throw Problem(description: "organisation \(name): its database \(database) would be longer than PostgreSQL's 63 bytes")
        }
        return self.database(database)
    }

    /// The organisations whose databases are beside this one (`organisation(_:)`), by name.
    public func organisationNames() throws -> [String] {
        try PostgresDatabases.named(startingWith: organisationPrefix, on: self).map {
            String($0.dropFirst(organisationPrefix.count)).replacingOccurrences(of: "_", with: "-")
        }
        .filter { Organisation.nameProblem($0) == nil }
    }
}
