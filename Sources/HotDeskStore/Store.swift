import Foundation
import GRDB
import HotDeskCore

/// What serving one config file needs, read in one go.
/// Read once and never changed: a class, so that the caches and every hand-off share one copy
/// (as a struct, each handing-on retained each of its strings and arrays: ≈ 4 % of a config fetch).
public final class DeviceConfigState: Sendable {
    public let settings: Settings
    public let device: Device
    public let session: Session?
    public let line: Extension?
    /// The shared lines the logged-in extension is a member of (none when logged out).
    public let memberships: [LineMembership]
    /// The brand's templates and the logged-in extension's mappings, for `TemplateResolver`.
    public let templates: [Template]
    public let mappings: [Mapping]
    /// The `Host` the phone last fetched its config with (the logged-out config names it).
    public let lastHost: String?
    /// The address the config last served to the phone points it to (its provisioning URL, when
    /// the template sets one): where its next fetch most likely comes to.
    public let lastConfigAddress: String?
    /// The hash of the config the phone was last served.
    public let lastConfigHash: String?
    /// Whether a push job of the phone is queued or sent (a fetch may confirm it).
    public let hasPendingPush: Bool

    public init(
        settings: Settings,
        device: Device,
        session: Session?,
        line: Extension?,
        memberships: [LineMembership] = [],
        templates: [Template],
        mappings: [Mapping],
        lastHost: String?,
        lastConfigAddress: String?,
        lastConfigHash: String?,
        hasPendingPush: Bool = false
    ) {
        self.settings = settings
        self.device = device
        self.session = session
        self.line = line
        self.memberships = memberships
        self.templates = templates
        self.mappings = mappings
        self.lastHost = lastHost
        self.lastConfigAddress = lastConfigAddress
        self.lastConfigHash = lastConfigHash
        self.hasPendingPush = hasPendingPush
    }

    /// Whether a fetch of `configHash` from `address`, reached at `host`, pointing the phone to
    /// `configAddress`, would change nothing the store holds: then it writes nothing (its time is
    /// kept in memory and written in batches).
    public func fetchChangesNothing(address: String?, host: String?, configHash: String, configAddress: String?) -> Bool {
        !hasPendingPush && lastConfigHash == configHash && device.lastAddress == address && lastHost == host && lastConfigAddress == configAddress
    }
}

/// What a phone app request needs, read in one go.
public struct AppState: Sendable {
    public var settings: Settings
    public var device: Device
    public var session: Session?
    public var sessionExtension: Extension?
    /// The device's workspace, if it is in one.
    public var workspace: Workspace?
}

/// What an app token names.
public enum AppLookup: Sendable {
    case current(AppState)
    /// A token of a device from before its last login or logout: the phone has not applied its
    /// new config yet.
    case stale
    case unknown
}

/// A session with what an admin wants to see beside it.
public struct SessionOverview: Sendable {
    public var session: Session
    public var extensionName: String
    public var device: Device
    /// The device's newest push job, if any.
    public var lastPush: PushJob?

    public init(session: Session, extensionName: String, device: Device, lastPush: PushJob?) {
        self.session = session
        self.extensionName = extensionName
        self.device = device
        self.lastPush = lastPush
    }
}

/// A device with what an admin wants to see beside it.
public struct DeviceOverview: Sendable {
    public var device: Device
    public var lastFetchAt: Date?
    /// The hash of the config it was last served.
    public var lastConfigHash: String?
    public var session: Session?
    public var sessionName: String?
    /// Its newest push job, if any.
    public var lastPush: PushJob?
}

/// The result of a login: the new session and the sessions it ended.
public struct LoginResult: Sendable {
    public var session: Session
    public var plan: LoginPlan
    /// The push jobs of every phone whose config the login changed (this one first), written with it.
    public var jobs: [PushJob] = []
}

/// Counts of what an import did (or, in a dry run, would do).
public struct ImportSummary: Hashable, Sendable, CustomStringConvertible {
    public var created = 0
    public var updated = 0
    public var unchanged = 0
    public var deleted = 0
    /// What was removed, for people: `extension 5503`, `device 00:15:65:…`.
    public var removed: [String] = []
    /// Sessions the import ended (a removed extension or device): those phones need a push.
    public var endedSessions: [Session] = []
    /// The push jobs of the phones whose sessions it ended, written with it.
    public var jobs: [PushJob] = []

