import ArgumentParser
import DirectoryFile
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskServer
import HotDeskStore
import Hummingbird
import Logging
import NIOCore
import PhoneFamilies
import PhonePush
import PhoneXML

@main
struct HotDeskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hotdesk",
        abstract: "Hot desking server for IP desk phones.",
        version: hotdeskVersion,
        subcommands: [
            Serve.self, Import.self, Audit.self, APIKeyCommand.self, Sessions.self, Logout.self, Push.self, PushChanged.self, Jobs.self,
            SIPPasswordCommand.self, Devices.self, DeviceCommand.self, Workspaces.self, SharedLines.self, PBXKeyCommand.self, PBXCommand.self,
            CoSCommand.self,
            Locks.self, Unlock.self, ClearPIN.self, Backup.self, Restore.self, Export.self, AdminAccountCommand.self, DatabaseCommand.self,
        ]
    )
}

/// `hotdesk --version`.
let hotdeskVersion = "0.12.0"

/// Where the phone families, dialects and texts are: every command that needs to know the
/// families (serving, importing a directory) reads them from here.
struct ScreensOptions: ParsableArguments {
    @Option(
        help:
            "The Screens folder (phone families, screen texts, per-vendor markup). Default: $HOTDESK_SCREENS, else ./Screens, else beside the executable (<bin>/Screens, <bin>/../share/hotdesk/Screens)."
    )
    var screens: String?

    var path: String { found ?? "./Screens" }

    /// The folder chosen (`--screens`, `HOTDESK_SCREENS`), else the first candidate that has
    /// families; `nil` when neither.
    private var found: String? {
        if let chosen = screens ?? ProcessInfo.processInfo.environment["HOTDESK_SCREENS"] { return chosen }
        return Self.candidates.first { FileManager.default.fileExists(atPath: $0 + "/families") }
    }

    /// Where an installed HotDesk finds its Screens when started from any folder.
    static var candidates: [String] {
        let binary = executable.deletingLastPathComponent()
        return [
            "./Screens", binary.appendingPathComponent("Screens").path,
            binary.appendingPathComponent("../share/hotdesk/Screens").standardizedFileURL.path,
        ]
    }

    /// This program's own file, whatever the shell typed: found on `PATH`, `argv[0]` is only
    /// `hotdesk`, which names a file in the current folder.
    static var executable: URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        if let url = Bundle.main.executableURL { return url.resolvingSymlinksInPath() }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    }

    /// Loads and checks every family descriptor; the error names the file and the field.
    func load() throws -> FamilyBook {
        guard let found else {
            throw Failure(
                description:
                    "no Screens folder (the phone families) in \(Self.candidates.joined(separator: ", ")): pass --screens DIR or set HOTDESK_SCREENS"
            )
        }
        return try FamilyBook(screens: URL(fileURLWithPath: found))
    }
}

/// What the commands other than `serve` log through: nothing (they print what they did).
let quietLogger = Logger(label: "hotdesk") { _ in SwiftLogNoOpLogHandler() }

/// Prints one clear line and exits non-zero.
struct Failure: Error, CustomStringConvertible {
    let description: String
}

