import Foundation
import HotDeskCore
import HotDeskStore

/// The login rules around the store: input checks, lockouts, password rules, audit.
///
/// For one extension and one phone, count → check → record runs as one step (`LoginGuard.gate`
/// on this node, the store's node locks across nodes), so concurrent guesses never evaluate more
/// than the limit. The failures are counted in the store, so every node decides alike. An unknown extension is answered
/// exactly like a wrong password (same screen, same work, its own failure count), so the app
/// does not tell which extensions exist.
struct LoginService: Sendable {
    let store: any DeviceStore & DirectoryStore & LoginRecordStore & AuditStore & NodeLocks & StampedStore
    /// Where a login that passes is made (with its pushes).
    let changes: PhoneChanges
    let limits: LoginGuard
    let security: SecurityLog
    let telemetry: Telemetry
    /// How long the phone shows "Done" before its push: the same from the app and the star code.
    let pushDelay: TimeInterval

    /// The longest extension or password input looked at; anything longer is refused unread.
    static let maxInput = 64

    /// Checked for an extension that does not exist, so that it costs what a real one costs.
    private static let decoyPIN = SecretHash(hashing: RandomToken.make(), key: .random())

    /// Who may log in where is decided here, for the phone app and the PBX's star code alike:
    /// `workspace` is the phone's (a workspace with hot desking off takes no login at all).
    /// `source` is where the attempt came from, as audited; `guessingSource` the address whose
    /// failures count toward `source_failures` (default `source`; `nil` where the address is a
    /// relay's that many phones share, such as the PBX's own).
    func login(
        device: Device,
        workspace: Workspace?,
        settings: Settings,
        network: Network,
        extensionInput: String,
        password: String,
        source: String?,
        guessingSource: String?? = .none,
        now: Date
    ) async throws -> LoginOutcome {
        if let workspace, !workspace.hotDesking {
            telemetry.login(LoginOutcome.hotDeskingOff(workspace: workspace.name).metricLabel)
            return .hotDeskingOff(workspace: workspace.name)
        }
        let outcome = try await attempt(
            device: device,
            settings: settings,
            step: .login(network),
            extensionInput: extensionInput,
            password: password,
            source: source,
            guessingSource: guessingSource ?? source,
            now: now
        )
        telemetry.login(outcome.metricLabel)
        return outcome
    }

    /// Input checks, then count → check → record as one step (`check`); `step` is what the proven
    /// secret is for (a login, or Change PIN).
    func attempt(
        device: Device,
        settings: Settings,
        step: ProvenStep,
        extensionInput: String,
        password: String,
        source: String?,
        guessingSource: String?,
        now: Date
    ) async throws -> LoginOutcome {
        guard extensionInput.utf8.count <= Self.maxInput, password.utf8.count <= Self.maxInput else { return .tooLong }
        let number = extensionInput.trimmingCharacters(in: .whitespaces)
        guard !number.isEmpty else { return .noExtension }
        guard Extension.isValidNumber(number) else { return .badExtension }
        guard !password.isEmpty else { return .noPassword }
        if case .login(.external) = step, settings.externalAddress == nil { return .noAddress(.external) }
        try await writeLockSummaries(now: now)

        // A lock already decided is answered from memory: no failures read, no audit row (counted).
        let keys =
            [LoginGuard.key(extension: number), LoginGuard.key(device: device.mac)] + (guessingSource.map { [LoginGuard.key(source: $0)] } ?? [])
        let stamp = try await store.stamps.shared()
        if let lock = limits.lockInForce(keys, stamp: stamp, now: now) {
            security.record(
                .loginFailed,
                source: source,
                mac: device.mac,
                extensionNumber: number,
                detail: "locked until \(lock.until.formatted(.iso8601))"
            )
            return .locked(lock)
        }
        // One attempt at a time per extension and per phone: on this node (the gate), then
        // across every node on the database (its locks), so guesses spread over nodes are
        // evaluated exactly up to the limit.
        let serialised = Array(keys.prefix(2))
        return try await limits.gate.withKeys(serialised) {
            try await store.withNodeLocks(serialised) {
                try await check(
                    device: device,
                    settings: settings,
                    step: step,
                    number: number,
                    password: password,
                    source: source,
                    guessingSource: guessingSource,
                    stamp: stamp,
                    now: now
                )
            }
        }
    }

