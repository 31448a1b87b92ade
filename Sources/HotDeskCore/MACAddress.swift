import Foundation

/// A device's Ethernet address, stored canonically as 12 lower-case hex digits.
///
/// Accepts the spellings admins and phones use: `00:15:65:aa:bb:cc`, `00-15-65-AA-BB-CC`,
/// `0015.65aa.bbcc` and `001565aabbcc`. Anything else (wrong length, non-hex digits, mixed
/// separators) is rejected.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// 12 lower-case hex digits, no separators: the form used in file names and the store.
    public let canonical: String

    public init?(_ text: some StringProtocol) {
        var text = Substring(text)
        // Spaces other than ASCII ones (a spreadsheet's no-break space) are trimmed the slow way.
        if let first = text.utf8.first, let last = text.utf8.last, first >= 0x80 || last >= 0x80 {
            text = Substring(text.trimmingCharacters(in: .whitespaces))
        }
        guard let canonical = Self.canonical(text.trimmingSpacesAndTabs.utf8) else { return nil }
        self.canonical = canonical
    }

    /// The 12 digits, read as bytes: every address in a row read from the store is parsed, and
    /// Foundation's trimming and sets of `Character` made a parse cost 33,000 instructions.
    private static func canonical(_ bytes: Substring.UTF8View) -> String? {
        guard bytes.count <= 17 else { return nil }
        var digits: [UInt8] = []
        digits.reserveCapacity(12)
        var separator: UInt8?
        var groups = [0]
        for b in bytes {
            switch b {
            case _ where b.isASCIIHexDigit: digits.append(b.asciiLowercased)
            case UInt8(ascii: ":"), UInt8(ascii: "-"), UInt8(ascii: "."):
                guard separator == nil || separator == b else { return nil }
                separator = b
                groups.append(0)
                continue
            default: return nil
            }
            groups[groups.count - 1] += 1
        }
        guard digits.count == 12 else { return nil }
        if let separator, groups != (separator == UInt8(ascii: ".") ? [4, 4, 4] : [2, 2, 2, 2, 2, 2]) { return nil }
        return String(decoding: digits, as: UTF8.self)
    }

    /// `00:15:65:aa:bb:cc`
    public var colonSeparated: String {
        stride(from: 0, to: 12, by: 2).map { i -> String in
            let start = canonical.index(canonical.startIndex, offsetBy: i)
            return String(canonical[start..<canonical.index(start, offsetBy: 2)])
        }.joined(separator: ":")
    }

    /// `001565AABBCC`, as Cisco and Snom spell it in file names.
    public var upperCased: String { canonical.uppercased() }

    public var description: String { colonSeparated }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.canonical < rhs.canonical }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let mac = MACAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a MAC address"))
        }
        self = mac
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(canonical)
    }
}
