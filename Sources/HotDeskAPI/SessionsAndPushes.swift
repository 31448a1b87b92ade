import Foundation
import HotDeskCore

// The admin API's JSON, defined once: the server encodes these, the CLI decodes them. Keys are
// snake_case on the wire (`APICoding`), times ISO 8601.

/// A push job.
public struct PushJobView: Codable, Sendable, CustomStringConvertible {
    public var id: Int64
    public var mac: String
    public var action: String
    public var reason: String
    public var state: String
    public var attempts: Int
    public var lastError: String?
    public var actor: String
    public var createdAt: Date
    public var updatedAt: Date
    public var sentAt: Date?
    public var appliedAt: Date?
    /// The text of an `xml` push.
    public var message: String?

    public init(_ job: PushJob) {
        message = job.message
        id = job.id
        mac = job.mac.colonSeparated
        action = job.action.rawValue
        reason = job.reason.rawValue
        state = job.state.rawValue
        attempts = job.attempts
        lastError = job.lastError
        actor = job.actor
        createdAt = job.createdAt
        updatedAt = job.updatedAt
        sentAt = job.sentAt
        appliedAt = job.appliedAt
    }

    public var description: String {
        "job \(id)  \(mac)  \(action)  \(reason)  \(state)  attempts=\(attempts)  \(updatedAt.formatted(.iso8601))"
            + (lastError.map { "  \($0)" } ?? "")
            + (message.map { "  \"\($0)\"" } ?? "")
    }
}

/// Who is logged in on which phone.
public struct SessionView: Codable, Sendable {
    public var mac: String
    public var `extension`: String
    public var name: String
    public var network: String
    public var since: Date
    public var model: String
    public var address: String?
    public var lastPush: PushJobView?
    /// When the phone's call began, while the PBX reports it on a call.
    public var onCallSince: Date?
    /// An admin's logout waits for the phone's call to end.
    public var logoutWaiting: Bool = false
    /// The site of the phone (`nil`: none).
    public var site: String?

    public init(
        mac: String,
        extension: String,
        name: String,
        network: String,
        since: Date,
        model: String,
        address: String?,
        lastPush: PushJobView?
    ) {
        self.mac = mac
        self.extension = `extension`
        self.name = name
        self.network = network
        self.since = since
        self.model = model
        self.address = address
        self.lastPush = lastPush
    }
}

public struct SessionList: Codable, Sendable {
    public var sessions: [SessionView]
    /// The path of the next page when `limit` cut this one.
    public var next: String?
    public init(sessions: [SessionView], next: String? = nil) {
        self.sessions = sessions
        self.next = next
    }
}

public struct PushJobList: Codable, Sendable {
    public var jobs: [PushJobView]
    /// The path of the next page (older jobs) when this one was full.
    public var next: String?
    public init(jobs: [PushJobView], next: String? = nil) {
        self.jobs = jobs
        self.next = next
    }
}

/// The answer to `POST /devices/push-changed`: counts, the id range of the new jobs (every id in
/// it is one of them) and its first page, newest first, as `GET /push-jobs?from_id=&to_id=` lists it.
public struct PushChangedView: Codable, Sendable {
    /// Phones that had fetched a config and were compared.
    public var checked: Int
    /// Phones whose config changed: one push job each.
    public var queued: Int
    public var firstJob: Int64?
    public var lastJob: Int64?
    public var jobs: [PushJobView]
    public var next: String?

    public init(checked: Int, queued: Int, firstJob: Int64?, lastJob: Int64?, jobs: [PushJobView], next: String?) {
        self.checked = checked
        self.queued = queued
        self.firstJob = firstJob
        self.lastJob = lastJob
        self.jobs = jobs
        self.next = next
    }
}

/// The answer to a forced logout.
public struct LogoutView: Codable, Sendable {
    public var mac: String
    public var `extension`: String
    public var job: PushJobView?
    /// The phone is on a call: the logout happens when the call ends (`?force=true`: now).
    public var waitingForCall: Bool?
    /// A logout by extension under `multi_login: allow`: the other phones it was logged out of.
    public var others: [LogoutView]?

    public init(mac: String, extension: String, job: PushJobView?, others: [LogoutView]? = nil) {
        self.mac = mac
        self.extension = `extension`
        self.job = job
        self.others = others
    }
}

/// `POST /devices/{mac}/push`.
public struct PushRequest: Codable, Sendable {
    public var action: PushAction
    /// The message an `xml` push shows on the phone's screen.
    public var text: String?

    public init(action: PushAction, text: String? = nil) {
        self.action = action
        self.text = text
    }
}
