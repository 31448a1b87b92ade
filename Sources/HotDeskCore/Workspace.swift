import Foundation

/// A shared space whose phones a partner manages (Webex document): a name, a licence that caps
/// how many devices it holds, and whether its phones offer hot desking.
public struct Workspace: Hashable, Sendable {
    public enum Licence: String, Hashable, Sendable, CaseIterable {
        /// Up to 5 devices.
        case professional
        /// One device.
        case commonArea = "common_area"

        public var maxDevices: Int {
            switch self {
            case .professional: 5
            case .commonArea: 1
            }
        }
    }

    public var name: String
    public var licence: Licence
    public var hotDesking: Bool
    /// The caller ID of an emergency call from a desk in this workspace (`nil`: the settings').
    public var emergencyCallerID: String?
    /// The site the workspace is in: its phones are that site's.
    public var site: String?
    /// What kind of room it is (Webex's workspace types), for finding and reporting.
    public var roomType: RoomType?
    /// How many people it seats (1-1000).
    public var capacity: Int?
    /// The workspace's own number (Webex's workspace number): the line its phones carry while
    /// nobody is logged in on them (a phone's own line comes first), reached by calling it.
    public var line: DeviceLine?

    /// Webex's workspace types, in the directory's spelling.
    public enum RoomType: String, Hashable, Sendable, CaseIterable {
        case desk, focus, huddle
        case meetingRoom = "meeting_room"
        case open, other
    }

    public static let capacities = 1...1000

    public init(name: String, licence: Licence, hotDesking: Bool, emergencyCallerID: String? = nil) {
        self.name = name
        self.licence = licence
        self.hotDesking = hotDesking
        self.emergencyCallerID = emergencyCallerID
    }

    /// Characters a workspace name may not hold.
    public static let forbiddenCharacters: Set<Character> = ["%", "#", "<", ">", ",", "\\", "\""]
    public static let maxNameLength = 30

    /// Why `name` cannot name a workspace, or `nil`.
    public static func nameProblem(_ name: String) -> String? {
        if name.trimmingCharacters(in: .whitespaces).isEmpty { return "a workspace name is not empty" }
        if name.count > maxNameLength { return "\(name.count) characters; at most \(maxNameLength)" }
        if let bad = name.first(where: { forbiddenCharacters.contains($0) }) { return "\"\(bad)\" is not allowed (none of % # < > , \\ \")" }
        if let why = TextSafety.problem(name) { return "\(why) is not allowed" }
        return nil
    }
}
