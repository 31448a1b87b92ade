import Foundation
import HotDeskCore

// The admin API's JSON, defined once: the server encodes these, the CLI decodes them. Keys are
// snake_case on the wire (`APICoding`), times ISO 8601.

/// A stored key: never the key, never its hash.
public struct APIKeyView: Codable, Sendable, CustomStringConvertible {
    public var name: String
    /// `admin` (`/api/v1`) or `pbx` (`/pbx/v1`).
    public var kind: String
    /// An admin key's role: `auditor`, `helpdesk` or `admin` (PBX keys: null).
    public var role: String?
    /// The sites an admin key is limited to; null: every site.
    public var sites: [String]?
    public var createdAt: Date
    public var lastUsedAt: Date?

    public init(_ key: APIKeyInfo) {
        name = key.name
        kind = key.kind.rawValue
        role = key.kind == .admin ? key.role.rawValue : nil
        sites = key.scope.sites
        createdAt = key.createdAt
        lastUsedAt = key.lastUsedAt
    }

    public var description: String {
        [
            name, kind, role ?? "-", sites?.joined(separator: ",") ?? "every site", createdAt.formatted(.iso8601),
            lastUsedAt?.formatted(.iso8601) ?? "never used",
        ]
        .joined(separator: "  ")
    }
}

public struct APIKeyList: Codable, Sendable {
    public var keys: [APIKeyView]
    public init(keys: [APIKeyView]) { self.keys = keys }
}

public struct RevokedKeyView: Codable, Sendable {
    public var name: String
    public var revoked: Bool
    public init(name: String, revoked: Bool) {
        self.name = name
        self.revoked = revoked
    }
}

/// One audit entry.
public struct AuditEntryView: Codable, Sendable {
    public var id: Int64
    public var at: Date
    public var actor: String
    public var action: String
    public var mac: String?
    public var `extension`: String?
    public var source: String?
    public var outcome: String
    public var detail: String

    public init(id: Int64, _ e: AuditEntry) {
        self.id = id
        at = e.at
        actor = e.actor
        action = e.action.rawValue
        mac = e.mac?.colonSeparated
        `extension` = e.extensionNumber
        source = e.source
        outcome = e.outcome.rawValue
        detail = e.detail
    }

    /// The CSV columns, in order.
    public static let csvHeader = ["id", "at", "actor", "action", "mac", "extension", "source", "outcome", "detail"]

    public var csvFields: [String] {
        ["\(id)", at.formatted(.iso8601), actor, action, mac ?? "", `extension` ?? "", source ?? "", outcome, detail]
    }
}

public struct AuditList: Codable, Sendable {
    public var entries: [AuditEntryView]
    /// The path of the next (older) page when this one was full.
    public var next: String?
    public init(entries: [AuditEntryView], next: String?) {
        self.entries = entries
        self.next = next
    }
}

/// CSV as spreadsheets read it (RFC 4180): a field with a comma, quote or line break is quoted;
/// one that a spreadsheet would take for a formula (= + - @, tab, CR) starts with a `'`.
public enum CSV {
    public static func line(_ fields: [String]) -> String {
        fields.map { field in
            var value = field
            if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
            guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",")
    }
}

/// `POST /admin/sign-in`'s body.
public struct SignInRequest: Codable, Sendable {
    public var name: String
    public var password: String
    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }
}

/// Who is signed in to the console, and the token each change must send as `X-CSRF-Token`.
public struct ConsoleSessionView: Codable, Sendable {
    public var name: String
    public var role: String
    /// The sites the account is limited to; null: every site.
    public var sites: [String]?
    public var csrfToken: String
    public var expiresAt: Date
    public init(name: String, role: String, csrfToken: String, expiresAt: Date) {
        self.name = name
        self.role = role
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }
}

public struct AdminAccountView: Codable, Sendable, CustomStringConvertible {
    public var name: String
    public var role: String
    /// The sites the account is limited to; null: every site.
    public var sites: [String]?
    public var createdAt: Date
    public var lastSignInAt: Date?
    public init(_ account: AdminAccountInfo) {
        name = account.name
        role = account.role.rawValue
        sites = account.scope.sites
        createdAt = account.createdAt
        lastSignInAt = account.lastSignInAt
    }

    public var description: String {
        "\(name)  \(role)  \(sites?.joined(separator: ",") ?? "every site")  \(createdAt.formatted(.iso8601))  "
            + (lastSignInAt.map { $0.formatted(.iso8601) } ?? "never")
    }
}

public struct AdminAccountList: Codable, Sendable {
    public var accounts: [AdminAccountView]
    public init(accounts: [AdminAccountView]) { self.accounts = accounts }
}

/// `POST /api/v1/accounts`: a new console account (or, for an existing name, a new password and/or role).
public struct AdminAccountRequest: Codable, Sendable {
    public var name: String
    public var role: String?
    public var password: String?
    /// Limits the account to these sites (a new account without them: every site).
    public var sites: [String]?
    /// `true`: the account is of every site again.
    public var everySite: Bool?
    public init(name: String, role: String?, password: String?) {
        self.name = name
        self.role = role
        self.password = password
    }
}

/// One extension as the console lists it: who it is, where it is logged in, whether it is locked.
public struct ExtensionView: Codable, Sendable {
    public var number: String
    public var name: String
    public var cos: String?
    public var voicemail: Bool
    /// The person chose a PIN on a phone, which logs them in instead of the voicemail PIN
    /// (`DELETE /api/v1/extensions/{number}/pin` forgets it).
    public var pinChosen: Bool
    /// MACs of the phones it is logged in on.
    public var loggedInOn: [String]
    /// When its lock ends, if wrong passwords locked it.
    public var lockedUntil: Date?
    /// Its home site, if any.
    public var site: String?
    public init(_ e: ExtensionSummary, loggedInOn: [String], lockedUntil: Date?) {
        number = e.number
        name = e.name
        cos = e.cos
        site = e.site
        voicemail = e.hasVoicemail
        pinChosen = e.pinChosen
        self.loggedInOn = loggedInOn
        self.lockedUntil = lockedUntil
    }
}

public struct ExtensionList: Codable, Sendable {
    public var extensions: [ExtensionView]
    public var next: String?
    public init(extensions: [ExtensionView], next: String?) {
        self.extensions = extensions
        self.next = next
    }
}

/// `GET /api/v1/organisations` (partners): the organisations beside the main directory.
public struct OrganisationList: Codable, Sendable {
    public var organisations: [OrganisationView]
    public init(organisations: [OrganisationView]) { self.organisations = organisations }
}

public struct OrganisationView: Codable, Sendable {
    public var name: String
    /// Where its routes are: `/o/NAME` (its console `/o/NAME/admin`, its API `/o/NAME/api/v1`).
    public var path: String
    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}
