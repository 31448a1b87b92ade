import Foundation
import HotDeskCore
import HotDeskStore

/// Single-use logins for pushes to phones that check a command's login by asking HotDesk (a
/// recipe with `"login": "one_time"`: Cisco's `authenticationURL`). Each push gets a login of its
/// own, good for one answer of `POST /push-auth` about that phone and only while the push is
/// being sent; the phone's long-lived web password is never sent nor confirmed (issue 21: the
/// endpoint answered for it, and was a password oracle).
///
/// Kept in the store, as their SHA-256 only: with several nodes behind one address, the phone's
/// question may reach a node other than the one sending the push.
struct PushLogins: Sendable {
    static let username = "hotdesk-push"
    /// Logins kept per phone (one per push in flight; each lives seconds).
    static let perPhone = 4

    let store: any PushJobStore

    /// A new login for one push to `mac`, good until `lifetime` has passed.
    func issue(mac: MACAddress, now: Date, lifetime: TimeInterval) async throws -> PhoneCredentials {
        let password = RandomToken.make()
        try await store.addPushLogin(mac: mac, loginHash: Self.hash(password), expires: now + lifetime, now: now, keepPerPhone: Self.perPhone)
        return PhoneCredentials(username: Self.username, password: password)
    }

    /// Whether `username`/`password` is a live login issued for `mac`; a login is taken once.
    /// Looked up by its hash: how long the lookup takes says nothing about the password.
    func redeem(mac: MACAddress, username: String, password: String, now: Date) async throws -> Bool {
        guard ConstantTime.equal(username, Self.username) else { return false }
        return try await store.takePushLogin(mac: mac, loginHash: Self.hash(password), now: now)
    }

    static func hash(_ password: String) -> String { RandomToken.hash(password) }
}
