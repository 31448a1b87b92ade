import Foundation
import HotDeskServer
import HotDeskStore
import Logging
import PhoneXML
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The repository's `Screens/` folder.
let screensDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Screens")

/// A temporary folder removed when the test ends.
struct TempDir: ~Copyable {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("hotdesk-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Imports a YAML directory into a store the way `hotdesk import` does.
func importDirectory(_ yaml: String, into store: SQLiteStore, base: URL) async throws -> ImportSummary {
    let known = try await store.directoryNames()
    let doc = try DirectoryDocument.parse(
        yaml: yaml, file: "directory.yaml", baseDirectory: base, knownExtensions: known.extensions, knownTemplates: known.templates)
    return try await store.importDirectory(doc, actor: "test", at: Date())
}

/// The real HotDesk server on 127.0.0.1 with a temporary SQLite file, for one test.
final class TestServer: Sendable {
    let store: SQLiteStore
    let port: Int
    let dbPath: String
    private let task: Task<Void, any Error>
    private let directory: URL

    /// `yaml` may use `{PORT}`; it is replaced by the port the server listens on (the internal
    /// address is `127.0.0.1:{PORT}`, the external `localhost:{PORT}` so the two can be told apart).
    static func start(yaml: String) async throws -> TestServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hotdesk-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let dbPath = directory.appendingPathComponent("hotdesk.sqlite").path
        let store = try SQLiteStore(path: dbPath, secrets: SecretBox.load(keyFile: dbPath + ".key", environment: [:]))
        let screens = try ScreenLibrary(directory: screensDirectory)
        var logger = Logger(label: "test-server")
        logger.logLevel = .critical
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = makeApplication(
            store: store, screens: screens, configuration: .init(host: "127.0.0.1", port: 0, timeZone: TimeZone(identifier: "UTC")!), logger: logger,
            onServerRunning: { port in continuation.yield(port) })
        let task = Task { try await app.runService() }
        var port = 0
        for await p in stream {
            port = p
            break
        }
        _ = try await importDirectory(yaml.replacingOccurrences(of: "{PORT}", with: "\(port)"), into: store, base: directory)
        return TestServer(store: store, port: port, dbPath: dbPath, task: task, directory: directory)
    }

    private init(store: SQLiteStore, port: Int, dbPath: String, task: Task<Void, any Error>, directory: URL) {
        self.store = store
        self.port = port
        self.dbPath = dbPath
        self.task = task
        self.directory = directory
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func stop() async {
        task.cancel()
        _ = await task.result
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` with a started server and always stops it.
    static func with(yaml: String, _ body: (TestServer) async throws -> Void) async throws {
        let server = try await start(yaml: yaml)
        do {
            try await body(server)
            await server.stop()
        } catch {
            await server.stop()
            throw error
        }
    }
}

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
        return URLSession(configuration: config)
    }()

    static func get(_ url: String, headers: [String: String] = [:]) async throws -> HTTPResult {
        guard let u = URL(string: url) else { throw URLError(.badURL) }
        var request = URLRequest(url: u)
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields["\(k)"] = "\(v)" }
        return HTTPResult(status: http.statusCode, headers: fields, body: String(decoding: data, as: UTF8.self))
    }
}
