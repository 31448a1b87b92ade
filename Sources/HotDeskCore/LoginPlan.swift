/// What a user may do when their extension is already logged in on another phone
/// (`settings.multi_login`).
public enum MultiLoginPolicy: Hashable, Sendable, CustomStringConvertible {
    /// The login moves: the other phones are logged out (the default).
    case move
    /// The login is refused until the user logs out there.
    case deny
    /// The extension may be logged in on up to this many phones at once.
    case allow(maxPhones: Int)

    public var description: String {
        switch self {
        case .move: "move"
        case .deny: "deny"
        case .allow(let n): "allow:\(n)"
        }
    }

    /// `move`, `deny`, `allow:2` — how the store keeps it.
    public init?(_ text: String) {
        switch text {
        case "move": self = .move
        case "deny": self = .deny
        default:
            guard text.hasPrefix("allow:"), let n = Int(text.dropFirst(6)), (1...50).contains(n) else { return nil }
            self = .allow(maxPhones: n)
        }
    }
}

/// What a login changes, decided before anything is written: who must be logged out first, or
/// why the login may not happen.
///
/// Rules: a login on a phone someone else is logged into logs them out first. An extension
/// logged in on other phones: `move` logs it out there; `deny` refuses; `allow` keeps them up to
/// the limit and refuses past it.
public struct LoginPlan: Hashable, Sendable {
    /// Why the login is refused.
    public enum Refusal: Hashable, Sendable {
        /// `deny`: the extension is logged in on these phones.
        case loggedInElsewhere([MACAddress])
        /// `allow`: already on `count` phones, at most `max`.
        case tooManyPhones(count: Int, max: Int)
    }

    /// The session on this phone that the login replaces (another extension, or the same one again).
    public let replacedOnDevice: Session?
    /// Sessions of this extension on other phones that the login ends (`move`).
    public let endedElsewhere: [Session]
    public let refusal: Refusal?

    public init(
        device: MACAddress,
        extensionNumber: String,
        sessionOnDevice: Session?,
        sessionsOfExtension: [Session],
        policy: MultiLoginPolicy = .move
    ) {
        replacedOnDevice = sessionOnDevice
        let elsewhere = sessionsOfExtension.filter { $0.mac != device }
        switch policy {
        case .move:
            endedElsewhere = elsewhere
            refusal = nil
        case .deny:
            endedElsewhere = []
            refusal = elsewhere.isEmpty ? nil : .loggedInElsewhere(elsewhere.map(\.mac))
        case .allow(let max):
            endedElsewhere = []
            refusal = elsewhere.count + 1 > max ? .tooManyPhones(count: elsewhere.count, max: max) : nil
        }
    }

    /// The first session ended elsewhere (the move of a one-phone login).
    public var movedFromDevice: Session? { endedElsewhere.first }

    /// Every phone whose config changes, this one first.
    public func affectedDevices(_ device: MACAddress) -> [MACAddress] {
        [device] + endedElsewhere.map(\.mac)
    }
}
