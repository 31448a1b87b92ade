import Crypto
import Foundation

/// A person who signs in to the web console (`hotdesk admin create NAME --role …`). The role is
/// the one admin API keys carry (`AdminRole`); the password is stored as a keyed `SecretHash`,
/// like every other secret a person types.
public struct AdminAccountInfo: Hashable, Sendable {
    public var name: String
    public var role: AdminRole
    /// The sites the account is limited to.
    public var scope = SiteScope.everySite
    public var createdAt: Date
    public var lastSignInAt: Date?

    public init(name: String, role: AdminRole, createdAt: Date, lastSignInAt: Date?) {
        self.name = name
        self.role = role
        self.createdAt = createdAt
        self.lastSignInAt = lastSignInAt
    }

    /// Why `name` cannot name an account (1-64 of letters, digits, `.`, `_`, `-`, `@`), or nil.
    public static func nameProblem(_ name: String) -> String? {
        guard (1...64).contains(name.utf8.count),
            name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-@".unicodeScalars.contains($0)) })
        else { return "an account name is 1-64 letters, digits, '.', '_', '-' or '@'" }
        return nil
    }

    /// Why `password` is too weak for an account that can see every phone, or nil.
    public static func passwordProblem(_ password: String) -> String? {
        if password.count < minimumPasswordLength { return "a console password has at least \(minimumPasswordLength) characters" }
        if password.count > 256 { return "a console password has at most 256 characters" }
        if password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "a console password has no control characters"
        }
        return nil
    }

    public static let minimumPasswordLength = 12
}

/// A signed-in console: the account, its role, and the token every change must carry in
/// `X-CSRF-Token` (the session cookie alone opens reads only).
public struct ConsoleSession: Hashable, Sendable {
    public var account: String
    public var role: AdminRole
    /// The account's sites, read with the session at each request.
    public var scope = SiteScope.everySite
    public var csrfToken: String
    public var expiresAt: Date

    public init(account: String, role: AdminRole, csrfToken: String, expiresAt: Date) {
        self.account = account
        self.role = role
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }

    /// Cookie values: 256 random bits; only their SHA-256 is stored, like API keys.
    public static func makeToken() -> String { RandomToken.make(bytes: 32) }

    public static func isWellFormedToken(_ text: some StringProtocol) -> Bool { RandomToken.isWellFormed(text, bytes: 32) }

    public static func hash(_ token: String) -> String { RandomToken.hash(token) }
}

/// The wrong console passwords a sign-in is held by: its account's (each with its address) and
/// its address's (for any account).
public struct SignInFailures: Sendable {
    public var account: [(at: Date, source: String)]
    public var source: [Date]

    public init(account: [(at: Date, source: String)] = [], source: [Date] = []) {
        self.account = account
        self.source = source
    }
}

/// One line of the extension list: never a PIN or SIP password.
public struct ExtensionSummary: Hashable, Sendable {
    public var number: String
    public var name: String
    public var cos: String?
    public var hasVoicemail: Bool
    /// The user's home site, if any.
    public var site: String?
    /// Whether the person chose a PIN on a phone (Change PIN), which then logs them in instead.
    public var pinChosen = false

    public init(number: String, name: String, cos: String?, hasVoicemail: Bool) {
        self.number = number
        self.name = name
        self.cos = cos
        self.hasVoicemail = hasVoicemail
    }
}
