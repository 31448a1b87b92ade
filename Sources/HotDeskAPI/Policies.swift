import Foundation
import HotDeskCore

// The admin API's JSON, defined once: the server encodes these, the CLI decodes them. Keys are
// snake_case on the wire (`APICoding`), times ISO 8601.

/// A class of service as the admin API shows it.
public struct CoSView: Codable, Sendable {
    public struct Rule: Codable, Sendable {
        public var pattern: String?
        public var `class`: String?
        public var action: String
        public var schedule: String?

        public init(pattern: String?, class: String?, action: String, schedule: String?) {
            self.pattern = pattern
            self.class = `class`
            self.action = action
            self.schedule = schedule
        }
    }

    public struct Include: Codable, Sendable {
        public var cos: String
        public var schedule: String?

        public init(cos: String, schedule: String?) {
            self.cos = cos
            self.schedule = schedule
        }
    }

    public var name: String
    public var `default`: String
    public var rules: [Rule]
    public var featureCodes: [String]
    public var includes: [Include]
    public var schedule: String?

    public init(name: String, default: String, rules: [Rule], featureCodes: [String], includes: [Include], schedule: String?) {
        self.name = name
        self.default = `default`
        self.rules = rules
        self.featureCodes = featureCodes
        self.includes = includes
        self.schedule = schedule
    }
}

public struct CoSList: Codable, Sendable {
    public var classesOfService: [CoSView]
    public var emergencyNumbers: [String]

    public init(classesOfService: [CoSView], emergencyNumbers: [String]) {
        self.classesOfService = classesOfService
        self.emergencyNumbers = emergencyNumbers
    }
}

/// `GET /cos/check`: what decides a call, and how.
public struct CoSCheckView: Codable, Sendable {
    public var decision: String
    public var cos: String
    public var rule: String
    public var reason: String
    public var at: Date

    public init(decision: String, cos: String, rule: String, reason: String, at: Date) {
        self.decision = decision
        self.cos = cos
        self.rule = rule
        self.reason = reason
        self.at = at
    }
}

/// A lock in force: `kind` extension|device|source, `key` the number, MAC or address.
public struct LockView: Codable, Sendable, CustomStringConvertible {
    public var kind: String
    public var key: String
    /// Wrong passwords counted (0 for an address, counted in memory).
    public var failures: Int
    public var until: Date

    public init(kind: String, key: String, failures: Int, until: Date) {
        self.kind = kind
        self.key = key
        self.failures = failures
        self.until = until
    }

    public init(_ lock: ActiveLock) {
        self.init(kind: lock.subject.kind, key: lock.subject.key, failures: lock.failures, until: lock.until)
    }

    public var description: String { "\(kind)  \(key)  until \(until.formatted(.iso8601))  \(failures) failure(s)" }
}

public struct LockList: Codable, Sendable {
    public var locks: [LockView]
    public init(locks: [LockView]) { self.locks = locks }
}

/// `POST /api/v1/directory`: what the import did (or, in a dry run, would do).
public struct DirectoryImportView: Codable, Sendable {
    public var dryRun: Bool
    public var created: Int
    public var updated: Int
    public var unchanged: Int
    public var deleted: Int
    /// What `prune` removed: `extension 5503`, `device 00:15:65:…`.
    public var removed: [String]
    /// Sessions it ended (a removed extension or device): `5503 on 00:15:65:…`.
    public var loggedOut: [String]
    /// With `push`: how many phones whose config changed were queued a push.
    public var pushed: Int?
    /// With `push`: how many phones' configs were rendered again to find them (an entry's edit:
    /// the phones it reaches; a file: every phone served a config).
    public var checked: Int?

    public init(
        dryRun: Bool,
        created: Int,
        updated: Int,
        unchanged: Int,
        deleted: Int,
        removed: [String],
        loggedOut: [String],
        pushed: Int?
    ) {
        self.dryRun = dryRun
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
        self.deleted = deleted
        self.removed = removed
        self.loggedOut = loggedOut
        self.pushed = pushed
    }
}

/// The answer to forgetting the PIN a person chose: what logs them in again.
public struct PINClearedView: Codable, Sendable {
    public var `extension`: String
    /// `voicemail_pin` or `user_password`.
    public var logsInWith: String

    public init(extension number: String, logsInWith: String) {
        self.extension = number
        self.logsInWith = logsInWith
    }
}

/// The answer to clearing a lock.
public struct UnlockView: Codable, Sendable {
    public var kind: String
    public var key: String
    public var wasLocked: Bool
    public var failuresForgotten: Int

    public init(kind: String, key: String, wasLocked: Bool, failuresForgotten: Int) {
        self.kind = kind
        self.key = key
        self.wasLocked = wasLocked
        self.failuresForgotten = failuresForgotten
    }
}

/// `GET /api/v1/directory/{section}`: a page of a section's keys.
public struct DirectoryKeysView: Codable, Sendable {
    public var section: String
    public var keys: [String]
    /// The `after` of the next page; nil on the last.
    public var next: String?

    public init(section: String, keys: [String], next: String?) {
        self.section = section
        self.keys = keys
        self.next = next
    }
}
