import Foundation
import HotDeskCore

/// What a change asks of the phones whose config it changes: why they are pushed, by whom, and
/// how long after the change (the phone shows its "Done" screen first).
public struct PushOrder: Sendable {
    public var reason: PushReason
    public var actor: String
    /// When the change was made.
    public var at: Date
    public var delay: TimeInterval
    /// `nil`: what the phone's model does to apply a config (reload, else reboot).
    public var action: PushAction?

    public var notBefore: Date { at + delay }

    public init(reason: PushReason, actor: String, at: Date, delay: TimeInterval = 0, action: PushAction? = nil) {
        self.reason = reason
        self.actor = actor
        self.at = at
        self.delay = delay
        self.action = action
    }
}

/// Makes the push job that brings a phone to the config it gets now (the server's config builder
/// and push recipes). Called inside the change's own transaction with the state as changed, so
/// the change and its push are written together or not at all.
public protocol PushPlanner: Sendable {
    func job(for state: DeviceConfigState, _ order: PushOrder) throws -> PushJob
}

/// The push half of a change: who makes the jobs, and what for. Every store call that changes
/// what a phone should have takes one and writes the jobs in the same transaction (the outbox:
/// the push worker of whichever process runs `serve` sends them).
public struct Outbox: Sendable {
    public let planner: any PushPlanner
    public var order: PushOrder

    public init(planner: any PushPlanner, order: PushOrder) {
        self.planner = planner
        self.order = order
    }

    /// The same planner for another order (a login pushes the phones it logged out elsewhere
    /// with reason `logout`).
    public func with(reason: PushReason) -> Outbox {
        var copy = self
        copy.order.reason = reason
        return copy
    }
}

/// Why a session ended, in the audit's one wording (the row's actor says who).
public enum SessionEnd: Sendable, Hashable, CustomStringConvertible {
    /// The person pressed Logout on the phone.
    case fromPhone
    /// The person dialled the logout star code.
    case starCode
    /// An admin forced it (API, console or CLI).
    case forced
    /// The auto-logout policy (its rule in words: `daily logout at 19:00`, `after 10 h`…).
    case policy(String)
    /// Someone else logged in on this phone, or this extension logged in on another (`on`).
    case replaced(by: String, on: MACAddress?)
    /// The directory no longer has what the session stood on (`extension 5502`, `device …`).
    case removed(String)

    public var description: String {
        switch self {
        case .fromPhone: "logout from the phone"
        case .starCode: "star code from the phone"
        case .forced: "forced by an admin"
        case .policy(let rule): rule
        case .replaced(let by, let on): "replaced by \(by) logging in" + (on.map { " on \($0)" } ?? "")
        case .removed(let what): "\(what) removed from the directory"
        }
    }
}
