import Foundation
import HotDeskCore
import HotDeskStore

/// What came of pressing "Done".
enum LoginOutcome: Sendable {
    case loggedIn(LoginResult)
    case noExtension
    case badExtension
    case tooLong
    case noPassword
    case wrongPassword(String, triesLeft: Int)
    case locked(LockReason)
    case noAddress(Network)
    /// `multi_login` refused it: where the extension is logged in (MAC and model).
    case loggedInElsewhere(String, places: [String])
    case tooManyPhones(String, count: Int, max: Int)
    /// A personal device: the extension is not one of its users.
    case notAssigned(String)
    /// The phone is in another site than the extension's, and the extension does not roam there.
    case otherSite(String, site: String)
    /// The phone is in a workspace with hot desking off (a lobby or meeting-room phone).
    case hotDeskingOff(workspace: String)
    /// Only a global password could match (the extension has no voicemail box), and the global
    /// passwords are held (the budget is spent, or this address spent its share): nothing was
    /// checked and nothing charged.
    case globalPasswordsHeld(until: Date)
    /// Change PIN: the person's own PIN is now the new one.
    case pinChanged(String)
    /// Change PIN: the new PIN is not 4-12 digits, the two new PINs differ, or it is the old one
    /// (nothing checked, nothing counted).
    case badNewPIN(NewPINProblem)
    /// Change PIN: the old PIN given was the admin password, which proves nothing of the person's.
    case adminPasswordIsNoPIN

    /// The `outcome` label of `hotdesk_logins_total`.
    var metricLabel: String {
        switch self {
        case .loggedIn: "success"
        case .wrongPassword: "wrong_password"
        case .locked: "locked"
        case .noExtension, .badExtension, .tooLong, .noPassword: "bad_input"
        case .noAddress, .loggedInElsewhere, .tooManyPhones, .notAssigned, .otherSite, .hotDeskingOff, .globalPasswordsHeld: "refused"
        case .pinChanged, .badNewPIN, .adminPasswordIsNoPIN: "pin"
        }
    }
}

/// Why a new PIN is refused before anything is checked.
enum NewPINProblem: Sendable {
    case notDigits, differ, same
}

/// What a proven secret is for: a session on the phone, or the person's own PIN replaced.
enum ProvenStep: Sendable {
    case login(Network)
    case changePIN(to: String)
}
