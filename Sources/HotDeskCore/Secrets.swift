import Crypto
import _CryptoExtras

import Foundation

/// A one-way hash of a PIN or password: `pbkdf2-sha256$<rounds>$<salt b64>$<hash b64>`.
///
/// PINs are short, so no hash makes them strong; hashing keeps a stolen database from handing
/// out every voicemail PIN in clear. Rounds are stored with the hash, so they can be raised later.
public struct SecretHash: Hashable, Sendable, Codable, CustomStringConvertible {
    public let encoded: String

    public static let defaultRounds = 10_000

    public init?(encoded: String) {
        guard Self.parse(encoded) != nil else { return nil }
        self.encoded = encoded
    }

    /// Hashes `secret` with a fresh random salt.
    public init(hashing secret: String, rounds: Int = SecretHash.defaultRounds) {
        let salt = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }
        let derived = Self.derive(secret, salt: salt, rounds: rounds)
        encoded = "pbkdf2-sha256$\(rounds)$\(salt.base64EncodedString())$\(derived.base64EncodedString())"
    }

    /// Whether `candidate` is the secret this hash was made from. The comparison of the derived
    /// keys takes the same time wherever they differ.
    public func matches(_ candidate: String) -> Bool {
        guard let (rounds, salt, expected) = Self.parse(encoded) else { return false }
        let derived = Self.derive(candidate, salt: salt, rounds: rounds)
        return ConstantTime.equal(derived, expected)
    }

    /// Never prints the hash itself.
    public var description: String { "SecretHash(…)" }

    private static func derive(_ secret: String, salt: Data, rounds: Int) -> Data {
        // Rounds below the library's recommended minimum are deliberate: the secrets are 4-digit
        // PINs checked on every login, where the hash buys little and latency costs much.
        let key = try! KDF.Insecure.PBKDF2.deriveKey(
            from: Array(secret.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { Data($0) }
    }

    private static func parse(_ encoded: String) -> (Int, Data, Data)? {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), rounds > 0,
            let salt = Data(base64Encoded: String(parts[2])), let hash = Data(base64Encoded: String(parts[3]))
        else { return nil }
        return (rounds, salt, hash)
    }
}

/// Comparisons whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    public static func equal(_ lhs: some DataProtocol, _ rhs: some DataProtocol) -> Bool {
        let a = Array(lhs), b = Array(rhs)
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }

    public static func equal(_ lhs: String, _ rhs: String) -> Bool {
        equal(Array(lhs.utf8), Array(rhs.utf8))
    }
}

/// Random secrets: device tokens, API keys.
public enum RandomToken {
    /// `bytes` random bytes as URL-safe base64 without padding (24 bytes = 192 bits = 32 chars).
    public static func make(bytes: Int = 24) -> String {
        let key = SymmetricKey(size: SymmetricKeySize(bitCount: bytes * 8))
        return key.withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Whether `text` could be a token made by `make` (cheap syntax check before any lookup).
    public static func isWellFormed(_ text: some StringProtocol, bytes: Int = 24) -> Bool {
        text.utf8.count == (bytes * 4 + 2) / 3
            && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }
}

/// New SIP passwords: 20 letters and digits (about 119 bits), easy to type on a keypad-less
/// admin screen and accepted by every PBX.
public enum SIPPassword {
    static let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")

    public static func make(length: Int = 20) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }
}

/// What a key opens: the admin API (`/api/v1`) or the PBX API (`/pbx/v1`), never both.
public enum APIKeyKind: String, Hashable, Sendable {
    case admin
    case pbx
}

/// Admin API keys: `hdk_` plus 256 random bits. Only the SHA-256 of a key is stored (a key has
/// full entropy, so a slow hash adds nothing); the key itself is shown once, at creation.
public enum APIKey {
    public static let prefix = "hdk_"

    public static func make() -> String { prefix + RandomToken.make(bytes: 32) }

    /// Whether `text` has the shape of a key (checked before any lookup).
    public static func isWellFormed(_ text: some StringProtocol) -> Bool {
        text.hasPrefix(prefix) && RandomToken.isWellFormed(text.dropFirst(prefix.count), bytes: 32)
    }

    public static func hash(_ key: String) -> String {
        Hex.string(SHA256.hash(data: Data(key.utf8)))
    }
}
