import Crypto
import Foundation
import HotDeskCore

// The store by role: each caller asks for the roles it needs (`any DeviceStore & StampedStore`),
// and a second database implements the same protocols. Nothing here is SQLite's: values in,
// values out, one transaction per call where a call changes several rows.

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

/// The change stamps every cache keys on (see `ChangeStamps`).
public protocol StampedStore: Sendable {
    var stamps: any ChangeStamps { get }
}

/// Who is logged in where.
public protocol SessionStore: Sendable {
    func session(mac: MACAddress) async throws -> Session?
    /// Every phone this extension is logged in on, oldest login first.
    func sessions(extensionNumber: String) async throws -> [Session]
    func sessions() async throws -> [Session]
    /// Every session with its extension's name, its device and the device's last push.
    func sessionOverview() async throws -> [SessionOverview]
}

/// The push outbox as the worker and the admins see it (jobs are written by the change path).
public protocol PushJobStore: Sendable {
    func pushJob(id: Int64) async throws -> PushJob?
    /// Newest first; `ids` keeps those whose id is in the range (a page of a range: the range
    /// up to one below the last id seen).
    /// `sites`: only the jobs of those sites' phones (nil: every phone's).
    func pushJobs(state: PushState?, mac: MACAddress?, ids: ClosedRange<Int64>?, sites: [String]?, limit: Int) async throws -> [PushJob]
    /// Queued jobs due by `now`, oldest first, leased until `leaseUntil` so a crash mid-push
    /// leaves them to be tried again; each one's attempt is counted as it is claimed.
    func claimDuePushJobs(now: Date, leaseUntil: Date, limit: Int) async throws -> [PushJob]
    /// Sent jobs whose phone did not fetch the config by their due time.
    func overdueSentPushJobs(now: Date) async throws -> [PushJob]
    /// Writes a job's new state, unless it was applied or superseded meanwhile; audits the
    /// final states. Returns whether it was written.
    func updatePushJob(_ job: PushJob) async throws -> Bool
    /// When the next queued or sent job falls due, if any.
    func nextPushDue() async throws -> Date?
    /// Keeps a single-use login for one push to `mac` (its SHA-256 only), good until `expires`,
    /// where every node sees it (the phone's question may reach another node); forgets the
    /// expired ones and the phone's oldest beyond `keepPerPhone`.
    func addPushLogin(mac: MACAddress, loginHash: String, expires: Date, now: Date, keepPerPhone: Int) async throws
    /// Takes a live login of `mac` by its hash: `true` once.
    func takePushLogin(mac: MACAddress, loginHash: String, now: Date) async throws -> Bool
    /// Queues a NOTIFY for the PBX to send, where every node's PBX poll finds it (replacing
    /// the job's earlier one, if any).
    /// Queues a NOTIFY and stores its job's new state (`sent`) in one transaction: the PBX may
    /// take it, and answer, at once. A job applied or superseded meanwhile stays as it is.
    func queueNotify(sent job: PushJob, _ notify: PBXNotify) async throws
    /// The oldest NOTIFY no PBX took yet, now taken (once, over every node); forgets those
    /// taken before `forgetTakenBefore` whose answer never came. Notes `now` as the last time a
    /// PBX polled, on whichever node (`lastPBXPoll`).
    func takeNotify(now: Date, forgetTakenBefore: Date, site: String?) async throws -> PBXNotify?
    /// When a PBX last polled any node for a NOTIFY (`nil`: never).
    func lastPBXPoll() async throws -> Date?
    /// The PBX's answer came: the NOTIFY is forgotten and returned (`nil`: not one of ours, or
    /// answered already).
    func answerNotify(jobID: Int64) async throws -> PBXNotify?
    /// Whether the job's NOTIFY still waits for a PBX to take it.
    func notifyWaiting(jobID: Int64) async throws -> Bool
}

