/// Characters that must not reach a phone screen, a log line or a terminal from a name or text:
/// C0 controls and NUL, DEL, C1 controls, the Unicode line/paragraph separators, the
/// bidirectional marks, embeddings, overrides and isolates (they reorder what a reader sees), and
/// the invisible ones: zero-width space, joiners and no-break space (U+200B–U+200D, U+2060–U+2064,
/// U+FEFF), the soft hyphen (U+00AD), the Mongolian vowel separator (U+180E), interlinear
/// annotation marks (U+FFF9–U+FFFB) and tag characters (U+E0000–U+E007F). Two names that look
/// the same must be the same.
public enum TextSafety {
    public static func isUnsafe(_ scalar: Unicode.Scalar, multiline: Bool = false) -> Bool {
        let v = scalar.value
        if multiline, v == 0x09 || v == 0x0A || v == 0x0D { return false }
        if v >= 0x20 && v < 0x7F { return false }
        return v < 0x20 || (0x7F...0x9F).contains(v) || v == 0xAD || v == 0x61C || v == 0x180E || (0x200B...0x200F).contains(v)
            || v == 0x2028 || v == 0x2029 || (0x202A...0x202E).contains(v) || (0x2060...0x2069).contains(v) || v == 0xFEFF
            || (0xFFF9...0xFFFB).contains(v) || (0xE0000...0xE007F).contains(v)
    }

    /// Why `text` cannot be stored as a name or text, or `nil`: the first unsafe character, named.
    public static func problem(_ text: String, multiline: Bool = false) -> String? {
        guard let (offset, scalar) = text.unicodeScalars.enumerated().first(where: { isUnsafe($0.element, multiline: multiline) }) else { return nil }
        return "invisible or control character \(name(scalar)) at character \(offset + 1)"
    }

    /// `U+001B` — how a refused character is named in an error.
    public static func name(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// The text with every unsafe character shown as `\u{1B}`: safe to print on one line.
    public static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
