import Foundation
import HotDeskCore
import HotDeskStore
import Logging
import PhonePush
import PhoneXML
import Provisioning
import ServiceLifecycle
import Synchronization

/// Turns "this phone's config changed" into push jobs, and works them: sends each through
/// `PhonePusher`, retries with backoff, escalates a reload that did not take to a reboot, and
/// fails a job with a specific reason. Jobs live in the store, so a restart resumes them.
///
/// A config job (reload, reboot) is `applied` only when the phone fetches the very config the
/// job was for (the store does that in `recordFetch`); a 2xx from the phone only makes it
/// `sent`. A message (`xml`) involves no config: the phone taking the document is the effect.
final class PushService: Service, Sendable {
    let store: any Store
    let builder: ConfigBuilder
    let pusher: PhonePusher
    let policy: PushPolicy
    let logger: Logger
    let clock: @Sendable () -> Date
    /// Renders the messages of `xml` pushes in each phone's dialect.
    let screens: ScreenLibrary
    let language: String
    /// The single-use logins of pushes whose phones check them with `/push-auth`.
    let logins = PushLogins()
    private let signal = WakeSignal()
    private let inFlight = Mutex(0)
    /// `policy.maxPerSecond`, when set.
    private let pacer: Mutex<PushPacer?>

    init(
        store: any Store, builder: ConfigBuilder, pusher: PhonePusher, policy: PushPolicy, screens: ScreenLibrary, language: String, logger: Logger,
        clock: @escaping @Sendable () -> Date
    ) {
        self.store = store
        self.builder = builder
        self.pusher = pusher
        self.policy = policy
        pacer = Mutex(policy.maxPerSecond.flatMap { $0 > 0 ? PushPacer(rate: $0) : nil })
        self.screens = screens
        self.language = language
        self.logger = logger
        self.clock = clock
    }

    /// Something changed (a new job, a job applied): look at the queue now.
    func wake() { signal.signal() }

    /// What a phone is sent to apply a new config: its model's way, else a reboot, else `nil`
    /// (its family has no known push: the phone applies its config when restarted).
    func configAction(for model: PhoneModel) -> PushAction? { pusher.recipes.configAction(for: model) }

    /// Queues a push of the phone's current config. `action` defaults to what the model does to
    /// apply a config (reload or reboot); `delay` lets the phone show the "Done" screen first.
    /// Returns `nil` for an unknown device. `state`: the phone's state if the caller has just read
    /// it (after the change the push is for).
    @discardableResult
    func schedule(
        mac: MACAddress, state known: DeviceConfigState? = nil, action: PushAction? = nil, reason: PushReason, actor: String, delay: TimeInterval = 0
    ) async throws -> PushJob? {
        var state = known
        if state == nil { state = try await store.deviceConfigState(mac: mac) }
        guard let state else { return nil }
        return try await add(job(state, try builder.expected(state), action: action, reason: reason, actor: actor, delay: delay))
    }

    /// The job that brings the phone to `expected` (the config it gets next, one or two renderings).
    private func job(
        _ state: DeviceConfigState, _ expected: [RenderedConfig], action: PushAction? = nil, reason: PushReason, actor: String, delay: TimeInterval = 0
    ) -> PushJob {
        let now = clock()
        return PushJob(
            mac: state.device.mac, action: action ?? configAction(for: state.device.model) ?? PushAction(state.device.model.applyMethod), reason: reason,
            configHash: expected[0].hash, actor: actor, createdAt: now, dueAt: now + delay, altConfigHash: expected.dropFirst().first?.hash)
    }

    /// What `scheduleChanged` did: how many phones it looked at, how many it queued, the range of
    /// the new jobs' ids (every id in it is one of them) and the first of them.
    struct ChangedPushes: Sendable {
        var checked = 0
        var queued = 0
        var ids: ClosedRange<Int64>?
        var first: [PushJob] = []
    }