/// Phones: enrolment and claims, what they fetched, their state as a config or the app needs it,
/// their workspaces.
public protocol DeviceStore: Sendable {
    func device(mac: MACAddress) async throws -> Device?
    /// The phone an app token was made for (checked, without a read); `nil` for a forged one.
    func device(ofAppToken token: String) -> MACAddress?
    /// What provisioning Digest nonces are made with: the same on every node on this database.
    var digestNonceKey: SymmetricKey { get }
    /// Adds a device unless one with its MAC exists (then the stored one); audited. With
    /// `limits`, counted over everything the database holds (every node): at most `perMinute`
    /// phones enrolled by their own request within the last minute, at most `maxUnclaimed` of
    /// them unproven (one enrolment at a time over every node).
    func enrol(_ device: Device, audit: AuditEntry, limits: EnrolmentPolicy?) async throws -> Enrolment
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
    /// An unclaimed phone asked from `address` while claims need approval: remembered (and
    /// audited when the address is new).
    func noteClaimPending(mac: MACAddress, address: String?, at: Date) async throws
    /// Approves the pending claim of an unclaimed phone: its next fetch from the pending address
    /// gets its secret. The address approved; `nil` when no claim is pending.
    func approveClaim(mac: MACAddress, actor: String, source: String?, at: Date) async throws -> String?
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
    /// The phones `query` selects, by MAC, with their users, session and newest push job: one
    /// page read with indexed lookups (a site of 100,000 phones is read a page at a time).
    func deviceOverview(_ query: DeviceQuery) async throws -> [DeviceOverview]
    /// Every workspace with how many devices it holds.
    func workspaces() async throws -> [(workspace: Workspace, devices: Int)]
    /// Puts a device in a workspace (`nil`: out of any), within the licence, audited.
    func assignWorkspace(mac: MACAddress, workspace: String?, actor: String, at: Date) async throws -> WorkspaceAssignment
}

/// The directory as imported: settings, extensions, lines, classes of service.
public protocol DirectoryStore: Sendable {
    func settings() async throws -> Settings
    /// The settings at a shared stamp just read (`ChangeStamps.stamp(of:)`): no second reading
    /// of the stamp when they did not change since (nil: read it, as `settings()`).
    func settings(at shared: Int?) async throws -> Settings
    func findExtension(_ number: String) async throws -> Extension?
    /// Extension numbers and template names already stored (a directory file may refer to them).
    func directoryNames() async throws -> (extensions: Set<String>, templates: [String: Brand])
    /// The directory as `hotdesk export` writes it without secrets (for reading, and CSV).
    func exportedDirectory() async throws -> String
    /// One entry of a section as the export writes it (YAML), with its secrets or without; nil
    /// when there is none by that key.
    func directoryEntry(_ section: DirectorySection, key: String, withSecrets: Bool) async throws -> String?
    /// A section's keys in order, a page at a time after `after`.
    func directoryKeys(_ section: DirectorySection, after: String?, limit: Int) async throws -> [String]
    /// The phones whose config an entry can change now (nil: any phone, as a template's).
    func phones(touchedBy section: DirectorySection, key: String) async throws -> Set<MACAddress>?
    /// Workspace and site names already stored (a directory file may refer to them).
    func workspaceNames() async throws -> Set<String>
    func siteNames() async throws -> Set<String>
    /// Every shared line with its members (no password).
    func sharedLines() async throws -> [SharedLine]
    /// Every extension without its secrets, by number.
    func extensionSummaries() async throws -> [ExtensionSummary]
    /// Who a SIP user is now (for the PBX): an extension, a device's own line or a shared line.
    func sipUser(_ authUser: String) async throws -> SIPUser?
    /// The SIP user a direct-dial number rings (an extension's or a shared line's number), or nil.
    func directDialUser(_ number: String) async throws -> String?
    /// Every class of service with its schedules, number classes and the emergency numbers.
    func cosBook() async throws -> CoSBook
    /// The site of every phone that is in one.
    func deviceSites() async throws -> [MACAddress: String]
    /// Which of `macs` are phones of this directory (its own or enrolled).
    func storedDevices(_ macs: [MACAddress]) async throws -> Set<MACAddress>
}

/// Wrong passwords counted for the lockouts, and hashes upgraded at a right one.
public protocol LoginRecordStore: Sendable {
    /// Every counted wrong password since `since`, for the locks in force.
    func failures(since: Date) async throws -> [CountedFailure]
    /// The failures since `since` one attempt is decided on: this extension's (any phone), this
    /// phone's (any extension), this address's, and — when `global` — every global guess. One
    /// read: every node counts the same failures.
    func failures(mac: MACAddress, extensionNumber: String?, source: String?, global: Bool, since: Date) async throws -> RecentFailures
    /// A wrong password (or unknown extension): audited, and counted for lockouts against its
    /// phone, its extension, `guessingSource` and, for a `globalGuess`, the global budget.
    func recordFailure(_ audit: AuditEntry, guessingSource: String?, globalGuess: Bool) async throws
    /// Forgets the counted wrong passwords of an extension, a phone or an address (clearing its
    /// lock), with `audit`, in one transaction, and moves the shared change stamp so that every
    /// node drops the lock it remembers. Returns how many were forgotten.
    func clearFailures(of subject: LockSubject, audit: AuditEntry) async throws -> Int
    /// Replaces an old-format (PBKDF2) hash of `credential` — the extension's PIN, or the user or
    /// admin password — by a keyed one of `secret`, just proven by a login. A no-op when the stored
    /// hash is already keyed.
    func upgradeSecretHash(_ credential: Credential, extensionNumber: String, secret: String) async throws
    /// Sets the PIN the person of `extensionNumber` chose (`nil`: clears it, back to the voicemail
    /// PIN or the user password), with `audit`, in one transaction. False: no such extension.
    func setOwnPIN(_ pin: String?, extensionNumber: String, audit: AuditEntry) async throws -> Bool
}

