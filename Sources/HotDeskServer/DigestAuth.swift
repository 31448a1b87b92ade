import Crypto
import Foundation
import HotDeskCore

/// HTTP Digest (RFC 7616) for phones fetching their configs: the server side, checked against a
/// phone's own provisioning secret. Nonces are stateless (a time and an HMAC of it under a key
/// made at start), valid for `nonceLifetime`; a stale nonce gets a new challenge with
/// `stale=true`. MD5 is offered beside SHA-256 because that is what deployed phones speak.
/// Basic is never accepted here (HotDesk does not terminate TLS itself; see docs/security.md).
public struct DigestAuth: Sendable {
    static let realm = "HotDesk provisioning"
    let key = SymmetricKey(size: .bits256)
    var nonceLifetime: TimeInterval = 300
    /// What nonces were read as (one is made per second at most, so a few hundred are live),
    /// and each phone's HA1, keyed by the secret it was made from: both the same on every fetch
    /// of a phone's config (issue 12: the HMAC and hashes were an eighth of a config GET).
    private let nonces = Memo<String, Date?>(limit: 2048)
    private let ha1s = Memo<String, String>(limit: 10_000)
    /// HA2 is the hash of the method and the file asked for: the same on every fetch of a file.
    private let ha2s = Memo<String, String>(limit: 4096)

    enum Verdict: Equatable {
        case none
        case valid
        case invalid(String)
        case stale
    }

    /// `WWW-Authenticate` values for a 401 (SHA-256 first, then MD5).
    func challenges(now: Date, stale: Bool = false) -> [String] {
        let nonce = makeNonce(now: now)
        return ["SHA-256", "MD5"].map {
            "Digest realm=\"\(Self.realm)\", qop=\"auth\", algorithm=\($0), nonce=\"\(nonce)\"" + (stale ? ", stale=true" : "")
        }
    }

    /// Checks an `Authorization` header for `method` and the request target `uri` against the
    /// phone's user and secret.
    func verify(header: String?, method: String, uri: String, username: String, secret: String, now: Date) -> Verdict {
        guard let header, header.count < 2048 else { return .none }
        // "Digest " in any case, read as bytes (not a lower-cased copy of the whole header).
        guard header.utf8.prefix(7).elementsEqual("digest ".utf8, by: { $0.asciiLowercased == $1 }) else {
            return .invalid("not Digest")
        }
        let p = Self.parameters(String(header.dropFirst(7)))
        guard let user = p["username"], let nonce = p["nonce"], let response = p["response"], let asked = p["uri"] else {
            return .invalid("incomplete Digest header")
        }
        guard p["realm"] == Self.realm else { return .invalid("wrong realm") }
        guard ConstantTime.equal(user, username) else { return .invalid("wrong user") }
        guard asked == uri else { return .invalid("uri does not match the request") }
        let algorithm = p["algorithm"].map { $0 == "MD5" ? $0 : $0.uppercased() } ?? "MD5"
        guard algorithm == "MD5" || algorithm == "SHA-256" else { return .invalid("algorithm \(algorithm.prefix(20)) not offered") }
        guard let issued = nonceTime(nonce) else { return .invalid("not our nonce") }
        let h: (String) -> String = { algorithm == "MD5" ? Self.md5($0) : Self.sha256($0) }
        let ha1 = ha1s.value("\(algorithm)\u{0}\(user)\u{0}\(secret)") { h("\(user):\(Self.realm):\(secret)") }
        let ha2 = ha2s.value("\(algorithm)\u{0}\(method):\(asked)") { h("\(method):\(asked)") }
        let expected: String
        if let qop = p["qop"] {
            guard qop == "auth", let nc = p["nc"], let cnonce = p["cnonce"] else { return .invalid("qop \(qop.prefix(10)) not offered") }
            expected = h("\(ha1):\(nonce):\(nc):\(cnonce):\(qop):\(ha2)")
        } else {
            expected = h("\(ha1):\(nonce):\(ha2)")
        }
        guard ConstantTime.equal(expected, response.utf8.contains(where: \.isASCIIUppercase) ? response.lowercased() : response) else {
            return .invalid("wrong secret")
        }
        guard now.timeIntervalSince(issued) <= nonceLifetime, issued.timeIntervalSince(now) < 5 else { return .stale }
        return .valid
    }

    // MARK: nonces

    func makeNonce(now: Date) -> String {
        let seconds = UInt64(max(0, now.timeIntervalSince1970))
        let stamp = String(seconds, radix: 16)
        return stamp + "." + mac(stamp)
    }

    func nonceTime(_ nonce: String) -> Date? {
        nonces.value(nonce) {
            let parts = nonce.split(separator: ".")
            guard parts.count == 2, let seconds = UInt64(parts[0], radix: 16), ConstantTime.equal(mac(String(parts[0])), String(parts[1])) else {
                return nil
            }
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }
    }

    private func mac(_ text: String) -> String {
        Hex.string(Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)).prefix(16))
    }

    // MARK: helpers

    static func md5(_ text: String) -> String { Hex.string(Insecure.MD5.hash(data: Data(text.utf8))) }
    static func sha256(_ text: String) -> String { Hex.string(SHA256.hash(data: Data(text.utf8))) }

    /// `a="b", c=d` → [a: b, c: d] (quoted values may hold commas and escaped quotes; names
    /// lower-cased). Reads bytes, not characters: it runs on every config fetch.
    public static func parameters(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var utf8 = Array(text.utf8)
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
            let value: String
            if i < count, utf8[i] == 0x22 {  // "
                i += 1
                let start = i
                var escaped = false
                while i < count, utf8[i] != 0x22 {
                    if utf8[i] == 0x5C { escaped = true; i += 1 }  // \
                    i += 1
                }
                let raw = utf8[start..<min(i, count)]
                value = escaped ? Self.unescape(raw) : String(decoding: raw, as: UTF8.self)
                i += 1
            } else {
                let start = i
                while i < count, utf8[i] != 0x2C { i += 1 }
                var end = i
                while end > start, utf8[end - 1] == 0x20 { end -= 1 }
                value = String(decoding: utf8[start..<end], as: UTF8.self)
            }
            if result[name] == nil { result[name] = value }
        }
        return result
    }

    private static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        var skip = false
        for byte in raw {
            if !skip, byte == 0x5C { skip = true; continue }
            skip = false
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
