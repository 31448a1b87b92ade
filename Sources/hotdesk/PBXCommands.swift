import ArgumentParser
import Foundation
import HotDeskCore
import HotDeskStore

/// `hotdesk pbx kamailio-config`: the PBX beside HotDesk, set up for this directory.
struct PBXCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pbx",
        abstract: "Set up the PBX beside HotDesk (docs/pbx.md).",
        subcommands: [KamailioConfigCommand.self]
    )
}

struct KamailioConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kamailio-config",
        abstract: "Write the example Kamailio configuration for this directory: its realm, emergency numbers and SIP address.",
        discussion: """
            Reads settings.sip (server, realm) and settings.emergency_numbers from the database and writes \
            examples/pbx/kamailio.cfg with them. The PBX key is not written: Kamailio reads HotDesk's URL from \
            HOTDESK_URL and the key from HOTDESK_KEY when it starts (the file's first lines say how).
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var screens: ScreensOptions

    @Option(help: "Write the configuration to this file (default: standard output).")
    var output: String?

    @Option(help: "The configuration to start from. Default: examples/pbx/kamailio.cfg beside the Screens folder.")
    var template: String?

    @Option(help: "The directory's site this PBX serves: its SIP settings and emergency numbers, its phones' NOTIFYs.")
    var site: String?

    func run() async throws {
        let templatePath =
            template ?? URL(fileURLWithPath: screens.path).deletingLastPathComponent().appendingPathComponent("examples/pbx/kamailio.cfg").path
        guard let text = try? String(contentsOfFile: templatePath, encoding: .utf8) else {
            throw fail("cannot read the Kamailio template \(templatePath): pass --template FILE (HotDesk's examples/pbx/kamailio.cfg)")
        }
        let all = try await store.openOrExit().settings()
        if let site, all.sites[site] == nil {
            throw fail("no site \(site) in the directory (sites: \(all.sites.keys.sorted().joined(separator: ", ")))")
        }
        let settings = all.forSite(site)
        let config: String
        do {
            var kamailio = try KamailioConfig(settings: settings)
            kamailio.organisation = store.organisation
            config = try kamailio.render(template: text, from: templatePath)
        } catch {
            throw fail("\(error)")
        }
        // The file itself, lines and tabs as they are (its directory facts were checked at import).
        guard let output else { return FileHandle.standardOutput.write(Data(config.utf8)) }
        do {
            try config.write(toFile: output, atomically: true, encoding: .utf8)
        } catch {
            throw fail("cannot write \(output): \(error.localizedDescription)")
        }
        print(
            "wrote \(output): Kamailio for \(site.map { "site \($0), " } ?? "")realm \(settings.sip?.effectiveRealm ?? "?"), emergency numbers \(settings.emergencyNumbers.joined(separator: ", "))"
        )
    }
}

/// The example Kamailio configuration with one directory's facts in its `#!define` lines.
struct KamailioConfig {
    let sip: SIPSettings
    let emergencyNumbers: [String]
    /// The site it serves (`nil`: every site).
    let site: String?
    /// The organisation it is for: its HOTDESK_URL ends with `/o/NAME`.
    var organisation: String?

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    init(settings: Settings) throws {
        guard let sip = settings.sip else {
            throw Problem(
                description: """
                    settings.sip is not set: the phones would register to HotDesk's own host and HotDesk's realm would be \
                    "hotdesk", which Kamailio never challenges with. Set it first, e.g. sip: {server: "192.0.2.20:5060", realm: \
                    "192.0.2.20"} (docs/pbx.md)
                    """
            )
        }
        guard !settings.emergencyNumbers.isEmpty else {
            throw Problem(
                description: """
                    settings.emergency_numbers is empty: Kamailio puts emergency calls through without asking HotDesk, so it \
                    must know them. List them first, e.g. emergency_numbers: ["112", "911"]
                    """
            )
        }
        self.sip = sip
        emergencyNumbers = settings.emergencyNumbers
        site = settings.site
    }

    /// The numbers as one anchored pattern (`+`, the only character of a number that a pattern
    /// reads otherwise, as the class `[+]`: no backslash for the config's string to unescape).
    var emergencyPattern: String {
        "^(" + emergencyNumbers.map { $0.replacingOccurrences(of: "+", with: "[+]") }.joined(separator: "|") + ")$"
    }

    /// Where Kamailio listens: the SIP server's address, when it is an IP address on a transport
    /// this configuration serves; else a comment saying what to pass.
    var listen: String {
        let isAddress = sip.host.split(separator: ".").count == 4 && sip.host.split(separator: ".").allSatisfy { UInt8($0) != nil }
        guard isAddress, sip.transport != .tls else {
            return
                "# listen: settings.sip's server is \(sip.host) over \(sip.transport.rawValue); give Kamailio its address with -l \(sip.transport == .tls ? "udp" : sip.transport.rawValue):<ip>:\(sip.effectivePort)"
        }
        return "listen=\(sip.transport.rawValue):\(sip.host):\(sip.effectivePort)"
    }

    func render(template: String, from path: String) throws -> String {
        let realm = sip.effectiveRealm
        let defines = [
            "EMERGENCY": emergencyPattern,
            "REGISTER_REALM": realm,
            "CALL_REALM": realm,
            "SITE": site ?? "",
        ]
        var lines = template.components(separatedBy: "\n")
        for (name, value) in defines {
            guard let index = lines.firstIndex(where: { $0.hasPrefix("#!define \(name) ") }) else {
                throw Problem(description: "\(path) has no \"#!define \(name)\" line: start from HotDesk's examples/pbx/kamailio.cfg")
            }
            lines[index] = "#!define \(name) \"\(value)\""
            if name == "CALL_REALM" { lines.insert(listen, at: index + 1) }
        }
        let header = [
            "# Written by `hotdesk pbx kamailio-config` from \(path) for this directory:",
            "#   \(organisation.map { "organisation \($0), " } ?? "")\(site.map { "site \($0), " } ?? "")realm \(realm) (settings.sip), emergency numbers \(emergencyNumbers.joined(separator: ", ")) (settings.emergency_numbers).",
            "# Start it with HotDesk's URL and a PBX key (hotdesk pbxkey create --name kamailio\(organisation.map { " --org \($0)" } ?? "")):",
            "#   HOTDESK_URL=http://<HotDesk's address>\(Organisation.pathPrefix(organisation)) HOTDESK_KEY=<PBX key> kamailio -f kamailio.cfg -DD -E",
        ]
        lines.insert(contentsOf: header, at: lines.first?.hasPrefix("#!KAMAILIO") == true ? 1 : 0)
        return lines.joined(separator: "\n")
    }
}