    public init(created: Int = 0, updated: Int = 0, unchanged: Int = 0) {
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
    }

    public var description: String {
        "\(created) created, \(updated) updated, \(unchanged) unchanged" + (deleted > 0 ? ", \(deleted) deleted" : "")
    }
}

/// How an import treats what the file does not list.
public struct ImportOptions: Hashable, Sendable {
    /// Remove what a section of the file no longer lists (a removed extension is logged out first).
    public var prune: Bool
    /// Do everything, report it, write nothing.
    public var dryRun: Bool

    public init(prune: Bool = false, dryRun: Bool = false) {
        self.prune = prune
        self.dryRun = dryRun
    }
}

/// Something the directory holds, by its key.
public enum DirectoryItem: Hashable, Sendable, CustomStringConvertible {
    case `extension`(String)
    case device(MACAddress)
    case sharedLine(String)
    case workspace(String)
    case template(String)

    public var description: String {
        switch self {
        case .extension(let n): "extension \(n)"
        case .device(let mac): "device \(mac)"
        case .sharedLine(let n): "shared line \(n)"
        case .workspace(let name): "workspace \"\(name)\""
        case .template(let name): "template \"\(name)\""
        }
    }
}

/// How a deletion ended.
public enum DeletionResult: Hashable, Sendable {
    /// Deleted. `loggedOut`: sessions it ended; `jobs`: the pushes of the phones whose config changed.
    case deleted(loggedOut: [Session], jobs: [PushJob])
    case notFound
    /// Still used (a template a mapping names): nothing deleted.
    case inUse(String)
}

/// A SIP user as the PBX sees it, with what decides its calls and whether its line is provisioned now.
public enum SIPUser: Sendable {
    /// An extension and the phones it is logged in on (none: its credentials are not in use).
    case `extension`(Extension, devices: [Device])
    /// A device's own line; `inUse` while nobody is logged in on it.
    case deviceLine(Device, inUse: Bool)
    /// A shared line; `inUse` while a member is logged in somewhere.
    case sharedLine(SharedLine, inUse: Bool)
}

/// How putting a device in a workspace ended.
public enum WorkspaceAssignment: Hashable, Sendable {
    case done
    case unknownDevice
    case unknownWorkspace
    /// The workspace already holds `devices`, the most its licence allows.
    case full(devices: Int, licence: Workspace.Licence)
}

/// A line that has its own SIP credentials.
public enum LineReference: Hashable, Sendable, CustomStringConvertible {
    case ownLine(extensionNumber: String)
    case sharedLine(number: String)
    case deviceLine(MACAddress)

    public var description: String {
        switch self {
        case .ownLine(let n): "extension \(n)"
        case .sharedLine(let n): "shared line \(n)"
        case .deviceLine(let mac): "the line of device \(mac)"
        }
    }
}

/// The changes to what a phone should have. Each is one transaction that changes the state, writes
/// its audit rows and the push jobs of every phone whose config it changed (the outbox), so a
/// crash can never keep a change and lose its push. `PhoneChanges` (the server's change service)
/// is their one caller.
public protocol PhoneChangeStore: Sendable {
    /// Logs `session.extensionNumber` into `session.mac`, first ending the phone's current session
    /// and — under `move` — the extension's sessions elsewhere. Under `deny`/`allow` a refused
    /// login writes nothing: the plan says why.
    func login(_ session: Session, actor: String, policy: MultiLoginPolicy, outbox: Outbox) async throws -> LoginResult
    /// Ends the session on `mac`, if any.
    func logout(mac: MACAddress, actor: String, source: String?, at: Date, why: SessionEnd, outbox: Outbox) async throws -> EndedSession?
    /// Ends exactly this session (not a newer one on the same phone); `nil` when it had already ended.
    func endSession(_ session: Session, actor: String, at: Date, why: SessionEnd, outbox: Outbox) async throws -> EndedSession?
    /// Replaces the SIP password of an extension's own line, a device's line or a shared line,
    /// sealed, audited without it; pushes every phone whose config carries the line now. `nil`
    /// when there is no such line.
    func resetSIPPassword(
        _ line: LineReference,
        to password: String,
        actor: String,
        source: String?,
        at: Date,
        outbox: Outbox
    ) async throws -> [PushJob]?
    /// A push that is itself the change: the phone's current config with `outbox.order.action`,
    /// or `message` on its screen, with `audit` (the request). `nil` for an unknown device.
    func push(mac: MACAddress, message: String?, audit: AuditEntry, outbox: Outbox) async throws -> PushJob?
    /// Stores new jobs in one transaction (each supersedes its device's older pending config
    /// jobs); returns them with their ids, in order.
    func addPushJobs(_ jobs: [PushJob]) async throws -> [PushJob]
    /// Removes one directory entry: an extension or device is logged out first, a template a
    /// mapping names is refused.
    func delete(_ item: DirectoryItem, actor: String, at: Date, outbox: Outbox) async throws -> DeletionResult
    /// Loads a validated directory (rolled back in a dry run); the phones a prune logged out are pushed.
    func importDirectory(
        _ directory: DirectoryDocument,
        actor: String,
        at: Date,
        options: ImportOptions,
        outbox: Outbox
    ) async throws -> ImportSummary
}

