import Foundation
import HotDeskCore

/// A directory file, read and checked, ready to import. Secrets are still in clear here; the
/// store hashes or encrypts them.
public struct DirectoryDocument: Sendable {
    public struct SettingsPatch: Sendable {
        public var defaultLogin: Bool?
        public var internalAddress: ServerAddress?
        public var externalAddress: ServerAddress?
        public var userPassword: String?
        public var adminPassword: String?
        /// `user_password_hash`, `admin_password_hash` (from `hotdesk export --with-secrets`).
        public var userPasswordHash: String?
        public var adminPasswordHash: String?
        public var emergencyCallerID: String?
        public var lockoutExtensionFailures: Int?
        public var lockoutDeviceFailures: Int?
        public var lockoutWindowMinutes: Int?
        public var lockoutDurationMinutes: Int?
        public var lockoutSourceFailures: Int?
        public var lockoutGlobalFailures: Int?
        public var pushPort: Int?
        public var pushFrom: String?
        /// 0: off.
        public var autoLogoutAfterHours: Int?
        /// `.some(nil)`: off.
        public var autoLogoutDailyAt: DailyTime??
        /// 0: off.
        public var autoLogoutIdleMinutes: Int?
        public var autoLogoutWaitForCall: Bool?
        public var autoLogoutLongestCallWaitMinutes: Int?
        public var multiLogin: MultiLoginPolicy?
        public var sip: SIPSettings?
        /// Always allowed, whatever any class of service says.
        public var emergencyNumbers: [String]?
        /// Named classes of numbers (`international`), each a regular expression.
        public var numberClasses: [String: String]?
        public var enrolmentPerMinute: Int?
        public var enrolmentMaxUnclaimed: Int?
        /// 0: never.
        public var enrolmentExpireHours: Int?
        public var enrolmentClaims: EnrolmentPolicy.Claims?
        /// `.some(nil)`: `none` (no window).
        public var enrolmentClaimsUntil: Date??
        /// Per brand; a brand not named keeps what the store has.
        public var phoneCredentials: [Brand: PhoneCredentials] = [:]
        public var timeZone: TimeZone?
        public var language: String?
        public var emergencyLocation: String?

        public init() {}
    }

    public struct ExtensionEntry: Sendable {
        public var number: String
        public var name: String
        public var voicemailPIN: String?
        public var sipPassword: String
        public var cos: String?
        /// The number the PBX asserts for this user's calls (`nil`: the extension).
        public var callerID: String?
        /// The number callers outside dial to reach the user.
        public var directDial: String?
        /// `voicemail_pin_hash` (from `hotdesk export --with-secrets`): the stored hash itself,
        /// good only with the key file it was made under.
        public var voicemailPINHash: String?
        public var site: String?
        public var roaming: Roaming = .none
        public var language: String?

        public init(number: String, name: String, voicemailPIN: String?, sipPassword: String, cos: String?, voicemailPINHash: String?) {
            self.number = number
            self.name = name
            self.voicemailPIN = voicemailPIN
            self.sipPassword = sipPassword
            self.cos = cos
            self.voicemailPINHash = voicemailPINHash
        }
    }

    public struct DeviceEntry: Sendable {
        public var mac: MACAddress
        public var model: PhoneModel
        public var pushPort: Int?
        public var phoneCredentials: PhoneCredentials?
        public var workspace: String?
        public var users: [String] = []
        public var line: DeviceLine?
        public var cos: String?
        public var cosIfNotLogged: String?
        /// The caller ID of an emergency call from this desk (`nil`: its workspace's, else the settings').
        public var emergencyCallerID: String?
        /// Its site (`nil`: its workspace's, else none).
        public var site: String?
        /// A provisioning secret set beforehand (a phone staged with it, or an export's): the device
        /// is claimed from the import on, its configs served only with this secret — no trust on
        /// first use.
        public var provisioningSecret: String?
        /// Where a claimed phone proves itself from (an address-bound family, Cisco): its configs go
        /// to this address only.
        public var claimedFrom: String?
        /// Where it stands in the file (`devices[3]`, line 42), for problems found against the store.
        public var path = ""
        public var fileLine: Int?

        public init(
            mac: MACAddress,
            model: PhoneModel,
            pushPort: Int?,
            phoneCredentials: PhoneCredentials?,
            workspace: String?,
            users: [String],
            line: DeviceLine?,
            cos: String?,
            cosIfNotLogged: String?,
            provisioningSecret: String?,
            claimedFrom: String?,
            path: String,
            fileLine: Int?
        ) {
            self.mac = mac
            self.model = model
            self.pushPort = pushPort
            self.phoneCredentials = phoneCredentials
            self.workspace = workspace
            self.users = users
            self.line = line
            self.cos = cos
            self.cosIfNotLogged = cosIfNotLogged
            self.provisioningSecret = provisioningSecret
            self.claimedFrom = claimedFrom
            self.path = path
            self.fileLine = fileLine
        }
    }

    public var settings = SettingsPatch()
    public var extensions: [ExtensionEntry] = []
    /// Each line named here gets exactly the members listed (lines not named keep theirs).
    public var sharedLines: [SharedLine] = []
    public var workspaces: [Workspace] = []
    /// Each site named here is replaced by its entry (sites not named are kept).
    public var sites: [Site] = []
    public var classesOfService: [ClassOfService] = []
    public var schedules: [Schedule] = []
    /// The sections the file has (`extensions`, `devices`, …): `--prune` removes what a section
    /// the file has no longer lists, and leaves alone the kinds the file does not mention.
    public var sections: Set<String> = []
    public var devices: [DeviceEntry] = []
    public var templates: [Template] = []
    public var mappings: [Mapping] = []

    public init() {}

    /// A schedule's exception date as the store keeps it (`YYYY-MM-DD`), or `nil`.
    public static func exceptionDate(_ text: String) -> DateComponents? { StoredSchedule.date(text) }
}

/// One problem in a directory file, with where it is.
public struct DirectoryProblem: Hashable, Sendable, CustomStringConvertible {
    /// `extensions[2].voicemail_pin`
    public var path: String
    public var line: Int?
    public var message: String

    public init(path: String, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        let place = line.map { "line \($0): " } ?? ""
        return "\(place)\(path): \(message)"
    }
}

public struct DirectoryError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var problems: [DirectoryProblem]

    public init(file: String, problems: [DirectoryProblem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        (["\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s"), nothing imported"]
            + problems.map { "  \(file): \($0)" }).joined(separator: "\n")
    }
}
