import Foundation
import HotDeskCore
import HotDeskStore
import Logging
import PhoneFamilies
import PhonePush
import Provisioning

/// Makes a push job from a phone's state as changed: the config it gets now (one or two
/// renderings, see `ConfigBuilder.expected`) and what its model does to apply one.
public struct ConfigPushPlanner: PushPlanner {
    let builder: ConfigBuilder
    let recipes: PushRecipeBook

    /// `pathPrefix`: where the phones' routes are (an organisation's `/o/NAME`), as in their configs.
    public init(families: FamilyBook, renderer: ConfigRenderer = ConfigRenderer(), pathPrefix: String = "") {
        builder = ConfigBuilder(configs: families.configs, renderer: renderer, pathPrefix: pathPrefix)
        recipes = families.pushes
    }

    public func job(for state: DeviceConfigState, _ order: PushOrder) throws -> PushJob {
        let expected = try builder.expected(state)
        let model = state.device.model
        return PushJob(
            mac: state.device.mac,
            action: order.action ?? recipes.configAction(for: model) ?? PushAction(model.applyMethod),
            reason: order.reason,
            configHash: expected[0].hash,
            actor: order.actor,
            createdAt: order.at,
            dueAt: order.notBefore,
            altConfigHash: expected.dropFirst().first?.hash
        )
    }
}

/// The one way any actor changes what a phone should have: a login or logout from the phone, the
/// PBX's star code, an admin (API, console, CLI), the auto-logout policy, an import, prune or
/// delete, a SIP password reset, an admin's push. Each call is one store transaction that changes
/// the state, writes its audit rows and the push jobs of every phone whose config changed (the
/// outbox). Callers choose the actor and the delay, nothing else. The push worker of whichever
/// process runs `serve` sends the jobs (a CLI's are seen within a second).
public struct PhoneChanges: Sendable {
    let store: any PhoneChangeStore & DeviceStore
    let planner: ConfigPushPlanner
    let logger: Logger
    let clock: @Sendable () -> Date
    /// The push worker's, when it runs in this process: a new job goes out now.
    let wake: @Sendable () -> Void
    /// Keeps a phone's config state as a login or logout committed it (the provisioning cache's,
    /// in a server): a fetch before anything else changes the phone reads nothing. (The push
    /// job's claim moves the phone's stamp: a phone that waits for its push reads once.)
    let keep: @Sendable (CommittedConfigState) -> Void
    /// The other directories beside this one (organisations): an import may not take their phones.
    public var owners: DeviceOwners?