    /// The serialised part: count, check, record.
    private func check(
        device: Device,
        settings: Settings,
        step: ProvenStep,
        number: String,
        password: String,
        source: String?,
        guessingSource: String?,
        stamp: Int,
        now: Date
    ) async throws -> LoginOutcome {
        let policy = settings.lockout
        let rule = LockoutRule(policy: policy)
        let anyGlobal = settings.adminPassword != nil || settings.userPassword != nil
        let recent = try await store.failures(
            mac: device.mac,
            extensionNumber: number,
            source: guessingSource,
            global: anyGlobal,
            since: rule.windowStart(now: now)
        )
        let locked = LockedAttempt(device: device, number: number, source: source, stamp: stamp, now: now)
        if let lock = try await lockInStore(recent, locked, guessingSource: guessingSource, rule: rule) { return .locked(lock) }

        let ext = try await store.findExtension(number)
        // Global passwords are checked only within the global budget.
        let globalApplies = settings.adminPassword != nil || (ext?.personalSecret == nil && settings.userPassword != nil)
        let reservation = globalApplies ? limits.reserveGlobal(source: guessingSource, failures: recent.global, policy: policy, now: now) : nil
        let reserved = reservation == .reserved
        // Given back once this attempt's failure, if any, is counted in the store.
        defer { if reserved { limits.releaseGlobal(source: guessingSource) } }
        // When a global password is all that could match (an extension without a voicemail box;
        // an unknown one is answered alike when a user password is set) and the global passwords
        // are held, nothing is checked and nothing charged: a person typing the right user
        // password is told to come back, not told it is wrong and counted toward a lock.
        let onlyGlobal = ext.map { $0.personalSecret == nil } ?? (settings.userPassword != nil)
        switch reservation {
        case .blocked(let until)?, .sourceSpent(let until)?:
            if onlyGlobal { return .globalPasswordsHeld(until: until) }
        case .reserved?, nil:
            break
        }
        var checked = settings
        if !reserved {
            checked.adminPassword = nil
            checked.userPassword = nil
        }
        let decoy = Extension(number: number, name: "", voicemailPIN: Self.decoyPIN, sipPassword: "")
        let candidate = PasswordRules.check(password, for: ext ?? decoy, settings: checked)
        let matched = ext == nil ? nil : candidate
        guard let ext, let credential = matched else {
            let context = FailedLogin(device: device, number: number, unknown: ext == nil, reservation: reservation, source: source)
            return try await failed(context, locked: locked, guessingSource: guessingSource, rule: rule, now: now)
        }

        // A hash from before keyed hashes, just proven: replaced by one under the store's key.
        let proven: SecretHash? =
            switch credential {
            case .voicemailPIN: ext.voicemailPIN
            case .ownPIN: ext.ownPIN
            case .userPassword: settings.userPassword
            case .adminPassword: settings.adminPassword
            }
        if proven?.needsUpgrade == true { try await store.upgradeSecretHash(credential, extensionNumber: number, secret: password) }
        switch step {
        case .changePIN(let pin): return try await changedPIN(ext, to: pin, credential: credential, device: device, source: source, now: now)
        case .login(let network):
            return try await loginProven(ext, credential: credential, network: network, device: device, settings: settings, source: source, now: now)
        }
    }

    /// The password proven: the rules of the phone (personal, site), then the session.
    private func loginProven(
        _ ext: Extension,
        credential: Credential,
        network: Network,
        device: Device,
        settings: Settings,
        source: String?,
        now: Date
    ) async throws -> LoginOutcome {
        let number = ext.number
        if try await refusedAsPersonal(device: device, number: number, credential: credential, source: source, now: now) {
            return .notAssigned(number)
        }
        if let site = device.site, !ext.mayLogIn(atSite: site), credential != .adminPassword {
            let detail = "site \(site); \(number) is of site \(ext.site ?? "-") and does not roam there"
            try await refuse(device: device, number: number, source: source, detail: detail, now: now)
            return .otherSite(number, site: site)
        }
        let session = Session(mac: device.mac, extensionNumber: number, network: network, credential: credential, startedAt: now, source: source)
        return try await start(session, settings: settings, device: device)
    }

