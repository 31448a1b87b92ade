import Foundation
import HotDeskCore

/// The changes to what a phone should have. Each is one transaction: the state, its audit rows
/// and the push jobs of every phone whose config it changed (the outbox), or none of them.
extension SQLStore {
    public func login(_ session: Session, actor: String, policy: MultiLoginPolicy, outbox: Outbox) async throws -> LoginResult {
        try await engine.write { db in
            let onDevice = try Self.readSession(db, sql: "SELECT * FROM sessions WHERE mac = ?", session.mac.canonical)
            let ofExtension = try db.rows("SELECT * FROM sessions WHERE extension = ? ORDER BY started_at", [session.extensionNumber]).compactMap(
                Self.session
            )
            let plan = LoginPlan(
                device: session.mac,
                extensionNumber: session.extensionNumber,
                sessionOnDevice: onDevice,
                sessionsOfExtension: ofExtension,
                policy: policy
            )
            // Decided inside the write, so two phones cannot both pass the check.
            if plan.refusal != nil { return LoginResult(session: session, plan: plan) }
            for ended in [plan.replacedOnDevice].compactMap({ $0 }) + plan.endedElsewhere {
                let why = SessionEnd.replaced(by: session.extensionNumber, on: ended.mac == session.mac ? nil : session.mac)
                try Self.end(ended, why, actor: actor, source: session.source, at: session.startedAt, db)
            }
            try SessionRecord(session).insert(db)
            try Self.insert(
                AuditEntry(
                    at: session.startedAt,
                    actor: actor,
                    action: .login,
                    mac: session.mac,
                    extensionNumber: session.extensionNumber,
                    source: session.source,
                    outcome: .success,
                    detail: "network=\(session.network.rawValue) credential=\(session.credential.rawValue)"
                ),
                db
            )
            var result = LoginResult(session: session, plan: plan)
            let own = try self.enqueue([session.mac], outbox, db)
            if let state = own.first?.state {
                // Shared lines of the user that this phone cannot carry (its model has no such
                // key, or another line took it) are left off; the audit says which and why.
                for left in LineLayout.place(state.memberships, model: state.device.model).leftOff {
                    try Self.insert(
                        AuditEntry(
                            at: session.startedAt,
                            actor: "system",
                            action: .lineLeftOff,
                            mac: session.mac,
                            extensionNumber: session.extensionNumber,
                            source: session.source,
                            outcome: .refused,
                            detail: "shared line \(left.number) left off this phone: \(left.reason)"
                        ),
                        db
                    )
                }
            }
            result.jobs = own.map(\.job) + (try self.enqueue(plan.endedElsewhere.map(\.mac), outbox.with(reason: .logout), db)).map(\.job)
            result.committed = try Self.committed(own.first?.state, db)
            return result
        }
    }

    public func logout(mac: MACAddress, actor: String, source: String?, at: Date, why: SessionEnd, outbox: Outbox) async throws -> EndedSession? {
        try await engine.write { db in
            guard let session = try Self.readSession(db, sql: "SELECT * FROM sessions WHERE mac = ?", mac.canonical) else { return nil }
            try Self.end(session, why, actor: actor, source: source, at: at, db)
            return try Self.ended(session, try self.enqueue([mac], outbox, db).first, db)
        }
    }

    public func endSession(_ session: Session, actor: String, at: Date, why: SessionEnd, outbox: Outbox) async throws -> EndedSession? {
        try await engine.write { db in
            guard try Self.end(session, why, actor: actor, source: nil, at: at, db) else { return nil }
            return try Self.ended(session, try self.enqueue([session.mac], outbox, db).first, db)
        }
    }

    public func resetSIPPassword(
        _ line: LineReference,
        to password: String,
        actor: String,
        source: String?,
        at: Date,
        outbox: Outbox
    ) async throws -> [PushJob]? {
        let sealed = try secretBox.seal(password)
        return try await engine.write { db -> [PushJob]? in
            let macs: [String]
            var extensionNumber: String?
            switch line {
            case .ownLine(let number):
                try db.execute("UPDATE extensions SET sip_password_sealed = ? WHERE number = ?", [sealed, number])
                guard db.changesCount > 0 else { return nil }
                extensionNumber = number
                macs = try db.values(String.self, "SELECT mac FROM sessions WHERE extension = ? ORDER BY mac", [number])
            case .deviceLine(let mac):
                try db.execute("UPDATE devices SET line_sip_password_sealed = ? WHERE mac = ? AND line_number IS NOT NULL", [sealed, mac.canonical])
                guard db.changesCount > 0 else { return nil }
                // The config carries the device's line only while nobody is logged in.
                let loggedIn =
                    try db.value(Bool.self, "SELECT EXISTS (SELECT 1 FROM sessions WHERE mac = ?)", [mac.canonical])
                    ?? false
                macs = loggedIn ? [] : [mac.canonical]
            case .sharedLine(let number):
                try db.execute("UPDATE shared_lines SET sip_password_sealed = ? WHERE number = ?", [sealed, number])
                guard db.changesCount > 0 else { return nil }
                macs = try db.values(
                    String.self,
                    "SELECT s.mac FROM sessions s JOIN shared_line_members m ON m.extension = s.extension WHERE m.line = ? ORDER BY s.mac",
                    [number]
                )
            }
            try Self.insert(
                AuditEntry(
                    at: at,
                    actor: actor,
                    action: .sipPasswordReset,
                    extensionNumber: extensionNumber,
                    source: source,
                    outcome: .success,
                    detail: "SIP password of \(line) replaced; \(macs.count) phone(s) to update"
                ),
                db
            )
            return try self.enqueue(macs.compactMap { MACAddress($0) }, outbox, db).map(\.job)
        }
    }

