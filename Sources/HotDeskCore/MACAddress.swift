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
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count <= 17 else { return nil }
        let separators: Set<Character> = [":", "-", "."]
        let used = Set(trimmed.filter { separators.contains($0) })
        guard used.count <= 1 else { return nil }
        let digits = trimmed.filter { !separators.contains($0) }
        guard digits.count == 12, digits.allSatisfy(\.isHexDigit) else { return nil }
        if let separator = used.first {
            let groups = trimmed.split(separator: separator, omittingEmptySubsequences: false)
            let sizes = groups.map(\.count)
            let valid = separator == "." ? sizes == [4, 4, 4] : sizes == [2, 2, 2, 2, 2, 2]
            guard valid else { return nil }
        }
        canonical = digits.lowercased()
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
