import Crypto
import Foundation

/// The phone's web server login check: HTTP Basic, or Digest (RFC 2617, qop=auth, MD5) as
/// Yealink firmware asks for it.
struct WebAuthChecker: Sendable {
    let scheme: WebAuth
    let realm: String

    /// The `WWW-Authenticate` challenge for a 401.
    func challenge() -> String {
        switch scheme {
        case .basic: return "Basic realm=\"\(realm)\""
        case .digest:
            let nonce = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            return "Digest realm=\"\(realm)\", nonce=\"\(nonce)\", qop=\"auth\", algorithm=MD5"
        }
    }

    /// Whether `authorization` proves `username`/`password` for `method` (the URI is taken from
    /// the header itself and must match `uri`).
    func accepts(_ authorization: String?, method: String, uri: String, username: String, password: String) -> Bool {
        guard let authorization else { return false }
        switch scheme {
        case .basic:
            guard authorization.hasPrefix("Basic "), let data = Data(base64Encoded: String(authorization.dropFirst(6))) else { return false }
            return String(decoding: data, as: UTF8.self) == "\(username):\(password)"
        case .digest:
            guard authorization.hasPrefix("Digest ") else { return false }
            let p = Self.parameters(String(authorization.dropFirst(7)))
            guard p["username"] == username, p["realm"] == realm, let nonce = p["nonce"], let response = p["response"], p["uri"] == uri else {
                return false
            }
            let ha1 = md5("\(username):\(realm):\(password)")
            let ha2 = md5("\(method):\(uri)")
            let expected: String
            if let qop = p["qop"] {
                guard qop == "auth", let nc = p["nc"], let cnonce = p["cnonce"] else { return false }
                expected = md5("\(ha1):\(nonce):\(nc):\(cnonce):\(qop):\(ha2)")
            } else {
                expected = md5("\(ha1):\(nonce):\(ha2)")
            }
            return expected == response.lowercased()
        }
    }

    private func md5(_ text: String) -> String {
        Insecure.MD5.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `a="x", b=y` → [a: x, b: y]
    static func parameters(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(text)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let eq = rest.firstIndex(of: "=") else { break }
            let key = rest[..<eq].trimmingCharacters(in: .whitespaces)
            rest = rest[rest.index(after: eq)...]
            var value: Substring
            if rest.first == "\"" {
                rest = rest.dropFirst()
                let end = rest.firstIndex(of: "\"") ?? rest.endIndex
                value = rest[..<end]
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : ""
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end]
                rest = rest[end...]
            }
            result[key] = value.trimmingCharacters(in: .whitespaces)
        }
        return result
    }
}
