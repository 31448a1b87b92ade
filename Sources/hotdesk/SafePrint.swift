import Foundation
import HotDeskCore

/// Every line the CLI prints goes through here: names, details and headers come from the
/// directory, from phones and from the network, so a control character (ESC sequences, CR/LF that
/// forge lines) is shown as `\u{1B}`, never sent to the terminal. Shadows `Swift.print` in this
/// module on purpose.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    Swift.print(TextSafety.printable(items.map { "\($0)" }.joined(separator: separator)), terminator: terminator)
}

/// A message on standard error, line by line, each line made safe the same way.
func printError(_ text: String) {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { TextSafety.printable(String($0)) }
    FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
}