    /// Queues a push for every phone whose config changed since it last fetched it (a directory
    /// import changed a password, a template, a setting): the config it would get now is not the
    /// one it was served. Pages through the devices (reading the next page while this one is
    /// rendered), renders each page on every core and queues each page's jobs in one transaction;
    /// keeps the first `keep` jobs to show.
    func scheduleChanged(actor: String, keep: Int = 100) async throws -> ChangedPushes {
        var result = ChangedPushes()
        let builder = self.builder
        let store = self.store
        let size = 2000
        var reading = Task { try await store.servedConfigStates(after: nil, limit: size) }
        while true {
            let page = try await reading.value
            guard let last = page.last else { break }
            reading = Task { try await store.servedConfigStates(after: last.device.mac, limit: size) }
            result.checked += page.count
            let changed = try await Self.changed(page, builder: builder)
            let added = try await store.addPushJobs(changed.map { job($0.state, $0.expected, reason: .admin, actor: actor) })
            guard let firstID = added.first?.id, let lastID = added.last?.id else { continue }
            result.queued += added.count
            result.ids = (result.ids?.lowerBound ?? firstID)...lastID
            result.first += added.prefix(max(0, keep - result.first.count))
        }
        if let ids = result.ids {
            logger.info("pushes queued for changed configs", metadata: ["jobs": "\(result.queued)", "ids": "\(ids.lowerBound)-\(ids.upperBound)", "checked": "\(result.checked)"])
            wake()
        }
        return result
    }

    /// The states whose phone would now get another config than it was served, with what it would
    /// get; rendered in as many slices as there are cores.
    private static func changed(_ page: [DeviceConfigState], builder: ConfigBuilder) async throws -> [(state: DeviceConfigState, expected: [RenderedConfig])] {
        let slices = max(1, min(ProcessInfo.processInfo.activeProcessorCount, page.count / 100))
        let size = (page.count + slices - 1) / slices
        return try await withThrowingTaskGroup(of: (Int, [(state: DeviceConfigState, expected: [RenderedConfig])]).self) { group in
            for start in stride(from: 0, to: page.count, by: size) {
                group.addTask {
                    let found = try page[start..<min(page.count, start + size)].compactMap { state -> (state: DeviceConfigState, expected: [RenderedConfig])? in
                        let expected = try builder.expected(state)
                        return expected.contains { $0.hash == state.lastConfigHash } ? nil : (state, expected)
                    }
                    return (start, found)
                }
            }
            var slices: [(Int, [(state: DeviceConfigState, expected: [RenderedConfig])])] = []
            for try await slice in group { slices.append(slice) }
            return slices.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }

    /// Queues a message for the phone's screen (the vendor's XML push). Returns `nil` for an
    /// unknown device.
    func scheduleMessage(mac: MACAddress, text: String, actor: String) async throws -> PushJob? {
        guard try await store.device(mac: mac) != nil else { return nil }
        let now = clock()
        return try await add(PushJob(mac: mac, action: .xml, reason: .admin, configHash: "", actor: actor, createdAt: now, dueAt: now, message: text))
    }

    private func add(_ new: PushJob) async throws -> PushJob {
        let job = try await store.addPushJob(new)
        logger.info("push queued", metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "action": "\(job.action.rawValue)", "reason": "\(job.reason.rawValue)"])
        wake()
        return job
    }

