import Foundation
import HotDeskCore

/// What serving one config file needs, read in one go.
public struct DeviceConfigState: Sendable {
    public var settings: Settings
    public var device: Device
    public var session: Session?
    public var line: Extension?
    /// The brand's templates and the logged-in extension's mappings, for `TemplateResolver`.
    public var templates: [Template]
    public var mappings: [Mapping]
}

/// What a phone app request needs, read in one go.
public struct AppState: Sendable {
    public var settings: Settings
    public var device: Device
    public var session: Session?
    public var sessionExtension: Extension?
}

/// The result of a login: the new session and the sessions it ended.
public struct LoginResult: Sendable {
    public var session: Session
    public var plan: LoginPlan
}

/// Counts of what an import did.
public struct ImportSummary: Hashable, Sendable, CustomStringConvertible {
    public var created = 0
    public var updated = 0
    public var unchanged = 0

    public init(created: Int = 0, updated: Int = 0, unchanged: Int = 0) {
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
    }

    public var description: String { "\(created) created, \(updated) updated, \(unchanged) unchanged" }
}

/// Persistence for HotDesk. `SQLiteStore` is the embedded default.
public protocol Store: Sendable {
    func settings() async throws -> Settings
    func device(mac: MACAddress) async throws -> Device?
    /// Adds a device unless one with its MAC exists; returns the stored one. Audited.
    func enrol(_ device: Device, audit: AuditEntry) async throws -> Device
    /// Learns a better model for a device (e.g. from its User-Agent).
    func updateModel(mac: MACAddress, model: PhoneModel) async throws
    /// Remembers the phone's address and the config it was last served.
    func recordFetch(mac: MACAddress, address: String?, configHash: String, at: Date) async throws
    func deviceConfigState(mac: MACAddress) async throws -> DeviceConfigState?
    func appState(token: String) async throws -> AppState?
    func findExtension(_ number: String) async throws -> Extension?
    func session(mac: MACAddress) async throws -> Session?
    func sessions() async throws -> [Session]
    /// Logs `session.extensionNumber` into `session.mac`, first ending the phone's current
    /// session and the extension's session elsewhere; all audited, all in one transaction.
    func login(_ session: Session, actor: String) async throws -> LoginResult
    /// Ends the session on `mac`, if any; audited. Returns the ended session.
    func logout(mac: MACAddress, actor: String, source: String?, at: Date, reason: String) async throws -> Session?
    /// A wrong password (or unknown extension): audited and counted for lockouts.
    func recordFailure(_ audit: AuditEntry) async throws
    /// Failure times since `since`, for this extension (any phone) and this phone (any extension).
    func failures(mac: MACAddress, extensionNumber: String?, since: Date) async throws -> (extension: [Date], device: [Date])
    func audit(_ entry: AuditEntry) async throws
    func auditLog(limit: Int) async throws -> [AuditEntry]
    /// Extension numbers and template names already stored (a directory file may refer to them).
    func directoryNames() async throws -> (extensions: Set<String>, templates: [String: Brand])
    /// Loads a validated directory in one transaction.
    func importDirectory(_ directory: DirectoryDocument, actor: String, at: Date) async throws -> ImportSummary
}
