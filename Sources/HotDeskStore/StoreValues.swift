import Foundation
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
    /// The desk's emergency caller ID: the device's, its workspace's or the settings' (`CallerID.emergency`).
    public let emergencyCallerID: String?
    /// The line the phone carries while nobody is logged in on it: its own, else its workspace's.
    public let idleLine: DeviceLine?

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
        hasPendingPush: Bool = false,
        workspace: Workspace? = nil
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
        self.emergencyCallerID = CallerID.emergency(of: device, workspace: workspace, settings: settings)
        self.idleLine = device.ownLine ?? workspace?.line
    }

    /// The same state with a push job pending (one a change just queued).
    func withPendingPush() -> DeviceConfigState {
        DeviceConfigState(copying: self, hasPendingPush: true)
    }

    private init(copying other: DeviceConfigState, hasPendingPush: Bool) {
        settings = other.settings
        device = other.device
        session = other.session
        line = other.line
        memberships = other.memberships
        templates = other.templates
        mappings = other.mappings
        lastHost = other.lastHost
        lastConfigAddress = other.lastConfigAddress
        lastConfigHash = other.lastConfigHash
        self.hasPendingPush = hasPendingPush
        emergencyCallerID = other.emergencyCallerID
        idleLine = other.idleLine
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
    /// The phone's config state as the login committed it (`nil`: refused).
    public var committed: CommittedConfigState?
}

/// A phone's config state as a change committed it, and the phone's change stamp at that commit:
/// what its next fetch would read, known without reading it (the provisioning cache keeps it).
/// Read at the end of the change's transaction, after its last write, so the stamp is never
/// newer than the state; `hasPendingPush` is set, as the change queued the phone's push job.
public struct CommittedConfigState: Sendable {
    public let state: DeviceConfigState
    public let stamp: ChangeStamp
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
    /// What was imported, for the audit (`extension 5501 edited`); nil: a directory file.
    public var about: String?

    public init(prune: Bool = false, dryRun: Bool = false, about: String? = nil) {
        self.prune = prune
        self.dryRun = dryRun
        self.about = about
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
    case `extension`(Extension, desks: [SIPDesk])
    /// A device's own line; `inUse` while nobody is logged in on it.
    case deviceLine(SIPDesk, inUse: Bool)
    /// A shared line and the phones of its members logged in now (none: not in use).
    case sharedLine(SharedLine, desks: [SIPDesk])
    /// A workspace's own line (`Workspace.line`) and its phones that carry it now: nobody logged
    /// in on them and no own line of theirs (none: not in use).
    case workspaceLine(Workspace, desks: [SIPDesk])

    /// The phones the line is on now.
    public var desks: [SIPDesk] {
        switch self {
        case .extension(_, let desks), .sharedLine(_, let desks), .workspaceLine(_, let desks): desks
        case .deviceLine(let desk, let inUse): inUse ? [desk] : []
        }
    }
}

/// A phone a SIP user's line is on, and the caller ID of an emergency call from it.
public struct SIPDesk: Sendable {
    public let device: Device
    /// `CallerID.emergency`: the device's, its workspace's or its site's (or the settings').
    public let emergencyCallerID: String?
    /// Where the desk is, for an emergency call: its site's location text (or the settings').
    public let emergencyLocation: String?

    public init(device: Device, emergencyCallerID: String?, emergencyLocation: String? = nil) {
        self.device = device
        self.emergencyCallerID = emergencyCallerID
        self.emergencyLocation = emergencyLocation
    }
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
    /// Only the phones of these sites (nil: of any site or none).
    public var sites: [String]?
    /// Only phones someone is logged in on (true) or nobody is (false).
    public var loggedIn: Bool?
    /// Only phones that never fetched a config (true) or did (false).
    public var neverFetched: Bool?

    public init(mac: MACAddress? = nil) { self.mac = mac }
}

/// An admin's logout of a phone that was on a call: carried out when the call ends (or the
/// longest wait is over), for the session it was asked for only (not a later one).
public struct WaitingLogout: Hashable, Sendable {
    public var mac: MACAddress
    public var sessionStartedAt: Date
    public var actor: String
    public var requestedAt: Date

    public init(mac: MACAddress, sessionStartedAt: Date, actor: String, requestedAt: Date) {
        self.mac = mac
        self.sessionStartedAt = sessionStartedAt
        self.actor = actor
        self.requestedAt = requestedAt
    }

    /// Whether `session` is the one this logout was asked for.
    public func isFor(_ session: Session) -> Bool {
        session.mac == mac && abs(session.startedAt.timeIntervalSince(sessionStartedAt)) < 0.001
    }
}
