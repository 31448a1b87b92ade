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

/// `{"error": {"code", "message"}}`.
public struct ErrorView: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(code: String, message: String) { error = Detail(code: code, message: message) }
}

/// The wire format: snake_case keys, ISO 8601 times.
public enum APICoding {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// The answer to a SIP password reset: the only place the new password is ever shown.
public struct SIPPasswordView: Codable, Sendable {
    /// `extension` or `shared_line`.
    public var line: String
    public var number: String
    public var sipPassword: String
    /// The pushes of the phones whose config carries the line.
    public var jobs: [PushJobView]

    public init(line: String, number: String, sipPassword: String, jobs: [PushJobView]) {
        self.line = line
        self.number = number
        self.sipPassword = sipPassword
        self.jobs = jobs
    }
}

/// A workspace with its device count and the most its licence allows.
public struct WorkspaceView: Codable, Sendable {
    public var name: String
    public var licence: String
    public var hotDesking: Bool
    public var devices: Int
    public var maxDevices: Int

    public init(name: String, licence: String, hotDesking: Bool, devices: Int, maxDevices: Int) {
        self.name = name
        self.licence = licence
        self.hotDesking = hotDesking
        self.devices = devices
        self.maxDevices = maxDevices
    }
}

public struct WorkspaceList: Codable, Sendable {
    public var workspaces: [WorkspaceView]

    public init(workspaces: [WorkspaceView]) { self.workspaces = workspaces }
}

/// `PUT /devices/{mac}/workspace`: `{"workspace": "Room 4.12"}`, or `null` to take it out.
public struct WorkspaceAssignmentRequest: Codable, Sendable {
    public var workspace: String?

    public init(workspace: String?) { self.workspace = workspace }
}

/// One phone, as `GET /devices` lists it.
public struct DeviceView: Codable, Sendable {
    public struct LoggedIn: Codable, Sendable {
        public var `extension`: String
        public var name: String
        public var since: Date

        public init(extension: String, name: String, since: Date) {
            self.extension = `extension`
            self.name = name
            self.since = since
        }
    }

    public var mac: String
    public var brand: String
    public var model: String
    public var workspace: String?
    /// A personal device's users; empty: open to all.
    public var users: [String]
    public var address: String?
    public var lastFetch: Date?
    /// `current` (it has the config it would get now), `changed` (it would get another one: a push
    /// is due), `never_fetched`.
    public var config: String
    public var loggedIn: LoggedIn?
    public var lastPush: PushJobView?
    /// When the phone first fetched a config with its own provisioning secret (`nil`: not yet;
    /// its configs are then served without any line or app token).
    public var claimedAt: Date?
    /// Where an unclaimed phone asked from while claims wait for an admin (approve it with
    /// `POST /devices/{mac}/approve-claim`); `nil` when none is pending.
    public var claimPendingFrom: String?

    public init(
        mac: String,
        brand: String,
        model: String,
        workspace: String?,
        users: [String],
        address: String?,
        lastFetch: Date?,
        config: String,
        loggedIn: LoggedIn?,
        lastPush: PushJobView?,
        claimedAt: Date? = nil,
        claimPendingFrom: String? = nil
    ) {
        self.claimedAt = claimedAt
        self.claimPendingFrom = claimPendingFrom
        self.mac = mac
        self.brand = brand
        self.model = model
        self.workspace = workspace
        self.users = users
        self.address = address
        self.lastFetch = lastFetch
        self.config = config
        self.loggedIn = loggedIn
        self.lastPush = lastPush
    }
}

/// A released device: unclaimed, with a new provisioning secret.
public struct ReleaseView: Codable, Sendable {
    public var mac: String
    public var released: Bool

    public init(mac: String, released: Bool) {
        self.mac = mac
        self.released = released
    }
}

/// A pending claim approved: the phone at `address` gets its secret at its next fetch.
public struct ClaimApprovalView: Codable, Sendable {
    public var mac: String
    public var address: String

    public init(mac: String, address: String) {
        self.mac = mac
        self.address = address
    }
}

public struct DeviceList: Codable, Sendable {
    public var devices: [DeviceView]
    /// The path of the next page, when `limit` cut this one.
    public var next: String?

    public init(devices: [DeviceView], next: String? = nil) {
        self.devices = devices
        self.next = next
    }
}

/// A shared line and its members (never its password).
public struct SharedLineView: Codable, Sendable {
    public struct Member: Codable, Sendable {
        public var `extension`: String
        public var button: Int
        /// `ring`, `no_ring`, `after:10`.
        public var ring: String

        public init(extension: String, button: Int, ring: String) {
            self.extension = `extension`
            self.button = button
            self.ring = ring
        }
    }

    public var number: String
    public var name: String
    public var callerId: String?
    public var members: [Member]

    public init(number: String, name: String, callerId: String?, members: [Member]) {
        self.number = number
        self.name = name
        self.callerId = callerId
        self.members = members
    }
}

public struct SharedLineList: Codable, Sendable {
    public var sharedLines: [SharedLineView]

