import Curl
import DirectoryFile
import Foundation
import HotDeskCore
import HotDeskServer
import HotDeskStore
import Logging
import PhoneFamilies
import PhonePush
import PhoneSimulator
import PhoneXML
import ServiceLifecycle
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The repository's `Screens/` folder.
let screensDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Screens")

/// Every phone family, loaded once from the repository's `Screens/` as the server loads them.
let testFamilies: FamilyBook = {
    do { return try FamilyBook(screens: screensDirectory) } catch { fatalError("Screens/ does not load: \(error)") }
}()

/// A temporary folder removed when the test ends.
struct TempDir: ~Copyable {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("hotdesk-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    /// A store in this directory, with its key in the key file `key` here (a new one if absent).
    func store(_ name: String = "db.sqlite", key: String = "k") throws -> SQLStore {
        try TestDatabase.open(path: url.appendingPathComponent(name).path, keyFile: url.appendingPathComponent(key).path)
    }
}

/// Imports a YAML directory into a store the way `hotdesk import` does.
func importDirectory(_ yaml: String, into store: SQLStore, base: URL, file: String = "directory.yaml") async throws -> ImportSummary {
    let doc = try await DirectoryDocument.parse(
        yaml: yaml,
        file: file,
        baseDirectory: base,
        catalog: testFamilies.catalog,
        configs: testFamilies.configs,
        languages: Set(testFamilies.screens.locales.keys),
        against: store
    )
    return try await store.importDirectory(doc, actor: "test", at: Date(), options: ImportOptions(), outbox: testOutbox())
}

/// The server's own push planner (the real config builder and push recipes), for a change made
/// on a store directly; `delay` keeps its jobs from going out during the test.
func testOutbox(delay: TimeInterval = 0) -> Outbox {
    Outbox(planner: ConfigPushPlanner(families: testFamilies), order: PushOrder(reason: .admin, actor: "test", at: Date(), delay: delay))
}

/// Short timeouts so that fault tests end in seconds; the time a phone has to apply a config is
/// the one thing kept long: a simulated reboot on a machine kept busy by stress-ng once took more
/// than 4 s, and the push escalated and failed while the phone was still booting (a test that
/// wants the timeout sets its own: PushTests, "a phone that says OK but never fetches").
let testPushPolicy = PushPolicy(
    maxAttempts: 3,
    backoff: 0.1,
    maxBackoff: 0.4,
    connectTimeout: 1,
    transferTimeout: 1.5,
    reloadApplyTimeout: 10,
    rebootApplyTimeout: 20,
    delayAfterDone: 0.05,
    maxConcurrent: 16
)

/// The server's clock: the real time, moved forward when a test says so; or stopped, for a
/// test that counts within a time window (a minute's requests must fall in one minute however
/// slowly a loaded machine sends them).
final class TestClock: Sendable {
    private let state = Mutex<(offset: TimeInterval, stopped: Date?)>((0, nil))

