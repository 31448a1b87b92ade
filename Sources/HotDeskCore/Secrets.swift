import Crypto
import Foundation
import _CryptoExtras

/// The key PIN and password hashes are made with: derived from the store's key file and never
/// written to the database, so a copy of the database alone cannot test a single guess.
public struct HashKey: Sendable {
    let key: SymmetricKey
    public init(_ key: SymmetricKey) { self.key = key }
    /// A key nobody has: for decoys, which must cost what a real check costs.
    public static func random() -> HashKey { HashKey(SymmetricKey(size: .bits256)) }
}

/// A one-way hash of a PIN or password: `hmac-sha256$<salt b64>$<hash b64>`, the HMAC-SHA256 of
/// salt ‖ secret under the store's `HashKey`.
///
/// PINs are short (4 digits are 10,000 guesses), so no work factor makes them strong: PBKDF2 at
/// 10,000 rounds made a stolen database's PINs a 12-second search each while costing 1.2 ms of
/// every login. A key kept out of the database makes the database alone useless for guessing, and
/// a check costs microseconds (issue 12: logins per second). Stores from before read their old
/// `pbkdf2-sha256$<rounds>$<salt>$<hash>` hashes; a login or import that proves the secret
/// replaces them (`needsUpgrade`).
public struct SecretHash: Hashable, Sendable, CustomStringConvertible {
    public let encoded: String
    private let key: HashKey?

    /// `key`: the store's, needed to check `hmac-sha256` hashes (old PBKDF2 ones need none).
    public init?(encoded: String, key: HashKey?) {
        guard Self.parse(encoded) != nil else { return nil }
        self.encoded = encoded
        self.key = key
    }

    /// Hashes `secret` under `key` with a fresh random salt.
    public init(hashing secret: String, key: HashKey) {
        let salt = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }
        encoded = "hmac-sha256$\(salt.base64EncodedString())$\(Self.mac(secret, salt: salt, key: key).base64EncodedString())"
        self.key = key
    }

    /// The hash stores made before `hmac-sha256`: only to test reading and upgrading them.
    public init(pbkdf2Hashing secret: String, rounds: Int = 10_000) {
        let salt = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }
        encoded = "pbkdf2-sha256$\(rounds)$\(salt.base64EncodedString())$\(Self.derive(secret, salt: salt, rounds: rounds).base64EncodedString())"
        key = nil
    }

    /// An old PBKDF2 hash: replace it when the secret is next proven.
    public var needsUpgrade: Bool { encoded.hasPrefix("pbkdf2-sha256$") }

    /// Whether `candidate` is the secret this hash was made from. The comparison takes the same
    /// time wherever they differ.
    public func matches(_ candidate: String) -> Bool {
        switch Self.parse(encoded) {
        case .hmac(let salt, let expected)?:
            guard let key else { return false }
            return ConstantTime.equal(Self.mac(candidate, salt: salt, key: key), expected)
        case .pbkdf2(let rounds, let salt, let expected)?:
            return ConstantTime.equal(Self.derive(candidate, salt: salt, rounds: rounds), expected)
        case nil:
            return false
        }
    }

    public static func == (a: SecretHash, b: SecretHash) -> Bool { a.encoded == b.encoded }
    public func hash(into hasher: inout Hasher) { hasher.combine(encoded) }

    /// Never prints the hash itself.
    public var description: String { "SecretHash(…)" }

    private static func mac(_ secret: String, salt: Data, key: HashKey) -> Data {
        var hmac = HMAC<SHA256>(key: key.key)
        hmac.update(data: salt)
        hmac.update(data: Data(secret.utf8))
        return Data(hmac.finalize())
    }

    private static func derive(_ secret: String, salt: Data, rounds: Int) -> Data {
        let key = try! KDF.Insecure.PBKDF2.deriveKey(
            from: Array(secret.utf8),
            salt: salt,
            using: .sha256,
            outputByteCount: 32,
            unsafeUncheckedRounds: rounds
        )
        return key.withUnsafeBytes { Data($0) }
    }

    private enum Parsed {
        case hmac(salt: Data, hash: Data)
        case pbkdf2(rounds: Int, salt: Data, hash: Data)
    }

    /// Split as bytes: split by `Character`, a stored hash (read with every extension row) cost
    /// 35,000 instructions to parse.
    private static func parse(_ encoded: String) -> Parsed? {
        let parts = encoded.utf8.split(separator: UInt8(ascii: "$"), omittingEmptySubsequences: false).map { Substring($0) }
        if parts.count == 3, parts[0] == "hmac-sha256", let salt = Data(base64Encoded: String(parts[1])),
            let hash = Data(base64Encoded: String(parts[2])),
            hash.count == 32
        {
            return .hmac(salt: salt, hash: hash)
        }
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), rounds > 0,
            let salt = Data(base64Encoded: String(parts[2])), let hash = Data(base64Encoded: String(parts[3]))
        else { return nil }
        return .pbkdf2(rounds: rounds, salt: salt, hash: hash)
    }
}

