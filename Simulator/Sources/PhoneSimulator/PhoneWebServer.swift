import Curl
import Foundation
import Hummingbird
import LibXML
import Logging
import NIOCore
import ServiceLifecycle

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
            onServerRunning: { _ in continuation.yield(.success(())) },
            logger: logger
        )
        // Stopped by a graceful shutdown, never by cancelling its task: cancelling a server with a
        // connection just accepted traps in NIO ("Deinited NIOAsyncWriter without calling
        // finish()", apple/swift-nio#3481).
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        listenerGroup = group
        // Detached: a web server started while answering a request (a reboot pushed to the phone)
        // must not inherit that request's task-locals, among them the old server's graceful
        // shutdown, which would stop the new one as soon as it is up.
        listener = Task.detached {
            do {
                try await group.run()
            } catch {
                continuation.yield(.failure(.listener("\(self.options.address):\(port): \(error)")))
                throw error
            }
        }
        for await result in stream {
            if case .failure(let error) = result {
                listener = nil
                listenerGroup = nil
                throw error
            }
            break
        }
    }

    func stopListener() async {
        guard let listener else { return }
        self.listener = nil
        await listenerGroup?.triggerGracefulShutdown()
        listenerGroup = nil
        _ = await listener.result
    }

    /// An answer of the phone's web server, and what it does after answering.
    struct WebAnswer: Sendable {
        var status: Int
        var challenge: String? = nil
        var body: String? = nil
        var then: PushCommand.Action? = nil
    }

    /// Answers one request to the phone's web server: the model's commands, from the addresses
    /// its config allows, with the login its family checks. A pushed document is shown (or
    /// executed) at once; reload and reboot are carried out after the answer.
    func handleWeb(method: String, target: String, authorization: String?, contentType: String?, source: String?, body: [UInt8]) async -> WebAnswer {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        let query = target.contains("?") ? String(target.split(separator: "?", maxSplits: 1)[1]) : nil
        let command = model.pushCommands.first { $0.path == path && $0.query == query }
        if let command, let refusal = sourceRefusal(command.from, source: source) {
            record(.pushRefused(status: 403, path: path, reason: refusal))
            return WebAnswer(status: 403)
        }
        // A path the phone does not know is still behind its web login (answered 404 only after it).
        let login =
            command?.login ?? model.pushCommands.lazy.compactMap { c -> PushCommand.Login? in
                if case .web = c.login { return c.login } else { return nil }
            }.first ?? .web(.basic)
        switch login {
        case .none:
            break
        case .web(let scheme), .pushAccount(let scheme):
            let checker = WebAuthChecker(scheme: scheme, realm: model.webRealm)
            let expected: (String, String)?
            if case .pushAccount = login {
                // Polycom takes pushes only with the push account the config set [V].
                expected = config.pushUsername.flatMap { user in config.pushPassword.map { (user, $0) } }
            } else {
                expected = (config.webUsername ?? model.factoryLogin.username, config.webPassword ?? model.factoryLogin.password)
            }
            guard let expected, checker.accepts(authorization, method: method, uri: target, username: expected.0, password: expected.1) else {
                if authorization != nil || expected == nil {
                    record(.pushRefused(status: 401, path: path, reason: expected == nil ? "no push account configured" : "wrong login"))
                }
                return WebAnswer(status: 401, challenge: checker.challenge())
            }
        case .authenticationURL:
            // Cisco: the phone hands the Basic login to its authenticationURL and goes on only on
            // exactly AUTHORIZED; otherwise it answers CiscoIPPhoneError 4 [V].
            guard let refusal = await ciscoAuthorization(authorization) else { break }
            record(.pushRefused(status: 200, path: path, reason: refusal))
            guard authorization != nil else { return WebAnswer(status: 401, challenge: "Basic realm=\"\(model.webRealm)\"") }
            return WebAnswer(status: 200, body: "<CiscoIPPhoneError Number=\"4\"/>")
        }
        guard let command else {
            record(.pushRefused(status: 404, path: path, reason: "no such command"))
            return WebAnswer(status: 404)
        }
        guard command.method == method else {
            record(.pushRefused(status: 405, path: path, reason: "\(method) not allowed"))
            return WebAnswer(status: 405)
        }
        if command.needsRESTAPI, !config.restAPIEnabled {
            record(.pushRefused(status: 404, path: path, reason: "the REST API is not enabled (apps.restapi.enabled)"))
            return WebAnswer(status: 404)
        }
        if let limit = command.maxBodyBytes, body.count > limit {
            record(.pushRefused(status: 413, path: path, reason: "\(body.count) bytes; at most \(limit)"))
            return WebAnswer(status: 413)
        }
        if let type = command.contentType, contentType?.lowercased().hasPrefix(type) != true {
            record(.pushRefused(status: 415, path: path, reason: "Content-Type \(contentType ?? "none"), expected \(type)"))
            return WebAnswer(status: 415)
        }
        guard command.action == .xml else {
            record(.pushAccepted(command.action, path: target))
            return WebAnswer(status: 200, then: command.action)
        }
        guard let document = Self.document(in: body, carried: command.body) else {
            record(.pushRefused(status: 400, path: path, reason: "the body does not carry a document the way this phone expects"))
            return WebAnswer(status: 400)
        }
        return await take(document, path: target)
    }

    /// The document a push body carries, read the way the family sends it.
    static func document(in body: [UInt8], carried: PushCommand.Body) -> [UInt8]? {
        let text = String(decoding: body, as: UTF8.self)
        switch carried {
        case .none: return nil
        case .raw: return body
        case .xmlEquals:
            guard text.hasPrefix("xml=") else { return nil }
            let rest = String(text.dropFirst(4))
            // Older Aastra firmware sends the document URL-encoded [V]; later ones raw.
            if rest.hasPrefix("%3C") || rest.hasPrefix("%3c") {
                return rest.replacingOccurrences(of: "+", with: " ").removingPercentEncoding.map { Array($0.utf8) }
            }
            return Array(rest.utf8)
        case .formXML:
            for pair in text.split(separator: "&") where pair.hasPrefix("XML=") {
                return String(pair.dropFirst(4)).replacingOccurrences(of: "+", with: " ").removingPercentEncoding.map { Array($0.utf8) }
            }
            return nil
        case .polycomData:
            guard let root = try? XMLParser.parse(body), root.name == "PolycomIPPhone", let data = root.child("Data") else { return nil }
            // The XHTML inside Data, as a document of its own.
            guard let html = data.children.first else { return nil }
            return Array(Self.serialize(html).utf8)
        }
    }

    /// Writes an element back as XML (for a document carried inside another).
    static func serialize(_ element: XMLElement) -> String {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\"", with: "&quot;")
        }
        let attributes = element.attributes.sorted { $0.key < $1.key }.map { " \($0.key)=\"\(escape($0.value))\"" }.joined()
        if element.children.isEmpty { return "<\(element.name)\(attributes)>\(escape(element.text))</\(element.name)>" }
        return "<\(element.name)\(attributes)>" + element.children.map(serialize).joined() + "</\(element.name)>"
    }

    /// Shows a pushed document, or carries out a pushed Execute object (Aastra `Command: Reset`
    /// reboots [V]; a Cisco `ExecuteItem URL` is fetched and shown [V]). A document the browser
    /// refuses is answered 400 [I].
    func take(_ document: [UInt8], path: String) async -> WebAnswer {
        if let root = try? XMLParser.parse(document), root.name.hasSuffix("Execute") {
            let targets = root.children("ExecuteItem").compactMap { $0.attributes["URI"] ?? $0.attributes["URL"] }
            if targets.contains(where: { $0.replacingOccurrences(of: " ", with: "").lowercased() == "command:reset" }) {
                record(.pushAccepted(.reboot, path: path))
                return WebAnswer(status: 200, body: executeAnswer, then: .reboot)
            }
            for url in targets where url.hasPrefix("http://") || url.hasPrefix("https://") {
                try? await open(url)
            }
            record(.pushAccepted(.xml, path: path))
            return WebAnswer(status: 200, body: executeAnswer)
        }
        do {
            screen = try model.dialect.read(document)
        } catch {
            record(.documentRefused(url: "push", reason: error.reason))
            return WebAnswer(status: 400)
        }
        history = []
        selected = 0
        focused = 0
        record(.pushAccepted(.xml, path: path))
        return WebAnswer(status: 200, body: executeAnswer)
    }

    /// What the phone answers a command it carried out [V for Cisco's CiscoIPPhoneResponse; I else].
    private var executeAnswer: String {
        model.dialect.shape == .cisco && model.family == .cisco
            ? "<CiscoIPPhoneResponse><ResponseItem Status=\"0\" Data=\"Success\" URL=\"\"/></CiscoIPPhoneResponse>" : "OK\n"
    }

    /// Cisco: why the login of a command is refused (asked of the config's authenticationURL), if it is.
    private func ciscoAuthorization(_ authorization: String?) async -> String? {
        guard let authorization, authorization.hasPrefix("Basic "), let data = Data(base64Encoded: String(authorization.dropFirst(6))) else {
            return "no Basic login"
        }
        let pair = String(decoding: data, as: UTF8.self)
        guard let colon = pair.firstIndex(of: ":") else { return "a Basic login without a colon" }
        guard let url = config.pushAuthURL, !url.isEmpty else { return "no authenticationURL in the config" }
        let form = [
            ("UserID", String(pair[..<colon])), ("Password", String(pair[pair.index(after: colon)...])), ("devicename", "SEP\(mac.uppercased())"),
        ]
        .map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
        do {
            let response = try await engine.perform(
                CurlRequest(
                    method: "POST",
                    url: url,
                    headers: [("Content-Type", "application/x-www-form-urlencoded")],
                    body: Array(form.utf8),
                    localAddress: options.address,
                    maxResponseBytes: 4096
                )
            )
            // Exactly AUTHORIZED: any other byte and the phone refuses [V].
            return response.status == 200 && response.body == Array("AUTHORIZED".utf8)
                ? nil : "authenticationURL answered \(response.status) \"\(response.text.prefix(40))\""
        } catch {
            return "authenticationURL unreachable: \(error)"
        }
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
        case .pushServers:
            guard !config.pushServers.isEmpty else { return "XML push from \(from): the config names no push server" }
            return config.pushServers.contains(from) ? nil : "XML push from \(from), only \(config.pushServers.joined(separator: ",")) may push"
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
            method: request.method.rawValue,
            target: request.head.path ?? "/",
            authorization: request.headers[.authorization],
            contentType: request.headers[.contentType],
            source: context.remoteAddress?.ipAddress,
            body: Array(received.readableBytesView)
        )
        var headers = HTTPFields()
        if let challenge = answer.challenge { headers[.wwwAuthenticate] = challenge }
        if let action = answer.then {
            Task.detached { await phone.carryOut(action) }
        }
        let body = answer.body ?? (answer.status == 200 ? "OK\n" : "\(answer.status)\n")
        return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: .init(string: body)))
    }
}
