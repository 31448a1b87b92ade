import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird

/// Calls the PBX reports (`/pbx/v1/calls/…`): which phones are on a call, so that a policy's or
/// an admin's logout waits for the call to end instead of cutting it.
extension PBXController {
    struct CallReport: Decodable {
        /// The PBX's name for the call (any 1-128 printable ASCII characters; the example sends
        /// the MD5 of the Call-ID).
        var callId: String
        /// The SIP user of one party, and the address its messages came from.
        var authUser: String?
        var sourceIp: String?
    }

    static let callExample = "{\"call_id\": \"…\", \"auth_user\": \"5501\", \"source_ip\": \"192.0.2.31\"}"

    /// A party of a call was answered: its phone is on a call until `calls/end`.
    func callStarted(_ request: Request) async throws -> Response {
        let report = try await request.decodeJSON(CallReport.self, expected: Self.callExample)
        try Self.checkCallID(report.callId)
        guard let name = report.authUser else { throw APIError(.badRequest, "bad_user", "auth_user is the SIP user of the party") }
        try Self.checkSIPUser(name)
        guard let user = try await store.sipUser(name) else { throw APIError(.notFound, "unknown_sip_user", "no SIP user \(name)") }
        guard let desk = Self.desk(of: user, sourceIP: report.sourceIp) else {
            throw APIError(.notFound, "no_phone", "\(name) is not on one phone HotDesk can tell at \(report.sourceIp ?? "an unknown address")")
        }
        let now = clock()
        try await store.callStarted(
            callID: report.callId,
            mac: desk.device.mac,
            at: now,
            forgetBefore: now - AutoLogoutService.callsForgottenAfter
        )
        return .json(.ok, CallView(mac: desk.device.mac.colonSeparated))
    }

    /// The call ended on every phone it was on; a logout that waited for it happens now.
    func callEnded(_ request: Request) async throws -> Response {
        let report = try await request.decodeJSON(CallReport.self, expected: "{\"call_id\": \"…\"}")
        try Self.checkCallID(report.callId)
        // An idle logout counts from the call's end (noted with it).
        let phones = try await store.callEnded(callID: report.callId, at: clock())
        if !phones.isEmpty { Task { await sweep() } }
        return Response(status: .noContent)
    }

    /// Calls whose end was lost: `{auth_user, source_ip}` — that phone registered afresh (a new
    /// Call-ID: it restarted), so it is on no call; `{}` — the PBX started, so none of the calls
    /// it reported goes on (with `?site=`, the calls of that site's phones; else every call).
    /// A logout that waited for them happens now.
    func callsReset(_ request: Request) async throws -> Response {
        let report = try await request.decodeJSON(Reset.self, expected: "{} or {\"auth_user\": \"5501\", \"source_ip\": \"192.0.2.31\"}")
        var phones: [MACAddress]
        if let name = report.authUser {
            try Self.checkSIPUser(name)
            guard let user = try await store.sipUser(name) else { throw APIError(.notFound, "unknown_sip_user", "no SIP user \(name)") }
            guard let desk = Self.desk(of: user, sourceIP: report.sourceIp) else {
                throw APIError(.notFound, "no_phone", "\(name) is not on one phone HotDesk can tell at \(report.sourceIp ?? "an unknown address")")
            }
            phones = [desk.device.mac]
        } else {
            phones = Array(try await store.phonesOnCalls(since: .distantPast).keys)
            if let site = try Self.site(request, try await store.settings()) {
                var ofSite: [MACAddress] = []
                for mac in phones where try await store.device(mac: mac)?.site == site { ofSite.append(mac) }
                phones = ofSite
            }
        }
        let ended = try await store.callsEnded(on: phones, at: clock())
        if !ended.isEmpty { Task { await sweep() } }
        return .json(.ok, CallsResetView(phones: ended.map(\.colonSeparated).sorted()))
    }

    struct Reset: Decodable {
        var authUser: String?
        var sourceIp: String?
    }

    static func checkCallID(_ id: String) throws {
        guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw APIError(.badRequest, "bad_call_id", "call_id is 1-128 printable ASCII characters")
        }
    }
}
