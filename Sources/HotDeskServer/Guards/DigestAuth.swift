import Crypto
import Foundation
import HotDeskCore
import Synchronization

/// HTTP Digest (RFC 7616) for phones fetching their configs: the server side, checked against a
/// phone's own provisioning secret. A nonce is a time, a random part and an HMAC of both and of
/// the address it was issued to, under a key made at start: valid for `nonceLifetime`, from that
/// address only. Each
/// (nonce, user) must come with a larger `nc` than the last one taken (`NonceCounts`), so a
/// captured `Authorization` header cannot be sent again, from any address; a stale or reused
/// nonce gets a new challenge with `stale=true`. MD5 is offered beside SHA-256 because that is
/// what deployed phones speak. Basic is never accepted here (docs/security.md).
public struct DigestAuth: Sendable {
    static let realm = "HotDesk provisioning"
    /// Why a fetch is challenged again: its nonce is too old or was used with that `nc` already.
    static let staleNonce = "stale nonce"
    /// From the store's key (`DeviceStore.digestNonceKey`): every node checks every node's nonces.
    let key: SymmetricKey
    var nonceLifetime: TimeInterval = 300
    /// What nonces were read as (a phone answering a challenge may send its nonce again with the
    /// next `nc`), and each phone's HA1, keyed by the secret it was made from: both the same on every fetch
    /// of a phone's config (issue 12: the HMAC and hashes were an eighth of a config GET).
    private let nonces: Memo<NonceKey, Date?>
    /// The last `nc` taken with each live nonce and user.
    private let counts = NonceCounts()
    private let ha1s: Memo<HashKey, String>
    /// HA2 is the hash of the method and the file asked for: the same on every fetch of a file.
    private let ha2s: Memo<HashKey, String>

    /// The memos' keys are the parts themselves (no text joined and hashed again per fetch).
    struct NonceKey: Hashable {
        let address: String?
        let nonce: String
    }

    struct HashKey: Hashable {
        let sha256: Bool
        let first: String
        let second: String
    }

    init(key: SymmetricKey = SymmetricKey(size: .bits256), caches: CacheLimits = CacheLimits()) {
        self.key = key
        nonces = Memo(limit: caches.requests)
        ha1s = Memo(limit: caches.phones)
        ha2s = Memo(limit: caches.requests)
    }

    enum Verdict: Equatable {
        case none
        case valid
        case invalid(String)
        /// Too old, or already used with this `nc`: the phone is challenged again with a new one.
        case stale
    }

    /// `WWW-Authenticate` values for a 401 (SHA-256 first, then MD5), with a nonce for `address`.
    func challenges(now: Date, address: String?, stale: Bool = false) -> [String] {
        let nonce = makeNonce(now: now, address: address)
        return ["SHA-256", "MD5"].map {
            "Digest realm=\"\(Self.realm)\", qop=\"auth\", algorithm=\($0), nonce=\"\(nonce)\"" + (stale ? ", stale=true" : "")
        }
    }

