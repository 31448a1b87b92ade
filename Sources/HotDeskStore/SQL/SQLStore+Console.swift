import Foundation
import HotDeskCore

/// Console accounts and their signed-in sessions.
extension SQLStore {
    public func saveAdminAccount(
        name: String,
        password: String?,
        role: AdminRole?,
        scope: SiteScope?,
        actor: String,
        at: Date
    ) async throws -> AccountChange {
        let hash = password.map { SecretHash(hashing: $0, key: secretBox.hashKey).encoded }
        return try await engine.write { db in
            let existing = try db.row("SELECT role, sites FROM admin_accounts WHERE name = ?", [name])
            guard let existing else {
                guard let hash, let role else { return .unknownAccount }
                let scope = scope ?? .everySite
                try db.execute(
                    "INSERT INTO admin_accounts (name, password_hash, role, created_at, sites) VALUES (?, ?, ?, ?, ?)",
                    [name, hash, role.rawValue, at.timeIntervalSince1970, scope.stored]
                )
                try Self.insert(
                    AuditEntry(
                        at: at,
                        actor: actor,
                        action: .adminAccountChanged,
                        outcome: .success,
                        detail: "console account \"\(name)\" created (role \(role.rawValue)\(scope.isLimited ? ", \(scope.description)" : ""))"
                    ),
                    db
                )
                return .created
            }
            var changes: [String] = []
            if let hash {
                try db.execute("UPDATE admin_accounts SET password_hash = ? WHERE name = ?", [hash, name])
                changes.append("password changed")
            }
            if let role, role.rawValue != existing["role"] as String {
                try db.execute("UPDATE admin_accounts SET role = ? WHERE name = ?", [role.rawValue, name])
                changes.append("role \(existing["role"] as String) → \(role.rawValue)")
            }
            let before = SiteScope(stored: existing["sites"])
            if let scope, scope != before {
                try db.execute("UPDATE admin_accounts SET sites = ? WHERE name = ?", [scope.stored, name])
                changes.append("\(before.description) → \(scope.description)")
            }
            guard !changes.isEmpty else { return .unchanged }
            // A new password, role or scope signs the account out everywhere: old cookies open nothing.
            let ended = try Self.endSessions(of: name, db)
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: actor,
                    action: .adminAccountChanged,
                    outcome: .success,
                    detail: "console account \"\(name)\": \(changes.joined(separator: ", "))"
                        + (ended > 0 ? "; \(ended) console session(s) ended" : "")
                ),
                db
            )
            return .updated
        }
    }

    public func adminAccounts() async throws -> [AdminAccountInfo] {
        try await engine.read { db in
            try db.rows("SELECT name, role, sites, created_at, last_sign_in_at FROM admin_accounts ORDER BY name").map(Self.account)
        }
    }

    public func removeAdminAccount(name: String, actor: String, at: Date) async throws -> Bool {
        try await engine.write { db in
            let ended = try Self.endSessions(of: name, db)
            try db.execute("DELETE FROM admin_accounts WHERE name = ?", [name])
            guard db.changesCount > 0 else { return false }
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: actor,
                    action: .adminAccountChanged,
                    outcome: .success,
                    detail: "console account \"\(name)\" removed" + (ended > 0 ? "; \(ended) console session(s) ended" : "")
                ),
                db
            )
            return true
        }
    }

    public func checkAdminPassword(name: String, password: String) async throws -> (role: AdminRole, scope: SiteScope)? {
        let key = secretBox.hashKey
        // Read as strings (a `Row` is not Sendable: the read would block a thread of the pool).
        let row = try await engine.read { db -> (role: String, hash: String, sites: String?)? in
            try db.row("SELECT role, password_hash, sites FROM admin_accounts WHERE name = ?", [name])
                .map { (role: $0["role"], hash: $0["password_hash"], sites: $0["sites"]) }
        }
        guard let row, let hash = SecretHash(encoded: row.hash, key: key) else {
            // The same work for an unknown name: its answer time tells nothing.
            _ = Self.decoy.matches(password)
            return nil
        }
        guard hash.matches(password) else { return nil }
        return (AdminRole(rawValue: row.role) ?? .auditor, SiteScope(stored: row.sites))
    }

    private static let decoy = SecretHash(hashing: "decoy", key: .random())

    /// One statement (one round trip on PostgreSQL): each row tagged with the list it belongs to.
    public func signInFailures(account: String, source: String, since: Date) async throws -> SignInFailures {
        let start = since.timeIntervalSince1970
        return try await engine.read { db in
            var failures = SignInFailures()
            let rows = try db.rows(
                """
                SELECT 'a' AS list, at, source FROM sign_in_failures WHERE account = ? AND at >= ?
                UNION ALL SELECT 's', at, source FROM sign_in_failures WHERE source = ? AND at >= ?
                """,
                [account, start, source, start]
            )
            for row in rows {
                let at = Date(timeIntervalSince1970: row["at"])
                if row["list"] as String == "a" { failures.account.append((at, row["source"])) } else { failures.source.append(at) }
            }
            return failures
        }
    }

    public func recordSignInFailure(account: String, source: String, audit: AuditEntry) async throws {
        try await engine.write { db in
            try db.execute(
                "INSERT INTO sign_in_failures (at, account, source) VALUES (?, ?, ?)",
                [audit.at.timeIntervalSince1970, account, source]
            )
            // A day old, a failure holds nothing any more.
            try db.execute("DELETE FROM sign_in_failures WHERE at < ?", [audit.at.timeIntervalSince1970 - 86400])
            try Self.insert(audit, db)
        }
    }

    public func startConsoleSession(tokenHash: String, _ session: ConsoleSession, audit: AuditEntry) async throws {
        try await engine.write { db in
            // Ended sessions are forgotten as new ones start: the table holds live ones only.
            try db.execute("DELETE FROM console_sessions WHERE expires_at <= ?", [audit.at.timeIntervalSince1970])
            try db.execute(
                "INSERT INTO console_sessions (token_hash, account, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                [tokenHash, session.account, session.csrfToken, audit.at.timeIntervalSince1970, session.expiresAt.timeIntervalSince1970]
            )
            try db.execute("UPDATE admin_accounts SET last_sign_in_at = ? WHERE name = ?", [audit.at.timeIntervalSince1970, session.account])
            try Self.insert(audit, db)
        }
    }

    public func consoleSession(tokenHash: String, at: Date) async throws -> ConsoleSession? {
        try await engine.read { db in
            try db.row(
                """
                SELECT s.account, a.role, a.sites, s.csrf_token, s.expires_at FROM console_sessions s JOIN admin_accounts a ON a.name = s.account
                WHERE s.token_hash = ? AND s.expires_at > ?
                """,
                [tokenHash, at.timeIntervalSince1970]
            ).map {
                var session = ConsoleSession(
                    account: $0["account"],
                    role: AdminRole(rawValue: $0["role"]) ?? .auditor,
                    csrfToken: $0["csrf_token"],
                    expiresAt: Date(timeIntervalSince1970: $0["expires_at"])
                )
                session.scope = SiteScope(stored: $0["sites"])
                return session
            }
        }
    }

    public func endConsoleSession(tokenHash: String, audit: AuditEntry) async throws {
        try await engine.write { db in
            try db.execute("DELETE FROM console_sessions WHERE token_hash = ?", [tokenHash])
            if db.changesCount > 0 { try Self.insert(audit, db) }
        }
    }

    public func activityMark() async throws -> Double {
        try await engine.read { db in
            try db.value(
                Double.self,
                "SELECT CAST((SELECT n FROM shared_changes) + (SELECT COALESCE(SUM(n), 0) FROM device_changes) + (SELECT COALESCE(MAX(id), 0) FROM audit) AS DOUBLE PRECISION)"
            ) ?? 0
        }
    }

    public func extensionSummaries() async throws -> [ExtensionSummary] {
        try await engine.read { db in
            try db.rows(
                """
                SELECT number, name, cos, site, voicemail_pin_hash IS NOT NULL AS voicemail, own_pin_hash IS NOT NULL AS pin_chosen
                FROM extensions ORDER BY number
                """
            ).map {
                var summary = ExtensionSummary(number: $0["number"], name: $0["name"], cos: $0["cos"], hasVoicemail: $0["voicemail"])
                summary.site = $0["site"]
                summary.pinChosen = $0["pin_chosen"]
                return summary
            }
        }
    }

    private static func endSessions(of account: String, _ db: any SQLDatabase) throws -> Int {
        try db.execute("DELETE FROM console_sessions WHERE account = ?", [account])
        return db.changesCount
    }

    private static func account(_ row: SQLRow) -> AdminAccountInfo {
        var account = AdminAccountInfo(
            name: row["name"],
            role: AdminRole(rawValue: row["role"]) ?? .auditor,
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            lastSignInAt: (row["last_sign_in_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        )
        account.scope = SiteScope(stored: row["sites"])
        return account
    }
}
