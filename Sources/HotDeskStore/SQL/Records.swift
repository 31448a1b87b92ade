import Foundation
import HotDeskCore

// The rows of the tables the store maps most: each names its columns and converts to and from
// the core value. Times are stored as seconds since 1970 (a double), as every table of the
// schema does. Written by hand (no `Codable`): push jobs and audit rows are written on every
// login and for every phone a change reaches.

/// A row of `push_jobs`: the outbox.
struct PushJobRecord {
    var id: Int64?
    var mac: String
    var action: String
    var reason: String
    var state: String
    var attempts: Int
    var lastError: String?
    var configHash: String
    var altConfigHash: String?
    var actor: String
    var createdAt: Double
    var updatedAt: Double
    var dueAt: Double
    var sentAt: Double?
    var appliedAt: Double?
    var message: String?

    init(_ job: PushJob) {
        id = job.id == 0 ? nil : job.id
        mac = job.mac.canonical
        action = job.action.rawValue
        reason = job.reason.rawValue
        state = job.state.rawValue
        attempts = job.attempts
        lastError = job.lastError
        configHash = job.configHash
        altConfigHash = job.altConfigHash
        actor = job.actor
        createdAt = job.createdAt.timeIntervalSince1970
        updatedAt = job.updatedAt.timeIntervalSince1970
        dueAt = job.dueAt.timeIntervalSince1970
        sentAt = job.sentAt?.timeIntervalSince1970
        appliedAt = job.appliedAt?.timeIntervalSince1970
        message = job.message
    }

    /// Inserts the job as a new row; returns its id.
    func insert(_ db: any SQLDatabase) throws -> Int64 {
        let sql = """
            INSERT INTO push_jobs (mac, action, reason, state, attempts, last_error, config_hash, alt_config_hash, actor, created_at,
                                   updated_at, due_at, sent_at, applied_at, message)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """
        let arguments: SQLArguments = [
            mac, action, reason, state, attempts, lastError, configHash, altConfigHash, actor, createdAt, updatedAt, dueAt, sentAt, appliedAt,
            message,
        ]
        guard let id = try db.value(Int64.self, sql, arguments) else { throw SQLStoreFailure("push job inserted without an id") }
        return id
    }

    init(row: SQLRow) {
        id = row["id"]
        mac = row["mac"]
        action = row["action"]
        reason = row["reason"]
        state = row["state"]
        attempts = row["attempts"]
        lastError = row["last_error"]
        configHash = row["config_hash"]
        altConfigHash = row["alt_config_hash"]
        actor = row["actor"]
        createdAt = row["created_at"]
        updatedAt = row["updated_at"]
        dueAt = row["due_at"]
        sentAt = row["sent_at"]
        appliedAt = row["applied_at"]
        message = row["message"]
    }

    /// `nil` for a row this version cannot read (an action or state from a newer one).
    var job: PushJob? {
        guard let mac = MACAddress(mac), let action = PushAction(rawValue: action), let reason = PushReason(rawValue: reason),
            let state = PushState(rawValue: state)
        else { return nil }
        return PushJob(
            id: id ?? 0,
            mac: mac,
            action: action,
            reason: reason,
            state: state,
            attempts: attempts,
            lastError: lastError,
            configHash: configHash,
            actor: actor,
            createdAt: Date(timeIntervalSince1970: createdAt),
            updatedAt: Date(timeIntervalSince1970: updatedAt),
            dueAt: Date(timeIntervalSince1970: dueAt),
            sentAt: sentAt.map(Date.init(timeIntervalSince1970:)),
            appliedAt: appliedAt.map(Date.init(timeIntervalSince1970:)),
            message: message,
            altConfigHash: altConfigHash
        )
    }
}

/// A row of `sessions`: who is logged in on which phone.
struct SessionRecord {
    var mac: String
    var `extension`: String
    var network: String
    var credential: String
    var startedAt: Double
    var source: String?

    init(_ session: Session) {
        mac = session.mac.canonical
        self.extension = session.extensionNumber
        network = session.network.rawValue
        credential = session.credential.rawValue
        startedAt = session.startedAt.timeIntervalSince1970
        source = session.source
    }

    init(row: SQLRow) {
        mac = row["mac"]
        self.extension = row["extension"]
        network = row["network"]
        credential = row["credential"]
        startedAt = row["started_at"]
        source = row["source"]
    }

    func insert(_ db: any SQLDatabase) throws {
        try db.execute(
            "INSERT INTO sessions (mac, extension, network, credential, started_at, source) VALUES (?, ?, ?, ?, ?, ?)",
            [mac, self.extension, network, credential, startedAt, source]
        )
        // Not a column the device's triggers watch: the session itself moves its stamp.
        try db.execute("UPDATE devices SET last_user = ? WHERE mac = ?", [self.extension, mac])
    }

    var session: Session? {
        guard let mac = MACAddress(mac), let network = Network(rawValue: network), let credential = Credential(rawValue: credential) else {
            return nil
        }
        return Session(
            mac: mac,
            extensionNumber: self.extension,
            network: network,
            credential: credential,
            startedAt: Date(timeIntervalSince1970: startedAt),
            source: source
        )
    }
}

/// A row of `audit`.
struct AuditRecord {
    var id: Int64?
    var at: Double
    var actor: String
    var action: String
    var mac: String?
    var `extension`: String?
    var source: String?
    var outcome: String
    var detail: String

    init(_ entry: AuditEntry) {
        at = entry.at.timeIntervalSince1970
        actor = entry.actor
        action = entry.action.rawValue
        mac = entry.mac?.canonical
        self.extension = entry.extensionNumber
        source = entry.source
        outcome = entry.outcome.rawValue
        detail = entry.detail
    }

    init(row: SQLRow) {
        id = row["id"]
        at = row["at"]
        actor = row["actor"]
        action = row["action"]
        mac = row["mac"]
        self.extension = row["extension"]
        source = row["source"]
        outcome = row["outcome"]
        detail = row["detail"]
    }

    func insert(_ db: any SQLDatabase) throws {
        try db.execute(
            "INSERT INTO audit (at, actor, action, mac, extension, source, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [at, actor, action, mac, self.extension, source, outcome, detail]
        )
    }

    var entry: AuditEntry? {
        guard let action = AuditEntry.Action(rawValue: action), let outcome = AuditEntry.Outcome(rawValue: outcome) else { return nil }
        return AuditEntry(
            at: Date(timeIntervalSince1970: at),
            actor: actor,
            action: action,
            mac: mac.flatMap { MACAddress($0) },
            extensionNumber: self.extension,
            source: source,
            outcome: outcome,
            detail: detail
        )
    }
}