    /// Checks an `Authorization` header for `method` and the request target `uri`, sent from
    /// `address`, against the phone's user and secret. A valid answer uses up its `nc`.
    func verify(header: String?, method: String, uri: String, username: String, secret: String, address: String?, now: Date) -> Verdict {
        guard let header, header.utf8.count < 2048 else { return .none }
        // "Digest " in any case, read as bytes (not a lower-cased copy of the whole header).
        guard header.utf8.prefix(7).elementsEqual("digest ".utf8, by: { $0.asciiLowercased == $1 }) else {
            return .invalid("not Digest")
        }
        let p = Answer(header.utf8.dropFirst(7))
        guard let user = p.username, let nonce = p.nonce, let response = p.response, let asked = p.uri else {
            return .invalid("incomplete Digest header")
        }
        guard p.realm == Self.realm else { return .invalid("wrong realm") }
        guard ConstantTime.equal(user, username) else { return .invalid("wrong user") }
        guard asked == uri else { return .invalid("uri does not match the request") }
        let algorithm = p.algorithm.map { $0 == "MD5" ? $0 : $0.uppercased() } ?? "MD5"
        guard algorithm == "MD5" || algorithm == "SHA-256" else { return .invalid("algorithm \(algorithm.prefix(20)) not offered") }
        guard let issued = nonceTime(nonce, address: address) else { return .invalid("not a nonce issued to this address") }
        let sha256 = algorithm == "SHA-256"
        let ha1 = ha1s.value(HashKey(sha256: sha256, first: user, second: secret)) { Self.hash(sha256, user, Self.realm, secret) }
        let ha2 = ha2s.value(HashKey(sha256: sha256, first: method, second: asked)) { Self.hash(sha256, method, asked) }
        let expected: String
        // Without qop (RFC 2069) there is no count: such a nonce is good for one request.
        var count: UInt32 = 1
        if let qop = p.qop {
            guard qop == "auth", let nc = p.nc, let cnonce = p.cnonce else { return .invalid("qop \(qop.prefix(10)) not offered") }
            guard nc.utf8.count == 8, let n = UInt32(nc, radix: 16), n > 0 else { return .invalid("nc is not 8 hex digits") }
            count = n
            expected = Self.hash(sha256, ha1, nonce, nc, cnonce, qop, ha2)
        } else {
            expected = Self.hash(sha256, ha1, nonce, ha2)
        }
        guard ConstantTime.equal(expected, response.utf8.contains(where: \.isASCIIUppercase) ? response.lowercased() : response) else {
            return .invalid("wrong secret")
        }
        guard now.timeIntervalSince(issued) <= nonceLifetime, issued.timeIntervalSince(now) < 5 else { return .stale }
        // A header sent before (captured, or a phone's retry): a new nonce, never the same answer twice.
        guard counts.take(nonce: nonce, user: user, count: count, issued: issued, now: now, lifetime: nonceLifetime) else { return .stale }
        return .valid
    }

    /// The parameters of an `Authorization: Digest` header that the check reads (the first of a
    /// repeated name), read without a dictionary: this runs on every config fetch.
    struct Answer {
        var username, realm, nonce, uri, response, algorithm, qop, nc, cnonce: String?

        init(_ text: Substring.UTF8View) {
            DigestAuth.forEachParameter(text) { name, value in
                switch name {
                case "username": if username == nil { username = value() }
                case "realm": if realm == nil { realm = value() }
                case "nonce": if nonce == nil { nonce = value() }
                case "uri": if uri == nil { uri = value() }
                case "response": if response == nil { response = value() }
                case "algorithm": if algorithm == nil { algorithm = value() }
                case "qop": if qop == nil { qop = value() }
                case "nc": if nc == nil { nc = value() }
                case "cnonce": if cnonce == nil { cnonce = value() }
                default: break
                }
            }
        }
    }

    // MARK: nonces

    /// `<seconds in hex>.<random>.<HMAC of both and the address>`: good only from `address`, and
    /// never the same twice (a phone challenged twice in a second counts `nc` from 1 each time).
    func makeNonce(now: Date, address: String?) -> String {
        let seconds = UInt64(max(0, now.timeIntervalSince1970))
        let stamp = String(seconds, radix: 16) + "." + RandomToken.make(bytes: 9)
        return stamp + "." + mac(stamp + " " + (address ?? "-"))
    }

    /// When a nonce was issued, if it is ours and was issued to `address`.
    func nonceTime(_ nonce: String, address: String?) -> Date? {
        nonces.value(NonceKey(address: address, nonce: nonce)) {
            let parts = nonce.split(separator: ".")
            guard parts.count == 3, parts[1].utf8.count == 12, let seconds = UInt64(parts[0], radix: 16),
                ConstantTime.equal(mac(parts[0] + "." + parts[1] + " " + (address ?? "-")), String(parts[2]))
            else { return nil }
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }
    }

