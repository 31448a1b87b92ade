import Foundation
import HotDeskCore
import Synchronization

/// Single-use logins for pushes to phones that check a command's login by asking HotDesk (a
/// recipe with `"login": "one_time"`: Cisco's `authenticationURL`). Each push gets a login of its
/// own, good for one answer of `POST /push-auth` about that phone and only while the push is
/// being sent; the phone's long-lived web password is never sent nor confirmed (issue 21: the
/// endpoint answered for it, and was a password oracle).
///
/// Kept in this process's memory: the node that sends a push answers its phone's question. With
/// several nodes behind one address the table belongs in the shared store (issue 23).
final class PushLogins: Sendable {
    static let username = "hotdesk-push"

    private struct Issued {
        var password: String
        var expires: Date
    }

    /// Logins issued and not yet used, by phone (a few at most per phone: one per push in flight).
    private let table = Mutex<[MACAddress: [Issued]]>([:])
    /// At most this many phones with logins outstanding (each push lives seconds).
    let limit: Int
    static let perPhone = 4

    init(limit: Int = 20_000) { self.limit = limit }

    /// A new login for one push to `mac`, good until `lifetime` has passed.
    func issue(mac: MACAddress, now: Date, lifetime: TimeInterval) -> PhoneCredentials {
        let password = RandomToken.make()
        table.withLock { table in
            if table[mac] == nil, table.count >= limit {
                table = table.compactMapValues { logins in
                    let live = logins.filter { $0.expires > now }
                    return live.isEmpty ? nil : live
                }
                if table.count >= limit { table.removeAll() }
            }
            var logins = (table[mac] ?? []).filter { $0.expires > now }
            logins.append(Issued(password: password, expires: now + lifetime))
            table[mac] = Array(logins.suffix(Self.perPhone))
        }
        return PhoneCredentials(username: Self.username, password: password)
    }

    /// Whether `username`/`password` is a live login issued for `mac`; a login is taken once.
    func redeem(mac: MACAddress, username: String, password: String, now: Date) -> Bool {
        let userMatches = ConstantTime.equal(username, Self.username)
        return table.withLock { table in
            guard var logins = table[mac] else { return false }
            logins.removeAll { $0.expires <= now }
            // Every live login is compared, whatever matches: the time taken says nothing.
            var found: Int?
            for (index, login) in logins.enumerated() where ConstantTime.equal(login.password, password) { found = index }
            if let found, userMatches { logins.remove(at: found) }
            table[mac] = logins.isEmpty ? nil : logins
            return found != nil && userMatches
        }
    }
}