/// Comparisons whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    public static func equal(_ lhs: some DataProtocol, _ rhs: some DataProtocol) -> Bool {
        Array(lhs).withUnsafeBufferPointer { a in Array(rhs).withUnsafeBufferPointer { b in equal(a, b) } }
    }

    public static func equal(_ lhs: String, _ rhs: String) -> Bool {
        var (lhs, rhs) = (lhs, rhs)
        return lhs.withUTF8 { a in rhs.withUTF8 { b in equal(a, b) } }
    }

    /// Every byte of the longer one is looked at, whatever differs first.
    public static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
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

    /// What a store keeps of a token instead of the token (hex SHA-256): looked up by it, a
    /// token's lookup time says nothing about the token, and a copy of the store opens nothing.
    public static func hash(_ token: String) -> String { Hex.string(SHA256.hash(data: Data(token.utf8))) }

    /// Whether `text` could be a token made by `make` (cheap syntax check before any lookup).
    public static func isWellFormed(_ text: some StringProtocol, bytes: Int = 24) -> Bool {
        text.utf8.count == (bytes * 4 + 2) / 3
            && text.utf8.allSatisfy { $0.isASCIIAlphanumeric || $0 == 0x2D || $0 == 0x5F }
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
public enum APIKeyKind: String, Hashable, Sendable, Codable {
    case admin
    case pbx
}

/// What an admin API key may do. `auditor` reads; `helpdesk` also forces logouts, clears locks
/// and pushes; `admin` does everything (SIP passwords, directory deletions, keys).
public enum AdminRole: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    case auditor
    case helpdesk
    case admin
    /// The main directory's keys and accounts that manage every organisation (a partner hosting
    /// several customers): an admin there and in each organisation.
    case partner

    public static func < (a: AdminRole, b: AdminRole) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

    /// The least role a request needs: reads need `auditor`; the helpdesk's actions `helpdesk`;
    /// anything else `admin`. `path` is under `/api/v1`, without it (`sessions/00:15:…`).
    public static func needed(method: String, path: String) -> AdminRole {
        let parts = path.split(separator: "/").map(String.init)
        // A phone's config, secrets masked, still shows how every phone is set up: admins only.
        if parts.count == 3, parts[0] == "devices", parts[2] == "config" { return .admin }
        // Which organisations there are, and where: a partner's question.
        if parts.first == "organisations" { return .partner }
        if method == "GET" || method == "HEAD" { return .auditor }
        switch (method, parts.count) {
        case ("DELETE", 2) where parts[0] == "sessions": return .helpdesk
        case ("DELETE", 3) where parts[0] == "locks": return .helpdesk
        // A person who forgot the PIN they chose: the helpdesk's call, like a lock.
        case ("DELETE", 3) where parts[0] == "extensions" && parts[2] == "pin": return .helpdesk
        case ("POST", 3) where parts[0] == "extensions" && parts[2] == "logout": return .helpdesk
        case ("POST", 3) where parts[0] == "devices" && parts[2] == "push": return .helpdesk
        case ("POST", 2) where parts == ["devices", "push-changed"]: return .helpdesk
        default: return .admin
        }
    }
}

/// A stored key as an admin sees it: never the key, never its hash.
public struct APIKeyInfo: Hashable, Sendable {
    public var name: String
    public var kind: APIKeyKind
    /// For admin keys (PBX keys are `admin` and open only `/pbx/v1`).
    public var role: AdminRole = .admin
    /// The sites an admin key is limited to.
    public var scope = SiteScope.everySite
    public var createdAt: Date
    /// To the minute (a PBX asks on every call).
    public var lastUsedAt: Date?

    public init(name: String, kind: APIKeyKind, role: AdminRole = .admin, createdAt: Date, lastUsedAt: Date?) {
        self.name = name
        self.kind = kind
        self.role = role
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }
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