func fail(_ message: String) -> ExitCode {
    printError("hotdesk: \(message)")
    return ExitCode.failure
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HotDesk server.")

    @OptionGroup var store: StoreOptions

    @Option(help: "Address to listen on.")
    var host: String = "0.0.0.0"

    @Option(help: "Port to listen on.")
    var port: Int = 8080

    @OptionGroup var screens: ScreensOptions

    @Option(help: "Language of the phone screens (a file in Screens/locales).")
    var language: String = "en"

    @Option(name: .customLong("trusted-proxy"), help: "A proxy whose X-Forwarded-For is believed (repeatable).")
    var trustedProxies: [String] = []

    @Option(
        name: .customLong("accept-host"),
        help:
            "A host name phones may reach HotDesk by besides internal_address and external_address (repeatable); any other Host header is treated as the internal address."
    )
    var acceptedHosts: [String] = []

    @Option(
        help:
            "Open connections at most; past it, the one that has waited longest for a request is closed. Default: 10000, or less under the open-file limit."
    )
    var maxConnections: Int?

    @Option(help: "Seconds a connection may wait for a request (including the time to send its headers) before it is closed.")
    var idleTimeout: Int = 20

    @Option(
        help:
            "Pushes started per second at most (0: no limit). Paces push-changed after an import, so a site's phones do not all reload or reboot, and then fetch their configs, in the same second."
    )
    var maxPushesPerSecond: Double = 0

    @Option(help: "HTTPS: the certificate chain (PEM), e.g. for Login Extl phones on the internet. With --tls-key.")
    var tlsCert: String?

    @Option(help: "HTTPS: the private key (PEM) of --tls-cert.")
    var tlsKey: String?

    @Option(help: "Time zone of lock times and of the daily auto logout, e.g. Europe/Paris. Default: the machine's.")
    var timeZone: String?

    @Option(
        help:
            "Also serve the config files by TFTP on this UDP port of --host (69 is TFTP's; phones sent there by DHCP options 66/150, Cisco's by default). Off unless given."
    )
    var tftpPort: Int?

    @Option(
        help:
            "Phones answered from memory with no database read (app, tokens, Digest); the config caches, whose entries are the largest, hold half as many. More phones still work: the least recently seen cost a read."
    )
    var cachePhones: Int = CacheLimits().phones

    var caches: CacheLimits { CacheLimits(phones: cachePhones, phoneConfigs: max(1, cachePhones / 2)) }

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("give --tls-cert and --tls-key together") }
        if idleTimeout < 1 { throw ValidationError("--idle-timeout is at least 1 second") }
        if let maxConnections, maxConnections < 16 { throw ValidationError("--max-connections is at least 16") }
        if cachePhones < 16 { throw ValidationError("--cache-phones is at least 16") }
        if let tftpPort, !(0...65535).contains(tftpPort) { throw ValidationError("--tftp-port is a UDP port, 1-65535 (0: any free one)") }
        if !(maxPushesPerSecond >= 0 && maxPushesPerSecond.isFinite) { throw ValidationError("--max-pushes-per-second is 0 (no limit) or more") }
        if let timeZone, TimeZone(identifier: timeZone) == nil {
            throw ValidationError("unknown time zone \"\(timeZone)\" (use a name such as Europe/Paris or America/New_York)")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { LazyMetadataLogHandler(label: $0) }
        let logger = {
            var logger = Logger(label: "hotdesk")
            logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return logger
        }()
        let files = FileLimit.raise()
        let connections = ConnectionLimits(maxConnections: maxConnections ?? ConnectionLimits.defaultMax, idleTimeout: .seconds(Int64(idleTimeout)))
        if connections.maxConnections > files - 64 {
            logger.warning(
                "--max-connections is near the open-file limit",
                metadata: ["max_connections": "\(connections.maxConnections)", "open_files": "\(files)"]
            )
        }
        let screensPath = screens.path
        let families: FamilyBook
        let opened: (store: SQLStore, createdDatabase: Bool, createdKey: Bool)
        do {
            families = try screens.load()
            guard families.screens.locales[language] != nil else {
                let known = families.screens.locales.keys.sorted().joined(separator: ", ")
                throw Failure(description: "--language \(language): no screen texts in \(screensPath)/locales (there are: \(known))")
            }
            opened = try store.openReporting(catalog: families.catalog, create: true, caches: caches)
        } catch {
            throw fail("\(error)")
        }
        let sqlite = opened.store
        let serverLock = try lockDatabase()
        let organisationLocks = ServerLocks()
        let organisations = try openOrganisations(families: families, locks: organisationLocks)
        logger.info(
            "HotDesk starting",
            metadata: [
                "version": "\(hotdeskVersion)",
                "db": "\(store.databasePath)\(opened.createdDatabase ? " (new)" : "")",
                "key_file":
                    "\(ProcessInfo.processInfo.environment["HOTDESK_SECRET_KEY"] != nil ? "HOTDESK_SECRET_KEY" : store.keyFilePath)\(opened.createdKey ? " (new: keep it with backups, apart)" : "")",
                "screens": "\(screensPath)", "families": "\(families.catalog.brands.map(\.rawValue))",
                "time_zone": "\(timeZone ?? TimeZone.current.identifier)",
                "organisations": "\(organisations.keys.sorted())",
            ]
        )
        let configuration = serverConfiguration(connections: connections)
        let scheme = configuration.tls == nil ? "http" : "https"
        let app: HotDeskService
        do {
            app = try makeApplication(
                store: sqlite,
                families: families,
                pusher: PhonePusher(recipes: families.pushes),
                configuration: configuration,
                organisations: organisations,
                organisationStores: store.organisationStores(catalog: families.catalog, caches: caches, locks: organisationLocks),
                logger: logger,
                onServerRunning: { port in
                    let provisioning = (try? await sqlite.settings().internalAddress).flatMap { $0 }.map { "\($0.baseURL)/provision/" }
                    logger.info(
                        "HotDesk listening",
                        metadata: [
                            "port": "\(port)", "scheme": "\(scheme)",
                            "provisioning_url": "\(provisioning ?? "\(scheme)://<this host>:\(port)/provision/ (set settings.internal_address)")",
                        ]
                    )
                }
            )
        } catch {
            throw fail("\(error)")
        }
        defer { withExtendedLifetime((serverLock, organisationLocks)) {} }
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw fail("\(host):\(port) is already in use (another HotDesk, or another server): stop it or pass --port")
        }
    }

    /// Held while serving: `hotdesk restore` refuses this database meanwhile. PostgreSQL is
    /// served by as many nodes as there are (and restored with its own tools).
    private func lockDatabase() throws -> ServerLock? {
        guard !store.isPostgres else { return nil }
        let lock: ServerLock?
        do { lock = try ServerLock(database: store.databasePath) } catch { throw fail("\(error)") }
        guard let lock else { throw fail("another HotDesk server is running on \(store.databasePath)") }
        return lock
    }

    /// Every organisation's database beside the main one (`hotdesk import --org NAME` makes one),
    /// opened and held as the main one is: served under `/o/NAME`.
    private func openOrganisations(families: FamilyBook, locks: ServerLocks) throws -> [String: any Store] {
        guard store.organisation == nil else { throw fail("serve serves every organisation beside the main database: leave out --org") }
        var stores: [String: any Store] = [:]
        for name in try store.organisationNames() {
            do {
                stores[name] = try store.serveOrganisation(name, create: false, catalog: families.catalog, caches: caches, locks: locks)
            } catch {
                throw fail("organisation \(name): \(error)")
            }
        }
        return stores
    }

    /// The options as the server takes them.
    private func serverConfiguration(connections: ConnectionLimits) -> ServerConfiguration {
        var configuration = ServerConfiguration(
            host: host,
            port: port,
            language: language,
            timeZone: timeZone.flatMap(TimeZone.init(identifier:)) ?? .current,
            trustedProxies: Set(trustedProxies),
            acceptedHosts: Set(acceptedHosts),
            connections: connections
        )
        configuration.caches = caches
        configuration.tftpPort = tftpPort
        if let tlsCert, let tlsKey { configuration.tls = TLSFiles(certificateChain: tlsCert, privateKey: tlsKey) }
        if maxPushesPerSecond > 0 { configuration.push.maxPerSecond = maxPushesPerSecond }
        return configuration
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a YAML directory (settings, extensions, shared lines, workspaces, devices, templates, mappings) in one transaction.",
        discussion: """
            On any problem every problem is printed with its place and nothing is written. Importing the same file again changes nothing. \
            With --prune, what a section of the file no longer lists is removed (a removed extension or device is logged out first); \
            The phones a prune logs out are pushed their logged-out config (by the running server, or by the next one to start). \
            --dry-run shows what would happen and writes nothing; --push also pushes every phone whose config changed.
            """
    )

    @Argument(help: "The directory file (YAML), or a CSV of extensions or devices (a .csv file: its header names the columns).")
    var file: String

    @Flag(help: "Remove the extensions, devices, shared lines, workspaces, templates and mappings the file's sections no longer list.")
    var prune = false

    @Flag(help: "Show what would be created, updated and deleted, and which phones would be logged out; write nothing.")
    var dryRun = false

    @Flag(help: "After the import, push every phone whose config changed (the running server sends the pushes, or the next one to start).")
    var push = false

    @OptionGroup var store: StoreOptions
    @OptionGroup var screens: ScreensOptions

    func validate() throws {
        if dryRun && push { throw ValidationError("--dry-run writes nothing, so there is nothing to --push") }
    }

    func run() async throws {
        let url = URL(fileURLWithPath: file)
        guard var yaml = try? String(contentsOf: url, encoding: .utf8) else { throw fail("cannot read \(file)") }
        // A spreadsheet's extensions or devices: that section of a directory file, line for line.
        if file.lowercased().hasSuffix(".csv") {
            do { yaml = try CSVDirectory.yaml(fromCSV: yaml, file: file).yaml } catch { throw fail("\(error)") }
        }
        let sqlite: SQLStore
        let families: FamilyBook
        let opened: (store: SQLStore, createdDatabase: Bool, createdKey: Bool)
        do {
            families = try screens.load()
            opened = try store.openReporting(catalog: families.catalog, create: true)
            sqlite = opened.store
        } catch { throw fail("\(error)") }
        do {
            try await importFile(yaml, url: url, into: sqlite, families: families)
        } catch {
            // A first import that failed leaves nothing behind: no empty database, no key file. A
            // PostgreSQL database stays (made by its admin) and holds the key's check now: its key
            // file stays with it, or no later command could open it.
            if opened.createdDatabase {
                for file in [store.databasePath, store.databasePath + "-wal", store.databasePath + "-shm"] {
                    try? FileManager.default.removeItem(atPath: file)
                }
                if opened.createdKey { try? FileManager.default.removeItem(atPath: store.keyPath) }
            }
            throw error
        }
    }

    private func importFile(_ yaml: String, url: URL, into sqlite: SQLStore, families: FamilyBook) async throws {
        let document: DirectoryDocument
        do {
            document = try await DirectoryDocument.parse(
                yaml: yaml,
                file: file,
                baseDirectory: url.deletingLastPathComponent(),
                catalog: families.catalog,
                configs: families.configs,
                languages: Set(families.screens.locales.keys),
                against: sqlite
            )
        } catch let error as DirectoryError {
            printError("\(error.description)")
            throw ExitCode.failure
        }
        let summary: ImportSummary
        let changed: PhoneChanges.ChangedPushes?
        do {
            var changes = PhoneChanges(store: sqlite, families: families, pathPrefix: store.pathPrefix, logger: quietLogger)
            let others = try store.otherDirectories()
            if !others.isEmpty { changes.owners = DeviceOwners { others } }
            (summary, changed) = try await changes.importDirectory(
                document,
                actor: "cli",
                options: ImportOptions(prune: prune, dryRun: dryRun),
                pushChanged: push
            )
        } catch let error as DirectoryError {
            // Problems found against what is stored (a workspace over its licence): nothing written.
            printError("\(DirectoryError(file: file, problems: error.problems).description)")
            throw ExitCode.failure
        }
        print("\(dryRun ? "would import" : "imported") \(file): \(summary)")
        for removed in summary.removed { print("  \(dryRun ? "would remove" : "removed") \(removed)") }
        for session in summary.endedSessions {
            let job = summary.jobs.first { $0.mac == session.mac }.map { "; push job \($0.id)" } ?? ""
            print("  \(dryRun ? "would log out" : "logged out") \(session.extensionNumber) on \(session.mac)\(job)")
        }
        if dryRun {
            print("nothing written (dry run)")
        } else if let changed {
            print(
                changed.queued == 0
                    ? "every phone has its current config" : "pushing \(changed.queued) phone(s) whose config changed (`hotdesk jobs`)"
            )
        } else if !summary.endedSessions.isEmpty || summary.updated > 0 || summary.deleted > 0 {
            print("phones pick the change up at their next fetch; `hotdesk push-changed` (or --push) tells them now")
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the latest audit entries, newest first (filters: every one given must hold).")

    @OptionGroup var store: StoreOptions

    @Option(help: "How many entries.")
    var limit: Int = 50

    @Option(help: "Only this action (login, login_failed, logout, lockout, unlock, push, …).")
    var action: String?

    @Option(help: "Only entries about this extension.")
    var `extension`: String?

    @Option(help: "Only entries about this phone (its MAC).")
    var device: String?

    @Option(help: "Only this actor (an extension, api:<key name>, system, cli, …).")
    var actor: String?

    @Option(help: "Only entries at or after this time (ISO 8601, e.g. 2026-11-25T09:00:00Z).")
    var since: String?

    @OptionGroup var output: ListOutput

    func validate() throws {
        if let action, AuditEntry.Action(rawValue: action) == nil {
            throw ValidationError("--action is one of \(AuditEntry.Action.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let device, MACAddress(device) == nil { throw ValidationError("\"\(device)\" is not a MAC address") }
        if let since, (try? Date(since, strategy: .iso8601)) == nil {
            throw ValidationError("--since is an ISO 8601 time, e.g. 2026-11-25T09:00:00Z")
        }
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit is 1-100000") }
    }

    func run() async throws {
        let sqlite = try store.openOrExit()
        var query = AuditQuery()
        query.limit = limit
        query.action = action.flatMap(AuditEntry.Action.init(rawValue:))
        query.extensionNumber = `extension`
        query.mac = device.flatMap(MACAddress.init)
        query.actor = actor
        query.since = since.flatMap { try? Date($0, strategy: .iso8601) }
        let found = try await sqlite.auditEntries(query)
        guard try !output.printedJSON(AuditList(entries: found.map { AuditEntryView(id: $0.id, $0.entry) }, next: nil)) else { return }
        output.printRows(
            "time  action  outcome  actor  [mac]  [ext]  [from]  detail",
            found.map { _, e in
                [
                    e.at.formatted(.iso8601), e.action.rawValue, e.outcome.rawValue, "actor=\(e.actor)", e.mac.map { "mac=\($0)" },
                    e.extensionNumber.map { "ext=\($0)" },
                    e.source.map { "from=\($0)" }, e.detail.isEmpty ? nil : e.detail,
                ].compactMap { $0 }.joined(separator: "  ")
            },
            empty: "no audit entries"
        )
    }
}
