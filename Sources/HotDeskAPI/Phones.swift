import Foundation
import HotDeskCore

// The admin API's JSON, defined once: the server encodes these, the CLI decodes them. Keys are
// snake_case on the wire (`APICoding`), times ISO 8601.

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
    /// Webex's workspace type (`meeting_room`, `desk`, …) and how many it seats, when the directory says.
    public var roomType: String?
    public var capacity: Int?
    /// The workspace's own number: the line its phones carry while nobody is logged in on them.
    public var lineNumber: String?

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
/// `GET /api/v1/devices/{mac}/config`: the config the phone gets on its next fetch, secrets masked.
public struct ConfigPreviewView: Codable, Sendable {
    public var mac: String
    public var contentType: String
    public var body: String
    /// How many secrets (SIP passwords, provisioning secret, web password, app token) it masks.
    public var secretsMasked: Int
    /// Whether the phone already has this config (`current`), or gets it at its next fetch (`changed`).
    public var config: String

    public init(mac: String, contentType: String, body: String, secretsMasked: Int, config: String) {
        self.mac = mac
        self.contentType = contentType
        self.body = body
        self.secretsMasked = secretsMasked
        self.config = config
    }
}

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
    /// The site the phone is in (its workspace's when it is in one).
    public var site: String?
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
    /// How many members it is licensed for (nil: no count).
    public var licences: Int?
    /// The number callers outside dial to reach it.
    public var directDial: String?

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

/// A site as its phones get it: the settings with the site's own values over them.
public struct SiteView: Codable, Sendable {
    public var name: String
    public var timeZone: String?
    public var internalAddress: String?
    public var externalAddress: String?
    public var sipServer: String?
    public var emergencyNumbers: [String]
    public var emergencyCallerId: String?
    public var emergencyLocation: String?
    /// The language of the app on its phones.
    public var language: String?
    /// How many phones stand in it.
    public var devices: Int

    public init(name: String, devices: Int) {
        self.name = name
        self.devices = devices
        emergencyNumbers = []
    }
}

public struct SiteList: Codable, Sendable {
    public var sites: [SiteView]
    /// The directory's time zone (`settings.time_zone`, else the server's): a site's own is in it.
    public var timeZone: String?

    public init(sites: [SiteView], timeZone: String? = nil) {
        self.sites = sites
        self.timeZone = timeZone
    }
}
