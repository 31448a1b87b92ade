/// ASCII byte classes, for checks that read UTF-8 bytes on the request path (a `Character` test
/// first finds the grapheme around each byte). One place, so that the ranges are written once.
extension UInt8 {
    @inlinable public var isASCIIDigit: Bool { self >= 0x30 && self <= 0x39 }
    @inlinable public var isASCIIUppercase: Bool { self >= 0x41 && self <= 0x5A }
    @inlinable public var isASCIILowercase: Bool { self >= 0x61 && self <= 0x7A }
    @inlinable public var isASCIILetter: Bool { isASCIIUppercase || isASCIILowercase }
    @inlinable public var isASCIIAlphanumeric: Bool { isASCIIDigit || isASCIILetter }
    /// Space to tilde: no control character, nothing beyond ASCII.
    @inlinable public var isASCIIPrintable: Bool { self >= 0x20 && self < 0x7F }
    @inlinable public var asciiLowercased: UInt8 { isASCIIUppercase ? self | 0x20 : self }
}
