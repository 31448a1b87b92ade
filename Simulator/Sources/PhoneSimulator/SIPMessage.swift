import Crypto
import Foundation

/// One SIP message over UDP (RFC 3261 §7), as much of it as a desk phone's line needs: the start
/// line, headers in order (compact names read as their long forms), a text body.
public struct SIPMessage: Sendable, Hashable {
    public var startLine: String
    public var headers: [(name: String, value: String)]
    public var body: String

    public init(startLine: String, headers: [(name: String, value: String)], body: String = "") {
        self.startLine = startLine
        self.headers = headers
        self.body = body
    }

    public static func == (a: SIPMessage, b: SIPMessage) -> Bool { a.text == b.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }

    /// RFC 3261 §7.3.3.
    static let compactNames: [String: String] = [
        "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length", "c": "content-type", "o": "event",
        "k": "supported", "s": "subject", "e": "content-encoding",
    ]

    public var isRequest: Bool { !startLine.hasPrefix("SIP/2.0 ") }
    /// `NOTIFY`, `INVITE`… for a request.
    public var method: String? { isRequest ? startLine.split(separator: " ").first.map(String.init) : nil }
    /// The status code of a response.
    public var status: Int? { isRequest ? nil : Int(startLine.dropFirst(8).prefix(3)) }

    /// The first value of a header, by its long or compact name, in any case.
    public func header(_ name: String) -> String? { values(name).first }

    public func values(_ name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { (Self.compactNames[$0.name.lowercased()] ?? $0.name.lowercased()) == wanted }.map(\.value)
    }

    /// A `;name=value` parameter of a header value (`tag` of a From).
    public static func parameter(_ name: String, of value: String) -> String? {
        value.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.lowercased().hasPrefix(name.lowercased() + "=") }
            .map { String($0.dropFirst(name.count + 1)) }
    }

    /// The user part of a name-address or URI header value: `5501` of `"Ann" <sip:5501@pbx>;tag=1`.
    public static func user(of value: String) -> String? {
        var uri = Substring(value)
        if let open = uri.firstIndex(of: "<"), let close = uri[open...].firstIndex(of: ">") { uri = uri[uri.index(after: open)..<close] }
        guard let colon = uri.firstIndex(of: ":") else { return nil }
        let rest = uri[uri.index(after: colon)...]
        guard let at = rest.firstIndex(of: "@") else { return nil }
        return String(rest[..<at])
    }

    /// `nil` for anything that is not a SIP message.
    public static func parse(_ text: String) -> SIPMessage? {
        let (head, body): (Substring, Substring) =
            if let range = text.range(of: "\r\n\r\n") { (text[..<range.lowerBound], text[range.upperBound...]) } else { (Substring(text), "") }
        var lines = head.components(separatedBy: "\r\n")
        guard !lines.isEmpty else { return nil }
        let start = lines.removeFirst()
        guard start.hasPrefix("SIP/2.0 ") || start.hasSuffix(" SIP/2.0") else { return nil }
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t", let last = headers.popLast() {
                headers.append((last.name, last.value + " " + line.trimmingCharacters(in: .whitespaces)))
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { return nil }
            headers.append(
                (line[..<colon].trimmingCharacters(in: .whitespaces), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            )
        }
        return SIPMessage(startLine: start, headers: headers, body: String(body))
    }

    /// The message as sent: headers in order, `Content-Length` last.
    public var text: String {
        var lines = [startLine]
        for h in headers where h.name.lowercased() != "content-length" { lines.append("\(h.name): \(h.value)") }
        lines.append("Content-Length: \(body.utf8.count)")
        return lines.joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    /// The answer to this request: its Via, From, To (with `toTag` when it has none), Call-ID
    /// and CSeq, as RFC 3261 §8.2.6.2 asks.
    public func response(_ status: Int, _ reason: String, toTag: String) -> SIPMessage {
        var headers = values("via").map { (name: "Via", value: $0) }
        headers.append(("From", header("from") ?? ""))
        let to = header("to") ?? ""
        headers.append(("To", SIPMessage.parameter("tag", of: to) == nil ? "\(to);tag=\(toTag)" : to))
        headers.append(("Call-ID", header("call-id") ?? ""))
        headers.append(("CSeq", header("cseq") ?? ""))
        return SIPMessage(startLine: "SIP/2.0 \(status) \(reason)", headers: headers)
    }
}

/// The answer to a Digest challenge (RFC 2617, as SIP uses it: `qop=auth` when offered).
enum SIPDigest {
    static func md5(_ text: String) -> String {
        Insecure.MD5.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A parameter of a challenge (`realm="…"`, `qop="auth,auth-int"`, `algorithm=MD5`).
    static func parameter(_ name: String, in challenge: String) -> String? {
        let pattern = name + "="
        var rest = Substring(challenge)
        while let range = rest.range(of: pattern, options: .caseInsensitive) {
            let before = rest[..<range.lowerBound].last
            rest = rest[range.upperBound...]
            guard before == nil || before == " " || before == "," else { continue }
            if rest.first == "\"" { return String(rest.dropFirst().prefix { $0 != "\"" }) }
            return String(rest.prefix { $0 != "," && $0 != " " })
        }
        return nil
    }

    /// The `Authorization` value answering `challenge` for `method uri`.
    static func authorization(challenge: String, method: String, uri: String, user: String, password: String) -> String? {
        guard let realm = parameter("realm", in: challenge), let nonce = parameter("nonce", in: challenge) else { return nil }
        let ha1 = md5("\(user):\(realm):\(password)")
        let ha2 = md5("\(method):\(uri)")
        var value = "Digest username=\"\(user)\", realm=\"\(realm)\", nonce=\"\(nonce)\", uri=\"\(uri)\", algorithm=MD5"
        if let qop = parameter("qop", in: challenge), qop.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "auth" })
        {
            let cnonce = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            value += ", qop=auth, nc=00000001, cnonce=\"\(cnonce)\", response=\"\(md5("\(ha1):\(nonce):00000001:\(cnonce):auth:\(ha2)"))\""
        } else {
            value += ", response=\"\(md5("\(ha1):\(nonce):\(ha2)"))\""
        }
        if let opaque = parameter("opaque", in: challenge) { value += ", opaque=\"\(opaque)\"" }
        return value
    }
}