    public init(sharedLines: [SharedLineView]) { self.sharedLines = sharedLines }
}

/// The answer to a deletion: what went, whose sessions it ended, the pushes it queued.
public struct DeletionView: Codable, Sendable {
    public var deleted: String
    public var loggedOut: [LogoutView]
    public var jobs: [PushJobView]

    public init(deleted: String, loggedOut: [LogoutView], jobs: [PushJobView]) {
        self.deleted = deleted
        self.loggedOut = loggedOut
        self.jobs = jobs
    }
}

/// `POST /pbx/v1/authorize`: may this SIP user call that number now.
public struct AuthorizeView: Codable, Sendable {
    /// `allow` or `deny`.
    public var decision: String
    /// The SIP answer for a PBX to send: 200 (go on) or 403.
    public var sipCode: Int
    public var reason: String
    /// The class of service and the rule that decided.
    public var cos: String
    public var rule: String
    /// Seconds the PBX may cache the answer.
    public var ttl: Int

    public init(decision: String, sipCode: Int, reason: String, cos: String, rule: String, ttl: Int) {
        self.decision = decision
        self.sipCode = sipCode
        self.reason = reason
        self.cos = cos
        self.rule = rule
        self.ttl = ttl
    }
}

/// `GET /pbx/v1/credentials/{user}`: what a PBX's digest check needs, never the password.
public struct CredentialsView: Codable, Sendable {
    public var authUser: String
    public var realm: String
    public var ha1: String

    public init(authUser: String, realm: String, ha1: String) {
        self.authUser = authUser
        self.realm = realm
        self.ha1 = ha1
    }
}

/// The answer to a star-code login or logout, for a PBX to turn into a SIP reply.
public struct StarCodeView: Codable, Sendable {
    /// `logged_in`, `logged_out`, `rejected`, `locked`.
    public var result: String
    public var sipCode: Int
    public var reason: String

    public init(result: String, sipCode: Int, reason: String) {
        self.result = result
        self.sipCode = sipCode
        self.reason = reason
    }
}

/// A class of service as the admin API shows it.
public struct CoSView: Codable, Sendable {
    public struct Rule: Codable, Sendable {
        public var pattern: String?
        public var `class`: String?
        public var action: String
        public var schedule: String?

        public init(pattern: String?, class: String?, action: String, schedule: String?) {
            self.pattern = pattern
            self.class = `class`
            self.action = action
            self.schedule = schedule
        }
    }

    public struct Include: Codable, Sendable {
        public var cos: String
        public var schedule: String?

        public init(cos: String, schedule: String?) {
            self.cos = cos
            self.schedule = schedule
        }
    }

    public var name: String
    public var `default`: String
    public var rules: [Rule]
    public var featureCodes: [String]
    public var includes: [Include]
    public var schedule: String?

    public init(name: String, default: String, rules: [Rule], featureCodes: [String], includes: [Include], schedule: String?) {
        self.name = name
        self.default = `default`
        self.rules = rules
        self.featureCodes = featureCodes
        self.includes = includes
        self.schedule = schedule
    }
}

public struct CoSList: Codable, Sendable {
    public var classesOfService: [CoSView]
    public var emergencyNumbers: [String]

    public init(classesOfService: [CoSView], emergencyNumbers: [String]) {
        self.classesOfService = classesOfService
        self.emergencyNumbers = emergencyNumbers
    }
}

/// `GET /cos/check`: what decides a call, and how.
public struct CoSCheckView: Codable, Sendable {
    public var decision: String
    public var cos: String
    public var rule: String
    public var reason: String
    public var at: Date

    public init(decision: String, cos: String, rule: String, reason: String, at: Date) {
        self.decision = decision
        self.cos = cos
        self.rule = rule
        self.reason = reason
        self.at = at
    }
}

/// A lock in force: `kind` extension|device|source, `key` the number, MAC or address.
public struct LockView: Codable, Sendable, CustomStringConvertible {
    public var kind: String
    public var key: String
    /// Wrong passwords counted (0 for an address, counted in memory).
    public var failures: Int
    public var until: Date

    public init(kind: String, key: String, failures: Int, until: Date) {
        self.kind = kind
        self.key = key
        self.failures = failures
        self.until = until
    }

    public init(_ lock: ActiveLock) {
        self.init(kind: lock.subject.kind, key: lock.subject.key, failures: lock.failures, until: lock.until)
    }

    public var description: String { "\(kind)  \(key)  until \(until.formatted(.iso8601))  \(failures) failure(s)" }
}

public struct LockList: Codable, Sendable {
    public var locks: [LockView]
    public init(locks: [LockView]) { self.locks = locks }
}

/// The answer to clearing a lock.
public struct UnlockView: Codable, Sendable {
    public var kind: String
    public var key: String
    public var wasLocked: Bool
    public var failuresForgotten: Int

    public init(kind: String, key: String, wasLocked: Bool, failuresForgotten: Int) {
        self.kind = kind
        self.key = key
        self.wasLocked = wasLocked
        self.failuresForgotten = failuresForgotten
    }
}

/// A stored key: never the key, never its hash.
public struct APIKeyView: Codable, Sendable, CustomStringConvertible {
    public var name: String
    /// `admin` (`/api/v1`) or `pbx` (`/pbx/v1`).
    public var kind: String
    /// An admin key's role: `auditor`, `helpdesk` or `admin` (PBX keys: null).
    public var role: String?
    public var createdAt: Date
    public var lastUsedAt: Date?

