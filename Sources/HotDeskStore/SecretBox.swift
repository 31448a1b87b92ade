import Crypto
import Foundation
import HotDeskCore

/// Encrypts secrets that must be recoverable (SIP passwords: phones need them in clear) with
/// AES-GCM under a key that never sits in the database.
///
/// The key comes from `HOTDESK_SECRET_KEY` (32 bytes, base64) or from a key file (created with
/// mode 0600 on first use, beside the database by default).
public struct SecretBox: Sendable {
    private let key: SymmetricKey
    /// Keys derived once (HKDF per request showed in profiles).
    private let tokenKey: SymmetricKey
    /// What PIN and password hashes are made with (`SecretHash`).
    public let hashKey: HashKey
    /// App tokens already checked (a phone's token comes on every screen; its HMAC is a tenth
    /// of an app request). A token's reading never changes: the generation is in the token.
    private let appTokens: Memo<String, AppTokenReading?>
    /// The token of each phone's current generation, made once: every read of a phone's row
    /// names its token (issue 12: its HMAC was 2 % of a login).
    private let madeTokens: Memo<MadeToken, String>

    private struct MadeToken: Hashable, Sendable {
        let mac: MACAddress
        let generation: Int
    }

    public typealias AppTokenReading = (mac: MACAddress, generation: Int)

    public init(key: SymmetricKey, caches: CacheLimits = CacheLimits()) {
        self.key = key
        appTokens = Memo(limit: caches.phones)
        madeTokens = Memo(limit: caches.phones)
        tokenKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data("hotdesk app tokens v1".utf8), outputByteCount: 32)
        hashKey = HashKey(HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data("hotdesk secret hashes v1".utf8), outputByteCount: 32))
        nonceKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data("hotdesk digest nonces v1".utf8), outputByteCount: 32)
    }

    /// The key provisioning Digest nonces are made with: from the store's key, so the same on
    /// every node (a nonce one node issued is checked by whichever node the answer reaches).
    public let nonceKey: SymmetricKey

    public enum KeyError: Error, CustomStringConvertible {
        case badEnvironmentKey
        case badKeyFile(String)
        case cannotCreate(String, String)

        public var description: String {
            switch self {
            case .badEnvironmentKey: "HOTDESK_SECRET_KEY must be 32 bytes in base64"
            case .badKeyFile(let path): "key file \(path) does not hold a 32-byte base64 key"
            case .cannotCreate(let path, let reason): "cannot create key file \(path): \(reason)"
            }
        }
    }

    /// The key from the environment, else from `keyFile` (made if missing).
    public static func load(
        keyFile: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        caches: CacheLimits = CacheLimits()
    ) throws -> SecretBox {
        if let text = environment["HOTDESK_SECRET_KEY"], !text.isEmpty {
            guard let data = Data(base64Encoded: text), data.count == 32 else { throw KeyError.badEnvironmentKey }
            return SecretBox(key: SymmetricKey(data: data), caches: caches)
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: keyFile) {
            guard let text = try? String(contentsOfFile: keyFile, encoding: .utf8),
                let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32
            else { throw KeyError.badKeyFile(keyFile) }
            return SecretBox(key: SymmetricKey(data: data), caches: caches)
        }
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n"
        guard fm.createFile(atPath: keyFile, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw KeyError.cannotCreate(keyFile, "the folder is missing or not writable")
        }
        return SecretBox(key: key, caches: caches)
    }

    /// A value that names this key without revealing it (an HMAC of a fixed label under a key
    /// derived from it): stored in the database, it tells at once whether a key file is the one
    /// the database's secrets were sealed with.
    public var keyCheck: String {
        let derived = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data("hotdesk key check v1".utf8), outputByteCount: 32)
        return Hex.string(Data(HMAC<SHA256>.authenticationCode(for: Data("hotdesk key check".utf8), using: derived)).prefix(16))
    }

    public func seal(_ plaintext: String) throws -> Data {
        guard let combined = try AES.GCM.seal(Data(plaintext.utf8), using: key).combined else {
            throw CryptoKitError.incorrectParameterSize
        }
        return combined
    }

    /// The app token of a device at a generation: 6 bytes of MAC, 4 of generation and 14 of an
    /// HMAC of both under a key derived from this box's, as 32 URL-safe characters (the shape of
    /// `RandomToken`). Nothing about it is stored: the store keeps only the generation, which
    /// every login and logout bumps, so an old token is recognised as old and a forged one as
    /// nobody's.
    public func appToken(mac: MACAddress, generation: Int) -> String {
        madeTokens.value(MadeToken(mac: mac, generation: generation)) { makeAppToken(mac: mac, generation: generation) }
    }

    private func makeAppToken(mac: MACAddress, generation: Int) -> String {
        var bytes = Self.macBytes(mac)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: generation).bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: HMAC<SHA256>.authenticationCode(for: bytes, using: tokenKey).prefix(14))
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The device and generation an app token names, if it is one of ours.
    public func readAppToken(_ token: String) -> (mac: MACAddress, generation: Int)? {
        appTokens.value(token) { checkAppToken(token) }
    }

    private func checkAppToken(_ token: String) -> (mac: MACAddress, generation: Int)? {
        guard RandomToken.isWellFormed(token),
            let data = Data(base64Encoded: token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")), data.count == 24
        else { return nil }
        let bytes = [UInt8](data)
        let expected = HMAC<SHA256>.authenticationCode(for: bytes[0..<10], using: tokenKey).prefix(14)
        guard ConstantTime.equal(Data(expected), Data(bytes[10..<24])) else { return nil }
        let hex = Hex.string(bytes[0..<6])
        guard let mac = MACAddress(hex) else { return nil }
        let generation = bytes[6..<10].reduce(0) { $0 << 8 | Int($1) }
        return (mac, generation)
    }

    private static func macBytes(_ mac: MACAddress) -> [UInt8] {
        stride(from: 0, to: 12, by: 2).map { i in
            let start = mac.canonical.index(mac.canonical.startIndex, offsetBy: i)
            return UInt8(mac.canonical[start..<mac.canonical.index(start, offsetBy: 2)], radix: 16) ?? 0
        }
    }

    public func open(_ sealed: Data) throws -> String {
        let data = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key)
        return String(decoding: data, as: UTF8.self)
    }
}