/// The audit log.
public protocol AuditStore: Sendable {
    func audit(_ entry: AuditEntry) async throws
    func auditLog(limit: Int) async throws -> [AuditEntry]
    /// The entries `query` selects with their ids, newest first.
    func auditEntries(_ query: AuditQuery) async throws -> [(id: Int64, entry: AuditEntry)]
    /// A number that moves whenever something an admin sees changes (a session, a push job's
    /// state, a device, the directory, the audit log), by this process or another. Not the fetch
    /// times written in batches.
    func activityMark() async throws -> Double
}

/// Who may administer: API and PBX keys, console accounts and their sessions.
public protocol AccountStore: Sendable {
    /// A key of `role`, limited to `scope`'s sites (PBX keys: every site).
    func addAPIKey(name: String, keyHash: String, kind: APIKeyKind, role: AdminRole, scope: SiteScope, at: Date) async throws
    /// Every admin and PBX key, by name.
    func apiKeys() async throws -> [APIKeyInfo]
    /// Deletes the key named `name` (of either kind), audited with `actor`; `false` when there is none.
    func revokeAPIKey(name: String, actor: String, source: String?, at: Date) async throws -> Bool
    /// The key's name, role and sites, if a key with this hash exists (and notes its use).
    func apiKey(hash: String, kind: APIKeyKind, at: Date) async throws -> (name: String, role: AdminRole, scope: SiteScope)?
    /// Creates an account (`password` and `role` needed; `scope` nil: every site) or changes one
    /// (any may be nil: unchanged); a change of password, role or sites ends the account's
    /// console sessions. Audited.
    func saveAdminAccount(
        name: String,
        password: String?,
        role: AdminRole?,
        scope: SiteScope?,
        actor: String,
        at: Date
    ) async throws
        -> AccountChange
    func adminAccounts() async throws -> [AdminAccountInfo]
    /// Removes an account and ends its sessions; false when there is none of that name. Audited.
    func removeAdminAccount(name: String, actor: String, at: Date) async throws -> Bool
    /// The account's role and sites when `password` is its password (the same work for an unknown name).
    func checkAdminPassword(name: String, password: String) async throws -> (role: AdminRole, scope: SiteScope)?
    /// Stores a new signed-in session (by its cookie's hash) with its audit entry.
    func startConsoleSession(tokenHash: String, _ session: ConsoleSession, audit: AuditEntry) async throws
    /// The live session whose cookie hashes to `tokenHash` (nil once expired or its account gone).
    func consoleSession(tokenHash: String, at: Date) async throws -> ConsoleSession?
    /// Ends a session; the audit entry is written only if there was one.
    func endConsoleSession(tokenHash: String, audit: AuditEntry) async throws
    /// Wrong console passwords since `since`, every node's: for `account` (with the address each
    /// came from) and from `source` (for any account).
    func signInFailures(account: String, source: String, since: Date) async throws -> SignInFailures
    /// A wrong console password, counted for its account and address and audited, in one
    /// transaction.
    func recordSignInFailure(account: String, source: String, audit: AuditEntry) async throws
}

/// What the health check and the metrics ask of the database itself.
public protocol StoreHealth: Sendable {
    /// How many sessions and devices there are (the metrics' gauges; also a cheap health check).
    func population() async throws -> (sessions: Int, devices: Int)
    /// The same per site, for the sites that have phones (empty without sites).
    func populationBySite() async throws -> [String: (sessions: Int, devices: Int)]
    /// Writes one small row (the health check's proof that the database takes writes).
    func probeWrite(at: Date) async throws
}

/// Locks every node on the database respects: a login's count, check and record for one
/// extension and one phone (so that guesses spread over nodes are evaluated exactly up to the
/// limit), a sweep that one node runs at a time. On SQLite one process holds the file
/// (`ServerLock`): its own in-memory gates are all there is to hold.
public protocol NodeLocks: Sendable {
    /// Runs `body` while holding every key in `keys` against the other nodes.
    func withNodeLocks<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T
    /// Runs `body` unless another node is running the job named `key` now (then nil).
    func unlessAnotherNodeRuns<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T?
}

