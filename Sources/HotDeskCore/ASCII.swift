/// ASCII byte classes, for checks that read UTF-8 bytes on the request path (a `Character` test
/// first finds the grapheme around each byte). One place, so that the ranges are written once.
extension UInt8 {
    @inlinable public var isASCIIDigit: Bool { self >= 0x30 && self <= 0x39 }
    @inlinable public var isASCIIUppercase: Bool { self >= 0x41 && self <= 0x5A }
    @inlinable public var isASCIILowercase: Bool { self >= 0x61 && self <= 0x7A }
    @inlinable public var isASCIILetter: Bool { isASCIIUppercase || isASCIILowercase }
    @inlinable public var isASCIIAlphanumeric: Bool { isASCIIDigit || isASCIILetter }
    @inlinable public var isASCIIHexDigit: Bool { isASCIIDigit || (asciiLowercased >= 0x61 && asciiLowercased <= 0x66) }
    /// A space or a tab: HTTP's optional white space, and what is trimmed around typed text.
    @inlinable public var isSpaceOrTab: Bool { self == 0x20 || self == 0x09 }
    /// Space to tilde: no control character, nothing beyond ASCII.
    @inlinable public var isASCIIPrintable: Bool { self >= 0x20 && self < 0x7F }
    @inlinable public var asciiLowercased: UInt8 { isASCIIUppercase ? self | 0x20 : self }
}

extension Substring {
    /// Without the spaces and tabs around it, found by bytes.
    public var trimmingSpacesAndTabs: Substring {
        guard let first = utf8.firstIndex(where: { !$0.isSpaceOrTab }), let last = utf8.lastIndex(where: { !$0.isSpaceOrTab }) else { return "" }
        // After the last byte kept comes a space, a tab or the end: a character's boundary.
        return self[first..<utf8.index(after: last)]
    }
}
