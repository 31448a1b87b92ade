import Foundation
import HotDeskCore
import HotDeskStore

// Change PIN on the phone: the current PIN proven as a login's password is, then replaced.
extension LoginService {
    /// Change PIN on a phone for the person logged in on it: the old PIN is checked as a login's
    /// password is (the same counts, locks and audit of a wrong one), and the new one replaces
    /// the person's own secret for every later login. Never the admin password's business.
    func changePIN(
        device: Device,
        settings: Settings,
        extensionNumber: String,
        old: String,
        new: String,
        again: String,
        source: String?,
        now: Date
    ) async throws -> LoginOutcome {
        guard [old, new, again].allSatisfy({ $0.utf8.count <= Self.maxInput }) else { return .tooLong }
        guard !old.isEmpty else { return .noPassword }
        guard Extension.isValidPIN(new) else { return .badNewPIN(.notDigits) }
        guard new == again else { return .badNewPIN(.differ) }
        guard new != old else { return .badNewPIN(.same) }
        return try await attempt(
            device: device,
            settings: settings,
            step: .changePIN(to: new),
            extensionInput: extensionNumber,
            password: old,
            source: source,
            guessingSource: source,
            now: now
        )
    }

    /// The old PIN proven: the new one is the person's own from now on (audited, never the PIN).
    func changedPIN(
        _ ext: Extension,
        to pin: String,
        credential: Credential,
        device: Device,
        source: String?,
        now: Date
    ) async throws
        -> LoginOutcome
    {
        guard credential != .adminPassword else { return .adminPasswordIsNoPIN }
        let audit = AuditEntry(
            at: now,
            actor: ext.number,
            action: .pinChanged,
            mac: device.mac,
            extensionNumber: ext.number,
            source: source,
            outcome: .success,
            detail: "chosen on the phone, proven with the \(credential.rawValue.replacingOccurrences(of: "_", with: " "))"
        )
        _ = try await store.setOwnPIN(pin, extensionNumber: ext.number, audit: audit)
        return .pinChanged(ext.number)
    }
}