    func now() -> Date { state.withLock { $0.stopped ?? Date() + $0.offset } }
    func advance(by seconds: TimeInterval) {
        state.withLock {
            $0.offset += seconds
            $0.stopped = $0.stopped.map { $0 + seconds }
        }
    }
    /// From now on, only `advance` moves the time.
    func stop() { state.withLock { $0.stopped = Date() + $0.offset } }
}

/// A flag set once, from any task.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// The real HotDesk server on 127.0.0.1 with a temporary SQLite file (or its PostgreSQL
/// database, `TestDatabase`), for one test.
final class TestServer: Sendable {
    let store: SQLStore
    /// The organisations' own stores, by name (served under `/o/NAME`).
    let organisations: [String: SQLStore]
    /// The server's change service (a change made here is pushed at once).
    let changes: PhoneChanges
    /// The running server (its auto-logout sweep, run now by a test).
    let service: HotDeskService
    let clock: TestClock
    let port: Int
    /// The TFTP server's UDP port (0: started without one).
    let tftpPort: Int
    let dbPath: String
    let directory: URL
    /// What the server logged at `notice` and above (the security log among it).
    let log: LogRecorder
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    /// `yaml` may use `{PORT}` (the server's port; the internal address is `127.0.0.1:{PORT}`,
    /// the external `localhost:{PORT}` so the two can be told apart) and `{PUSH_PORT}` (the
    /// port the test phones' web servers listen on).
    static func start(
        yaml: String?,
        directory: URL? = nil,
        port: Int = 0,
        policy: PushPolicy = testPushPolicy,
        trustedProxies: Set<String> = [],
        connections: ConnectionLimits = ConnectionLimits(),
        tls: TLSFiles? = nil,
        store given: SQLStore? = nil,
        tftp: Bool = false,
        autoLogoutInterval: TimeInterval = 0.1,
        organisations: [String: String] = [:]
    ) async throws -> TestServer {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("hotdesk-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let dbPath = directory.appendingPathComponent("hotdesk.sqlite").path
        let store = try given ?? TestDatabase.open(path: dbPath, keyFile: dbPath + ".key")
        let orgFolder = directory.appendingPathComponent("orgs")
        try FileManager.default.createDirectory(at: orgFolder, withIntermediateDirectories: true)
        var orgStores: [String: SQLStore] = [:]
        for name in organisations.keys {
            let path = orgFolder.appendingPathComponent("\(name).sqlite").path
            orgStores[name] = try TestDatabase.open(path: path, keyFile: path + ".key")
        }
        let pusher = PhonePusher(recipes: testFamilies.pushes)
        let log = LogRecorder()
        let logger = Logger(label: "test-server") { _ in log }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let clock = TestClock()
        var configuration = ServerConfiguration(
            host: "127.0.0.1",
            port: port,
            timeZone: TimeZone(identifier: "UTC")!,
            push: policy,
            trustedProxies: trustedProxies,
            autoLogoutInterval: autoLogoutInterval
        )
        configuration.housekeepingInterval = 0.1
        configuration.fetchTimesInterval = 0.1
        configuration.connections = connections
        configuration.tls = tls
        configuration.tftpPort = tftp ? 0 : nil
        let (tftpPorts, tftpBound) = AsyncStream.makeStream(of: Int.self)
        let app = try makeApplication(
            store: store,
            families: testFamilies,
            pusher: pusher,
            configuration: configuration,
            organisations: orgStores,
            organisationStores: TestDatabase.organisations(in: orgFolder),
            logger: logger,
            clock: { clock.now() },
            onServerRunning: { port in continuation.yield(port) },
            onTFTPRunning: { port in tftpBound.yield(port) }
        )
        // Stopped by a graceful shutdown, not by cancelling the task (apple/swift-nio#3481).
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task { try await group.run() }
        // A server that ends before it listens (a port taken, a store that fails) ends the wait
        // for its port too, instead of leaving the test waiting for ever.
        Task {
            _ = await task.result
            continuation.finish()
            tftpBound.finish()
        }
        var bound = 0
        for await p in stream {
            bound = p
            break
        }
        guard bound != 0 else {
            let failure = await task.result
            throw TestFailure("the server did not start listening: \(failure)")
        }
        let imports =
            (yaml.map { [(store, $0)] } ?? [])
            + organisations.sorted { $0.key < $1.key }.compactMap { name, text in orgStores[name].map { ($0, text) } }
        for (target, yaml) in imports {
            let text = yaml.replacingOccurrences(of: "{PORT}", with: "\(bound)").replacingOccurrences(of: "{PUSH_PORT}", with: "\(testPushPort)")
            do {
                _ = try await importDirectory(text, into: target, base: directory)
            } catch {
                // A directory that does not import: the server must not outlive the test.
                await group.triggerGracefulShutdown()
                _ = await task.result
                throw error
            }
        }
        return TestServer(
            store: store,
            organisations: orgStores,
            changes: app.changes,
            service: app,
            clock: clock,
            port: bound,
            tftpPort: tftp ? await tftpPorts.first { _ in true } ?? 0 : 0,
            dbPath: dbPath,
            task: task,
            group: group,
            directory: directory,
            log: log
        )
    }

    private init(
        store: SQLStore,
        organisations: [String: SQLStore],
        changes: PhoneChanges,
        service: HotDeskService,
        clock: TestClock,
        port: Int,
        tftpPort: Int,
        dbPath: String,
        task: Task<Void, any Error>,
        group: ServiceGroup,
        directory: URL,
        log: LogRecorder
    ) {
        self.log = log
        self.changes = changes
        self.service = service
        self.group = group
        self.store = store
        self.organisations = organisations
        self.clock = clock
        self.port = port
        self.tftpPort = tftpPort
        self.dbPath = dbPath
        self.task = task
        self.directory = directory
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Stops the server; `keepFiles` leaves the database for a restart.
    func stop(keepFiles: Bool = false) async {
        await group.triggerGracefulShutdown()
        // A graceful shutdown waits for requests in flight; one that never ends is a hang of
        // the server under test, said here rather than left to stall the suite.
        let ended = Flag()
        Task { [task] in
            _ = await task.result
            ended.set()
        }
        let stopped = await eventually(timeout: 60) { ended.isSet }
        if !stopped {
            Issue.record("the server did not stop within 60 s of a graceful shutdown (a request that never ends?)\n\(connections())")
            task.cancel()
        }
        if !keepFiles {
            TestDatabase.remove(path: dbPath)
            // Every organisation's: those it started with and those made while it ran (their key files).
            let keys = (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("orgs").path)) ?? []
            for key in keys where key.hasSuffix(".sqlite.key") {
                TestDatabase.remove(path: directory.appendingPathComponent("orgs/\(key.dropLast(".key".count))").path)
            }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// The TCP connections to the server's port and who holds them (`ss`): what a shutdown that
    /// does not end waits for.
    func connections() -> String {
        let ss = Process()
        ss.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
        ss.arguments = ["-tanp", "( sport = :\(port) or dport = :\(port) )"]
        let out = Pipe()
        ss.standardOutput = out
        ss.standardError = out
        guard (try? ss.run()) != nil else { return "(ss did not run)" }
        ss.waitUntilExit()
        return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Stops this server and starts a new one on the same database and port.
    func restart() async throws -> TestServer {
        await stop(keepFiles: true)
        return try await TestServer.start(yaml: nil, directory: directory, port: port)
    }

    /// Runs `body` with a started server and always stops it. `autoLogoutInterval`: how often
    /// its policy sweep runs by itself (long: only what asks for a sweep runs one).
    static func with(
        yaml: String,
        autoLogoutInterval: TimeInterval = 0.1,
        organisations: [String: String] = [:],
        _ body: (TestServer) async throws -> Void
    ) async throws {
        let server = try await start(yaml: yaml, autoLogoutInterval: autoLogoutInterval, organisations: organisations)
        do {
            try await body(server)
            await server.stop()
        } catch {
            await server.stop()
            throw error
        }
    }

    /// A simulated phone on its own loopback address, booted (it fetched its config).
    /// `sip`: the phone registers its line and takes NOTIFY (a PBX must be running); `lanAddress`:
    /// behind NAT, the address it writes in its SIP messages instead of its own.
    /// `organisation`: the phone is provisioned from that organisation's `/o/NAME`.
    func phone(
        _ model: String,
        mac: String,
        pushes: Bool = true,
        sip: Bool = false,
        lanAddress: String? = nil,
        organisation: String? = nil
    ) async throws -> SimulatedPhone {
        let phone = SimulatedPhone(
            model: try #require(SimModel.named(model)),
            mac: mac,
            options: .init(
                server: baseURL + Organisation.pathPrefix(organisation),
                address: Loopback.next(),
                pushPort: pushes ? testPushPort : nil,
                bootTimeScale: 0.02,
                sip: sip,
                lanAddress: lanAddress
            )
        )
        try await phone.boot()
        return phone
    }
}

/// Keeps the server's log lines at `notice` and above in memory, printing none.
final class LogRecorder: LogHandler, Sendable {
    private let lines = Mutex<[String]>([])

    var logLevel: Logger.Level {
        get { .notice }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let metadata = event.metadata.map { m in m.isEmpty ? "" : " " + m.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ") } ?? ""
        let text = "\(event.level) \(event.message)" + metadata
        lines.withLock { $0.append(text) }
    }

    /// The security log's lines of `event` (`hotdesk-security event=<event> …`).
    func security(_ event: SecurityLog.Event) -> [String] {
        lines.withLock { $0.filter { $0.contains("hotdesk-security event=\(event.rawValue) ") } }
    }

    var all: [String] { lines.withLock { $0 } }
}

/// Each test phone gets its own 127.x address, as phones on a LAN have their own IPs.
enum Loopback {
    private static let counter = Mutex(0)

    static func next() -> String {
        let n = counter.withLock { n in
            n += 1
            return n
        }
        return "127.0.\(10 + n / 250).\(n % 250 + 2)"
    }
}

/// The port every test phone's web server listens on (each on its own address), chosen once
/// per run from a quiet range (below the ephemeral ports, 32768 and up).
let testPushPort = Int.random(in: 20000..<32000)

/// A plain HTTP exchange.
struct HTTPResult: Sendable {
    let status: Int
    let headers: [String: String]
    let body: String

    func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }
}

enum HTTP {
    static let session: URLSession = {
        let config = URLSessionConfiguration.ephemeral
        config.urlCache = nil
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.timeoutIntervalForRequest = 10
        // Cookies are the console tests' to send: one server's would reach the next (same host).
        config.httpShouldSetCookies = false
        config.httpCookieAcceptPolicy = .never
        return URLSession(configuration: config)
    }()

    /// For requests queued on purpose behind many others (an attack test's): two minutes.
    static let patientSession: URLSession = {
        let config = URLSessionConfiguration.ephemeral
        config.urlCache = nil
        config.timeoutIntervalForRequest = 120
        config.httpShouldSetCookies = false
        config.httpCookieAcceptPolicy = .never
        return URLSession(configuration: config)
    }()

    /// `patient`: may wait longer than a phone's own 10 s (`patientSession`).
    static func get(_ url: String, headers: [String: String] = [:], patient: Bool = false) async throws -> HTTPResult {
        try await request("GET", url, headers: headers, session: patient ? patientSession : session)
    }

    static func request(
        _ method: String,
        _ url: String,
        headers: [String: String] = [:],
        body: String? = nil,
        session: URLSession = HTTP.session
    ) async throws -> HTTPResult {
        guard let u = URL(string: url) else { throw URLError(.badURL) }
        var request = URLRequest(url: u)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields["\(k)"] = "\(v)" }
        return HTTPResult(status: http.statusCode, headers: fields, body: String(decoding: data, as: UTF8.self))
    }
}

extension TestServer {
    /// `GET /provision/<file>` as the phone itself: with its provisioning secret (HTTP Digest),
    /// from `address`.
    func fetchAsPhone(
        _ file: String,
        mac: String,
        headers: [(name: String, value: String)] = [],
        from address: String? = nil
    ) async throws -> CurlResponse {
        let device = try #require(try await store.device(mac: MACAddress(mac)!), "no device \(mac)")
        var request = CurlRequest(url: "\(baseURL)/provision/\(file)", headers: headers, localAddress: address)
        request.credentials = HTTPCredentials(
            username: device.provisioningUsername,
            password: try #require(device.provisioningSecret),
            scheme: .digest
        )
        return try await CurlEngine.shared.perform(request)
    }
}
