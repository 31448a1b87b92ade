import Foundation
import Testing

/// `scripts/install`'s layout (PREFIX/bin/hotdesk, PREFIX/share/hotdesk/Screens), run the way an
/// admin runs it: by name from `PATH`, in a folder that has no Screens.
@Suite("hotdesk as an admin runs it")
struct InstallTests {
    @Test("found on PATH from another folder, hotdesk finds its Screens under the prefix")
    func fromPath() async throws {
        let dir = try TempDir()
        let prefix = dir.url.appendingPathComponent("prefix")
        let bin = prefix.appendingPathComponent("bin")
        let share = prefix.appendingPathComponent("share/hotdesk")
        let elsewhere = dir.url.appendingPathComponent("elsewhere")
        for folder in [bin, share, elsewhere] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        // A copy, as `install` makes: a symbolic link would lead back to the build folder.
        try FileManager.default.copyItem(atPath: hotdeskExecutable, toPath: bin.appendingPathComponent("hotdesk").path)
        try FileManager.default.createSymbolicLink(at: share.appendingPathComponent("Screens"), withDestinationURL: screensDirectory)
        let yaml = elsewhere.appendingPathComponent("directory.yaml")
        try "extensions:\n  - {number: \"5501\", name: \"Ada\", voicemail_pin: \"739146\", sip_password: \"install-test-secret\"}\n"
            .write(to: yaml, atomically: true, encoding: .utf8)

        let environment = ["PATH": "\(bin.path):/usr/bin:/bin", "HOME": dir.url.path]
        let imported = try await Command.run(
            ["hotdesk", "import", "directory.yaml", "--db", "hotdesk.sqlite"],
            environment: environment,
            errors: true,
            workingDirectory: elsewhere
        )
        #expect(imported.status == 0, "\(imported.output)")
        #expect(imported.output.contains("1 created"), "\(imported.output)")
        let exported = try await Command.run(
            ["hotdesk", "export", "--db", "hotdesk.sqlite"],
            environment: environment,
            errors: true,
            workingDirectory: elsewhere
        )
        #expect(exported.status == 0, "\(exported.output)")
        #expect(exported.output.contains("number: \"5501\""), "\(exported.output)")
    }

    @Test("serve refuses a language it has no screen texts for, in one line, before it creates anything")
    func unknownLanguage() async throws {
        let dir = try TempDir()
        let db = dir.url.appendingPathComponent("hotdesk.sqlite").path
        let served = try await Command.run(
            [hotdeskExecutable, "serve", "--db", db, "--host", "127.0.0.1", "--port", "0", "--screens", screensDirectory.path, "--language", "xx"],
            errors: true,
            killAfter: .seconds(60)
        )
        #expect(served.status != 0)
        #expect(served.output.hasPrefix("hotdesk: --language xx: no screen texts in "), "\(served.output)")
        #expect(served.output.contains("(there are: de, en, es, fr)"), "\(served.output)")
        #expect(!FileManager.default.fileExists(atPath: db), "nothing created for a command that refused")
    }

    @Test("without a Screens folder anywhere it looks, hotdesk says where it looked, in one line")
    func noScreens() async throws {
        let dir = try TempDir()
        try "extensions: []\n".write(to: dir.url.appendingPathComponent("directory.yaml"), atomically: true, encoding: .utf8)
        let result = try await Command.run(
            [hotdeskExecutable, "import", "directory.yaml", "--db", "hotdesk.sqlite"],
            environment: ["PATH": "/usr/bin:/bin", "HOME": dir.url.path],
            errors: true,
            workingDirectory: dir.url
        )
        let binary = URL(fileURLWithPath: hotdeskExecutable).resolvingSymlinksInPath().deletingLastPathComponent()
        #expect(result.status != 0)
        #expect(result.output.hasPrefix("hotdesk: no Screens folder (the phone families) in ./Screens, "), "\(result.output)")
        #expect(result.output.contains(binary.appendingPathComponent("Screens").path), "\(result.output)")
        #expect(result.output.hasSuffix("pass --screens DIR or set HOTDESK_SCREENS\n"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("hotdesk.sqlite").path))
    }
}