    // MARK: the worker

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled {
                    let wait = await self.tick { job in
                        group.addTask { await self.attempt(job) }
                    }
                    await self.signal.wait(upTo: wait)
                }
            }
        }
    }

    /// One pass: start due jobs (up to the limit), time out sent jobs that were never applied.
    /// Returns how long to sleep unless woken.
    func tick(start: (PushJob) -> Void) async -> TimeInterval {
        let now = clock()
        do {
            for job in try await store.overdueSentPushJobs(now: now) {
                await notApplied(job, now: now)
            }
            let slots = policy.maxConcurrent - inFlight.withLock { $0 }
            let allowed = pacer.withLock { $0?.available(now: now) } ?? slots
            let free = min(slots, allowed)
            // A claimed job is leased until its transfer surely ended, so a crash retries it.
            let lease = now + policy.connectTimeout + policy.transferTimeout + 30
            let claimed = free > 0 ? try await store.claimDuePushJobs(now: now, leaseUntil: lease, limit: free) : []
            pacer.withLock { $0?.took(claimed.count, now: now) }
            for job in claimed {
                inFlight.withLock { $0 += 1 }
                start(job)
            }
            guard slots > 0, let next = try await store.nextPushDue() else { return 30 }
            // Paced: due jobs wait for the next start the rate allows.
            let paced = pacer.withLock { $0?.wait(now: clock()) } ?? 0
            return min(30, max(0.02, next.timeIntervalSince(clock()), paced))
        } catch {
            logger.error("push queue unreadable", metadata: ["error": "\(error)"])
            return 5
        }
    }

    /// Sends one job's request and records what came of it.
    func attempt(_ claimed: PushJob) async {
        defer {
            inFlight.withLock { $0 -= 1 }
            wake()
        }
        var job = claimed
        job.attempts += 1
        let outcome: PushOutcome
        do {
            outcome = try await send(job)
        } catch {
            outcome = .failed(code: "internal", message: "\(error)")
        }
        let now = clock()
        job.updatedAt = now
        switch outcome {
        case .accepted(let status) where !job.action.appliesConfig:
            job.state = .applied
            job.sentAt = now
            job.appliedAt = now
            job.lastError = nil
            logger.info("message shown", metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "status": "\(status)"])
        case .accepted(let status):
            job.state = .sent
            job.sentAt = now
            job.lastError = nil
            job.dueAt = now + policy.applyTimeout(job.action)
            logger.info("push sent", metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "action": "\(job.action.rawValue)", "status": "\(status)"])
        case .failed:
            job.lastError = outcome.errorText
            // An action the family does not have fails at once: trying again cannot help.
            apply(outcome.isFinal ? .fail : policy.afterFailedAttempt(job, now: now, random: Double.random(in: 0..<1)), to: &job)
            logger.warning(
                "push attempt failed",
                metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "attempt": "\(job.attempts)", "error": "\(job.lastError ?? "")", "state": "\(job.state.rawValue)"])
        }
        if job.state == .sent || job.state == .applied || job.state == .failed { Telemetry.push(job.action.rawValue, job.state.rawValue) }
        await save(job)
    }

    private func send(_ job: PushJob) async throws -> PushOutcome {
        guard let device = try await store.device(mac: job.mac) else {
            return .failed(code: "unknown_device", message: "device \(job.mac) is no longer in the directory")
        }
        guard let address = device.lastAddress else {
            return .failed(code: "no_address", message: "the phone has not fetched its config yet, so its address is unknown")
        }
        let settings = try await store.settings()
        var target = PushTarget(
            brand: device.model.brand, address: address, port: settings.pushPort(for: device), credentials: settings.credentials(for: device),
            from: settings.pushFrom)
        if pusher.recipes.vendors[device.model.brand]?.recipe(job.action)?.login == .oneTime {
            // The phone asks /push-auth about this login while it takes the command: good for that alone.
            target.credentials = logins.issue(mac: device.mac, now: clock(), lifetime: policy.connectTimeout + policy.transferTimeout + 10)
        }
        var document: String?
        if job.action == .xml {
            guard let dialect = screens.dialects[device.model.brand.rawValue] else {
                return .failed(code: "no_dialect", message: "no screen dialect for \(device.model.brand.rawValue) phones")
            }
            let texts = screens.texts(language)
            let exit = Screen.SoftKey(label: texts["softkey.exit"], action: .exit)
            document = try dialect.render(.text(.init(title: texts["message.title"], text: job.message ?? "", softKeys: [exit]))).body
        }
        return await pusher.push(job.action, to: target, document: document, policy: policy)
    }

    /// A phone took the push but never fetched its new config: try a reboot, or give up.
    private func notApplied(_ claimed: PushJob, now: Date) async {
        var job = claimed
        let waited = Int(policy.applyTimeout(job.action))
        job.lastError = "not_applied: the phone accepted the \(job.action.rawValue) but did not fetch its new config within \(waited) s"
        job.updatedAt = now
        apply(policy.afterApplyTimeout(job, now: now), to: &job)
        logger.warning("push not applied", metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "state": "\(job.state.rawValue)", "next": "\(job.action.rawValue)"])
        if job.state == .failed { Telemetry.push(job.action.rawValue, "failed") }
        await save(job)
    }

    private func apply(_ decision: PushPolicy.Decision, to job: inout PushJob) {
        switch decision {
        case .retry(let action, let at):
            job.state = .queued
            job.action = action
            job.dueAt = at
        case .fail:
            job.state = .failed
            job.dueAt = job.updatedAt
        }
    }

    private func save(_ job: PushJob) async {
        do {
            _ = try await store.updatePushJob(job)
        } catch {
            logger.error("push job not saved", metadata: ["job": "\(job.id)", "error": "\(error)"])
        }
    }
}

/// Wakes the push worker early. A wake with nobody waiting is remembered once.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns when signalled, after `seconds`, or when the task is cancelled.
    func wait(upTo seconds: TimeInterval) async {
        let timer = Task { [self] in
            // A timer cancelled because the wait ended early must not leave a wake behind.
            guard (try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))) != nil else { return }
            signal()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
        timer.cancel()
    }
}
