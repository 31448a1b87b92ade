import HotDeskCore

/// A config file name as a family's phones spell it: literal text with placeholders.
///
/// - `{mac}`: the MAC, 12 lower-case hex digits (`001565aabbcc`);
/// - `{MAC}`: the MAC, 12 upper-case hex digits (`001565AABBCC`, Cisco and Snom);
/// - `{model}`: the model as the phone names itself in the file (`D735` in `snomD735-….htm`),
///   1–16 letters and digits;
/// - `{any}`: 1–16 letters and digits that say nothing (`28` in Yealink's `y000000000028.cfg`).
///
/// Literal text is matched exactly. The case of `{mac}`/`{MAC}` is the one the phones use (and the
/// one `name(mac:)` writes); a MAC in the other case is still read, as admins type both. The
/// all-zero MAC is never a device: `000000000000.cfg` is a family's common file.
public struct FileNamePattern: Hashable, Sendable, CustomStringConvertible {
    enum Part: Hashable, Sendable {
        case literal([UInt8])
        case mac(upper: Bool)
        case model
        case any
    }

    let parts: [Part]
    public let description: String

    public struct Match: Hashable, Sendable {
        public var mac: MACAddress?
        /// What `{model}` matched, if the pattern has it.
        public var model: String?
    }

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public init(_ text: String) throws(Invalid) {
        var parts: [Part] = []
        var literal: [UInt8] = []
        var rest = Substring(text)
        while let first = rest.first {
            if first == "{" {
                guard let close = rest.firstIndex(of: "}") else { throw Invalid(description: "\"\(text)\": an unclosed {") }
                let name = rest[rest.index(after: rest.startIndex)..<close]
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = []
                switch name {
                case "mac": parts.append(.mac(upper: false))
                case "MAC": parts.append(.mac(upper: true))
                case "model": parts.append(.model)
                case "any": parts.append(.any)
                default: throw Invalid(description: "\"\(text)\": unknown placeholder {\(name)} (use {mac}, {MAC}, {model} or {any})")
                }
                rest = rest[rest.index(after: close)...]
            } else {
                guard first.isASCII, first.isLetter || first.isNumber || "._-".contains(first) else {
                    throw Invalid(description: "\"\(text)\": \"\(first)\" is not allowed in a file name (letters, digits, . _ -)")
                }
                literal.append(contentsOf: first.utf8)
                rest = rest.dropFirst()
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        guard !parts.isEmpty else { throw Invalid(description: "an empty file name") }
        self.parts = parts
        self.description = text
    }

    /// Whether the pattern names one device (has a MAC).
    public var hasMAC: Bool { parts.contains { if case .mac = $0 { true } else { false } } }

    /// What a file name says, if it is one of this pattern's.
    public func match(_ name: String) -> Match? {
        var match = Match()
        return Self.match(parts[...], Array(name.utf8)[...], &match) ? match : nil
    }

    private static func match(_ parts: ArraySlice<Part>, _ name: ArraySlice<UInt8>, _ found: inout Match) -> Bool {
        guard let part = parts.first else { return name.isEmpty }
        let rest = parts.dropFirst()
        switch part {
        case .literal(let bytes):
            guard name.starts(with: bytes) else { return false }
            return match(rest, name.dropFirst(bytes.count), &found)
        case .mac(let upper):
            let digits = name.prefix(12)
            guard digits.count == 12, digits.allSatisfy({ isHex($0, upper: upper) || isHex($0, upper: !upper) }),
                let mac = MACAddress(String(decoding: digits, as: UTF8.self)), mac.canonical != "000000000000"
            else { return false }
            found.mac = mac
            return match(rest, name.dropFirst(12), &found)
        case .model, .any:
            // Shortest first, so that `snom{model}-{MAC}.htm` splits at the first place that fits.
            for length in 1...16 {
                let word = name.prefix(length)
                guard word.count == length, word.allSatisfy(\.isASCIIAlphanumeric) else { return false }
                var attempt = found
                if case .model = part { attempt.model = String(decoding: word, as: UTF8.self) }
                if match(rest, name.dropFirst(length), &attempt) {
                    found = attempt
                    return true
                }
            }
            return false
        }
    }

    /// The file name for one phone (`{model}` and `{any}` filled with `model`).
    public func name(mac: MACAddress, model: String = "") -> String {
        parts.map { part -> String in
            switch part {
            case .literal(let bytes): String(decoding: bytes, as: UTF8.self)
            case .mac(let upper): upper ? mac.upperCased : mac.canonical
            case .model, .any: model
            }
        }.joined()
    }

    private static func isHex(_ byte: UInt8, upper: Bool) -> Bool {
        byte.isASCIIDigit || (upper ? (byte >= 0x41 && byte <= 0x46) : (byte >= 0x61 && byte <= 0x66))
    }
}
