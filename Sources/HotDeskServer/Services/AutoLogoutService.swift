import Foundation
import HotDeskCore
import HotDeskStore
import Logging
import ServiceLifecycle

/// Ends sessions by the directory's auto-logout policy (`settings.auto_logout`): each one is
/// audited as a logout by actor `policy`, and the phone gets its logged-out config pushed with
/// reason `policy`. Runs beside the HTTP server; a daily logout missed while the server was down
/// is caught up at start. A phone on a call (as the PBX reports calls, `/pbx/v1/calls`) is
/// logged out when its call ends, waiting at most `longest_call_wait_minutes`; an admin's logout
/// of a phone on a call waits the same way (`WaitingLogout`).
final class AutoLogoutService: Service, Sendable {
    let store: any SessionStore & DirectoryStore & NodeLocks & CallStore
    let changes: PhoneChanges
    /// Seconds between sweeps.
    let interval: TimeInterval
    /// The server's time zone, for the daily logout time.
    let calendar: Calendar
    let logger: Logger
    let clock: @Sendable () -> Date

    init(
        store: any SessionStore & DirectoryStore & NodeLocks & CallStore,
        changes: PhoneChanges,
        interval: TimeInterval,
        timeZone: TimeZone,
        logger: Logger,
        clock: @escaping @Sendable () -> Date
    ) {
        self.store = store
        self.changes = changes
        self.interval = interval
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
        self.logger = logger
        self.clock = clock
    }

    func run() async throws {
        await repeatUntilShutdown(every: interval) { await self.sweep() }
    }

    /// One pass over the sessions, on one node at a time (the others skip their turn); returns
    /// those it ended.
    @discardableResult
    func sweep() async -> [Session] {
        do {
            return try await store.unlessAnotherNodeRuns("sweep:auto-logout") { await self.sweepHere() } ?? []
        } catch {
            logger.error("auto logout sweep failed", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// A call whose end never came (a PBX restarted mid-call) is forgotten after this long.
    static let callsForgottenAfter: TimeInterval = 12 * 3600

    /// A session the sweep ends: since when it is due, why, and whose logout it is.
    struct Due {
        let session: Session
        let since: Date
        let why: SessionEnd
        let actor: String
        let reason: PushReason
        let waiting: Bool
    }

    /// Each phone's rules: its site's (the settings' own where it has none).
    struct Rules {
        let settings: Settings
        let sites: [MACAddress: String]
        let fallback: Calendar
        private let bySite: [String: (policy: AutoLogoutPolicy, calendar: Calendar)]

        init(settings: Settings, sites: [MACAddress: String], fallback: Calendar) {
            self.settings = settings
            self.sites = sites
            self.fallback = fallback
            bySite = settings.sites.keys.reduce(into: [:]) { rules, name in
                let site = settings.forSite(name)
                rules[name] = (site.autoLogout, site.calendar(fallback: fallback))
            }
        }

        /// Whether no phone anywhere has a rule.
        var areOff: Bool { settings.autoLogout.isOff && bySite.values.allSatisfy(\.policy.isOff) }
        /// Whether some phone has an idle rule, or waits for calls.
        var anyIdle: Bool { settings.autoLogout.idleAfter != nil || bySite.values.contains { $0.policy.idleAfter != nil } }

        func of(_ mac: MACAddress) -> (policy: AutoLogoutPolicy, calendar: Calendar) {
            sites[mac].flatMap { bySite[$0] } ?? (settings.autoLogout, settings.calendar(fallback: fallback))
        }
    }

    /// One session that cannot be ended (logged) never keeps the others logged in.
    private func sweepHere() async -> [Session] {
        let now = clock()
        let rules: Rules
        var due: [Due] = []
        var calls: [MACAddress: Date] = [:]
        do {
            let settings = try await store.settings()
            rules = Rules(settings: settings, sites: settings.sites.isEmpty ? [:] : try await store.deviceSites(), fallback: calendar)
            let waiting = try await store.waitingLogouts()
            guard !rules.areOff || !waiting.isEmpty else { return [] }
            let sessions = try await store.sessions()
            // Calls and the phones' last use are read only when a rule needs them.
            var callsRead = false
            func onCalls() async throws -> [MACAddress: Date] {
                if !callsRead { calls = try await store.phonesOnCalls(since: now - Self.callsForgottenAfter) }
                callsRead = true
                return calls
            }
            // Calls before uses: a call that ends between the two reads has its end noted as a use
            // (in one transaction), so the second read sees it; the other order could see neither.
            if rules.anyIdle, !sessions.isEmpty { _ = try await onCalls() }
            let activity = !rules.anyIdle || sessions.isEmpty ? [:] : try await store.lastActivity()
            for session in sessions {
                let (policy, calendar) = rules.of(session.mac)
                if let logout = waiting.first(where: { $0.isFor(session) }) {
                    due.append(.init(session: session, since: logout.requestedAt, why: .forced, actor: logout.actor, reason: .admin, waiting: true))
                } else if let end = policy.due(session, now: now, calendar: calendar) {
                    due.append(.init(session: session, since: end.since, why: .policy(end.reason), actor: "policy", reason: .policy, waiting: false))
                } else if policy.idleAfter != nil,
                    let idle = policy.idle(session, lastActive: activity[session.mac], onCall: try await onCalls()[session.mac] != nil, now: now)
                {
                    due.append(
                        .init(session: session, since: idle.since, why: .policy(idle.reason), actor: "policy", reason: .policy, waiting: false)
                    )
                }
            }
            // A waiting logout whose session ended otherwise is for nobody now.
            for logout in waiting where !sessions.contains(where: logout.isFor) { try await store.removeWaitingLogout(mac: logout.mac) }
            if !due.isEmpty, rules.settings.autoLogout.waitForCall { _ = try await onCalls() }
        } catch {
            logger.error("auto logout sweep failed", metadata: ["error": "\(error)"])
            return []
        }
        guard !due.isEmpty else { return [] }
        var ended: [Session] = []
        for end in due where !rules.settings.autoLogout.waits(since: end.since, onCallSince: calls[end.session.mac], now: now) {
            let session = end.session
            do {
                if end.waiting { try await store.removeWaitingLogout(mac: session.mac) }
                guard try await changes.end(session, actor: end.actor, why: end.why, reason: end.reason) != nil else { continue }
                logger.info("auto logout", metadata: ["mac": "\(session.mac)", "extension": "\(session.extensionNumber)", "reason": "\(end.why)"])
                ended.append(session)
            } catch {
                logger.error(
                    "auto logout failed",
                    metadata: ["mac": "\(session.mac)", "extension": "\(session.extensionNumber)", "error": "\(error)"]
                )
            }
        }
        return ended
    }
}
