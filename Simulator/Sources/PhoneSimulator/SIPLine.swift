import Foundation
import NIOCore
import NIOPosix

/// The phone's SIP side over UDP: it registers line 1 with the registrar its config names (Digest,
/// refreshed before it expires), and hands every request it receives (`NOTIFY`, `INVITE`,
/// `OPTIONS`) to the phone, which decides the answer. One socket on the phone's own address.
actor SIPLine {
    /// What line 1 registers as, from the applied config.
    struct Account: Hashable, Sendable {
        var user: String
        var password: String
        var host: String
        var port: Int

        var aor: String { "sip:\(user)@\(host)" }
    }

    /// The phone's answer to a request, and what it does once the answer is sent.
    struct Answer: Sendable {
        var status: Int
        var reason: String
        var then: (@Sendable () async -> Void)? = nil
    }

    let address: String
    /// Behind NAT: the `host:port` written in Via and Contact instead of the socket's own.
    let lanAddress: String?
    let userAgent: String
    private let answer: @Sendable (SIPMessage, String) async -> Answer
    private var channel: (any Channel)?
    private(set) var port = 0
    /// Transactions waiting for their final response, by branch.
    private var waiting: [String: CheckedContinuation<SIPMessage?, Never>] = [:]
    private(set) var registered: Account?
    private var refresh: Task<Void, Never>?
    private let callID = UUID().uuidString.lowercased()
    private let fromTag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    private var sequence = 0

    /// `answer(request, source address)`.
    init(address: String, lanAddress: String? = nil, userAgent: String, answer: @escaping @Sendable (SIPMessage, String) async -> Answer) {
        self.address = address
        self.lanAddress = lanAddress
        self.userAgent = userAgent
        self.answer = answer
    }

    func start() async throws {
        guard channel == nil else { return }
        let line = self
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Inbound { text, source in Task { await line.received(text, from: source) } })
                }
            }
            // The port it had before a reboot, as a phone keeps 5060: the PBX's contact stays good.
            .bind(host: address, port: port).get()
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    /// Where the phone says it is in Via and Contact: its socket, or its LAN address behind NAT.
    private var written: String { lanAddress ?? "\(address):\(port)" }

    /// Power off: no unregistration (a phone that loses power does not send one).
    func stop() async {
        refresh?.cancel()
        refresh = nil
        registered = nil
        for (_, waiter) in waiting { waiter.resume(returning: nil) }
        waiting = [:]
        try? await channel?.close()
        channel = nil
    }

    /// Registers `account` (unregistering the one before, if it differs); `nil`: only
    /// unregisters. Returns the final status of the REGISTER that mattered (0: no answer).
    @discardableResult
    func register(_ account: Account?) async -> Int {
        if let old = registered, old != account {
            refresh?.cancel()
            registered = nil
            _ = await send(register: old, expires: 0)
        }
        guard let account else { return 200 }
        if registered == account { return 200 }
        let status = await send(register: account, expires: 60)
        if status == 200 {
            registered = account
            refresh = Task { [weak self] in
                while !Task.isCancelled {
                    guard (try? await Task.sleep(for: .seconds(45))) != nil else { return }
                    _ = await self?.send(register: account, expires: 60)
                }
            }
        }
        return status
    }

    /// One REGISTER, answered once more with credentials when challenged.
    private func send(register account: Account, expires: Int) async -> Int {
        await authenticated("REGISTER", uri: "sip:\(account.host):\(account.port)", account: account) { cseq in
            [
                ("Max-Forwards", "70"), ("From", "<\(account.aor)>;tag=\(fromTag)"), ("To", "<\(account.aor)>"), ("Call-ID", callID),
                ("CSeq", "\(cseq) REGISTER"), ("Contact", "<sip:\(account.user)@\(written)>"), ("Expires", "\(expires)"),
                ("User-Agent", userAgent),
            ]
        }
    }

    /// A call to `number` through the PBX `account` is registered with (a number dialled on
    /// the phone's keypad), answered once more with credentials when challenged. No media: the
    /// call is over at its final answer, whose status is returned (0: none). The PBX's
    /// retransmissions of a final answer are ignored (no ACK is sent).
    func invite(_ number: String, account: Account) async -> Int {
        let (callID, tag) = (UUID().uuidString.lowercased(), String(UInt32.random(in: 0...UInt32.max), radix: 16))
        return await authenticated("INVITE", uri: "sip:\(number)@\(account.host):\(account.port)", account: account) { cseq in
            [
                ("Max-Forwards", "70"), ("From", "<\(account.aor)>;tag=\(tag)"), ("To", "<sip:\(number)@\(account.host)>"), ("Call-ID", callID),
                ("CSeq", "\(cseq) INVITE"), ("Contact", "<sip:\(account.user)@\(written)>"), ("User-Agent", userAgent),
            ]
        }
    }

    /// `method` to `uri` at the account's registrar, sent once more with credentials when the
    /// answer challenges it (401 `WWW-Authenticate`, 407 `Proxy-Authenticate`); the final
    /// answer's status (0: none). `headers(cseq)`: the request's headers for each attempt.
    private func authenticated(
        _ method: String,
        uri: String,
        account: Account,
        headers: (Int) -> [(name: String, value: String)]
    ) async -> Int {
        var authorization: (name: String, value: String)?
        for _ in 0..<2 {
            sequence += 1
            let request = SIPMessage(startLine: "\(method) \(uri) SIP/2.0", headers: headers(sequence) + (authorization.map { [$0] } ?? []))
            guard let response = await transaction(request, to: account.host, port: account.port), let status = response.status else { return 0 }
            let asked = status == 401 ? ("WWW-Authenticate", "Authorization") : ("Proxy-Authenticate", "Proxy-Authorization")
            guard status == 401 || status == 407, authorization == nil, let challenge = response.header(asked.0),
                let answer = SIPDigest.authorization(challenge: challenge, method: method, uri: uri, user: account.user, password: account.password)
            else { return status }
            authorization = (asked.1, answer)
        }
        return 401
    }

    /// Sends `request` with a new branch, again at 0.5, 1, 2 and 4 s until a final answer
    /// (RFC 3261 timer E), for at most 16 s; `nil` without one.
    private func transaction(_ request: SIPMessage, to host: String, port: Int) async -> SIPMessage? {
        guard let channel, let target = try? SocketAddress(ipAddress: host, port: port) else { return nil }
        let branch = "z9hG4bK" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        var message = request
        message.headers.insert(("Via", "SIP/2.0/UDP \(written);branch=\(branch);rport"), at: 0)
        let bytes = message.text
        let retransmit = Task {
            for wait in [0.5, 1, 2, 4, 4, 4] {
                Self.write(bytes, to: target, on: channel)
                guard (try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))) != nil else { return }
            }
            self.finish(branch, with: nil)
        }
        let response = await withCheckedContinuation { waiting[branch] = $0 }
        retransmit.cancel()
        return response
    }

    private func finish(_ branch: String, with response: SIPMessage?) {
        waiting.removeValue(forKey: branch)?.resume(returning: response)
    }

    private static func write(_ text: String, to target: SocketAddress, on channel: any Channel) {
        let buffer = channel.allocator.buffer(string: text)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: buffer), promise: nil)
    }

    private func received(_ text: String, from source: SocketAddress) async {
        guard let message = SIPMessage.parse(text) else { return }
        if let status = message.status {
            guard status >= 200, let via = message.header("via"), let branch = SIPMessage.parameter("branch", of: via) else { return }
            finish(branch, with: message)
            return
        }
        guard message.method != "ACK", let channel else { return }
        let host = source.ipAddress ?? ""
        let answer = await answer(message, host)
        let response = message.response(answer.status, answer.reason, toTag: fromTag)
        // Answered where it came from (RFC 3581: the source port, whatever the Via says).
        Self.write(response.text, to: source, on: channel)
        if let then = answer.then { Task { await then() } }
    }
}

/// Hands each datagram's text and sender to the line.
private final class Inbound: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let received: @Sendable (String, SocketAddress) -> Void

    init(_ received: @escaping @Sendable (String, SocketAddress) -> Void) { self.received = received }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        received(String(buffer: envelope.data), envelope.remoteAddress)
    }
}
