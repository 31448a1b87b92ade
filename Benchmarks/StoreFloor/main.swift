// The store's floor (issue 12): the CPU one GRDB async read and one async write transaction cost
// on their own, 64 at a time, in WAL with synchronous=NORMAL as HotDesk opens its database — the
// thread hops to GRDB's queues and back, SQLite, the commit. A login+logout cycle makes ≈ 14 such
// calls; with the renders and the HTTP requests this bounds the logins a machine can do. The read
// also on the task's own thread (GRDB's synchronous read, no hop): on 2026-12-04 it cost as much
// as the async one (38–42 µs against 40–43), the hop is not where a read's time goes. Not a
// product: built only by the benchmark. Usage: [HOTDESK_FLOOR_POSTGRES=postgres://…] store-floor
// (PostgresFloor.swift: the same for one PostgreSQL statement when a database is named)
import Foundation
import GRDB

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let path = NSTemporaryDirectory() + "floor-\(UUID().uuidString).sqlite"
var config = Configuration()
config.busyMode = .timeout(5)
config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
let pool = try DatabasePool(path: path, configuration: config)
try await pool.write { db in
    try db.execute(sql: "CREATE TABLE devices (mac TEXT PRIMARY KEY, n INTEGER, name TEXT)")
    try db.execute(sql: "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at DOUBLE, mac TEXT, detail TEXT)")
    for i in 0..<1000 { try db.execute(sql: "INSERT INTO devices VALUES (?, 0, ?)", arguments: [String(format: "%012x", i), "phone \(i)"]) }
}

func run(_ label: String, ops: Int, concurrency: Int = 64, _ op: @escaping @Sendable (Int) async throws -> Void) async throws {
    let start = cpuSeconds()
    let wall = Date()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                for i in stride(from: worker, to: ops, by: concurrency) { try await op(i) }
            }
        }
        try await group.waitForAll()
    }
    let cpu = cpuSeconds() - start
    print(
        "\(label): \(String(format: "%.1f", cpu / Double(ops) * 1e6)) µs CPU per op, \(String(format: "%.0f", Double(ops) / Date().timeIntervalSince(wall))) ops/s"
    )
}

print(
    "the store's floor (GRDB, SQLite \(Database.sqliteLibVersionNumber / 1_000_000).\(Database.sqliteLibVersionNumber / 1000 % 1000), WAL, synchronous=NORMAL), 64 tasks at a time:"
)
do {
    try await run("  read one row by key", ops: 100_000) { i in
        _ = try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM devices WHERE mac = ?"), arguments: [String(format: "%012x", i % 1000)])
        }
    }
    // The same read on the task's own thread (GRDB's synchronous read): no hop to a reader queue
    // and back. A WAL reader never waits for the writer, so it blocks only for its own work.
    try await run("  read one row by key, on the task's thread", ops: 100_000) { i in
        _ = try pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM devices WHERE mac = ?"), arguments: [String(format: "%012x", i % 1000)])
        }
    }
    try await run("  write: update a row, insert an audit row", ops: 50_000) { i in
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE devices SET n = n + 1 WHERE mac = ?").execute(arguments: [String(format: "%012x", i % 1000)])
            try db.cachedStatement(sql: "INSERT INTO audit (at, mac, detail) VALUES (?, ?, ?)").execute(arguments: [
                Date().timeIntervalSince1970, "x", "login of 5501 on the phone",
            ])
        }
    }
    try await run("  one write to two reads (the reads after a commit)", ops: 60_000) { i in
        if i % 3 == 0 {
            try await pool.write { db in
                try db.cachedStatement(sql: "UPDATE devices SET n = n + 1 WHERE mac = ?").execute(arguments: [String(format: "%012x", i % 1000)])
            }
        } else {
            _ = try await pool.read { db in
                try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM devices WHERE mac = ?"), arguments: [String(format: "%012x", i % 1000)])
            }
        }
    }
}
if let url = ProcessInfo.processInfo.environment["HOTDESK_FLOOR_POSTGRES"], !url.isEmpty { try await postgresFloor(url) }
try? FileManager.default.removeItem(atPath: path)
try? FileManager.default.removeItem(atPath: path + "-wal")
try? FileManager.default.removeItem(atPath: path + "-shm")