    /// A push the change itself is (an admin's reload, reboot or message), as the outbox's
    /// other jobs are written. `nil` for an unknown device.
    public func push(mac: MACAddress, message: String?, audit: AuditEntry, outbox: Outbox) async throws -> PushJob? {
        try await engine.write { db -> PushJob? in
            guard try db.value(Bool.self, "SELECT EXISTS (SELECT 1 FROM devices WHERE mac = ?)", [mac.canonical]) == true else {
                return nil
            }
            try Self.insert(audit, db)
            guard let message else { return try self.enqueue([mac], outbox, db).first?.job }
            let order = outbox.order
            return try Self.insert(
                PushJob(
                    mac: mac,
                    action: .xml,
                    reason: order.reason,
                    configHash: "",
                    actor: order.actor,
                    createdAt: order.at,
                    dueAt: order.notBefore,
                    message: message
                ),
                db
            )
        }
    }

    // MARK: the one way a session ends, and the outbox

    /// Ends exactly this session (not a newer one on the same phone) with its audit row: the one
    /// SQL path that ends sessions. `false` when it had already ended.
    @discardableResult
    static func end(_ session: Session, _ why: SessionEnd, actor: String, source: String?, at: Date, _ db: any SQLDatabase) throws -> Bool {
        try db.execute(
            "DELETE FROM sessions WHERE mac = ? AND extension = ? AND started_at = ?",
            [session.mac.canonical, session.extensionNumber, session.startedAt.timeIntervalSince1970]
        )
        guard db.changesCount > 0 else { return false }
        try insert(
            AuditEntry(
                at: at,
                actor: actor,
                action: .logout,
                mac: session.mac,
                extensionNumber: session.extensionNumber,
                source: source,
                outcome: .success,
                detail: why.description
            ),
            db
        )
        return true
    }

    /// The ended session, its phone's job and state as committed: the transaction's last reads.
    static func ended(_ session: Session, _ queued: (state: DeviceConfigState, job: PushJob)?, _ db: any SQLDatabase) throws -> EndedSession {
        EndedSession(session: session, job: queued?.job, committed: try committed(queued?.state, db))
    }

    /// `state` (read by `enqueue` in this transaction, before its job was written) with the
    /// phone's stamp as this transaction leaves it: to be called after the transaction's last
    /// write. On PostgreSQL the transaction is serializable: a concurrent change to the phone
    /// makes one of the two fail, so the stamp read here is the one it commits.
    static func committed(_ state: DeviceConfigState?, _ db: any SQLDatabase) throws -> CommittedConfigState? {
        guard let state = state?.withPendingPush() else { return nil }
        guard
            let row = try db.row(
                "SELECT (SELECT n FROM shared_changes WHERE id = 1) AS shared, (SELECT n FROM device_changes WHERE mac = ?) AS device",
                [state.device.mac.canonical]
            ),
            let shared = row["shared"] as Int?
        else { return nil }
        return CommittedConfigState(state: state, stamp: ChangeStamp(shared: shared, device: (row["device"] as Int?) ?? 0))
    }

    /// Writes the push job of each phone (that is still a device), from its state as changed in
    /// this transaction; returns the states and jobs in order.
    func enqueue(_ macs: [MACAddress], _ outbox: Outbox, _ db: any SQLDatabase) throws -> [(state: DeviceConfigState, job: PushJob)] {
        guard !macs.isEmpty else { return [] }
        // Read, never kept: this transaction may still roll back (a dry run, a failed check).
        let stamp = try db.sharedStamp()
        let settings = try settingsMemo.value(at: stamp) ?? Self.readSettings(db, secrets: secretBox)
        var templates: [Brand: [Template]] = [:]
        var done: [(state: DeviceConfigState, job: PushJob)] = []
        for mac in macs {
            guard let row = try db.row("SELECT * FROM devices WHERE mac = ?", [mac.canonical]) else {
                continue
            }
            let device = try Self.device(row, secrets: secretBox, catalog: catalog)
            let brand = device.model.brand
            if templates[brand] == nil {
                let kept = templatesMemo.value(brand, at: stamp)
                templates[brand] =
                    try kept
                    ?? db.rows("SELECT * FROM templates WHERE brand = ?", [brand.rawValue]).map(
                        Self.template
                    )
            }
            let state = try Self.configState(db, device, row, settings: settings, templates: templates[brand] ?? [], secrets: secretBox)
            done.append((state, try Self.insert(try outbox.planner.job(for: state, outbox.order), db)))
        }
        return done
    }
}

/// A session a logout ended, and the push job of its phone (`nil` when the phone is gone).
public struct EndedSession: Sendable {
    public var session: Session
    public var job: PushJob?
    /// The phone's config state as the logout committed it.
    public var committed: CommittedConfigState?
}
