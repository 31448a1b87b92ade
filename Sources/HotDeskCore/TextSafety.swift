/// Characters that must not reach a phone screen, a log line or a terminal from a name or text:
/// C0 controls and NUL, DEL, C1 controls, the Unicode line/paragraph separators and the
/// bidirectional embeddings, overrides and isolates (they reorder what a reader sees).
public enum TextSafety {
    public static func isUnsafe(_ scalar: Unicode.Scalar, multiline: Bool = false) -> Bool {
        let v = scalar.value
        if multiline, v == 0x09 || v == 0x0A || v == 0x0D { return false }
        return v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 || (0x202A...0x202E).contains(v)
            || (0x2066...0x2069).contains(v)
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
