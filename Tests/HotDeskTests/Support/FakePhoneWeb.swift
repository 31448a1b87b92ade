import Foundation
import Hummingbird
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A misbehaving phone web server for fault tests: answers every request with `status`, and
/// never fetches a config. Records the request targets it got.
final class FakePhoneWeb: Sendable {
    private let task: Task<Void, any Error>
    private final class Received: Sendable {
        let list = Mutex<[String]>([])
        let authorizations = Mutex<[String]>([])
    }

    private let received = Received()

    var targets: [String] { received.list.withLock { $0 } }
    /// Every `Authorization` header it was sent.
    var authorizations: [String] { received.authorizations.withLock { $0 } }

    /// `challenge`: a `WWW-Authenticate` value sent with every answer (e.g. `Basic realm="x"` with 401).
    init(address: String, port: Int, status: Int, challenge: String? = nil) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        var logger = Logger(label: "fake-phone")
        logger.logLevel = .critical
        let box = received
        let router = Router()
        let answer: @Sendable (Request) -> Response = { request in
            box.list.withLock { $0.append(request.head.path ?? "") }
            if let auth = request.headers[.authorization] { box.authorizations.withLock { $0.append(auth) } }
            var headers = HTTPFields()
            if let challenge { headers[.wwwAuthenticate] = challenge }
            return Response(status: .init(code: status), headers: headers)
        }
        router.get("**") { request, _ in answer(request) }
        router.post("**") { request, _ in answer(request) }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(address, port: port)),
            onServerRunning: { _ in continuation.yield() },
            logger: logger
        )
        task = Task { try await app.run() }
        for await _ in stream { break }
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

/// A port that accepts connections (the kernel completes them) but never answers.
final class SilentListener: Sendable {
    let fd: Int32

    init(address: String, port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, address, &addr.sin_addr)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    /// Whether a connection is waiting to be accepted (the kernel completed it: a push is hanging here).
    var hasWaitingConnection: Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0
    }

    func close() { _ = Glibc.close(fd) }
}

/// A client socket that connects and then sends only what it is told (an idle or slow client).
final class RawClient: Sendable {
    let fd: Int32

    init(port: Int, address: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, address, &addr.sin_addr)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            _ = Glibc.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    func send(_ text: String) { _ = text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }

    /// Whether the server has closed its side (a read would return end of file or an error).
    var closedByServer: Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// What the server sent that was not read yet (without waiting).
    func read() -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func close() { _ = Glibc.close(fd) }
}
