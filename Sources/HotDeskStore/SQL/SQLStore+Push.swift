import Foundation
import HotDeskCore
import Synchronization

extension SQLStore {
    public func addPushJobs(_ jobs: [PushJob]) async throws -> [PushJob] {
        guard !jobs.isEmpty else { return [] }
        return try await engine.write { db in try jobs.map { try Self.insert($0, db) } }
    }

    static func insert(_ job: PushJob, _ db: any SQLDatabase) throws -> PushJob {
        var stored = job
        stored.id = try PushJobRecord(job).insert(db)
        // Only config pushes replace each other; a message neither replaces nor is replaced.
        guard job.action.appliesConfig else { return stored }
        try db.execute(OpenPushJobs.supersede, ["job \(stored.id) replaces it", job.createdAt.timeIntervalSince1970, job.mac.canonical, stored.id])
        return stored
    }

    /// A phone's newest push job, by index (not every job of the site).
    static let newestJobSQL = "SELECT * FROM push_jobs WHERE mac = ? ORDER BY id DESC LIMIT 1"

    public func sessionOverview() async throws -> [SessionOverview] {
        let secrets = secretBox
        return try await engine.read { db in
            // Each session's newest job by index (not every job of the site).
            let rows = try db.rows(
                """
                SELECT s.*, e.name AS extension_name, d.model, d.brand, d.token_generation, d.push_port, d.phone_username, d.phone_password_sealed,
                       d.last_address, d.site
                FROM sessions s JOIN devices d ON d.mac = s.mac JOIN extensions e ON e.number = s.extension
                ORDER BY s.started_at
                """
            )
            return try rows.compactMap { row -> SessionOverview? in
                guard let session = Self.session(row) else { return nil }
                let device = try Self.device(row, secrets: secrets, catalog: self.catalog)
                let lastPush = try db.row(Self.newestJobSQL, [session.mac.canonical]).flatMap(Self.pushJob)
                return SessionOverview(session: session, extensionName: row["extension_name"], device: device, lastPush: lastPush)
            }
        }
    }

