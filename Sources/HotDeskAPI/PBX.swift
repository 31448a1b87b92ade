import Foundation
import HotDeskCore

// The admin API's JSON, defined once: the server encodes these, the CLI decodes them. Keys are
// snake_case on the wire (`APICoding`), times ISO 8601.

/// `POST /pbx/v1/authorize`: may this SIP user call that number now.
public struct AuthorizeView: Codable, Sendable {
    /// `allow` or `deny`.
    public var decision: String
    /// The SIP answer for a PBX to send: 200 (go on) or 403.
    public var sipCode: Int
    public var reason: String
    /// The class of service and the rule that decided.
    public var cos: String
    public var rule: String
    /// Seconds the PBX may cache the answer.
    public var ttl: Int
    /// The number the PBX asserts for this call (`P-Asserted-Identity`): the line's caller ID, or
    /// for an emergency number the desk's emergency caller ID.
    public var callerId: String
    /// For an emergency number: where the desk is (its site's `emergency_location`), if set.
    public var emergencyLocation: String?
    /// Asked with `credentials: true`, for a line provisioned now: what the PBX's Digest check of
    /// the caller needs (as `GET /pbx/v1/credentials/{user}` gives it). Absent: not provisioned.
    public var ha1: String?
    public var realm: String?

    public init(decision: String, sipCode: Int, reason: String, cos: String, rule: String, ttl: Int, callerId: String) {
        self.decision = decision
        self.sipCode = sipCode
        self.reason = reason
        self.cos = cos
        self.rule = rule
        self.ttl = ttl
        self.callerId = callerId
    }
}

/// `GET /pbx/v1/credentials/{user}`: what a PBX's digest check needs, never the password.
public struct CredentialsView: Codable, Sendable {
    public var authUser: String
    public var realm: String
    public var ha1: String
    /// The number the PBX asserts for the line's calls, and for its emergency calls from the desk
    /// at `?source_ip=` (a PBX keeps it from the REGISTER, to assert without asking HotDesk).
    public var callerId: String
    public var emergencyCallerId: String
    /// Where the desk at `?source_ip=` is (its site's `emergency_location`), if set.
    public var emergencyLocation: String?

    public init(authUser: String, realm: String, ha1: String, callerId: String, emergencyCallerId: String) {
        self.authUser = authUser
        self.realm = realm
        self.ha1 = ha1
        self.callerId = callerId
        self.emergencyCallerId = emergencyCallerId
    }
}

/// `GET /pbx/v1/direct-dial/{number}`: the SIP user an inbound call to the number rings.
public struct DirectDialView: Codable, Sendable {
    public var number: String
    public var authUser: String
    /// How long a PBX may keep the answer, in seconds.
    public var ttl: Int

    public init(number: String, authUser: String, ttl: Int) {
        self.number = number
        self.authUser = authUser
        self.ttl = ttl
    }
}

/// The answer to a star-code login or logout, for a PBX to turn into a SIP reply.
public struct StarCodeView: Codable, Sendable {
    /// `logged_in`, `logged_out`, `rejected`, `locked`.
    public var result: String
    public var sipCode: Int
    public var reason: String

    public init(result: String, sipCode: Int, reason: String) {
        self.result = result
        self.sipCode = sipCode
        self.reason = reason
    }
}

/// `GET /pbx/v1/notify`: a NOTIFY for the PBX to send to a phone, in the flat form a PBX script
/// reads (Kamailio's `json_get_field`): every value a string.
public struct NotifyOrderView: Codable, Sendable {
    /// The push job it carries: send it back with the phone's answer.
    public var id: String
    /// The SIP users the phone may be registered as, `;`-separated: send to the one whose
    /// contact is at `address`.
    public var users: String
    public var address: String
    /// The `Event:` header.
    public var event: String
    /// The body and its type; empty when none.
    public var body: String
    public var contentType: String

    public init(id: String, users: String, address: String, event: String, body: String, contentType: String) {
        self.id = id
        self.users = users
        self.address = address
        self.event = event
        self.body = body
        self.contentType = contentType
    }
}

/// `POST /pbx/v1/notify/{id}`: how the phone answered the NOTIFY (404: no contact at its
/// address; 408: no answer).
public struct NotifyAnswer: Codable, Sendable {
    public var sipCode: Int

    public init(sipCode: Int) { self.sipCode = sipCode }
}

/// `GET /pbx/v1/emergency`: the numbers that always go through, for the PBX to keep (it routes
/// them without asking HotDesk, and keeps the last list when HotDesk is away). Flat, for a PBX
/// script: the numbers `;`-separated; `version` changes when they do.
public struct EmergencyListView: Codable, Sendable {
    public var version: String
    public var numbers: String

    public init(version: String, numbers: String) {
        self.version = version
        self.numbers = numbers
    }
}

/// `POST /pbx/v1/calls/start`: the phone the party was found on.
public struct CallView: Codable, Sendable {
    public var mac: String

    public init(mac: String) { self.mac = mac }
}

/// `POST /pbx/v1/calls/reset`: the phones that were on a call HotDesk now knows has ended.
public struct CallsResetView: Codable, Sendable {
    public var phones: [String]

    public init(phones: [String]) { self.phones = phones }
}
