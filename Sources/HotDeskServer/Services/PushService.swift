import Foundation
import HotDeskCore
import HotDeskStore
import Logging
import PhonePush
import PhoneXML
import Provisioning
import ServiceLifecycle
import Synchronization

/// Works the push jobs the changes wrote (`PhoneChanges`, in this process or another): sends
/// each through `PhonePusher`, retries with backoff, escalates a reload that did not take to a
/// reboot, and fails a job with a specific reason. Jobs live in the store, so a restart resumes
/// them; one job's failure never holds up another's.
///
/// A config job (reload, reboot) is `applied` only when the phone fetches the very config the
/// job was for (the store does that in `recordFetch`); a 2xx from the phone only makes it
/// `sent`. A message (`xml`) involves no config: the phone taking the document is the effect.
final class PushService: Service, Sendable {
    let store: any PushJobStore & DeviceStore & DirectoryStore & StampedStore & SessionStore & AuditStore
    let pusher: PhonePusher
    let policy: PushPolicy
    let logger: Logger
    let telemetry: Telemetry
    let clock: @Sendable () -> Date
    /// Renders the messages of `xml` pushes in each phone's dialect.
    let screens: ScreenLibrary
    let language: String
    /// The single-use logins of pushes whose phones check them with `/push-auth`.
    var logins: PushLogins { PushLogins(store: store) }
    private let signal = WakeSignal()
    private let inFlight = Mutex(0)
    /// `policy.maxPerSecond`, when set.
    private let pacer: Mutex<PushPacer?>
    /// The PBX that sends this node's NOTIFYs, as seen by its polls.
    let relay = PBXNotifyRelay()
    /// The last PBX poll any node recorded, and when this node read it (`pbxConnected`).
    private let polls = Mutex<(readAt: Date, last: Date?)?>(nil)

    init(
        store: any PushJobStore & DeviceStore & DirectoryStore & StampedStore & SessionStore & AuditStore,
        pusher: PhonePusher,
        policy: PushPolicy,
        screens: ScreenLibrary,
        language: String,
        telemetry: Telemetry,
        logger: Logger,
        clock: @escaping @Sendable () -> Date
    ) {
        self.store = store
        self.pusher = pusher
        self.policy = policy
        pacer = Mutex(policy.maxPerSecond.flatMap { $0 > 0 ? PushPacer(rate: $0) : nil })
        self.screens = screens
        self.language = language
        self.logger = logger
        self.telemetry = telemetry
        self.clock = clock
    }

    /// A server's worker: its configuration's push policy and screen language.
    convenience init(
        store: any Store,
        pusher: PhonePusher,
        configuration: ServerConfiguration,
        screens: ScreenLibrary,
        telemetry: Telemetry,
        logger: Logger,
        clock: @escaping @Sendable () -> Date
    ) {
        self.init(
            store: store,
            pusher: pusher,
            policy: configuration.push,
            screens: screens,
            language: configuration.language,
            telemetry: telemetry,
            logger: logger,
            clock: clock
        )
    }

    /// Something changed (a new job, a job applied): look at the queue now.
    func wake() { signal.signal() }