    public func deviceOverview(_ query: DeviceQuery) async throws -> [DeviceOverview] {
        let secrets = secretBox
        let catalog = self.catalog
        // Each filter given: its condition and the value it binds.
        let filters: [(String, String)] = [
            query.mac.map { ("mac = ?", $0.canonical) }, query.after.map { ("mac > ?", $0.canonical) },
            query.brand.map { ("brand = ?", $0.rawValue) }, query.workspace.map { ("workspace = ?", $0) },
        ].compactMap { $0 }
        var conditions = filters.map(\.0)
        var values: SQLArguments = filters.map(\.1)
        if let sites = query.sites {
            let (condition, arguments) = Self.inSites("site", sites)
            conditions.append(condition)
            values += arguments
        }
        if let loggedIn = query.loggedIn { conditions.append("mac \(loggedIn ? "IN" : "NOT IN") (SELECT mac FROM sessions)") }
        if let never = query.neverFetched { conditions.append("last_config_hash IS \(never ? "" : "NOT ")NULL") }
        let sql =
            "SELECT * FROM devices" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY mac"
            + (query.limit == .max ? "" : " LIMIT \(query.limit)")
        let bound = values
        return try await engine.read { db in
            // Per phone of the page, by index: its newest job, its users, its session.
            try db.rows(sql, bound).map { row in
                var device = try Self.device(row, secrets: secrets, catalog: catalog)
                let key: SQLArguments = [device.mac.canonical]
                device.assignedUsers = try db.values(String.self, "SELECT extension FROM device_users WHERE mac = ? ORDER BY extension", key)
                let session = try db.row(
                    "SELECT s.*, e.name AS extension_name FROM sessions s JOIN extensions e ON e.number = s.extension WHERE s.mac = ?",
                    key
                )
                return DeviceOverview(
                    device: device,
                    lastFetchAt: (row["last_fetch_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    lastConfigHash: row["last_config_hash"],
                    session: session.flatMap(Self.session),
                    sessionName: session?["extension_name"],
                    lastPush: try db.row(Self.newestJobSQL, key).flatMap(Self.pushJob)
                )
            }
        }
    }

    public func sharedLines() async throws -> [SharedLine] {
        try await engine.read { db in
            let members = try db.rows("SELECT * FROM shared_line_members ORDER BY button, extension")
            return try db.rows("SELECT number, name, caller_id, licences, direct_dial FROM shared_lines ORDER BY number").map { row in
                let number: String = row["number"]
                var line = SharedLine(
                    number: number,
                    name: row["name"],
                    sipPassword: "",
                    callerID: row["caller_id"],
                    members: members.filter { ($0["line"] as String) == number }.map {
                        SharedLine.Member(extensionNumber: $0["extension"], button: $0["button"], ring: RingOption($0["ring"] as String) ?? .ring)
                    }
                )
                line.licences = row["licences"]
                line.directDial = row["direct_dial"]
                return line
            }
        }
    }

    public func pushJob(id: Int64) async throws -> PushJob? {
        try await engine.read { db in
            try db.row("SELECT * FROM push_jobs WHERE id = ?", [id]).flatMap(Self.pushJob)
        }
    }

    public func pushJobs(state: PushState?, mac: MACAddress?, ids: ClosedRange<Int64>?, sites: [String]?, limit: Int) async throws -> [PushJob] {
        try await engine.read { db in
            var conditions: [String] = []
            var arguments: SQLArguments = []
            if let sites {
                let (condition, values) = Self.inSites("site", sites)
                conditions.append("mac IN (SELECT mac FROM devices WHERE \(condition))")
                arguments += values
            }
            if let state {
                conditions.append("state = ?")
                arguments += [state.rawValue]
            }
            if let mac {
                conditions.append("mac = ?")
                arguments += [mac.canonical]
            }
            if let ids {
                conditions.append("id BETWEEN ? AND ?")
                arguments += [ids.lowerBound, ids.upperBound]
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            arguments += [limit]
            return try db.rows("SELECT * FROM push_jobs \(filter) ORDER BY id DESC LIMIT ?", arguments).compactMap(
                Self.pushJob
            )
        }
    }

    public func claimDuePushJobs(now: Date, leaseUntil: Date, limit: Int) async throws -> [PushJob] {
        guard limit > 0 else { return [] }
        return try await engine.write { db in
            let due = try db.rows(
                "SELECT * FROM push_jobs WHERE state = 'queued' AND due_at <= ? ORDER BY due_at, id LIMIT ?",
                [now.timeIntervalSince1970, limit]
            ).compactMap(Self.pushJob)
            // The attempt is counted as it is claimed: the phone may fetch the config it pushes
            // (and so apply the job) before the attempt's own outcome is written.
            for job in due {
                try db.execute(
                    "UPDATE push_jobs SET due_at = ?, attempts = attempts + 1 WHERE id = ?",
                    [
                        leaseUntil.timeIntervalSince1970, job.id,
                    ]
                )
            }
            return due.map { job in
                var job = job
                job.attempts += 1
                return job
            }
        }
    }

    public func overdueSentPushJobs(now: Date) async throws -> [PushJob] {
        try await engine.rows("SELECT * FROM push_jobs WHERE state = 'sent' AND due_at <= ? ORDER BY id", [now.timeIntervalSince1970])
            .compactMap(Self.pushJob)
    }

    public func updatePushJob(_ job: PushJob) async throws -> Bool {
        try await engine.write { db in
            // A job the phone applied meanwhile (or that a newer job superseded) stays as it is.
            guard
                let current = try db.row("SELECT * FROM push_jobs WHERE id = ?", [job.id]).flatMap(
                    Self.pushJob
                ),
                current.state.isPending
            else { return false }
            try Self.write(job, db)
            if job.state == .failed {
                try Self.insert(
                    AuditEntry(
                        at: job.updatedAt,
                        actor: "system",
                        action: .push,
                        mac: job.mac,
                        outcome: .failure,
                        detail:
                            "job \(job.id) \(job.action.rawValue) (\(job.reason.rawValue)) failed after \(job.attempts) attempt(s): \(job.lastError ?? "?")"
                    ),
                    db
                )
            }
            return true
        }
    }

    public func nextPushDue() async throws -> Date? {
        try await engine.rows("SELECT MIN(due_at) FROM push_jobs WHERE state IN ('queued', 'sent')", []).first
            .flatMap { Double(sqlValue: $0.values[0]) }.map(Date.init(timeIntervalSince1970:))
    }

    public func addAPIKey(name: String, keyHash: String, kind: APIKeyKind, role: AdminRole, scope: SiteScope, at: Date) async throws {
        try await engine.write { db in
            try db.execute(
                "INSERT INTO api_keys (name, key_hash, created_at, kind, role, sites) VALUES (?, ?, ?, ?, ?, ?)",
                [name, keyHash, at.timeIntervalSince1970, kind.rawValue, role.rawValue, scope.stored]
            )
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: "cli",
                    action: .apiKeyCreated,
                    outcome: .success,
                    detail: kind == .pbx
                        ? "PBX key \"\(name)\"" : "API key \"\(name)\" (role \(role.rawValue)\(scope.isLimited ? ", \(scope.description)" : ""))"
                ),
                db
            )
        }
    }

    public func apiKeys() async throws -> [APIKeyInfo] {
        try await engine.read { db in
            try db.rows("SELECT name, kind, role, sites, created_at, last_used_at FROM api_keys ORDER BY name").map { row in
                var key = APIKeyInfo(
                    name: row["name"],
                    kind: APIKeyKind(rawValue: row["kind"]) ?? .admin,
                    role: AdminRole(rawValue: row["role"]) ?? .auditor,
                    createdAt: Date(timeIntervalSince1970: row["created_at"]),
                    lastUsedAt: (row["last_used_at"] as Double?).map(Date.init(timeIntervalSince1970:))
                )
                key.scope = SiteScope(stored: row["sites"])
                return key
            }
        }
    }

    public func revokeAPIKey(name: String, actor: String, source: String?, at: Date) async throws -> Bool {
        try await engine.write { db in
            guard let kind = try db.value(String.self, "SELECT kind FROM api_keys WHERE name = ?", [name]) else { return false }
            try db.execute("DELETE FROM api_keys WHERE name = ?", [name])
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: actor,
                    action: .apiKeyRevoked,
                    source: source,
                    outcome: .success,
                    detail: "\(kind == APIKeyKind.pbx.rawValue ? "PBX" : "API") key \"\(name)\" revoked"
                ),
                db
            )
            return true
        }
    }

    public func apiKey(hash: String, kind: APIKeyKind, at: Date) async throws -> (name: String, role: AdminRole, scope: SiteScope)? {
        let keys = try await storedAPIKeys()
        // Every stored hash is compared in constant time: no early exit tells how close a guess was.
        var found: StoredAPIKey?
        for key in keys where key.kind == kind.rawValue && ConstantTime.equal(key.hash, hash) { found = key }
        guard let found else { return nil }
        // An unknown role (a newer version's) opens the least.
        let role = AdminRole(rawValue: found.role) ?? .auditor
        // `last_used_at` is kept to the minute: a PBX asks on every call, and a write per request
        // would serialise them all on SQLite's one writer.
        let now = at.timeIntervalSince1970
        let due = apiKeyUseWritten.withLock { written in
            guard (written[found.id] ?? found.lastUsed).map({ now - $0 >= Self.keyUsePrecision }) ?? true else { return false }
            written[found.id] = now
            return true
        }
        if due {
            try await engine.write { db in
                try db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [now, found.id])
            }
        }
        return (found.name, role, SiteScope(stored: found.sites))
    }

    /// Every API and PBX key as stored, read once per change of the shared stamp (the PBX asks
    /// at every registration and call; a revoke, here or by `hotdesk` in another process, moves
    /// the stamp and is seen by the next request).
    private func storedAPIKeys() async throws -> [StoredAPIKey] {
        if let kept = apiKeysMemo.value(at: try? await stamps.shared()) { return kept }
        return try await engine.read { db in
            try self.apiKeysMemo.value(at: db.sharedStamp()) {
                try db.rows("SELECT id, kind, name, role, sites, key_hash, last_used_at FROM api_keys").map {
                    StoredAPIKey(
                        id: $0["id"],
                        kind: $0["kind"],
                        name: $0["name"],
                        role: $0["role"],
                        sites: $0["sites"],
                        hash: $0["key_hash"],
                        lastUsed: $0["last_used_at"]
                    )
                }
            }
        }
    }

    /// How stale an API key's `last_used_at` may be.
    static let keyUsePrecision: TimeInterval = 60

    public func addPushLogin(mac: MACAddress, loginHash: String, expires: Date, now: Date, keepPerPhone: Int) async throws {
        try await engine.write { db in
            try db.execute("DELETE FROM push_logins WHERE expires_at <= ?", [now.timeIntervalSince1970])
            try db.execute(
                "INSERT INTO push_logins (mac, login_hash, expires_at) VALUES (?, ?, ?)",
                [mac.canonical, loginHash, expires.timeIntervalSince1970]
            )
            try db.execute(
                "DELETE FROM push_logins WHERE mac = ? AND id NOT IN (SELECT id FROM push_logins WHERE mac = ? ORDER BY id DESC LIMIT ?)",
                [mac.canonical, mac.canonical, keepPerPhone]
            )
        }
    }

    public func takePushLogin(mac: MACAddress, loginHash: String, now: Date) async throws -> Bool {
        try await engine.write { db in
            try db.execute(
                "DELETE FROM push_logins WHERE mac = ? AND login_hash = ? AND expires_at > ?",
                [mac.canonical, loginHash, now.timeIntervalSince1970]
            )
            return db.changesCount > 0
        }
    }

    public func queueNotify(sent job: PushJob, _ notify: PBXNotify) async throws {
        try await engine.write { db in
            guard try db.row("SELECT * FROM push_jobs WHERE id = ?", [job.id]).flatMap(Self.pushJob)?.state.isPending == true else { return }
            try Self.write(job, db)
            try db.execute("DELETE FROM pbx_notifies WHERE job_id = ?", [notify.jobID])
            try db.execute(
                """
                INSERT INTO pbx_notifies (job_id, mac, users, address, event, body, content_type, queued_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    notify.jobID, notify.mac.canonical, notify.users.joined(separator: ";"), notify.address, notify.event, notify.body,
                    notify.contentType, notify.queuedAt.timeIntervalSince1970,
                ]
            )
        }
    }

    /// `site`: a site's PBX takes only the NOTIFYs of its site's phones (`nil`: any).
    public func takeNotify(now: Date, forgetTakenBefore: Date, site: String?) async throws -> PBXNotify? {
        try await engine.write { db in
            try db.execute("DELETE FROM pbx_notifies WHERE taken_at < ?", [forgetTakenBefore.timeIntervalSince1970])
            try db.execute(
                "INSERT INTO pbx_polls (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                [now.timeIntervalSince1970]
            )
            let next =
                try site.map {
                    try db.row(
                        "SELECT n.* FROM pbx_notifies n JOIN devices d ON d.mac = n.mac WHERE n.taken_at IS NULL AND d.site = ? ORDER BY n.queued_at, n.job_id LIMIT 1",
                        [$0]
                    )
                } ?? db.row("SELECT * FROM pbx_notifies WHERE taken_at IS NULL ORDER BY queued_at, job_id LIMIT 1")
            guard var notify = next.map(Self.notify) else { return nil }
            try db.execute("UPDATE pbx_notifies SET taken_at = ? WHERE job_id = ?", [now.timeIntervalSince1970, notify.jobID])
            notify.takenAt = now
            return notify
        }
    }

    public func answerNotify(jobID: Int64) async throws -> PBXNotify? {
        try await engine.write { db in
            guard let notify = try db.row("SELECT * FROM pbx_notifies WHERE job_id = ? AND taken_at IS NOT NULL", [jobID]).map(Self.notify)
            else { return nil }
            try db.execute("DELETE FROM pbx_notifies WHERE job_id = ?", [jobID])
            return notify
        }
    }

    public func lastPBXPoll() async throws -> Date? {
        try await engine.rows("SELECT at FROM pbx_polls WHERE id = 1", []).first.map { Date(timeIntervalSince1970: $0["at"]) }
    }

    public func notifyWaiting(jobID: Int64) async throws -> Bool {
        try await !engine.rows("SELECT job_id FROM pbx_notifies WHERE job_id = ? AND taken_at IS NULL", [jobID]).isEmpty
    }

    static func notify(_ row: SQLRow) -> PBXNotify {
        PBXNotify(
            jobID: row["job_id"],
            mac: MACAddress(row["mac"] as String) ?? MACAddress("000000000000")!,
            users: (row["users"] as String).split(separator: ";").map(String.init),
            address: row["address"],
            event: row["event"],
            body: row["body"],
            contentType: row["content_type"],
            queuedAt: Date(timeIntervalSince1970: row["queued_at"]),
            takenAt: (row["taken_at"] as Double?).map { Date(timeIntervalSince1970: $0) }
        )
    }

    // MARK: rows

    static func pushJob(_ row: SQLRow) -> PushJob? { PushJobRecord(row: row).job }

    static func write(_ job: PushJob, _ db: any SQLDatabase) throws {
        try db.execute(
            """
            UPDATE push_jobs SET action = ?, state = ?, attempts = ?, last_error = ?, updated_at = ?, due_at = ?, sent_at = ?, applied_at = ?
            WHERE id = ?
            """,
            [
                job.action.rawValue, job.state.rawValue, job.attempts, job.lastError, job.updatedAt.timeIntervalSince1970,
                job.dueAt.timeIntervalSince1970, job.sentAt?.timeIntervalSince1970, job.appliedAt?.timeIntervalSince1970, job.id,
            ]
        )
    }
}

/// An API or PBX key's row: its hash, never the key.
struct StoredAPIKey: Sendable {
    var id: Int64
    var kind: String
    var name: String
    var role: String
    var sites: String?
    var hash: String
    var lastUsed: Double?
}