    public init(_ key: APIKeyInfo) {
        name = key.name
        kind = key.kind.rawValue
        role = key.kind == .admin ? key.role.rawValue : nil
        createdAt = key.createdAt
        lastUsedAt = key.lastUsedAt
    }

    public var description: String {
        [name, kind, role ?? "-", createdAt.formatted(.iso8601), lastUsedAt?.formatted(.iso8601) ?? "never used"].joined(separator: "  ")
    }
}

public struct APIKeyList: Codable, Sendable {
    public var keys: [APIKeyView]
    public init(keys: [APIKeyView]) { self.keys = keys }
}

public struct RevokedKeyView: Codable, Sendable {
    public var name: String
    public var revoked: Bool
    public init(name: String, revoked: Bool) {
        self.name = name
        self.revoked = revoked
    }
}

/// One audit entry.
public struct AuditEntryView: Codable, Sendable {
    public var id: Int64
    public var at: Date
    public var actor: String
    public var action: String
    public var mac: String?
    public var `extension`: String?
    public var source: String?
    public var outcome: String
    public var detail: String

    public init(id: Int64, _ e: AuditEntry) {
        self.id = id
        at = e.at
        actor = e.actor
        action = e.action.rawValue
        mac = e.mac?.colonSeparated
        `extension` = e.extensionNumber
        source = e.source
        outcome = e.outcome.rawValue
        detail = e.detail
    }

    /// The CSV columns, in order.
    public static let csvHeader = ["id", "at", "actor", "action", "mac", "extension", "source", "outcome", "detail"]

    public var csvFields: [String] {
        ["\(id)", at.formatted(.iso8601), actor, action, mac ?? "", `extension` ?? "", source ?? "", outcome, detail]
    }
}

public struct AuditList: Codable, Sendable {
    public var entries: [AuditEntryView]
    /// The path of the next (older) page when this one was full.
    public var next: String?
    public init(entries: [AuditEntryView], next: String?) {
        self.entries = entries
        self.next = next
    }
}

/// CSV as spreadsheets read it (RFC 4180): a field with a comma, quote or line break is quoted;
/// one that a spreadsheet would take for a formula (= + - @, tab, CR) starts with a `'`.
public enum CSV {
    public static func line(_ fields: [String]) -> String {
        fields.map { field in
            var value = field
            if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
            guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",")
    }
}

/// `POST /admin/sign-in`'s body.
public struct SignInRequest: Codable, Sendable {
    public var name: String
    public var password: String
    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }
}

/// Who is signed in to the console, and the token each change must send as `X-CSRF-Token`.
public struct ConsoleSessionView: Codable, Sendable {
    public var name: String
    public var role: String
    public var csrfToken: String
    public var expiresAt: Date
    public init(name: String, role: String, csrfToken: String, expiresAt: Date) {
        self.name = name
        self.role = role
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }
}

public struct AdminAccountView: Codable, Sendable, CustomStringConvertible {
    public var name: String
    public var role: String
    public var createdAt: Date
    public var lastSignInAt: Date?
    public init(_ account: AdminAccountInfo) {
        name = account.name
        role = account.role.rawValue
        createdAt = account.createdAt
        lastSignInAt = account.lastSignInAt
    }

    public var description: String {
        "\(name)  \(role)  \(createdAt.formatted(.iso8601))  \(lastSignInAt.map { $0.formatted(.iso8601) } ?? "never")"
    }
}

public struct AdminAccountList: Codable, Sendable {
    public var accounts: [AdminAccountView]
    public init(accounts: [AdminAccountView]) { self.accounts = accounts }
}

/// `POST /api/v1/accounts`: a new console account (or, for an existing name, a new password and/or role).
public struct AdminAccountRequest: Codable, Sendable {
    public var name: String
    public var role: String?
    public var password: String?
    public init(name: String, role: String?, password: String?) {
        self.name = name
        self.role = role
        self.password = password
    }
}

/// One extension as the console lists it: who it is, where it is logged in, whether it is locked.
public struct ExtensionView: Codable, Sendable {
    public var number: String
    public var name: String
    public var cos: String?
    public var voicemail: Bool
    /// MACs of the phones it is logged in on.
    public var loggedInOn: [String]
    /// When its lock ends, if wrong passwords locked it.
    public var lockedUntil: Date?
    public init(_ e: ExtensionSummary, loggedInOn: [String], lockedUntil: Date?) {
        number = e.number
        name = e.name
        cos = e.cos
        voicemail = e.hasVoicemail
        self.loggedInOn = loggedInOn
        self.lockedUntil = lockedUntil
    }
}

public struct ExtensionList: Codable, Sendable {
    public var extensions: [ExtensionView]
    public var next: String?
    public init(extensions: [ExtensionView], next: String?) {
        self.extensions = extensions
        self.next = next
    }
}
