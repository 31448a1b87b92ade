import Foundation

/// One line of the audit log: who did what, on which device, when, from where, and how it ended.
public struct AuditEntry: Hashable, Sendable {
    public enum Action: String, Sendable, Codable, CaseIterable {
        case login
        case loginFailed = "login_failed"
        case logout
        /// An admin's logout of a phone on a call: carried out when the call ends.
        case logoutWaiting = "logout_waiting"
        case lockout
        case enrol
        /// A phone's first fetch with its provisioning secret; from then on its configs need it.
        case deviceClaimed = "device_claimed"
        /// An admin released a claimed phone (factory reset, replaced): a new secret, unclaimed.
        case deviceReleased = "device_released"
        /// An unclaimed phone asked for its config while claims need an admin's approval.
        case claimPending = "claim_pending"
        /// An admin approved a pending claim.
        case claimApproved = "claim_approved"
        /// A config fetch without (or with a wrong) provisioning secret for a claimed phone.
        case configRefused = "config_refused"
        case unknownDeviceRefused = "unknown_device_refused"
        case directoryImport = "directory_import"
        /// A push (reload or reboot) asked of a phone, and how it ended.
        case push
        case apiKeyCreated = "api_key_created"
        /// An API or PBX key was revoked: it opens nothing from now on.
        case apiKeyRevoked = "api_key_revoked"
        /// An admin API call was refused (missing or wrong key).
        case apiRefused = "api_refused"
        /// `/push-auth` was asked about a login that is not one of a push HotDesk is sending.
        case pushAuthRefused = "push_auth_refused"
        /// A shared line a logged-in member's phone cannot carry (no such key, or the key taken).
        case lineLeftOff = "line_left_off"
        /// A line's SIP password was replaced (the audit never holds the password).
        case sipPasswordReset = "sip_password_reset"
        /// An admin changed a device (its workspace, its users).
        case deviceChanged = "device_changed"
        /// An admin removed something from the directory through the API.
        case directoryDelete = "directory_delete"
        /// A helpdesk or admin cleared a lock (an extension's, a phone's, an address's).
        case unlock
        /// A person signed in to the web console (or tried to: `outcome` says).
        case signIn = "sign_in"
        /// A person signed out of the web console.
        case signOut = "sign_out"
        /// A console account was created, changed (role, password) or removed.
        case adminAccountChanged = "admin_account_changed"
        /// A person changed their PIN on a phone (Change PIN), or an admin cleared it (`outcome`
        /// and `detail` say which); the audit never holds a PIN.
        case pinChanged = "pin_changed"
        /// A partner made an organisation (its empty directory).
        case organisationCreated = "organisation_created"
    }

    public enum Outcome: String, Sendable, Codable {
        case success
        case failure
        case refused
    }

    public var at: Date
    /// Who acted: an extension number, `admin-password`, `system`, `cli`, …
    public var actor: String
    public var action: Action
    public var mac: MACAddress?
    public var extensionNumber: String?
    /// The address the request came from.
    public var source: String?
    public var outcome: Outcome
    /// Free text for people; never a secret.
    public var detail: String

    public init(
        at: Date,
        actor: String,
        action: Action,
        mac: MACAddress? = nil,
        extensionNumber: String? = nil,
        source: String? = nil,
        outcome: Outcome,
        detail: String = ""
    ) {
        self.at = at
        self.actor = actor
        self.action = action
        self.mac = mac
        self.extensionNumber = extensionNumber
        self.source = source
        self.outcome = outcome
        self.detail = detail
    }
}

/// Which audit entries to read: every filter given must hold; newest first, `limit` of them with
/// an id below `beforeID` (the next page of a previous answer).
public struct AuditQuery: Hashable, Sendable {
    public var actor: String?
    public var action: AuditEntry.Action?
    public var mac: MACAddress?
    public var extensionNumber: String?
    /// Only entries about the phones or users of these sites (nil: every entry).
    public var sites: [String]?
    public var since: Date?
    public var until: Date?
    public var beforeID: Int64?
    public var limit = 100

    public init() {}
}