    /// A personal device takes its own users only (and the admin password, which logs anyone in
    /// anywhere): another user's login is refused, audited.
    private func refusedAsPersonal(device: Device, number: String, credential: Credential, source: String?, now: Date) async throws -> Bool {
        guard !device.assignedUsers.isEmpty, !device.assignedUsers.contains(number), credential != .adminPassword else { return false }
        try await refuse(
            device: device,
            number: number,
            source: source,
            detail: "personal device of \(device.assignedUsers.joined(separator: ", "))",
            now: now
        )
        return true
    }

    /// A login the rules of the phone refuse after its password was proven, audited.
    private func refuse(device: Device, number: String, source: String?, detail: String, now: Date) async throws {
        try await store.audit(
            AuditEntry(
                at: now,
                actor: number,
                action: .loginFailed,
                mac: device.mac,
                extensionNumber: number,
                source: source,
                outcome: .refused,
                detail: detail
            )
        )
    }

    /// A lock decided from the store's counts (from before a restart, another node's or another
    /// step's): remembered from now on.
    private func lockInStore(
        _ recent: RecentFailures,
        _ attempt: LockedAttempt,
        guessingSource: String?,
        rule: LockoutRule
    ) async throws -> LockReason? {
        if guessingSource != nil, let until = rule.sourceLockedUntil(recent.source, now: attempt.now) {
            let lock = LockReason.deviceLocked(until: until)
            try await remember(lock, attempt, new: false, sourceLock: true)
            return lock
        }
        let number = attempt.number
        if let lock = rule.lock(extensionNumber: number, extensionFailures: recent.extensionFailures, deviceFailures: recent.device, now: attempt.now)
        {
            try await remember(lock, attempt, new: false)
            return lock
        }
        return nil
    }

    /// The failures that could have matched a global password reached the global budget: the
    /// admin and user passwords stop working for a while (audited, counted, logged).
    private func globalPasswordsLocked(until: Date, policy: LockoutPolicy, device: Device, number: String, source: String?, now: Date) async throws {
        let detail =
            "\(policy.globalFailures) failures that could have matched a global password within \(Int(policy.window / 60)) min: "
            + "the admin and user passwords stop working until \(until.formatted(.iso8601)); voicemail PINs still work"
        try await store.audit(AuditEntry(at: now, actor: "system", action: .lockout, source: source, outcome: .refused, detail: detail))
        telemetry.lockout("global")
        security.record(.globalLock, source: source, mac: device.mac, extensionNumber: number, detail: detail)
    }

    /// A wrong password or unknown extension, and the refusals it leads to.
    private struct FailedLogin {
        let device: Device
        let number: String
        let unknown: Bool
        let reservation: LoginGuard.GlobalReservation?
        let source: String?
    }

    /// Counts and audits a failed login; the lock it tips, if any, is the answer.
    private func failed(_ f: FailedLogin, locked: LockedAttempt, guessingSource: String?, rule: LockoutRule, now: Date) async throws -> LoginOutcome {
        let (device, number, source, reservation) = (f.device, f.number, f.source, f.reservation)
        let globalGuess = reservation == .reserved
        var detail = f.unknown ? "unknown extension" : "wrong password"
        switch reservation {
        case .blocked(let until)?: detail += "; global passwords blocked until \(until.formatted(.iso8601))"
        case .sourceSpent(let until)?: detail += "; this address's share of global password guesses is spent until \(until.formatted(.iso8601))"
        case .reserved?, nil: break
        }
        try await store.recordFailure(
            AuditEntry(
                at: now,
                actor: number,
                action: .loginFailed,
                mac: device.mac,
                extensionNumber: number,
                source: source,
                outcome: .failure,
                detail: detail
            ),
            guessingSource: guessingSource,
            globalGuess: globalGuess
        )
        security.record(.loginFailed, source: source, mac: device.mac, extensionNumber: number, detail: detail)
        let after = try await store.failures(
            mac: device.mac,
            extensionNumber: number,
            source: guessingSource,
            global: globalGuess,
            since: rule.windowStart(now: now)
        )
        // The budget was not spent when this guess was reserved: if it is now, this guess spent it.
        if globalGuess, let until = rule.globalBlockedUntil(after.global.map(\.at), now: now) {
            try await globalPasswordsLocked(until: until, policy: rule.policy, device: device, number: number, source: source, now: now)
        }
        if guessingSource != nil, let until = rule.sourceLockedUntil(after.source, now: now) {
            let lock = LockReason.deviceLocked(until: until)
            try await remember(lock, locked, new: true, sourceLock: true)
            return .locked(lock)
        }
        if let lock = rule.lock(extensionNumber: number, extensionFailures: after.extensionFailures, deviceFailures: after.device, now: now) {
            try await remember(lock, locked, new: true)
            return .locked(lock)
        }
        return .wrongPassword(number, triesLeft: rule.triesLeft(extensionFailures: after.extensionFailures, now: now))
    }

