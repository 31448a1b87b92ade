import Foundation
import HotDeskCore
import HummingbirdTLS
import NIOSSL
import PhonePush

/// How to run the server.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The language of the app's screens (`Screens/locales/<language>.json`).
    public var language: String
    /// The zone lock times are shown in and `settings.auto_logout.daily_at` is read in.
    public var timeZone: TimeZone
    /// Timeouts, retries and limits for pushes to phones.
    public var push: PushPolicy
    /// Proxies whose `X-Forwarded-For` is believed when learning a phone's address.
    public var trustedProxies: Set<String>
    /// Seconds between checks of the auto-logout policy.
    public var autoLogoutInterval: TimeInterval
    /// HTTPS: the certificate chain and private key files (PEM). `nil`: plain HTTP (behind a
    /// TLS proxy, or on a trusted LAN only).
    public var tls: TLSFiles?
    /// Open connections at most, and how long one may wait for a request.
    public var connections = ConnectionLimits()
    /// Seconds between writes of the fetch times kept in memory.
    public var fetchTimesInterval: TimeInterval = 5
    /// Seconds between housekeeping sweeps (lock summaries, unclaimed phones forgotten).
    public var housekeepingInterval: TimeInterval = 60
    /// Host names phones may reach HotDesk by besides the directory's internal and external
    /// addresses (any other `Host` is answered as if it were the internal address).
    public var acceptedHosts: Set<String> = []
    /// How many entries the server's caches keep (the store's own are given when it is opened).
    public var caches = CacheLimits()
    /// The UDP port of the TFTP server beside the HTTP one, on `host` (`nil`: none; 0: any free
    /// port). It serves what `/provision` serves, to phones that fetch by TFTP.
    public var tftpPort: Int?
    /// The organisation this server's parts serve (`/o/NAME`); nil: the root.
    public var organisation: String?
    /// Where this server's routes are under its addresses: `/o/NAME`, or `""`.
    public var pathPrefix: String { Organisation.pathPrefix(organisation) }

    public init(
        host: String = "0.0.0.0",
        port: Int = 8080,
        language: String = "en",
        timeZone: TimeZone = .current,
        push: PushPolicy = .standard,
        trustedProxies: Set<String> = [],
        autoLogoutInterval: TimeInterval = 30,
        acceptedHosts: Set<String> = [],
        connections: ConnectionLimits = ConnectionLimits()
    ) {
        self.connections = connections
        self.acceptedHosts = acceptedHosts
        self.autoLogoutInterval = autoLogoutInterval
        self.host = host
        self.port = port
        self.language = language
        self.timeZone = timeZone
        self.push = push
        self.trustedProxies = trustedProxies
    }
}

/// The PEM files of `hotdesk serve --tls-cert --tls-key`.
public struct TLSFiles: Sendable {
    public var certificateChain: String
    public var privateKey: String

    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }

    /// Reads the files as `serve` does: a readable `TLSFileError`, or nothing.
    public func validate() throws { _ = try configuration() }

    /// Readable errors for files that are missing or not PEM.
    func configuration() throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateChain) } catch {
            throw TLSFileError(message: "--tls-cert \(certificateChain): not a readable PEM certificate chain (\(error))")
        }
        do { key = try NIOSSLPrivateKey(file: privateKey, format: .pem) } catch {
            throw TLSFileError(message: "--tls-key \(privateKey): not a readable PEM private key (\(error))")
        }
        guard !chain.isEmpty else { throw TLSFileError(message: "--tls-cert \(certificateChain): no certificate in it") }
        return .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }
}

public struct TLSFileError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
