// PostgreSQL's floor (issue 23): the CPU one statement costs a client process through PostgresNIO,
// 64 tasks at a time over 4 connections, asked two ways:
//  - as HotDesk's store asks today: the statement is sent from a connection's own serial queue,
//    whose thread blocks on the answer (`EventLoopFuture.wait`), the task resumed after;
//  - awaited by the task itself (`try await query`), no thread between it and the event loop.
// The difference is what running the store's role code as async code on the event loop would
// save per statement. Runs when HOTDESK_FLOOR_POSTGRES names a database (scripts/postgres's).
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

func postgresFloor(_ url: String) async throws {
    guard let parts = URLComponents(string: url), let host = parts.host, let user = parts.user else {
        print("HOTDESK_FLOOR_POSTGRES: postgres://user@host:port/database")
        return
    }
    let configuration = PostgresConnection.Configuration(
        host: host,
        port: parts.port ?? 5432,
        username: user,
        password: ProcessInfo.processInfo.environment["PGPASSWORD"],
        database: String(parts.path.dropFirst()),
        tls: .disable
    )
    let logger = Logger(label: "floor")
    var connections: [PostgresConnection] = []
    for id in 0..<4 {
        connections.append(
            try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(),
                configuration: configuration,
                id: id,
                logger: logger
            )
        )
    }
    _ = try await connections[0].query("DROP TABLE IF EXISTS floor_devices", logger: logger)
    _ = try await connections[0].query("CREATE TABLE floor_devices (mac text PRIMARY KEY, n bigint, name text)", logger: logger)
    _ = try await connections[0].query(
        "INSERT INTO floor_devices SELECT lpad(to_hex(i), 12, '0'), 0, 'phone ' || i FROM generate_series(0, 999) AS i",
        logger: logger
    )
    // Operation i uses connection i % 4: its queue (one statement at a time, as a store's link),
    // or PostgresNIO's own queue of the connection's statements.
    let queues = (0..<4).map { DispatchQueue(label: "floor.\($0)") }
    let links = connections
    print("PostgreSQL's floor (PostgresNIO, 4 connections), 64 tasks at a time, one statement each:")
    try await run("  read one row by key, from a connection's queue (the store today)", ops: 20_000) { i in
        let connection = links[i % 4]
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queues[i % 4].async {
                continuation.resume(
                    with: Result {
                        _ = try connection.query("SELECT * FROM floor_devices WHERE mac = \(String(format: "%012x", i % 1000))", logger: logger)
                            .wait()
                    }
                )
            }
        }
    }
    try await run("  read one row by key, awaited by the task", ops: 20_000) { i in
        _ = try await links[i % 4].query("SELECT * FROM floor_devices WHERE mac = \(String(format: "%012x", i % 1000))", logger: logger)
    }
    _ = try await connections[0].query("DROP TABLE floor_devices", logger: logger)
    for connection in connections { try await connection.close() }
}