    // MARK: the worker

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.watchOtherWriters() }
                while !Task.isCancelled {
                    let wait = await self.tick { job in
                        group.addTask { await self.attempt(job) }
                    }
                    await self.signal.wait(upTo: wait)
                }
            }
        }
    }

    /// Jobs written by another process (`hotdesk logout`, `hotdesk import --prune`) are seen
    /// within a second: the store's data version moves on any other connection's commit.
    private func watchOtherWriters() async {
        var seen = try? await store.stamps.commits()
        while !Task.isCancelled {
            guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
            let now = try? await store.stamps.commits()
            if now != seen {
                seen = now
                wake()
            }
        }
    }

    /// One pass: start due jobs (up to the limit), time out sent jobs that were never applied.
    /// Returns how long to sleep unless woken.
    func tick(start: (PushJob) -> Void) async -> TimeInterval {
        let now = clock()
        do {
            // Most wakes find nothing due (a job just queued waits out its delay, one just sent or
            // applied waits for nothing): one read says so, and when to look again.
            guard let due = try await store.nextPushDue() else { return 30 }
            if due > now { return min(30, max(0.02, due.timeIntervalSince(now))) }
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
        var job = claimed  // its attempt already counted by the claim
        let outcome: PushOutcome
        do {
            switch try await send(job) {
            case .answered(let answer): outcome = answer
            case .queuedForPBX:
                // Stored with the NOTIFY: the PBX's answer may come before this line runs.
                telemetry.push(job.action.rawValue, PushState.sent.rawValue)
                logger.info("push queued for the PBX", metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "action": "\(job.action.rawValue)"])
                return
            }
        } catch {
            outcome = .failed(code: "internal", message: "\(error)")
        }
        let now = clock()
        job.updatedAt = now
        switch outcome {
        case .accepted(let status):
            accepted(&job, now: now)
            logger.info("push sent", metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "action": "\(job.action.rawValue)", "status": "\(status)"])
        case .failed:
            job.lastError = outcome.errorText
            // An action the family does not have fails at once: trying again cannot help.
            apply(outcome.isFinal ? .fail : policy.afterFailedAttempt(job, now: now, random: Double.random(in: 0..<1)), to: &job)
            logger.warning(
                "push attempt failed",
                metadata: [
                    "job": "\(job.id)", "mac": "\(job.mac)", "attempt": "\(job.attempts)", "error": "\(job.lastError ?? "")",
                    "state": "\(job.state.rawValue)",
                ]
            )
        }
        if job.state == .sent || job.state == .applied || job.state == .failed { telemetry.push(job.action.rawValue, job.state.rawValue) }
        await save(job)
    }

    /// A job whose request the phone (or the PBX) took: sent, waiting for the phone's fetch; a
    /// message is done once shown.
    private func accepted(_ job: inout PushJob, now: Date) {
        job.state = job.action.appliesConfig ? .sent : .applied
        job.sentAt = now
        job.appliedAt = job.action.appliesConfig ? nil : now
        job.lastError = nil
        job.updatedAt = now
        if job.action.appliesConfig { job.dueAt = now + policy.applyTimeout(job.action) }
    }

    /// What became of one attempt: the answer to record, or a NOTIFY queued for the PBX with the
    /// job's new state stored in the same transaction.
    private enum Attempted {
        case answered(PushOutcome)
        case queuedForPBX
    }

    private func send(_ job: PushJob) async throws -> Attempted {
        guard let device = try await store.device(mac: job.mac) else {
            return .answered(.failed(code: "unknown_device", message: "device \(job.mac) is no longer in the directory"))
        }
        guard let address = device.lastAddress else {
            return .answered(.failed(code: "no_address", message: "the phone has not fetched its config yet, so its address is unknown"))
        }
        // The phone's site's: its web login and push port may be the site's own.
        let settings = try await store.settings().forSite(device.site)
        var target = PushTarget(
            brand: device.model.brand,
            address: address,
            port: settings.pushPort(for: device),
            credentials: settings.credentials(for: device),
            from: settings.pushFrom
        )
        if pusher.recipes.vendors[device.model.brand]?.recipe(job.action)?.login == .oneTime {
            // The phone asks /push-auth about this login while it takes the command: good for that alone.
            target.credentials = try await logins.issue(mac: device.mac, now: clock(), lifetime: policy.connectTimeout + policy.transferTimeout + 10)
        }
        var document: String?
        if job.action == .xml {
            guard let dialect = screens.dialects[device.model.brand.rawValue] else {
                return .answered(.failed(code: "no_dialect", message: "no screen dialect for \(device.model.brand.rawValue) phones"))
            }
            // In the phone's language: its user's, else its site's or the settings'.
            var user: String?
            if let session = try await store.session(mac: device.mac) { user = try await store.findExtension(session.extensionNumber)?.language }
            let texts = screens.texts(screens.language([user, settings.forSite(device.site).language], fallback: language))
            let exit = Screen.SoftKey(label: texts["softkey.exit"], action: .exit)
            document = try dialect.render(.text(.init(title: texts["message.title"], text: job.message ?? "", softKeys: [exit]))).body
        }
        // A NOTIFY through the PBX reaches a phone behind a home router (logged in with Login
        // Extl) and a family with no HTTP command; HTTP is tried first on the LAN (and for Extl
        // when no PBX carries NOTIFYs), and the PBX when it fails.
        let vendor = pusher.recipes.vendors[device.model.brand]
        guard let notify = vendor?.notify(job.action) else {
            return .answered(await pusher.push(job.action, to: target, document: document, policy: policy))
        }
        let session = try await store.session(mac: device.mac)
        let throughPBX = session?.network == .external ? await pbxConnected() : false
        if vendor?.recipe(job.action) == nil || throughPBX {
            return try await viaPBX(job, device, notify, session: session, address: address)
        }
        let outcome = await pusher.push(job.action, to: target, document: document, policy: policy)
        guard case .failed(let code, let message) = outcome else { return .answered(outcome) }
        guard await pbxConnected() else { return .answered(outcome) }
        let second = try await viaPBX(job, device, notify, session: session, address: address)
        guard case .queuedForPBX = second else { return .answered(outcome) }
        logger.info("push sent through the PBX", metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "http": "\(code): \(message)"])
        return second
    }

    /// Whether a PBX polls for NOTIFYs: this node was polled lately, or another node was (a PBX
    /// behind a load balancer may poll only one of them).
    /// Another node's poll is read at most once a second (`polls`): a login's screen and its push
    /// both ask, and "connected" spans 15 s.
    func pbxConnected() async -> Bool {
        let now = clock()
        if relay.connected(at: now) { return true }
        let last: Date?
        if let seen = polls.withLock({ $0 }), seen.readAt <= now, now.timeIntervalSince(seen.readAt) < 1 {
            last = seen.last
        } else {
            guard let read = try? await store.lastPBXPoll() else { return false }
            polls.withLock { $0 = (now, read) }
            last = read
        }
        return last.map { now.timeIntervalSince($0) < PBXNotifyRelay.connectedFor } ?? false
    }

    /// Queues the NOTIFY for the PBX: `sent` once queued, confirmed by the phone's fetch like
    /// any push; the PBX's answer, when it is not 2xx, makes it a failed attempt.
    private func viaPBX(
        _ job: PushJob,
        _ device: Device,
        _ notify: VendorPushRecipes.Notify,
        session: Session?,
        address: String
    ) async throws
        -> Attempted
    {
        guard await pbxConnected() else {
            return .answered(
                .failed(
                    code: PhonePusher.unsupportedAction,
                    message:
                        "\(device.model.brand.rawValue) phones take this \(job.action.rawValue) only from the PBX, and no PBX asks HotDesk for NOTIFYs (examples/pbx/kamailio.cfg polls /pbx/v1/notify)"
                )
            )
        }
        // The lines the phone may be registered with now: its own (or its workspace's), the
        // user's, the user who just left (a logout's push reaches the phone still registered as them).
        var users = [device.ownLine?.number, session?.extensionNumber].compactMap { $0 }
        if session == nil, device.ownLine == nil, let name = device.workspace,
            let line = try await store.workspaces().first(where: { $0.workspace.name == name })?.workspace.line
        {
            users.append(line.number)
        }
        var before = AuditQuery()
        before.mac = device.mac
        before.action = .logout
        before.limit = 1
        if let left = try await store.auditEntries(before).first?.entry.extensionNumber { users.append(left) }
        users = users.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        guard !users.isEmpty else {
            return .answered(.failed(code: "no_line", message: "the phone has no SIP line the PBX knows it by"))
        }
        var sent = job
        accepted(&sent, now: clock())
        try await store.queueNotify(
            sent: sent,
            PBXNotify(
                jobID: job.id,
                mac: device.mac,
                users: users,
                address: address,
                event: notify.event,
                body: notify.body,
                contentType: notify.contentType,
                queuedAt: clock()
            )
        )
        relay.wake()
        return .queuedForPBX
    }

    /// The PBX sent a NOTIFY and says how the phone answered: a 2xx leaves the job waiting for
    /// the phone's fetch; anything else is a failed attempt (tried again, or failed). `false`
    /// when the NOTIFY is not one the PBX took.
    func notifyAnswered(jobID: Int64, sipCode: Int) async throws -> Bool {
        guard let notify = try await store.answerNotify(jobID: jobID) else { return false }
        if (200..<300).contains(sipCode) {
            logger.info("NOTIFY taken by the phone", metadata: ["job": "\(jobID)", "mac": "\(notify.mac)", "sip": "\(sipCode)"])
            return true
        }
        guard var job = try await store.pushJob(id: jobID), job.state == .sent else { return true }
        let why =
            switch sipCode {
            case 404: "the phone is not registered with the PBX as \(notify.users.joined(separator: " or ")) at \(notify.address)"
            case 408: "the phone did not answer the PBX's NOTIFY"
            case 489: "the phone does not take the event \(notify.event)"
            default: "the phone answered the PBX's NOTIFY \(sipCode)"
            }
        let now = clock()
        job.lastError = "sip_\(sipCode): \(why)"
        job.updatedAt = now
        apply(policy.afterFailedAttempt(job, now: now, random: Double.random(in: 0..<1)), to: &job)
        logger.warning("push attempt failed", metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "error": "\(job.lastError ?? "")"])
        if job.state == .failed { telemetry.push(job.action.rawValue, "failed") }
        await save(job)
        wake()
        return true
    }

    /// The next NOTIFY for the PBX, waiting up to `wait` seconds for one (a long poll: the
    /// PBX asks again at once). Every node's queue is the store's: one queued by another node
    /// is found within a second.
    /// `site`: only for the phones of that site (its own PBX asks).
    func nextNotify(wait: TimeInterval, site: String? = nil) async throws -> PBXNotify? {
        let end = clock() + wait
        while true {
            let now = clock()
            relay.polled(at: now)
            if let notify = try await store.takeNotify(now: now, forgetTakenBefore: now - 600, site: site) { return notify }
            let left = end.timeIntervalSince(clock())
            guard left > 0, !Task.isCancelled else { return nil }
            await relay.waitForWork(upTo: min(1, left))
        }
    }

    /// A phone took the push but never fetched its new config: try a reboot, or give up.
    private func notApplied(_ claimed: PushJob, now: Date) async {
        var job = claimed
        let waited = Int(policy.applyTimeout(job.action))
        job.lastError = "not_applied: the phone accepted the \(job.action.rawValue) but did not fetch its new config within \(waited) s"
        if (try? await store.notifyWaiting(jobID: job.id)) == true {
            job.lastError = "no_pbx: no PBX took the NOTIFY within \(waited) s (is it polling /pbx/v1/notify?)"
        }
        job.updatedAt = now
        apply(policy.afterApplyTimeout(job, now: now), to: &job)
        logger.warning(
            "push not applied",
            metadata: ["job": "\(job.id)", "mac": "\(job.mac)", "state": "\(job.state.rawValue)", "next": "\(job.action.rawValue)"]
        )
        if job.state == .failed { telemetry.push(job.action.rawValue, "failed") }
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

/// This node's view of the PBX that carries NOTIFYs: when it last asked for one (a PBX that
/// polls is connected), and a wake for its waiting poll when a NOTIFY is queued here.
final class PBXNotifyRelay: Sendable {
    private let lastPoll = Mutex<Date?>(nil)
    private let work = WakeSignal()

    /// A PBX asks at least every few seconds (its poll waits 3 s, then asks again).
    static let connectedFor: TimeInterval = 15

    func polled(at now: Date) { lastPoll.withLock { $0 = now } }

    func connected(at now: Date) -> Bool {
        lastPoll.withLock { $0.map { now.timeIntervalSince($0) < Self.connectedFor } ?? false }
    }

    func wake() { work.signal() }

    func waitForWork(upTo seconds: TimeInterval) async { await work.wait(upTo: seconds) }
}