/// Persistence for HotDesk. `SQLiteStore` is the embedded default.
public protocol Store: PhoneChangeStore {
    /// The change stamps every cache keys on.
    var stamps: any ChangeStamps { get }
    /// How many sessions and devices there are (the metrics' gauges; also a cheap health check).
    func population() async throws -> (sessions: Int, devices: Int)
    /// Writes one small row (the health check's proof that the database takes writes).
    func probeWrite(at: Date) async throws
    /// An unclaimed phone asked from `address` while claims need approval: remembered (and
    /// audited when the address is new).
    func noteClaimPending(mac: MACAddress, address: String?, at: Date) async throws
    /// Approves the pending claim of an unclaimed phone: its next fetch from the pending address
    /// gets its secret. The address approved; `nil` when no claim is pending.
    func approveClaim(mac: MACAddress, actor: String, source: String?, at: Date) async throws -> String?
    /// The phone an app token was made for (checked, without a read); `nil` for a forged one.
    func device(ofAppToken token: String) -> MACAddress?
    func settings() async throws -> Settings
    func device(mac: MACAddress) async throws -> Device?
    /// Adds a device unless one with its MAC exists; returns the stored one. Audited. `nil`:
    /// refused, `maxUnclaimed` phones enrolled this way have not proved themselves yet.
    func enrol(_ device: Device, audit: AuditEntry, maxUnclaimed: Int?) async throws -> Device?
    /// A phone that enrolled itself and never proved itself, asked for again by another family's
    /// phone: it takes that family and a new secret (a squatter cannot keep the real phone out).
    /// `false` when the device is claimed or the directory's. Audited.
    func reenrol(mac: MACAddress, model: PhoneModel, audit: AuditEntry) async throws -> Bool
    /// Forgets phones enrolled by their own request before `enrolledBefore` that never fetched
    /// with their secret (and nobody is logged in on); one audit row. Returns how many.
    func expireUnclaimed(enrolledBefore: Date, at: Date) async throws -> Int
    /// Gives a device a provisioning secret if it has none (devices from before secrets existed).
    func ensureProvisioningSecret(mac: MACAddress) async throws
    /// Notes that an unproven config carried the device's secret: from now on a fetch without
    /// credentials is challenged (a phone sends Digest only when asked).
    func secretIssued(mac: MACAddress, at: Date) async throws
    /// Marks the device claimed by its first fetch with its secret (audited); `false` if it already was.
    func claim(mac: MACAddress, address: String?, at: Date) async throws -> Bool
    /// Unclaims a device and gives it a new secret (factory reset, replaced phone); audited.
    /// `false` when there is no such device.
    func release(mac: MACAddress, actor: String, source: String?, at: Date) async throws -> Bool
    /// Learns a better model for a device (e.g. from its User-Agent).
    func updateModel(mac: MACAddress, model: PhoneModel) async throws
    /// Remembers the phone's address and the config it was last served; the pending pushes
    /// for exactly that config become `applied` (returned) — those already sent, and queued ones
    /// too when the config is new to the phone (a refetch of the same config proves no push).
    func recordFetch(mac: MACAddress, address: String?, host: String?, configHash: String, configAddress: String?, at: Date) async throws -> [PushJob]
    /// Writes the last fetch times kept in memory (fetches that changed nothing else), in one transaction.
    func recordFetchTimes(_ times: [MACAddress: Date]) async throws
    /// Remembers the address a phone's app request came from.
    func recordAddress(mac: MACAddress, address: String) async throws
    func deviceConfigState(mac: MACAddress) async throws -> DeviceConfigState?
    /// The config states of the devices that have fetched a config, in MAC order, `limit` at a
    /// time after `after` (one read per page: a push of every changed phone pages through these).
    func servedConfigStates(after: MACAddress?, limit: Int) async throws -> [DeviceConfigState]
    /// What an app token names: a device's current state, an older token of a device (it changes
    /// at every login and logout), or nothing.
    func appState(token: String) async throws -> AppLookup
    func findExtension(_ number: String) async throws -> Extension?
    func session(mac: MACAddress) async throws -> Session?
    /// Every phone this extension is logged in on, oldest login first.
    func sessions(extensionNumber: String) async throws -> [Session]
    func sessions() async throws -> [Session]
    /// Every session with its extension's name, its device and the device's last push.
    func sessionOverview() async throws -> [SessionOverview]
    /// Replaces an old-format (PBKDF2) hash of `credential` — the extension's PIN, or the user or
    /// admin password — by a keyed one of `secret`, just proven by a login. A no-op when the stored
    /// hash is already keyed.
    func upgradeSecretHash(_ credential: Credential, extensionNumber: String, secret: String) async throws
    /// Every counted wrong password since `since`, for the locks in force.
    func failures(since: Date) async throws -> [(mac: MACAddress?, extensionNumber: String?, at: Date)]
    /// Forgets the counted wrong passwords of an extension or a phone (clearing its lock), with
    /// `audit`, in one transaction. Returns how many were forgotten.
    func clearFailures(of subject: LockSubject, audit: AuditEntry) async throws -> Int
    /// A wrong password (or unknown extension): audited and counted for lockouts.
    func recordFailure(_ audit: AuditEntry) async throws
    /// Failure times since `since`, for this extension (any phone) and this phone (any extension).
    func failures(mac: MACAddress, extensionNumber: String?, since: Date) async throws -> (extension: [Date], device: [Date])
    func audit(_ entry: AuditEntry) async throws
    func auditLog(limit: Int) async throws -> [AuditEntry]
    /// The entries `query` selects with their ids, newest first.
    func auditEntries(_ query: AuditQuery) async throws -> [(id: Int64, entry: AuditEntry)]
    /// Extension numbers and template names already stored (a directory file may refer to them).
    func directoryNames() async throws -> (extensions: Set<String>, templates: [String: Brand])
    // MARK: pushes

