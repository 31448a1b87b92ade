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
    case unknownExtension(String)
    case wrongPassword(String, triesLeft: Int)
    case locked(LockReason)
    case noAddress(Network)
    /// `multi_login` refused it: where the extension is logged in (MAC and model).
    case loggedInElsewhere(String, places: [String])
    case tooManyPhones(String, count: Int, max: Int)
    /// A personal device: the extension is not one of its users.
    case notAssigned(String)
}

/// The login rules around the store: input checks, lockouts, password rules, audit.
struct LoginService: Sendable {
    let store: any Store

    /// The longest extension or password input looked at; anything longer is refused unread.
    static let maxInput = 64

    func login(
        device: Device, settings: Settings, network: Network, extensionInput: String, password: String, source: String?, now: Date
    ) async throws -> LoginOutcome {
        guard extensionInput.utf8.count <= Self.maxInput, password.utf8.count <= Self.maxInput else { return .tooLong }
        let number = extensionInput.trimmingCharacters(in: .whitespaces)
        guard !number.isEmpty else { return .noExtension }
        guard Extension.isValidNumber(number) else { return .badExtension }
        guard !password.isEmpty else { return .noPassword }
        if network == .external, settings.externalAddress == nil { return .noAddress(.external) }

        let rule = LockoutRule(policy: settings.lockout)
        let recent = try await store.failures(mac: device.mac, extensionNumber: number, since: rule.windowStart(now: now))
        if let lock = rule.lock(extensionNumber: number, extensionFailures: recent.extension, deviceFailures: recent.device, now: now) {
            try await store.audit(
                AuditEntry(
                    at: now, actor: number, action: .loginFailed, mac: device.mac, extensionNumber: number, source: source, outcome: .refused,
                    detail: "locked until \(lock.until.formatted(.iso8601))"))
            return .locked(lock)
        }

        guard let ext = try await store.findExtension(number) else {
            try await store.recordFailure(
                AuditEntry(
                    at: now, actor: number, action: .loginFailed, mac: device.mac, source: source, outcome: .failure,
                    detail: "unknown extension \(number)"))
            return try await lockAfterFailure(rule: rule, device: device, number: nil, source: source, now: now) ?? .unknownExtension(number)
        }

        guard let credential = PasswordRules.check(password, for: ext, settings: settings) else {
            try await store.recordFailure(
                AuditEntry(
                    at: now, actor: number, action: .loginFailed, mac: device.mac, extensionNumber: number, source: source, outcome: .failure,
                    detail: "wrong password"))
            if let locked = try await lockAfterFailure(rule: rule, device: device, number: number, source: source, now: now) { return locked }
            let after = try await store.failures(mac: device.mac, extensionNumber: number, since: rule.windowStart(now: now))
            return .wrongPassword(number, triesLeft: rule.triesLeft(extensionFailures: after.extension, now: now))
        }

        // A personal device takes its own users only (and the admin password, which logs anyone in anywhere).
        if !device.assignedUsers.isEmpty, !device.assignedUsers.contains(number), credential != .adminPassword {
            try await store.audit(
                AuditEntry(
                    at: now, actor: number, action: .loginFailed, mac: device.mac, extensionNumber: number, source: source, outcome: .refused,
                    detail: "personal device of \(device.assignedUsers.joined(separator: ", "))"))
            return .notAssigned(number)
        }
        let session = Session(mac: device.mac, extensionNumber: number, network: network, credential: credential, startedAt: now, source: source)
        let actor = credential == .adminPassword ? "admin-password" : number
        let result = try await store.login(session, actor: actor, policy: settings.multiLogin)
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
                at: now, actor: actor, action: .loginFailed, mac: device.mac, extensionNumber: number, source: source, outcome: .refused,
                detail: "multi_login \(settings.multiLogin): \(refusal)"))
        return outcome
    }

    /// After a failure: if it tipped a limit, audit the new lock and report it.
    private func lockAfterFailure(rule: LockoutRule, device: Device, number: String?, source: String?, now: Date) async throws -> LoginOutcome? {
        let after = try await store.failures(mac: device.mac, extensionNumber: number, since: rule.windowStart(now: now))
        guard let lock = rule.lock(extensionNumber: number, extensionFailures: after.extension, deviceFailures: after.device, now: now) else {
            return nil
        }
        let what: String = switch lock {
        case .deviceLocked: "phone \(device.mac) locked for every extension"
        case .extensionLocked(let n, _): "extension \(n) locked on every phone"
        }
        try await store.audit(
            AuditEntry(
                at: now, actor: "system", action: .lockout, mac: device.mac, extensionNumber: number, source: source, outcome: .refused,
                detail: "\(what) until \(lock.until.formatted(.iso8601))"))
        return .locked(lock)
    }
}