    private func mac(_ text: String) -> String {
        Hex.string(Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)).prefix(16))
    }

    // MARK: helpers

    /// The hex digest of the parts joined by `:` (RFC 7616's H), fed to the hash part by part
    /// (no joined copy of the text).
    static func hash(_ sha256: Bool, _ parts: String...) -> String {
        sha256 ? hash(SHA256(), parts) : hash(Insecure.MD5(), parts)
    }

    private static func hash<H: HashFunction>(_ function: H, _ parts: [String]) -> String {
        var function = function
        for (i, part) in parts.enumerated() {
            if i > 0 { withUnsafeBytes(of: UInt8(ascii: ":")) { function.update(bufferPointer: $0) } }
            var part = part
            part.withUTF8 { function.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }
        return Hex.string(function.finalize())
    }

    static func md5(_ text: String) -> String { hash(false, text) }

    /// `a="b", c=d` → [a: b, c: d] (quoted values may hold commas and escaped quotes; names
    /// lower-cased; the first of a repeated name).
    public static func parameters(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        forEachParameter(Substring(text).utf8) { name, value in
            if result[name] == nil { result[name] = value() }
        }
        return result
    }

    /// Each `name=value` of a header's parameters, in order: the name lower-cased, the value
    /// made only when asked for (`value()`). Reads bytes, not characters (copied at once: an
    /// `Array` of the view itself is made byte by byte, 10,000 instructions a header).
    static func forEachParameter(_ text: Substring.UTF8View, _ body: (_ name: String, _ value: () -> String) -> Void) {
        var utf8 = text.withContiguousStorageIfAvailable(Array.init) ?? Array(text)
        let count = utf8.count
        var i = 0
        while true {
            while i < count, utf8[i] == 0x20 || utf8[i] == 0x2C || utf8[i] == 0x09 { i += 1 }
            guard i < count else { break }
            let nameStart = i
            while i < count, utf8[i] != 0x3D {  // =
                utf8[i] = utf8[i].asciiLowercased
                i += 1
            }
            guard i < count else { break }
            var nameEnd = i
            while nameEnd > nameStart, utf8[nameEnd - 1] == 0x20 { nameEnd -= 1 }
            let name = String(decoding: utf8[nameStart..<nameEnd], as: UTF8.self)
            i += 1
            if i < count, utf8[i] == 0x22 {  // "
                i += 1
                let start = i
                var escaped = false
                while i < count, utf8[i] != 0x22 {
                    if utf8[i] == 0x5C {
                        escaped = true
                        i += 1
                    }  // \
                    i += 1
                }
                let raw = utf8[start..<min(i, count)]
                body(name) { escaped ? Self.unescape(raw) : String(decoding: raw, as: UTF8.self) }
                i += 1
            } else {
                let start = i
                while i < count, utf8[i] != 0x2C { i += 1 }
                var end = i
                while end > start, utf8[end - 1] == 0x20 { end -= 1 }
                let raw = utf8[start..<end]
                body(name) { String(decoding: raw, as: UTF8.self) }
            }
        }
    }

    private static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        var skip = false
        for byte in raw {
            if !skip, byte == 0x5C {
                skip = true
                continue
            }
            skip = false
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The highest `nc` taken with each (nonce, user) while the nonce lives, so that no Digest
/// answer is taken twice. Nonces are minted per second and address, so a few phones may share
/// one: each user has its own count. Bounded: past `limit` live entries (a storm of 110,000
/// phones is about that many), the table starts again and every nonce issued before that moment
/// is stale (phones are challenged once more; nothing is accepted twice).
final class NonceCounts: Sendable {
    private struct Key: Hashable {
        let nonce: String
        let user: String
    }

    private struct Table {
        var counts: [Key: (count: UInt32, issued: Date)] = [:]
        /// Nonces issued at or before this are stale, whatever their age (nonces count seconds:
        /// one issued in the second of a restart of the table is stale too).
        var floor = Date.distantPast
        var lastSweep = Date.distantPast
    }

    let limit: Int
    private let table = Mutex(Table())

    init(limit: Int = 200_000) { self.limit = limit }

    /// Takes `count` for the nonce and user: `false` when it is not larger than the last one taken.
    func take(nonce: String, user: String, count: UInt32, issued: Date, now: Date, lifetime: TimeInterval) -> Bool {
        let key = Key(nonce: nonce, user: user)
        return table.withLock { t in
            guard issued > t.floor else { return false }
            if let last = t.counts[key], count <= last.count { return false }
            if t.counts.count >= limit || now.timeIntervalSince(t.lastSweep) > lifetime {
                t.counts = t.counts.filter { now.timeIntervalSince($0.value.issued) <= lifetime }
                t.lastSweep = now
                if t.counts.count >= limit {
                    t.counts.removeAll(keepingCapacity: true)
                    t.floor = now
                    return false
                }
            }
            t.counts[key] = (count, issued)
            return true
        }
    }
}