    func pushJob(id: Int64) async throws -> PushJob?
    /// Newest first; `ids` keeps those whose id is in the range (a page of a range: the range
    /// up to one below the last id seen).
    func pushJobs(state: PushState?, mac: MACAddress?, ids: ClosedRange<Int64>?, limit: Int) async throws -> [PushJob]
    /// Queued jobs due by `now`, oldest first, leased until `leaseUntil` so a crash mid-push
    /// leaves them to be tried again.
    func claimDuePushJobs(now: Date, leaseUntil: Date, limit: Int) async throws -> [PushJob]
    /// Sent jobs whose phone did not fetch the config by their due time.
    func overdueSentPushJobs(now: Date) async throws -> [PushJob]
    /// Writes a job's new state, unless it was applied or superseded meanwhile; audits the
    /// final states. Returns whether it was written.
    func updatePushJob(_ job: PushJob) async throws -> Bool
    /// When the next queued or sent job falls due, if any.
    func nextPushDue() async throws -> Date?

    // MARK: lines

    /// Every device with its last fetch, session and newest push, by MAC.
    /// The phones `query` selects, by MAC, with their users, session and newest push job: one
    /// page read with indexed lookups (a site of 100,000 phones is read a page at a time).
    func deviceOverview(_ query: DeviceQuery) async throws -> [DeviceOverview]
    /// Every shared line with its members (no password).
    func sharedLines() async throws -> [SharedLine]

    // MARK: workspaces

    /// Every workspace with how many devices it holds.
    func workspaces() async throws -> [(workspace: Workspace, devices: Int)]
    /// Puts a device in a workspace (`nil`: out of any), within the licence, audited.
    func assignWorkspace(mac: MACAddress, workspace: String?, actor: String, at: Date) async throws -> WorkspaceAssignment

    // MARK: admin API

