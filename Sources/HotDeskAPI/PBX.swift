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

    public init(decision: String, sipCode: Int, reason: String, cos: String, rule: String, ttl: Int) {
        self.decision = decision
        self.sipCode = sipCode
        self.reason = reason
        self.cos = cos
        self.rule = rule
        self.ttl = ttl
    }
}

/// `GET /pbx/v1/credentials/{user}`: what a PBX's digest check needs, never the password.
public struct CredentialsView: Codable, Sendable {
    public var authUser: String
    public var realm: String
    public var ha1: String

    public init(authUser: String, realm: String, ha1: String) {
        self.authUser = authUser
        self.realm = realm
        self.ha1 = ha1
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
