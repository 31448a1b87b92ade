import ArgumentParser
import Curl
import DirectoryFile
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskServer
import HotDeskStore
import Logging
import PhoneFamilies

/// `hotdesk logout 5501`, `hotdesk logout 00:15:65:12:34:56` (or `--extension`, `--device`).
struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Force a logout: the phone gets its logged-out config and is told to reload or reboot.",
        discussion: "Works on the database directly (no API key): the running server sends the push within a second, or the next one to start."
    )

    @Argument(help: "An extension (logged out wherever it is logged in) or a phone's MAC address.")
    var target: String?

    @Option(help: "The phone's MAC address.")
    var device: String?

    @Option(name: .customLong("extension"), help: "The extension, wherever it is logged in.")
    var extensionNumber: String?

    @OptionGroup var store: StoreOptions
    @OptionGroup var screens: ScreensOptions

    func validate() throws {
        guard [target, device, extensionNumber].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give one extension or MAC address (or exactly one of --device, --extension)")
        }
    }

    func run() async throws {
        let families: FamilyBook
        do { families = try screens.load() } catch { throw fail("\(error)") }
        let sqlite = try store.openOrExit(catalog: families.catalog)
        let changes = PhoneChanges(store: sqlite, families: families, pathPrefix: store.pathPrefix, logger: quietLogger)
        let text = target ?? device ?? extensionNumber ?? ""
        var sessions: [Session] = []
        if let mac = MACAddress(text), extensionNumber == nil, !Extension.isValidNumber(text) {
            guard try await sqlite.device(mac: mac) != nil else { throw fail("there is no device \(mac.colonSeparated)") }
            if let session = try await sqlite.session(mac: mac) { sessions = [session] }
        } else {
            guard device == nil else { throw fail("\"\(text)\" is not a MAC address") }
            guard Extension.isValidNumber(text) else { throw fail("\"\(text)\" is neither an extension (2-6 digits) nor a MAC address") }
            guard try await sqlite.findExtension(text) != nil else { throw fail("there is no extension \(text)") }
            sessions = try await sqlite.sessions(extensionNumber: text)
        }
        guard !sessions.isEmpty else { throw fail("\(text) is not logged in anywhere") }
        for session in sessions {
            guard let ended = try await changes.logout(mac: session.mac, actor: "cli", source: nil, why: .forced, reason: .admin) else { continue }
            print("logged out \(ended.session.extensionNumber) on \(session.mac.colonSeparated)" + (ended.job.map { "; push job \($0.id)" } ?? ""))
        }
    }
}

/// `hotdesk push --device MAC reboot`, `hotdesk push --device MAC xml --text "…"`.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Tell a phone to reload its config or reboot, or show it a message (xml).")

    @OptionGroup var server: ServerOptions

    @Option(help: "The phone's MAC address.")
    var device: String

    @Argument(help: "reload, reboot or xml")
    var action: PushAction

    @Option(help: "The message an xml push shows on the phone's screen.")
    var text: String?

    func validate() throws {
        if action == .xml, let problem = PushMessage.problem(text) { throw ValidationError(problem) }
        if action != .xml, text != nil { throw ValidationError("--text goes with xml only") }
    }

    func run() async throws {
        guard let mac = MACAddress(device) else { throw fail("\"\(device)\" is not a MAC address") }
        print(try await server.call("POST", "/devices/\(mac.canonical)/push", json: PushRequest(action: action, text: text), as: PushJobView.self))
    }
}

extension PushAction: ExpressibleByArgument {}
extension AdminRole: ExpressibleByArgument {}

/// `hotdesk sessions`: who is logged in where.
struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List who is logged in on which phone.")

    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ListOutput

    func run() async throws {
        let answer = try await server.call("GET", "/sessions", as: SessionList.self)
        guard try !output.printedJSON(answer) else { return }
        output.printRows(
            "extension  name  mac  model  network  since  address  last push",
            answer.sessions.map { s in
                let push = s.lastPush.map { "last push: \($0.action) \($0.state)" } ?? "no push yet"
                return [s.extension, s.name, s.mac, s.model, s.network, s.since.formatted(.iso8601), s.address ?? "-", push].joined(separator: "  ")
            },
            empty: "nobody is logged in"
        )
    }
}

