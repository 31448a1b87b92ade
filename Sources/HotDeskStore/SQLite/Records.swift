import Foundation
import GRDB
import HotDeskCore

// GRDB record types of the tables the store maps most: each names its columns (snake case from
// the property names) and converts to and from the core value. Times are stored as seconds since
// 1970 (REAL), as every table of the schema does. The rows written on hot paths (push jobs, audit)
// encode by hand: GRDB's `Codable` encoder cost several times more per row.

/// How every record here spells its columns.
protocol SnakeCaseRecord: Codable, FetchableRecord, PersistableRecord {}

extension SnakeCaseRecord {
    static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
}

/// A row of `push_jobs`: the outbox.
struct PushJobRecord: SnakeCaseRecord {
    static let databaseTableName = "push_jobs"
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

    /// Written and read by hand, not through `Codable`: a push job is written for every phone a
    /// change reaches (110,000 for one push-changed), and GRDB's encoder costs several times more.
    func encode(to container: inout PersistenceContainer) {
        container["id"] = id
        container["mac"] = mac
        container["action"] = action
        container["reason"] = reason
        container["state"] = state
        container["attempts"] = attempts
        container["last_error"] = lastError
        container["config_hash"] = configHash
        container["alt_config_hash"] = altConfigHash
        container["actor"] = actor
        container["created_at"] = createdAt
        container["updated_at"] = updatedAt
        container["due_at"] = dueAt
        container["sent_at"] = sentAt
        container["applied_at"] = appliedAt
        container["message"] = message
    }

    init(row: Row) {
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
struct SessionRecord: SnakeCaseRecord {
    static let databaseTableName = "sessions"
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
struct AuditRecord: SnakeCaseRecord {
    static let databaseTableName = "audit"
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

    /// By hand, not through `Codable`: every login, claim and enrolment writes audit rows.
    func encode(to container: inout PersistenceContainer) {
        container["id"] = id
        container["at"] = at
        container["actor"] = actor
        container["action"] = action
        container["mac"] = mac
        container["extension"] = self.extension
        container["source"] = source
        container["outcome"] = outcome
        container["detail"] = detail
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
