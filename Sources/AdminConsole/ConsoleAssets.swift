/// The web console's files as the server sends them: `Assets/` is compiled into the binary by
/// SwiftPM (`embedInCode`), so an installed `hotdesk` needs no folder beside it for the console.
public enum ConsoleAssets {
    public struct File: Sendable {
        public let bytes: [UInt8]
        public let contentType: String
    }

    /// By the name the console's page asks for (`/admin/<name>`).
    public static let files: [String: File] = [
        "": File(bytes: PackageResources.index_html, contentType: "text/html; charset=UTF-8"),
        "console.js": File(bytes: PackageResources.console_js, contentType: "text/javascript; charset=UTF-8"),
        "editor.js": File(bytes: PackageResources.editor_js, contentType: "text/javascript; charset=UTF-8"),
        "console.css": File(bytes: PackageResources.console_css, contentType: "text/css; charset=UTF-8"),
    ]
}
