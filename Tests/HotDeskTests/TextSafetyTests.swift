import HotDeskCore
import Testing

@Suite("Text safety: what the CLI prints")
struct TextSafetyTests {
    @Test("control characters from names and headers are shown escaped, never sent to the terminal; printable text is untouched")
    func printable() {
        #expect(TextSafety.printable("Ada\u{1b}[2J\r\nroot ok") == "Ada\\u{1B}[2J\\u{D}\\u{A}root ok")
        #expect(TextSafety.printable("Zoë Ünal — 5501") == "Zoë Ünal — 5501")
        #expect(TextSafety.printable("\u{202E}evil\u{2028}\u{0}") == "\\u{202E}evil\\u{2028}\\u{0}")
        #expect(TextSafety.isUnsafe("\n", multiline: true) == false && TextSafety.isUnsafe("\n"))
    }
}