    /// The login itself, through the change path; a refusal of the multi-login policy is audited.
    private func start(_ session: Session, settings: Settings, device: Device) async throws -> LoginOutcome {
        let (number, now, source) = (session.extensionNumber, session.startedAt, session.source)
        let credential = session.credential
        let actor = credential == .adminPassword ? "admin-password" : number
        let result = try await changes.login(session, actor: actor, policy: settings.multiLogin, delay: pushDelay)
        guard let refusal = result.plan.refusal else { return .loggedIn(result) }
        let outcome: LoginOutcome
        switch refusal {
        case .loggedInElsewhere(let macs):
            var places: [String] = []
            for mac in macs {
                // The workspace's name where the phone is in one, else the phone itself.
                let other = try await store.device(mac: mac)
                places.append(other?.workspace ?? ("\(mac.colonSeparated)" + (other.map { " (\($0.model.name))" } ?? "")))
            }
            outcome = .loggedInElsewhere(number, places: places)
        case .tooManyPhones(let count, let max):
            outcome = .tooManyPhones(number, count: count, max: max)
        }
        try await store.audit(
            AuditEntry(
                at: now,
                actor: actor,
                action: .loginFailed,
                mac: device.mac,
                extensionNumber: number,
                source: source,
                outcome: .refused,
                detail: "multi_login \(settings.multiLogin): \(refusal)"
            )
        )
        return outcome
    }

    /// The attempt a lock is remembered for.
    private struct LockedAttempt {
        let device: Device
        let number: String
        let source: String?
        /// The shared change stamp the attempt was decided at.
        let stamp: Int
        let now: Date
    }

    /// Remembers a lock in memory (later attempts are answered from there) and audits it once:
    /// `new` when this failure tipped it, else as found in the store (not again when this node
    /// remembered it already, before the shared stamp moved).
    private func remember(_ lock: LockReason, _ attempt: LockedAttempt, new: Bool, sourceLock: Bool = false) async throws {
        let (device, number, source, now) = (attempt.device, attempt.number, attempt.source, attempt.now)
        let what: String
        let key: String
        let kind: String
        switch lock {
        case _ where sourceLock:
            what = "source address \(source ?? "?") locked for every phone and extension"
            key = LoginGuard.key(source: source ?? "?")
            kind = "source"
        case .deviceLocked:
            what = "phone \(device.mac) locked for every extension"
            key = LoginGuard.key(device: device.mac)
            kind = "device"
        case .extensionLocked(let n, _):
            what = "extension \(n) locked on every phone"
            key = LoginGuard.key(extension: n)
            kind = "extension"
        }
        let remembered = LoginGuard.RememberedLock(
            reason: lock,
            mac: device.mac,
            extensionNumber: number,
            source: source,
            what: what,
            stamp: attempt.stamp
        )
        guard limits.remember(remembered, key: key) || new else { return }
        if new { telemetry.lockout(kind) }
        let detail = "\(what) until \(lock.until.formatted(.iso8601))" + (new ? "" : " (refused; further attempts are counted, not listed)")
        try await store.audit(
            AuditEntry(
                at: now,
                actor: new ? "system" : number,
                action: new ? .lockout : .loginFailed,
                mac: device.mac,
                extensionNumber: number,
                source: source,
                outcome: .refused,
                detail: detail
            )
        )
        security.record(.lock, source: source, mac: device.mac, extensionNumber: number, detail: detail)
    }

    /// One audit row per expired lock that refused attempts, with their count.
    func writeLockSummaries(now: Date) async throws {
        for lock in limits.expiredSummaries(now: now) {
            try await store.audit(
                AuditEntry(
                    at: now,
                    actor: "system",
                    action: .loginFailed,
                    mac: lock.mac,
                    extensionNumber: lock.extensionNumber,
                    source: lock.source,
                    outcome: .refused,
                    detail:
                        "\(lock.refused) attempt\(lock.refused == 1 ? "" : "s") refused while \(lock.what) (until \(lock.reason.until.formatted(.iso8601)))"
                )
            )
        }
    }
}
