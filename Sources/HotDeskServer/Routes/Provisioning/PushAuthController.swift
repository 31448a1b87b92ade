import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import PhonePush

/// `POST /push-auth`: a phone that was sent a command asks whether its login is HotDesk's own
/// (Cisco's `authenticationURL`: form fields `UserID`, `Password`, `devicename` = `SEP<MAC>`).
/// The answer is exactly `AUTHORIZED` for the single-use login of a push HotDesk is sending to
/// that phone right now (`PushLogins`), for phones whose family's recipes use such logins, and
/// `UN-AUTHORIZED` for anything else (phone-dialects.md §2). It never confirms a long-lived
/// password. Refusals are logged (`push_auth_refused`), audited and throttled per address like
/// wrong API keys: past the limit, 429 and no audit row.
struct PushAuthController: Sendable {
    let store: any DeviceStore & AuditStore & PushJobStore
    let recipes: PushRecipeBook
    let logins: PushLogins
    let addresses: PhoneAddressResolver
    let security: SecurityLog
    let throttle = RefusalThrottle()
    let globalThrottle = RefusalThrottle(limit: 100, window: 60, maxSources: 1)
    let clock: @Sendable () -> Date

    func register(with router: Router<HotDeskRequestContext>) {
        router.post("/push-auth") { request, context in try await self.check(request, context: context) }
    }

    func check(_ request: Request, context: HotDeskRequestContext) async throws -> Response {
        let now = clock()
        let source = addresses.address(of: request, context: context)
        if throttle.recent(source: source ?? "-", now: now) > throttle.limit || globalThrottle.recent(source: "*", now: now) > globalThrottle.limit {
            return refusedTooOften(source, now: now)
        }
        let body = try await request.body.collect(upTo: 4096)
        let form = Self.form(String(buffer: body))
        let name = form["devicename"] ?? ""
        let mac = name.count == 15 && name.uppercased().hasPrefix("SEP") ? MACAddress(String(name.suffix(12))) : nil
        var why = "no such phone"
        if let mac, let device = try await store.device(mac: mac) {
            if recipes.vendors[device.model.brand]?.usesOneTimeLogins != true {
                why = "\(device.model.brand.rawValue) phones do not check push logins with HotDesk"
            } else if try await logins.redeem(mac: mac, username: form["UserID"] ?? "", password: form["Password"] ?? "", now: now) {
                return Self.answer(true)
            } else {
                why = "not the login of a push being sent to this phone"
            }
        }
        return try await refused(source, mac: mac, why: why, now: now)
    }

    /// A refusal: a security log line each; audited until the address (or everyone) is over the limit.
    private func refused(_ source: String?, mac: MACAddress?, why: String, now: Date) async throws -> Response {
        security.record(.pushAuthRefused, source: source, mac: mac, detail: "push login refused: \(why)")
        let verdict = throttle.refuse(source: source ?? "-", now: now)
        let everyone = globalThrottle.refuse(source: "*", now: now)
        if verdict != .overLimit, everyone != .overLimit {
            let over =
                verdict == .withinLimit && everyone == .withinLimit ? "" : "; too many refusals, the next ones are answered 429 and not audited"
            try await store.audit(
                AuditEntry(
                    at: now,
                    actor: "unknown",
                    action: .pushAuthRefused,
                    mac: mac,
                    source: source,
                    outcome: .refused,
                    detail: "push login refused: \(why)\(over)"
                )
            )
        }
        return verdict == .withinLimit && everyone == .withinLimit ? Self.answer(false) : refusedTooOften(source, now: now)
    }

    private func refusedTooOften(_ source: String?, now: Date) -> Response {
        let wait = max(throttle.retryAfter(source: source ?? "-", now: now), globalThrottle.retryAfter(source: "*", now: now))
        var headers = HTTPFields()
        headers[.retryAfter] = "\(wait)"
        return .text(.tooManyRequests, "UN-AUTHORIZED", contentType: "text/plain", headers: headers)
    }

    /// Exactly the word: the phone refuses the command on any other byte.
    private static func answer(_ granted: Bool) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/plain"],
            body: .init(byteBuffer: ByteBuffer(string: granted ? "AUTHORIZED" : "UN-AUTHORIZED"))
        )
    }

    /// `a=1&b=x%20y` → [a: 1, b: x y]
    static func form(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}