/// `hotdesk jobs [--state failed]`.
struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List push jobs, newest first.")

    @OptionGroup var server: ServerOptions

    @Option(help: "Only jobs in this state: queued, sent, applied, failed, superseded.")
    var state: String?

    @Option(help: "How many.")
    var limit: Int = 50

    @OptionGroup var output: ListOutput

    func run() async throws {
        let query = "?limit=\(limit)" + (state.map { "&state=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" } ?? "")
        let answer = try await server.call("GET", "/push-jobs\(query)", as: PushJobList.self)
        guard try !output.printedJSON(answer) else { return }
        output.printRows("job  mac  action  reason  state  attempts  updated  error", answer.jobs.map(\.description), empty: "no push jobs")
    }
}

/// `hotdesk push-changed`: after an import, bring every phone up to date.
struct PushChanged: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push-changed",
        abstract: "Push every phone whose config changed since it last fetched it (after an import changed passwords, templates or settings)."
    )

    @OptionGroup var server: ServerOptions

    func run() async throws {
        let changed = try await server.call("POST", "/devices/push-changed", as: PushChangedView.self)
        guard let first = changed.firstJob, let last = changed.lastJob else {
            print("every phone has its current config (\(changed.checked) checked)")
            return
        }
        print(
            "\(changed.queued) of \(changed.checked) phone(s) to update: push jobs \(first)-\(last)\(changed.next == nil ? "" : ", the newest \(changed.jobs.count) below")"
        )
        for job in changed.jobs { print(job) }
    }
}

/// `hotdesk sip-password reset 5501` (or `--shared-line 555`): a new SIP password, printed once.
struct SIPPasswordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sip-password",
        abstract: "Replace a line's SIP password.",
        subcommands: [Reset.self]
    )

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Give a line a new strong SIP password and push the phones that carry it. The password is printed once, alone on stdout; no command shows it again."
        )

        @OptionGroup var server: ServerOptions

        @Argument(help: "The extension number (with --shared-line, the shared line's; with --device, the phone's MAC).")
        var number: String

        @Flag(help: "The number is a shared line's.")
        var sharedLine = false

        @Flag(help: "The argument is a phone's MAC: its own line.")
        var device = false

        func validate() throws {
            if sharedLine && device { throw ValidationError("give at most one of --shared-line and --device") }
            if device {
                guard MACAddress(number) != nil else { throw ValidationError("\"\(number)\" is not a MAC address") }
            } else {
                guard Extension.isValidNumber(number) else { throw ValidationError("\"\(number)\" is not 2-6 digits") }
            }
        }

        func run() async throws {
            let path =
                device
                ? "/devices/\(MACAddress(number)!.canonical)/sip-password"
                : sharedLine ? "/shared-lines/\(number)/sip-password" : "/extensions/\(number)/sip-password"
            let answer = try await server.call("POST", path, as: SIPPasswordView.self)
            print(answer.sipPassword)
            let what = device ? "device" : sharedLine ? "shared line" : "extension"
            printError("\(what) \(answer.number): new SIP password set; \(answer.jobs.count) phone(s) pushed")
        }
    }
}

