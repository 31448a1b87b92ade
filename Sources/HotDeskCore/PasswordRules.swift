/// Which secret let a person log in. Recorded with the session and in the audit log.
public enum Credential: String, Sendable, Codable, Hashable {
    /// The extension's own voicemail PIN.
    case voicemailPIN = "voicemail_pin"
    /// The global user password (only for extensions without a voicemail box).
    case userPassword = "user_password"
    /// The global admin password (any extension, any phone).
    case adminPassword = "admin_password"
}

/// The password rules of the Login app, in order:
/// 1. the extension's voicemail PIN;
/// 2. if the extension has no voicemail box, the global user password (and only then);
/// 3. the global admin password logs any extension into any phone.
///
/// Every applicable secret is checked, whatever matched first, so the time taken does not tell
/// which rule exists or matched.
public enum PasswordRules {
    public static func check(_ password: String, for ext: Extension, settings: Settings) -> Credential? {
        guard !password.isEmpty else { return nil }
        let personal: Credential?
        if let pin = ext.voicemailPIN {
            personal = pin.matches(password) ? .voicemailPIN : nil
        } else if let user = settings.userPassword {
            personal = user.matches(password) ? .userPassword : nil
        } else {
            personal = nil
        }
        let admin = settings.adminPassword?.matches(password) == true
        return personal ?? (admin ? .adminPassword : nil)
    }
}