/// The calls the PBX reports on each phone (`/pbx/v1/calls`), and admins' logouts that wait
/// for a phone's call to end.
public protocol CallStore: Sendable {
    /// A call on `mac` began (reported again: nothing changes). Calls that began before
    /// `forgetBefore` are forgotten: their end was lost (a PBX restarted mid-call).
    func callStarted(callID: String, mac: MACAddress, at: Date, forgetBefore: Date) async throws
    /// The call ended at `at`: the phones it was on, each noted as used then (in the same
    /// transaction: a sweep that sees the call gone sees the use too).
    func callEnded(callID: String, at: Date) async throws -> [MACAddress]
    /// Every call on `macs` ended at `at` (their ends were lost: the PBX restarted, or the phone
    /// did): the phones that had one, each noted as used then.
    func callsEnded(on macs: [MACAddress], at: Date) async throws -> [MACAddress]
    /// The phones on a call that began after `since`, each with when its oldest one began.
    func phonesOnCalls(since: Date) async throws -> [MACAddress: Date]
    /// An admin's logout of `session`, carried out once its phone's call ends.
    func addWaitingLogout(_ logout: WaitingLogout) async throws
    func waitingLogouts() async throws -> [WaitingLogout]
    func removeWaitingLogout(mac: MACAddress) async throws
    /// The phone was used now (its app, a call): an idle logout counts from here.
    func noteActivity(mac: MACAddress, at: Date) async throws
    /// When each phone was last used.
    func lastActivity() async throws -> [MACAddress: Date]
}

/// Every role: what the server is built on. `SQLiteStore` is the embedded default.
public protocol Store: PhoneChangeStore, StampedStore, SessionStore, PushJobStore, DeviceStore, DirectoryStore, LoginRecordStore, AuditStore,
    AccountStore, StoreHealth, NodeLocks, CallStore
{}

/// A failure of the database itself (a full disk, a read-only file, an I/O error, a server gone),
/// as opposed to a request HotDesk refuses. Each store's own errors conform.
public protocol StoreError: Error {}

public enum StoreFailure {
    public static func isStoreError(_ error: any Error) -> Bool { error is any StoreError }
}

/// What came of enrolling an unknown phone.
public enum Enrolment: Sendable {
    /// Enrolled now, or known already (the stored device).
    case enrolled(Device)
    /// `per_minute` phones enrolled within the last minute: the next slot frees in `retryAfter` s.
    case overRate(retryAfter: Int)
    /// `max_unclaimed` enrolled phones have not proved themselves yet.
    case overUnclaimed

    public var device: Device? { if case .enrolled(let device) = self { device } else { nil } }
}

extension DeviceStore {
    public func enrol(_ device: Device, audit: AuditEntry) async throws -> Device {
        try await enrol(device, audit: audit, limits: nil).device!
    }
}

extension AccountStore {
    public func addAPIKey(name: String, keyHash: String, at: Date) async throws {
        try await addAPIKey(name: name, keyHash: keyHash, kind: .admin, role: .admin, at: at)
    }

    public func addAPIKey(name: String, keyHash: String, kind: APIKeyKind, at: Date) async throws {
        try await addAPIKey(name: name, keyHash: keyHash, kind: kind, role: .admin, at: at)
    }

    /// A key of every site.
    public func addAPIKey(name: String, keyHash: String, kind: APIKeyKind, role: AdminRole, at: Date) async throws {
        try await addAPIKey(name: name, keyHash: keyHash, kind: kind, role: role, scope: .everySite, at: at)
    }

    /// Sites unchanged (an account created so is of every site).
    public func saveAdminAccount(name: String, password: String?, role: AdminRole?, actor: String, at: Date) async throws -> AccountChange {
        try await saveAdminAccount(name: name, password: password, role: role, scope: nil, actor: actor, at: at)
    }
}

extension PushJobStore {
    /// Newest first.
    public func pushJobs(state: PushState?, mac: MACAddress?, limit: Int) async throws -> [PushJob] {
        try await pushJobs(state: state, mac: mac, ids: nil, sites: nil, limit: limit)
    }

    /// Every phone's.
    public func pushJobs(state: PushState?, mac: MACAddress?, ids: ClosedRange<Int64>?, limit: Int) async throws -> [PushJob] {
        try await pushJobs(state: state, mac: mac, ids: ids, sites: nil, limit: limit)
    }
}

extension DeviceStore {
    /// Every phone.
    public func deviceOverview() async throws -> [DeviceOverview] { try await deviceOverview(DeviceQuery()) }
}
