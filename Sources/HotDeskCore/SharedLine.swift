/// How a shared line's key alerts a member's phone (iPECS "Ring Option").
public enum RingOption: Hashable, Sendable, CustomStringConvertible {
    case ring
    case noRing
    /// Rings only after the line has rung this many seconds elsewhere.
    case after(seconds: Int)

    /// `ring`, `no_ring`, `after:10` — how the store keeps it.
    public var description: String {
        switch self {
        case .ring: "ring"
        case .noRing: "no_ring"
        case .after(let seconds): "after:\(seconds)"
        }
    }

    public init?(_ text: String) {
        switch text {
        case "ring": self = .ring
        case "no_ring": self = .noRing
        default:
            guard text.hasPrefix("after:"), let s = Int(text.dropFirst(6)), (1...120).contains(s) else { return nil }
            self = .after(seconds: s)
        }
    }
}

/// A line several hot desk users share (iPECS document): its own number and SIP credentials, and
/// a key on each member's phone.
public struct SharedLine: Hashable, Sendable {
    public struct Member: Hashable, Sendable {
        public var extensionNumber: String
        /// The line key it takes on the member's phone (1 is the member's own line).
        public var button: Int
        public var ring: RingOption

        public init(extensionNumber: String, button: Int, ring: RingOption) {
            self.extensionNumber = extensionNumber
            self.button = button
            self.ring = ring
        }
    }

    public var number: String
    public var name: String
    /// Recoverable, like an extension's: sealed at rest by the store.
    public var sipPassword: String
    public var callerID: String?
    public var members: [Member]
    /// How many members the line is licensed for (iPECS's "20 licenses"): at most that many;
    /// nil: no count.
    public var licences: Int?
    /// The number callers outside dial to reach it (iPECS's "Direct Dial Call Number"): the PBX
    /// asks which line it rings (`/pbx/v1/direct-dial/{number}`). One line's at most.
    public var directDial: String?

    public static let licenceCounts = 1...1000

    public init(number: String, name: String, sipPassword: String, callerID: String?, members: [Member]) {
        self.number = number
        self.name = name
        self.sipPassword = sipPassword
        self.callerID = callerID
        self.members = members
    }
}

/// One line a logged-in user's phone carries besides their own: a shared line they are a member
/// of, with their key and ring option.
public struct LineMembership: Hashable, Sendable {
    public var line: SharedLine
    public var button: Int
    public var ring: RingOption

    public init(line: SharedLine, button: Int, ring: RingOption) {
        self.line = line
        self.button = button
        self.ring = ring
    }
}

/// Which lines go on which keys of one phone: the user's own line on key 1, each shared line on
/// its button — unless the model has no such key (its last key is the Login/Logout key) or an
/// earlier line took it; those are left off, and the reason is said (for the audit).
public enum LineLayout {
    public struct LeftOff: Hashable, Sendable {
        public var number: String
        public var reason: String
    }

    public static func place(_ memberships: [LineMembership], model: PhoneModel) -> (placed: [LineMembership], leftOff: [LeftOff]) {
        var placed: [LineMembership] = []
        var leftOff: [LeftOff] = []
        var taken: Set<Int> = [1]
        for m in memberships.sorted(by: { ($0.button, $0.line.number) < ($1.button, $1.line.number) }) {
            if m.button >= model.lineKeys {
                leftOff.append(
                    .init(
                        number: m.line.number,
                        reason: "key \(m.button): the \(model.name) has \(model.lineKeys) line keys, the last one for Login/Logout"
                    )
                )
            } else if taken.contains(m.button) {
                leftOff.append(.init(number: m.line.number, reason: "key \(m.button) is already taken"))
            } else {
                taken.insert(m.button)
                placed.append(m)
            }
        }
        return (placed, leftOff)
    }
}
