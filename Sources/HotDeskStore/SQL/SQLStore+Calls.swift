import Foundation
import HotDeskCore

// Calls the PBX reports, and the logouts that wait for them.
extension SQLStore {
    public func callStarted(callID: String, mac: MACAddress, at: Date, forgetBefore: Date) async throws {
        try await engine.write { db in
            try db.execute("DELETE FROM calls WHERE started_at < ?", [forgetBefore.timeIntervalSince1970])
            try db.execute(
                "INSERT INTO calls (call_id, mac, started_at) VALUES (?, ?, ?) ON CONFLICT (call_id, mac) DO NOTHING",
                [callID, mac.canonical, at.timeIntervalSince1970]
            )
        }
    }

    public func callEnded(callID: String, at: Date) async throws -> [MACAddress] {
        try await engine.write { db in
            let macs = try db.values(String.self, "SELECT mac FROM calls WHERE call_id = ?", [callID]).compactMap(MACAddress.init)
            try db.execute("DELETE FROM calls WHERE call_id = ?", [callID])
            for mac in macs { try Self.noteActivity(mac, at: at, db) }
            return macs
        }
    }

    public func callsEnded(on macs: [MACAddress], at: Date) async throws -> [MACAddress] {
        guard !macs.isEmpty else { return [] }
        return try await engine.write { db in
            var ended: [MACAddress] = []
            for mac in macs where try !db.values(String.self, "SELECT call_id FROM calls WHERE mac = ?", [mac.canonical]).isEmpty {
                try db.execute("DELETE FROM calls WHERE mac = ?", [mac.canonical])
                try Self.noteActivity(mac, at: at, db)
                ended.append(mac)
            }
            return ended
        }
    }

    public func phonesOnCalls(since: Date) async throws -> [MACAddress: Date] {
        var phones: [MACAddress: Date] = [:]
        for row in try await engine.rows(
            "SELECT mac, MIN(started_at) AS since FROM calls WHERE started_at >= ? GROUP BY mac",
            [since.timeIntervalSince1970]
        ) {
            if let mac = MACAddress(row["mac"] as String) { phones[mac] = Date(timeIntervalSince1970: row["since"]) }
        }
        return phones
    }

    public func addWaitingLogout(_ logout: WaitingLogout) async throws {
        try await engine.write { db in
            try db.execute(
                """
                INSERT INTO waiting_logouts (mac, session_started_at, actor, requested_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (mac) DO UPDATE SET session_started_at = excluded.session_started_at, actor = excluded.actor,
                requested_at = excluded.requested_at
                """,
                [
                    logout.mac.canonical, logout.sessionStartedAt.timeIntervalSince1970, logout.actor,
                    logout.requestedAt.timeIntervalSince1970,
                ]
            )
        }
    }

    public func waitingLogouts() async throws -> [WaitingLogout] {
        try await engine.rows("SELECT * FROM waiting_logouts ORDER BY requested_at", []).compactMap { row in
            MACAddress(row["mac"] as String).map {
                WaitingLogout(
                    mac: $0,
                    sessionStartedAt: Date(timeIntervalSince1970: row["session_started_at"]),
                    actor: row["actor"],
                    requestedAt: Date(timeIntervalSince1970: row["requested_at"])
                )
            }
        }
    }

    public func removeWaitingLogout(mac: MACAddress) async throws {
        try await engine.write { db in try db.execute("DELETE FROM waiting_logouts WHERE mac = ?", [mac.canonical]) }
    }

    public func noteActivity(mac: MACAddress, at: Date) async throws {
        try await engine.write { db in try Self.noteActivity(mac, at: at, db) }
    }

    static func noteActivity(_ mac: MACAddress, at: Date, _ db: any SQLDatabase) throws {
        try db.execute(
            "INSERT INTO phone_activity (mac, at) VALUES (?, ?) ON CONFLICT (mac) DO UPDATE SET at = excluded.at",
            [mac.canonical, at.timeIntervalSince1970]
        )
    }

    public func lastActivity() async throws -> [MACAddress: Date] {
        var phones: [MACAddress: Date] = [:]
        for row in try await engine.rows("SELECT mac, at FROM phone_activity", []) {
            if let mac = MACAddress(row["mac"] as String) { phones[mac] = Date(timeIntervalSince1970: row["at"]) }
        }
        return phones
    }
}
