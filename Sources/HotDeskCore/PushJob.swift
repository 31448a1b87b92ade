import Foundation

/// What a push asks a phone to do.
public enum PushAction: String, Sendable, Codable, CaseIterable {
    /// Re-read the config and apply it without restarting.
    case reload
    /// Restart, fetching the config on the way up.
    case reboot
    /// Show a message on the phone's screen (the vendor's XML push). No config is involved:
    /// the job is done when the phone takes the document.
    case xml

    /// Whether the job is about the phone's config (and so confirmed by its next fetch).
    public var appliesConfig: Bool { self != .xml }

    public init(_ method: ApplyMethod) {
        self = method == .reload ? .reload : .reboot
    }
}

/// Why a push was made.
public enum PushReason: String, Sendable, Codable, CaseIterable {
    case login
    case logout
    /// An admin asked for it (forced logout, or a push from the API or CLI).
    case admin
    /// A policy ended a session (e.g. a logout time).
    case policy
}

/// Where a push job is.
///
/// `queued` → `sent` (the phone answered 2xx) → `applied` (the phone then fetched exactly the
/// config the job was for) — or `failed`, with the reason in `lastError`; or `superseded` when a
/// newer job for the same phone took over before it finished (a login then a logout in quick
/// succession), which is not a failure.
public enum PushState: String, Sendable, Codable, CaseIterable {
    case queued
    case sent
    case applied
    case failed
    case superseded

    public var isPending: Bool { self == .queued || self == .sent }
}

/// One push to one phone, as stored.
public struct PushJob: Hashable, Sendable {
    public var id: Int64
    public var mac: MACAddress
    public var action: PushAction
    public var reason: PushReason
    public var state: PushState
    /// Transfers tried so far (including the one that was sent).
    public var attempts: Int
    /// Why the last attempt did not work, e.g. `refused: …`, `http_401: wrong phone credentials`.
    public var lastError: String?
    /// The hash of the config the phone must fetch for this job to be `applied` (empty for `xml`).
    public var configHash: String
    /// The text an `xml` job shows on the phone.
    public var message: String?
    /// The same config as the phone would get asking by another address (see
    /// `ConfigBuilder.expected`): a fetch of either confirms the job.
    public var altConfigHash: String?
    /// Who asked: `system`, an extension number, `api:<key name>`.
    public var actor: String
    public var createdAt: Date
    public var updatedAt: Date
    /// When a queued job is next tried, or when a sent job stops waiting for the phone.
    public var dueAt: Date
    public var sentAt: Date?
    public var appliedAt: Date?

    public init(
        id: Int64 = 0,
        mac: MACAddress,
        action: PushAction,
        reason: PushReason,
        state: PushState = .queued,
        attempts: Int = 0,
        lastError: String? = nil,
        configHash: String,
        actor: String,
        createdAt: Date,
        updatedAt: Date? = nil,
        dueAt: Date,
        sentAt: Date? = nil,
        appliedAt: Date? = nil,
        message: String? = nil,
        altConfigHash: String? = nil
    ) {
        self.message = message
        self.altConfigHash = altConfigHash
        self.id = id
        self.mac = mac
        self.action = action
        self.reason = reason
        self.state = state
        self.attempts = attempts
        self.lastError = lastError
        self.configHash = configHash
        self.actor = actor
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.dueAt = dueAt
        self.sentAt = sentAt
        self.appliedAt = appliedAt
    }
}

/// Timeouts and retries for pushes. Pure: `PushPolicy` decides, the push worker acts.
public struct PushPolicy: Hashable, Sendable {
    /// Transfers tried per job before it fails.
    public var maxAttempts: Int
    /// First retry delay, doubled each attempt up to `maxBackoff`, with jitter.
    public var backoff: TimeInterval
    public var maxBackoff: TimeInterval
    /// Seconds to wait for the TCP connection to the phone.
    public var connectTimeout: TimeInterval
    /// Seconds for the whole push request.
    public var transferTimeout: TimeInterval
    /// Seconds a phone has to fetch its new config after a reload it accepted.
    public var reloadApplyTimeout: TimeInterval
    /// … and after a reboot (boot time included).
    public var rebootApplyTimeout: TimeInterval
    /// Seconds between answering the phone's "Done" and pushing, so it shows the Done screen first.
    public var delayAfterDone: TimeInterval
    /// Pushes in flight at once.
    public var maxConcurrent: Int
    /// Pushes started per second at most (nil: as fast as `maxConcurrent` allows). After an
    /// import changed every phone's config, `push-changed` queues a push per phone: paced, the
    /// phones reload (or reboot) and fetch their configs over minutes, not in the same second.
    public var maxPerSecond: Double?