/// `hotdesk devices`: every phone, its family, where it is, whether its config is current.
struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every phone: family, model, workspace, address, last fetch, config current or changed, who is logged in, last push."
    )

    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ListOutput

    func run() async throws {
        let answer = try await server.call("GET", "/devices", as: DeviceList.self)
        guard try !output.printedJSON(answer) else { return }
        output.printRows(
            "mac  brand  model  workspace  address  last fetch  config  logged in  last push  [users]",
            answer.devices.map { d in
                let who = d.loggedIn.map { "\($0.extension) \($0.name)" } ?? "-"
                let push = d.lastPush.map { "last push: \($0.action) \($0.state)" } ?? "no push yet"
                return [
                    d.mac, d.brand, d.model, d.workspace ?? "-", d.address ?? "-", d.lastFetch?.formatted(.iso8601) ?? "never", "config \(d.config)",
                    who, push,
                ]
                .joined(separator: "  ") + (d.users.isEmpty ? "" : "  users \(d.users.joined(separator: ","))")
            },
            empty: "no devices"
        )
    }
}

/// `hotdesk device release MAC`.
struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "device", abstract: "Act on one phone.", subcommands: [Release.self, Approve.self])

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Approve the pending claim of a phone that waits for it (settings.enrolment.claims): its next fetch, from the address it asked from, gets its secret."
        )

        @OptionGroup var server: ServerOptions

        @Argument(help: "The phone's MAC address.")
        var mac: String

        func run() async throws {
            guard let parsed = MACAddress(mac) else { throw fail("\"\(mac)\" is not a MAC address") }
            let answer = try await server.call("POST", "/devices/\(parsed.canonical)/approve-claim", as: ClaimApprovalView.self)
            print("approved \(answer.mac) at \(answer.address): its next config fetch from there claims it")
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Release a claimed phone (factory reset, replaced): a new provisioning secret; the next phone to fetch this MAC's config claims it."
        )

        @OptionGroup var server: ServerOptions

        @Argument(help: "The phone's MAC address.")
        var mac: String

        func run() async throws {
            guard let parsed = MACAddress(mac) else { throw fail("\"\(mac)\" is not a MAC address") }
            let answer = try await server.call("POST", "/devices/\(parsed.canonical)/release", as: ReleaseView.self)
            print("released \(answer.mac): the next phone to fetch its config claims it (power the phone on now)")
        }
    }
}

/// `hotdesk workspaces`: each workspace with its devices and its licence's limit.
struct Workspaces: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List workspaces with their device counts and licence limits.")

    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ListOutput

    func run() async throws {
        let answer = try await server.call("GET", "/workspaces", as: WorkspaceList.self)
        guard try !output.printedJSON(answer) else { return }
        output.printRows(
            "name  licence  devices  hot desking",
            answer.workspaces.map { w in "\(w.name)  \(w.licence)  \(w.devices)/\(w.maxDevices) devices  hot desking \(w.hotDesking ? "on" : "off")"
            },
            empty: "no workspaces"
        )
    }
}

/// `hotdesk shared-lines`: each shared line and its members.
struct SharedLines: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "shared-lines", abstract: "List shared lines and their members (key, ring option).")

    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ListOutput

    func run() async throws {
        let answer = try await server.call("GET", "/shared-lines", as: SharedLineList.self)
        guard try !output.printedJSON(answer) else { return }
        output.printRows(
            "number  name  caller id  members",
            answer.sharedLines.map { l in
                let members = l.members.map { "\($0.extension) key \($0.button) \($0.ring)" }.joined(separator: ", ")
                return "\(l.number)  \(l.name)  \(l.callerId ?? "-")  \(members.isEmpty ? "no members" : members)"
            },
            empty: "no shared lines"
        )
    }
}

/// `hotdesk pbxkey create --name kamailio`: a key for `/pbx/v1` only.
struct PBXKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pbxkey", abstract: "Manage PBX keys (for /pbx/v1).", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a PBX key and print it, alone, on stdout. It opens /pbx/v1 only (an admin key does not, and it does not open /api/v1)."
        )

        @OptionGroup var store: StoreOptions

        @Option(help: "A name for the PBX (audit entries name it as pbx:<name>).")
        var name: String = "pbx-\(Int(Date().timeIntervalSince1970))"

        func run() async throws { print(try await APIKeyCommand.create(name: name, kind: .pbx, store: store)) }
    }
}
extension CSVDirectory.Section: ExpressibleByArgument {}