    public init(
        store: any PhoneChangeStore & DeviceStore,
        families: FamilyBook,
        renderer: ConfigRenderer = ConfigRenderer(),
        pathPrefix: String = "",
        logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() },
        wake: @escaping @Sendable () -> Void = {},
        keep: @escaping @Sendable (CommittedConfigState) -> Void = { _ in }
    ) {
        self.store = store
        planner = ConfigPushPlanner(families: families, renderer: renderer, pathPrefix: pathPrefix)
        self.logger = logger
        self.clock = clock
        self.wake = wake
        self.keep = keep
    }

    private func outbox(_ reason: PushReason, actor: String, delay: TimeInterval = 0, action: PushAction? = nil) -> Outbox {
        Outbox(planner: planner, order: PushOrder(reason: reason, actor: actor, at: clock(), delay: delay, action: action))
    }

    /// The one job a change queued, if any.
    @discardableResult
    private func queued(_ job: PushJob?) -> PushJob? { queued(job.map { [$0] } ?? []).first }

    /// Says which jobs were queued and wakes the worker.
    @discardableResult
    private func queued(_ jobs: [PushJob]) -> [PushJob] {
        for job in jobs {
            logger.info(
                "push queued",
                metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "action": "\(job.action.rawValue)", "reason": "\(job.reason.rawValue)"]
            )
        }
        if !jobs.isEmpty { wake() }
        return jobs
    }

    // MARK: sessions

    /// A login decided by `LoginService`: this phone is pushed its logged-in config after `delay`
    /// (its "Done" screen), the phones it logged out elsewhere (`multi_login: move`) theirs.
    public func login(_ session: Session, actor: String, policy: MultiLoginPolicy, delay: TimeInterval) async throws -> LoginResult {
        let result = try await store.login(
            session,
            actor: actor,
            policy: policy,
            outbox: outbox(.login, actor: session.extensionNumber, delay: delay)
        )
        result.committed.map(keep)
        queued(result.jobs)
        return result
    }

    /// Ends the session on `mac`, if any; pushes the logged-out config with `reason` after `delay`.
    public func logout(
        mac: MACAddress,
        actor: String,
        source: String?,
        why: SessionEnd,
        reason: PushReason,
        delay: TimeInterval = 0
    ) async throws -> EndedSession? {
        let ended = try await store.logout(
            mac: mac,
            actor: actor,
            source: source,
            at: clock(),
            why: why,
            outbox: outbox(reason, actor: actor, delay: delay)
        )
        ended?.committed.map(keep)
        queued(ended?.job)
        return ended
    }

    /// Ends exactly this session (the auto-logout policy's); `nil` when it had already ended.
    public func end(_ session: Session, actor: String, why: SessionEnd, reason: PushReason) async throws -> EndedSession? {
        let ended = try await store.endSession(session, actor: actor, at: clock(), why: why, outbox: outbox(reason, actor: actor))
        ended?.committed.map(keep)
        queued(ended?.job)
        return ended
    }

    // MARK: admins

    /// A new SIP password for a line; every phone that carries it is pushed. `nil`: no such line.
    public func resetSIPPassword(_ line: LineReference, to password: String, actor: String, source: String?) async throws -> [PushJob]? {
        let jobs = try await store.resetSIPPassword(
            line,
            to: password,
            actor: actor,
            source: source,
            at: clock(),
            outbox: outbox(.admin, actor: actor)
        )
        return jobs.map { queued($0) }
    }

    /// An admin's push of the phone's current config (`action`, else its model's way to apply one).
    /// `nil` for an unknown device.
    public func push(mac: MACAddress, action: PushAction? = nil, actor: String, source: String?) async throws -> PushJob? {
        try await adminPush(mac: mac, action: action, message: nil, actor: actor, source: source, detail: "\(action?.rawValue ?? "push") requested")
    }

    /// A message on the phone's screen (the vendor's XML push). `nil` for an unknown device.
    public func message(mac: MACAddress, text: String, actor: String, source: String?) async throws -> PushJob? {
        try await adminPush(mac: mac, action: .xml, message: text, actor: actor, source: source, detail: "message requested: \"\(text)\"")
    }

    /// A push that is itself the change, audited as the admin's request in the same transaction.
    private func adminPush(
        mac: MACAddress,
        action: PushAction?,
        message: String?,
        actor: String,
        source: String?,
        detail: String
    ) async throws -> PushJob? {
        let outbox = outbox(.admin, actor: actor, action: action)
        let audit = AuditEntry(at: outbox.order.at, actor: actor, action: .push, mac: mac, source: source, outcome: .success, detail: detail)
        return queued(try await store.push(mac: mac, message: message, audit: audit, outbox: outbox))
    }

    /// Removes a directory entry; the phones whose config changed are pushed (a template's brand
    /// may fall back to another template: those phones are found by rendering).
    public func delete(_ item: DirectoryItem, actor: String) async throws -> DeletionResult {
        let result = try await store.delete(item, actor: actor, at: clock(), outbox: outbox(.admin, actor: actor))
        guard case .deleted(let loggedOut, let jobs) = result else { return result }
        queued(jobs)
        guard case .template = item else { return result }
        return .deleted(loggedOut: loggedOut, jobs: jobs + (try await pushChanged(actor: actor, keep: .max).first))
    }

    /// Loads a directory; the phones a prune logged out are pushed with it. `pushChanged`: then
    /// every phone whose config changed (a password, template or setting) is pushed too — of
    /// the phones `touching` says the file can reach, asked before and after it is loaded (nil:
    /// every phone).
    public func importDirectory(
        _ directory: DirectoryDocument,
        actor: String,
        options: ImportOptions,
        pushChanged: Bool,
        touching: (@Sendable () async throws -> Set<MACAddress>?)? = nil
    ) async throws -> (summary: ImportSummary, changed: ChangedPushes?) {
        try await refuseOthersPhones(directory)
        let pushing = pushChanged && !options.dryRun
        let before = pushing ? try await touching?() : nil
        let summary = try await store.importDirectory(directory, actor: actor, at: clock(), options: options, outbox: outbox(.admin, actor: actor))
        queued(summary.jobs)
        guard pushing else { return (summary, nil) }
        let after = try await touching?()
        let only = before.flatMap { before in after.map { before.union($0) } }
        return (summary, try await self.pushChanged(actor: actor, only: only))
    }

    /// A phone belongs to one organisation: a file naming one that another directory holds is
    /// refused whole, each such phone on its line.
    private func refuseOthersPhones(_ directory: DirectoryDocument) async throws {
        guard let owners else { return }
        let taken = try await owners.owners(of: directory.devices.map(\.mac))
        guard !taken.isEmpty else { return }
        let problems = directory.devices.compactMap { device in
            taken[device.mac].map {
                DirectoryProblem(
                    path: "\(device.path).mac",
                    line: device.fileLine,
                    message: "\(device.mac.colonSeparated) is a phone of \(DeviceOwners.describe($0)): a phone belongs to one organisation"
                )
            }
        }
        throw DirectoryError(file: "", problems: problems)
    }

    // MARK: every phone whose config changed

    /// What `pushChanged` did: how many phones it looked at, how many it queued, the range of the
    /// new jobs' ids (every id in it is one of them) and the first of them.
    public struct ChangedPushes: Sendable {
        public var checked = 0
        public var queued = 0
        public var ids: ClosedRange<Int64>?
        public var first: [PushJob] = []
    }

    /// Queues a push for every phone whose config changed since it last fetched it (a directory
    /// import changed a password, a template, a setting): the config it would get now is not the
    /// one it was served. Pages through the devices (reading the next page while this one is
    /// rendered), renders each page on every core and queues each page's jobs in one transaction;
    /// keeps the first `keep` jobs to show. Not one transaction with the import: a phone missed by
    /// a crash here still has its config on its next fetch, and `push-changed` finds it again.
    /// `all`: every phone that ever fetched a config, changed or not (after a restore, what each
    /// phone holds is not what the backup says it was served).
    public func pushChanged(
        actor: String,
        keep: Int = 100,
        all: Bool = false,
        sites: [String]? = nil,
        only: Set<MACAddress>? = nil
    ) async throws -> ChangedPushes {
        let shown = SiteScope(sites: sites)
        var result = ChangedPushes()
        let store = self.store
        let order = PushOrder(reason: .admin, actor: actor, at: clock())
        let size = 2000
        // `only`: those phones (served a config before), read one by one, in one page.
        let named = only.map { $0.sorted { $0.canonical < $1.canonical } }
        @Sendable func read(after: MACAddress?) async throws -> [DeviceConfigState] {
            guard let named else { return try await store.servedConfigStates(after: after, limit: size) }
            guard after == nil else { return [] }
            var states: [DeviceConfigState] = []
            for mac in named {
                if let state = try await store.deviceConfigState(mac: mac), state.lastConfigHash != nil { states.append(state) }
            }
            return states
        }
        var reading = Task { try await read(after: nil) }
        while true {
            var page = try await reading.value
            guard let last = page.last else { break }
            reading = Task { try await read(after: last.device.mac) }
            page.removeAll { !shown.contains($0.device.site) }
            result.checked += page.count
            let added = try await store.addPushJobs(try await Self.changed(page, planner: planner, order: order, all: all))
            guard let firstID = added.first?.id, let lastID = added.last?.id else { continue }
            result.queued += added.count
            result.ids = (result.ids?.lowerBound ?? firstID)...lastID
            result.first += added.prefix(max(0, keep - result.first.count))
        }
        if let ids = result.ids {
            logger.info(
                "pushes queued for changed configs",
                metadata: ["jobs": "\(result.queued)", "ids": "\(ids.lowerBound)-\(ids.upperBound)", "checked": "\(result.checked)"]
            )
            wake()
        }
        return result
    }

    /// The jobs of the phones that would now get another config than they were served; rendered
    /// in as many slices as there are cores.
    private static func changed(_ page: [DeviceConfigState], planner: ConfigPushPlanner, order: PushOrder, all: Bool) async throws -> [PushJob] {
        let slices = max(1, min(ProcessInfo.processInfo.activeProcessorCount, page.count / 100))
        let size = (page.count + slices - 1) / slices
        return try await withThrowingTaskGroup(of: (Int, [PushJob]).self) { group in
            for start in stride(from: 0, to: page.count, by: size) {
                group.addTask {
                    let found = try page[start..<min(page.count, start + size)].compactMap { state -> PushJob? in
                        let job = try planner.job(for: state, order)
                        let served = state.lastConfigHash.map { $0 == job.configHash || $0 == job.altConfigHash } ?? false
                        return served && !all ? nil : job
                    }
                    return (start, found)
                }
            }
            var slices: [(Int, [PushJob])] = []
            for try await slice in group { slices.append(slice) }
            return slices.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }
}