    public init(
        maxAttempts: Int = 4,
        backoff: TimeInterval = 2,
        maxBackoff: TimeInterval = 120,
        connectTimeout: TimeInterval = 3,
        transferTimeout: TimeInterval = 10,
        reloadApplyTimeout: TimeInterval = 60,
        rebootApplyTimeout: TimeInterval = 240,
        delayAfterDone: TimeInterval = 1,
        maxConcurrent: Int = 32
    ) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.maxBackoff = maxBackoff
        self.connectTimeout = connectTimeout
        self.transferTimeout = transferTimeout
        self.reloadApplyTimeout = reloadApplyTimeout
        self.rebootApplyTimeout = rebootApplyTimeout
        self.delayAfterDone = delayAfterDone
        self.maxConcurrent = maxConcurrent
    }

    public static let standard = PushPolicy()
}

/// A token bucket: up to `rate` starts per second, and `burst` at once after a quiet spell.
public struct PushPacer: Sendable {
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var last: Date?

    public init(rate: Double, burst: Double? = nil) {
        self.rate = rate
        self.burst = max(1, burst ?? rate)
        tokens = self.burst
    }

    /// How many may start now.
    public mutating func available(now: Date) -> Int {
        refill(now)
        return Int(tokens.rounded(.down))
    }

    /// `count` started now.
    public mutating func took(_ count: Int, now: Date) {
        refill(now)
        tokens = max(0, tokens - Double(count))
    }

    /// Seconds until one more may start.
    public mutating func wait(now: Date) -> TimeInterval {
        refill(now)
        return tokens >= 1 ? 0 : (1 - tokens) / rate
    }

    private mutating func refill(_ now: Date) {
        if let last { tokens = min(burst, tokens + max(0, now.timeIntervalSince(last)) * rate) }
        last = now
    }
}

extension PushPolicy {
    /// "Equal jitter": half the exponential delay fixed, half random (`random` in 0..<1), so a
    /// fleet of phones that failed together does not retry together.
    public func retryDelay(afterAttempt attempt: Int, random: Double) -> TimeInterval {
        let exponential = min(maxBackoff, backoff * pow(2, Double(max(0, attempt - 1))))
        return exponential / 2 + exponential / 2 * min(max(random, 0), 1)
    }

    public func applyTimeout(_ action: PushAction) -> TimeInterval {
        action == .reload ? reloadApplyTimeout : rebootApplyTimeout
    }

    /// What happens to a job after an attempt.
    public enum Decision: Hashable, Sendable {
        /// Try again at `at`, with `action` (a reload that did not take becomes a reboot).
        case retry(action: PushAction, at: Date)
        case fail
    }

    /// After a transfer that got no 2xx (refused, timed out, 401, 500, …).
    public func afterFailedAttempt(_ job: PushJob, now: Date, random: Double) -> Decision {
        job.attempts >= maxAttempts ? .fail : .retry(action: job.action, at: now + retryDelay(afterAttempt: job.attempts, random: random))
    }

    /// After a phone accepted the push but did not fetch its new config in time.
    public func afterApplyTimeout(_ job: PushJob, now: Date) -> Decision {
        job.attempts >= maxAttempts ? .fail : .retry(action: .reboot, at: now)
    }
}

/// The text of a message pushed to a phone's screen: short enough for a desk phone's display,
/// printable, at most a few lines.
public enum PushMessage {
    public static let maxCharacters = 240

    /// Why `text` cannot be shown, or `nil` when it can.
    public static func problem(_ text: String?) -> String? {
        guard let text, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return "an xml push needs a non-empty \"text\"" }
        if text.count > maxCharacters { return "\"text\" is \(text.count) characters; at most \(maxCharacters) fit a phone's screen" }
        if let why = TextSafety.problem(text.replacingOccurrences(of: "\n", with: " ")) { return "\"text\" holds an \(why)" }
        return nil
    }
}

/// A push carried by the PBX: the SIP NOTIFY HotDesk asks it to send to a phone, through the
/// registration the phone keeps with it (so it reaches phones HotDesk's own HTTP cannot: behind
/// a home router, or of a family with no HTTP command). One per push job at a time.
public struct PBXNotify: Hashable, Sendable {
    /// The push job it carries (confirmed, like any, by the phone's next config fetch).
    public var jobID: Int64
    public var mac: MACAddress
    /// The SIP users the phone may be registered as now (its device line, the user logged in,
    /// the user before): the PBX sends to the one whose contact is at `address`.
    public var users: [String]
    /// The phone's address as HotDesk last saw it.
    public var address: String
    /// The `Event:` header (`check-sync;reboot=false`).
    public var event: String
    public var body: String?
    public var contentType: String?
    public var queuedAt: Date
    /// When a PBX took it to send; `nil` while it waits.
    public var takenAt: Date?

    public init(
        jobID: Int64,
        mac: MACAddress,
        users: [String],
        address: String,
        event: String,
        body: String? = nil,
        contentType: String? = nil,
        queuedAt: Date,
        takenAt: Date? = nil
    ) {
        self.jobID = jobID
        self.mac = mac
        self.users = users
        self.address = address
        self.event = event
        self.body = body
        self.contentType = contentType
        self.queuedAt = queuedAt
        self.takenAt = takenAt
    }
}
