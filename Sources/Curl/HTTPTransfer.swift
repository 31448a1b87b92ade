import Foundation

/// How a transfer proves who it is when the server asks.
public struct HTTPCredentials: Hashable, Sendable {
    public enum Scheme: String, Sendable, Codable {
        /// Whichever of Basic or Digest the server asks for (curl's `CURLAUTH_ANY`).
        case any
        case basic
        case digest
    }

    public var username: String
    public var password: String
    public var scheme: Scheme

    public init(username: String, password: String, scheme: Scheme = .any) {
        self.username = username
        self.password = password
        self.scheme = scheme
    }
}

/// One HTTP request, as libcurl will send it.
public struct CurlRequest: Sendable {
    public var method: String
    public var url: String
    /// `Name: value` pairs, sent in order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    public var credentials: HTTPCredentials?
    /// Seconds to wait for the TCP connection.
    public var connectTimeout: Double
    /// Seconds for the whole transfer.
    public var timeout: Double
    /// Send from this local address (e.g. `127.0.0.5`), as a phone on its own address would.
    /// `nil` lets the route choose — and lets libcurl reuse a kept-alive connection that was
    /// bound to some address: name the address whenever the source matters.
    public var localAddress: String?
    /// Answers longer than this fail with `.tooLarge` instead of filling memory.
    public var maxResponseBytes: Int

    public init(
        method: String = "GET",
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8]? = nil,
        credentials: HTTPCredentials? = nil,
        connectTimeout: Double = 3,
        timeout: Double = 10,
        localAddress: String? = nil,
        maxResponseBytes: Int = 1 << 20
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.credentials = credentials
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.localAddress = localAddress
        self.maxResponseBytes = maxResponseBytes
    }
}

/// What the server answered.
public struct CurlResponse: Sendable {
    public var status: Int
    /// Header names in lower case; a repeated header keeps its last value.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a transfer got no HTTP answer at all.
public struct TransferError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// Nothing listens at that address and port.
        case refused
        /// No answer within the connect or total timeout.
        case timedOut = "timed_out"
        /// The host name did not resolve.
        case dns
        /// No route to the host or network.
        case unreachable
        /// The answer was longer than the request allowed.
        case tooLarge = "too_large"
        /// The request's `localAddress` is not an address of this machine.
        case localAddress = "local_address"
        /// Anything else curl reports.
        case other
    }

    public var kind: Kind
    public var message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
