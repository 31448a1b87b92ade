import Foundation
import Hummingbird
import Logging
import NIOCore

/// The phone's web server: the push commands of its model, from the addresses its config
/// allows, with its login (phone-dialects.md §1, §7, §11).
extension SimulatedPhone {
    func startListener() async throws {
        guard listener == nil, let port = options.pushPort else { return }
        let (stream, continuation) = AsyncStream.makeStream(of: Result<Void, PhoneError>.self)
        var logger = Logger(label: "phonesim-\(mac)")
        logger.logLevel = .critical
        let app = Application(
            responder: PhoneWebResponder(phone: self),
            configuration: .init(address: .hostname(options.address, port: port), serverName: model.userAgent(mac: mac)),
            onServerRunning: { _ in continuation.yield(.success(())) }, logger: logger)
        listener = Task {
            do {
                try await app.run()
            } catch {
                continuation.yield(.failure(.listener("\(options.address):\(port): \(error)")))
                throw error
            }
        }
        for await result in stream {
            if case .failure(let error) = result {
                listener = nil
                throw error
            }
            break
        }
    }

    func stopListener() async {
        guard let listener else { return }
        self.listener = nil
        listener.cancel()
        _ = await listener.result
    }

    /// Answers one request to the phone's web server: the model's commands, from the addresses
    /// its config allows, with its login. An XML push is shown at once; reload and reboot are
    /// returned to be carried out after the answer.
    func handleWeb(
        method: String, target: String, authorization: String?, source: String?, body: [UInt8]
    ) -> (status: Int, challenge: String?, then: PushCommand.Action?) {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        let query = target.contains("?") ? String(target.split(separator: "?", maxSplits: 1)[1]) : nil
        let command = model.pushCommands.first { $0.path == path && $0.query == query }
        if let command, let refusal = sourceRefusal(command.from, source: source) {
            record(.pushRefused(status: 403, path: path, reason: refusal))
            return (403, nil, nil)
        }
        let checker = WebAuthChecker(scheme: model.webAuth, realm: model.webRealm)
        let login = (config.webUsername ?? model.factoryLogin.username, config.webPassword ?? model.factoryLogin.password)
        guard checker.accepts(authorization, method: method, uri: target, username: login.0, password: login.1) else {
            if authorization != nil { record(.pushRefused(status: 401, path: path, reason: "wrong login")) }
            return (401, checker.challenge(), nil)
        }
        guard let command else {
            record(.pushRefused(status: 404, path: path, reason: "no such command"))
            return (404, nil, nil)
        }
        guard command.method == method else {
            record(.pushRefused(status: 405, path: path, reason: "\(method) not allowed"))
            return (405, nil, nil)
        }
        if command.action == .xml {
            // The body is the literal `xml=` and then the raw document (§1), read as strictly as
            // a browsed one. The status for a refused document is [I].
            guard body.starts(with: Array("xml=".utf8)) else {
                record(.pushRefused(status: 400, path: path, reason: "body is not xml=<document>"))
                return (400, nil, nil)
            }
            do {
                screen = try model.dialect.read(Array(body.dropFirst(4)))
            } catch {
                record(.documentRefused(url: "push", reason: error.reason))
                return (400, nil, nil)
            }
            history = []
            selected = 0
            focused = 0
            record(.pushAccepted(.xml, path: target))
            return (200, nil, nil)
        }
        record(.pushAccepted(command.action, path: target))
        return (200, nil, command.action)
    }

    /// Why the phone will not take a command from `source` under the command's rule, if it will not.
    private func sourceRefusal(_ rule: PushCommand.Sources, source: String?) -> String? {
        let from = source ?? "?"
        switch rule {
        case .anyone:
            return nil
        case .actionURIList:
            guard config.actionURIFrom.isEmpty || config.actionURIFrom.contains(from) else {
                return "command from \(from), features.action_uri_limit_ip allows \(config.actionURIFrom.joined(separator: ","))"
            }
            return nil
        case .pushXMLServer:
            guard let server = config.pushXMLServer else { return "XML push from \(from): no push_xml.server is set" }
            return server == source ? nil : "XML push from \(from), only \(server) may push"
        }
    }

    /// What the phone does after answering a command.
    func carryOut(_ action: PushCommand.Action) async {
        // Let the answer leave first, as a phone does.
        try? await Task.sleep(for: .milliseconds(20))
        switch action {
        case .xml:
            break
        case .reboot:
            await reboot()
        case .reload:
            guard model.reloadsInPlace else { return record(.reloadIgnored) }
            do {
                try await fetchConfig()
                record(.reloaded)
            } catch {
                record(.configRefused(file: "(reload)", reason: "\(error)"))
            }
        }
    }
}

/// The phone's web server's request context: it needs the caller's address.
struct PhoneWebContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Hands every request on the phone's web port to the phone.
struct PhoneWebResponder: HTTPResponder {
    typealias Context = PhoneWebContext
    let phone: SimulatedPhone

    func respond(to request: Request, context: Context) async throws -> Response {
        // A phone's web server takes small requests; 16 KB covers the largest XML object.
        let received = try await request.body.collect(upTo: 16 * 1024)
        let answer = await phone.handleWeb(
            method: request.method.rawValue, target: request.head.path ?? "/", authorization: request.headers[.authorization],
            source: context.remoteAddress?.ipAddress, body: Array(received.readableBytesView))
        var headers = HTTPFields()
        if let challenge = answer.challenge { headers[.wwwAuthenticate] = challenge }
        if let action = answer.then {
            Task { await phone.carryOut(action) }
        }
        let body = answer.status == 200 ? "OK\n" : "\(answer.status)\n"
        return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: .init(string: body)))
    }
}