    func addAPIKey(name: String, keyHash: String, kind: APIKeyKind, role: AdminRole, at: Date) async throws
    /// Every admin and PBX key, by name.
    func apiKeys() async throws -> [APIKeyInfo]
    /// Deletes the key named `name` (of either kind), audited with `actor`; `false` when there is none.
    func revokeAPIKey(name: String, actor: String, source: String?, at: Date) async throws -> Bool
    /// The key's name and role, if a key with this hash exists (and notes its use).
    func apiKey(hash: String, kind: APIKeyKind, at: Date) async throws -> (name: String, role: AdminRole)?

    // MARK: web console
    /// Creates an account (`password` and `role` needed) or changes one (either may be nil); a
    /// change of password or role ends the account's console sessions. Audited.
    func saveAdminAccount(name: String, password: String?, role: AdminRole?, actor: String, at: Date) async throws -> AccountChange
    func adminAccounts() async throws -> [AdminAccountInfo]
    /// Removes an account and ends its sessions; false when there is none of that name. Audited.
    func removeAdminAccount(name: String, actor: String, at: Date) async throws -> Bool
    /// The account's role when `password` is its password (the same work for an unknown name).
    func checkAdminPassword(name: String, password: String) async throws -> AdminRole?
    /// Stores a new signed-in session (by its cookie's hash) with its audit entry.
    func startConsoleSession(tokenHash: String, _ session: ConsoleSession, audit: AuditEntry) async throws
    /// The live session whose cookie hashes to `tokenHash` (nil once expired or its account gone).
    func consoleSession(tokenHash: String, at: Date) async throws -> ConsoleSession?
    /// Ends a session; the audit entry is written only if there was one.
    func endConsoleSession(tokenHash: String, audit: AuditEntry) async throws
    /// A number that moves whenever something an admin sees changes (a session, a push job's
    /// state, a device, the directory, the audit log), by this process or another. Not the fetch
    /// times written in batches.
    func activityMark() async throws -> Double
    /// Every extension without its secrets, by number.
    func extensionSummaries() async throws -> [ExtensionSummary]
    /// Who a SIP user is now (for the PBX): an extension, a device's own line or a shared line.
    func sipUser(_ authUser: String) async throws -> SIPUser?
    /// Every class of service with its schedules, number classes and the emergency numbers.
    func cosBook() async throws -> CoSBook

}

extension Store {
    public func enrol(_ device: Device, audit: AuditEntry) async throws -> Device {
        try await enrol(device, audit: audit, maxUnclaimed: nil)!
    }

    public func addAPIKey(name: String, keyHash: String, at: Date) async throws {
        try await addAPIKey(name: name, keyHash: keyHash, kind: .admin, role: .admin, at: at)
    }

    public func addAPIKey(name: String, keyHash: String, kind: APIKeyKind, at: Date) async throws {
        try await addAPIKey(name: name, keyHash: keyHash, kind: kind, role: .admin, at: at)
    }

}

extension Store {
    /// Newest first.
    public func pushJobs(state: PushState?, mac: MACAddress?, limit: Int) async throws -> [PushJob] {
        try await pushJobs(state: state, mac: mac, ids: nil, limit: limit)
    }
}

/// What `saveAdminAccount` did.
public enum AccountChange: Sendable, Equatable {
    case created
    case updated
    case unchanged
    /// A change (no role given) for a name that has no account.
    case unknownAccount
}

/// Which phones `deviceOverview` reads.
public struct DeviceQuery: Sendable {
    /// Only this phone.
    public var mac: MACAddress?
    /// After this MAC (the cursor of the page before).
    public var after: MACAddress?
    public var limit = Int.max
    public var brand: Brand?
    public var workspace: String?
    /// Only phones someone is logged in on (true) or nobody is (false).
    public var loggedIn: Bool?
    /// Only phones that never fetched a config (true) or did (false).
    public var neverFetched: Bool?

    public init(mac: MACAddress? = nil) { self.mac = mac }
}

extension Store {
    /// Every phone.
    public func deviceOverview() async throws -> [DeviceOverview] { try await deviceOverview(DeviceQuery()) }
}

/// Errors from the database itself (a full disk, a read-only file, an I/O error), as opposed to
/// a request HotDesk refuses.
public enum StoreFailure {
    public static func isStoreError(_ error: any Error) -> Bool { error is DatabaseError }
}
