/// Which secret let a person log in. Recorded with the session and in the audit log.
public enum Credential: String, Sendable, Codable, Hashable {
    /// The extension's own voicemail PIN.
    case voicemailPIN = "voicemail_pin"
    /// The PIN the person chose on a phone (Change PIN).
    case ownPIN = "own_pin"
    /// The global user password (only for extensions without a voicemail box).
    case userPassword = "user_password"
    /// The global admin password (any extension, any phone).
    case adminPassword = "admin_password"
}

/// The password rules of the Login app, in order:
/// 1. the PIN the person chose (Change PIN), else the extension's voicemail PIN;
/// 2. if the extension has no voicemail box, the global user password (and only then);
/// 3. the global admin password logs any extension into any phone.
///
/// A failure always costs the same two checks (the extension's own secret, then the admin
/// password), whichever rules exist, so the time taken does not tell them apart. A success stops
/// at the first match: it is a login, which the person sees anyway, and it halves the work of the
/// common case (every Done at 9:00 runs PBKDF2).
public enum PasswordRules {
    public static func check(_ password: String, for ext: Extension, settings: Settings) -> Credential? {
        guard !password.isEmpty else { return nil }
        if let pin = ext.ownPIN {
            if pin.matches(password) { return .ownPIN }
        } else if let pin = ext.voicemailPIN {
            if pin.matches(password) { return .voicemailPIN }
        } else if let user = settings.userPassword {
            if user.matches(password) { return .userPassword }
        } else {
            _ = decoy.matches(password)  // the same work as a wrong PIN
        }
        if let admin = settings.adminPassword {
            return admin.matches(password) ? .adminPassword : nil
        }
        _ = decoy.matches(password)
        return nil
    }

    /// Checked where no secret applies, so that every failure costs two checks.
    private static let decoy = SecretHash(hashing: RandomToken.make(), key: .random())
}
