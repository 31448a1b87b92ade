import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A read-only TFTP server (RFC 1350, with the options of RFC 2347-2349: `blksize`, `tsize`,
/// `timeout`). Each read is a transfer of its own from a new port (the server's transfer ID),
/// one block at a time: sent, then sent again until it is acknowledged or the retries are spent.
/// What a file holds is `fetch`'s to say, for the address that asked; writes are refused.
public final class TFTPServer: Sendable {
    /// What a read gets: the file, or the error to answer with.
    public typealias Fetch = @Sendable (_ file: String, _ peer: SocketAddress) async -> Result<[UInt8], TFTPError>

    public let host: String
    /// 69 is TFTP's; 0 takes a free port (`run`'s `onBound` says which).
    public let port: Int
    /// Seconds before a block is sent again (a client's `timeout` option replaces it, 1-255).
    public let timeout: Double
    /// Times a block is sent again before the transfer is given up.
    public let retries: Int
    /// Transfers at once, in all and from one address (a TFTP server answers any address that
    /// asks, so a flood of requests must not become a flood of transfers).
    public let maxTransfers: Int
    public let maxTransfersPerAddress: Int
    /// The largest block a client may negotiate: an Ethernet frame's worth (RFC 2348 lets the
    /// server answer with less than was asked).
    public static let maxBlockSize = 1468

    let fetch: Fetch
    let logger: Logger
    private let active = Mutex<[String: Int]>([:])

    public init(
        host: String,
        port: Int,
        timeout: Double = 1,
        retries: Int = 5,
        maxTransfers: Int = 128,
        maxTransfersPerAddress: Int = 4,
        logger: Logger,
        fetch: @escaping Fetch
    ) {
        self.host = host
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.maxTransfers = maxTransfers
        self.maxTransfersPerAddress = maxTransfersPerAddress
        self.logger = logger
        self.fetch = fetch
    }

    typealias Datagrams = NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>

    /// Serves until the task is cancelled. `onBound` gets the port it listens on. A listening
    /// socket that fails (an error the system reports on it) is opened again on the same port:
    /// nothing a client sends stops the server.
    public func run(onBound: @Sendable (Int) async -> Void = { _ in }) async throws {
        var port = self.port
        var first = true
        while !Task.isCancelled {
            let listener = try await bind(port: port)
            port = listener.channel.localAddress?.port ?? port
            if first { await onBound(port) }
            first = false
            logger.notice("TFTP serving", metadata: ["host": "\(host)", "port": "\(port)"])
            do {
                try await serve(listener)
                if Task.isCancelled { return }
                logger.error("TFTP socket closed: listening again")
            } catch is CancellationError {
                return
            } catch {
                logger.error("TFTP socket failed: listening again", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Reads requests until the socket ends; each read is a transfer of its own.
    private func serve(_ listener: Datagrams) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { inbound, outbound in
                /// An answer that cannot be sent (an address that cannot be reached) is dropped.
                func answer(_ error: TFTPError, to peer: SocketAddress) async {
                    do { try await outbound.write(reply(.error(error), to: peer)) } catch {
                        logger.debug("TFTP answer not sent", metadata: ["peer": "\(peer.ipAddress ?? "?")", "error": "\(error)"])
                    }
                }
                for try await envelope in inbound {
                    let peer = envelope.remoteAddress
                    switch TFTPPacket(Array(buffer: envelope.data)) {
                    case .readRequest(let file, let mode, let options)?:
                        guard let ticket = admit(peer) else {
                            await answer(.notDefined("server busy: try again"), to: peer)
                            continue
                        }
                        group.addTask {
                            defer { self.release(ticket) }
                            await self.transfer(file: file, mode: mode, options: options, to: peer)
                        }
                    case .writeRequest?: await answer(.accessViolation("this server only serves files"), to: peer)
                    case .some, nil: await answer(.illegalOperation("expected a read request"), to: peer)
                    }
                }
            }
        }
    }

    private func bind(port: Int) async throws -> Datagrams {
        try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try Datagrams(wrappingChannelSynchronously: channel) }
            }
    }

    private func reply(_ packet: TFTPPacket, to peer: SocketAddress) -> AddressedEnvelope<ByteBuffer> {
        AddressedEnvelope(remoteAddress: peer, data: ByteBuffer(bytes: packet.bytes))
    }

    // MARK: admission

    private func admit(_ peer: SocketAddress) -> String? {
        let key = peer.ipAddress ?? "?"
        return active.withLock { counts in
            guard counts.values.reduce(0, +) < maxTransfers, counts[key, default: 0] < maxTransfersPerAddress else { return nil }
            counts[key, default: 0] += 1
            return key
        }
    }

    private func release(_ key: String) {
        active.withLock { counts in
            counts[key, default: 1] -= 1
            if counts[key] == 0 { counts[key] = nil }
        }
    }

    // MARK: one transfer

    /// What a request's options come to: the block size, the retransmission timeout, and the
    /// options to acknowledge (none: no `OACK`, the first block answers the request).
    struct Negotiated: Equatable {
        var blockSize = 512
        var timeout: Double
        var acknowledged: [TFTPPacket.Option] = []

        init(_ options: [TFTPPacket.Option], size: Int, timeout: Double) {
            self.timeout = timeout
            for option in options {
                switch option.name {
                case "blksize":
                    guard let asked = Int(option.value), asked >= 8 else { continue }
                    blockSize = min(asked, TFTPServer.maxBlockSize)
                    acknowledged.append(.init("blksize", String(blockSize)))
                case "tsize":
                    acknowledged.append(.init("tsize", String(size)))
                case "timeout":
                    guard let seconds = Int(option.value), (1...255).contains(seconds) else { continue }
                    self.timeout = Double(seconds)
                    acknowledged.append(.init("timeout", String(seconds)))
                default: continue
                }
            }
        }
    }

    private func transfer(file: String, mode: String, options: [TFTPPacket.Option], to peer: SocketAddress) async {
        do {
            let channel = try await bind(port: 0)
            try await channel.executeThenClose { inbound, outbound in
                // One reader for the transfer's life: a wait for an ACK that times out cancels no read.
                let mailbox = Mailbox()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { mailbox.close() }
                        for try await envelope in inbound { mailbox.put(envelope) }
                    }
                    var session = Session(peer: peer, mailbox: mailbox, outbound: outbound, logger: logger)
                    try await send(file: file, mode: mode, options: options, session: &session)
                    group.cancelAll()
                }
            }
        } catch {
            logger.warning("TFTP transfer failed", metadata: ["file": "\(file.prefix(64))", "peer": "\(peer.ipAddress ?? "?")", "error": "\(error)"])
        }
    }

    /// The file, block by block, after the options' acknowledgement if any were accepted.
    private func send(file: String, mode: String, options: [TFTPPacket.Option], session: inout Session) async throws {
        guard mode == "octet" || mode == "netascii" else {
            return try await session.send(.error(.illegalOperation("mode \(mode.prefix(20)) is not octet or netascii")))
        }
        let name = file.hasPrefix("/") ? String(file.dropFirst()) : file
        let body: [UInt8]
        switch await fetch(name, session.peer) {
        case .failure(let error): return try await session.send(.error(error))
        case .success(let bytes): body = mode == "netascii" ? NetASCII.encode(bytes) : bytes
        }
        let terms = Negotiated(options, size: body.count, timeout: timeout)
        if !terms.acknowledged.isEmpty {
            guard try await session.exchange(.optionAck(terms.acknowledged), expecting: 0, timeout: terms.timeout, retries: retries) else { return }
        }
        var block: UInt16 = 1
        var offset = 0
        while true {
            let end = min(offset + terms.blockSize, body.count)
            let packet = TFTPPacket.data(block: block, payload: Array(body[offset..<end]))
            guard try await session.exchange(packet, expecting: block, timeout: terms.timeout, retries: retries) else { return }
            // A block shorter than the block size (possibly empty) ends the file.
            if end - offset < terms.blockSize { break }
            offset = end
            block &+= 1  // past 65535 it wraps to 0, as clients expect
        }
        logger.info("TFTP file sent", metadata: ["file": "\(name.prefix(64))", "peer": "\(session.peer.ipAddress ?? "?")", "bytes": "\(body.count)"])
    }

    /// One transfer's socket: what it sends to its client, and the acknowledgements it waits for.
    struct Session {
        let peer: SocketAddress
        let mailbox: Mailbox
        let outbound: NIOAsyncChannelOutboundWriter<AddressedEnvelope<ByteBuffer>>
        let logger: Logger

        func send(_ packet: TFTPPacket) async throws {
            try await outbound.write(AddressedEnvelope(remoteAddress: peer, data: ByteBuffer(bytes: packet.bytes)))
        }

        /// Sends `packet` until `ACK expecting` comes back; false when the client gave up (an
        /// `ERROR`) or never answered.
        func exchange(_ packet: TFTPPacket, expecting block: UInt16, timeout: Double, retries: Int) async throws -> Bool {
            for _ in 0...retries {
                try await send(packet)
                let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
                while let envelope = await mailbox.take(before: deadline) {
                    // Another address or port is not this transfer's client (RFC 1350's TID).
                    guard envelope.remoteAddress == peer else {
                        let error = TFTPPacket.error(.unknownTransferID).bytes
                        try await outbound.write(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: error)))
                        continue
                    }
                    switch TFTPPacket(Array(buffer: envelope.data)) {
                    case .ack(let acked)? where acked == block: return true
                    case .error(let error)?:
                        logger.info("TFTP client ended the transfer", metadata: ["code": "\(error.code)", "message": "\(error.message.prefix(80))"])
                        return false
                    default: continue  // an older block's ACK again: not sent again (RFC 1123's Sorcerer's Apprentice)
                    }
                }
                if mailbox.isClosed { return false }
            }
            return false
        }
    }

    /// The datagrams a transfer's socket received, taken one at a time with a deadline.
    final class Mailbox: Sendable {
        private struct State {
            var queue: [AddressedEnvelope<ByteBuffer>] = []
            var waiter: (id: Int, continuation: CheckedContinuation<AddressedEnvelope<ByteBuffer>?, Never>)?
            var nextID = 0
            var closed = false
        }
        private let state = Mutex(State())

        func put(_ envelope: AddressedEnvelope<ByteBuffer>) {
            let waiter = state.withLock { s -> CheckedContinuation<AddressedEnvelope<ByteBuffer>?, Never>? in
                guard let waiter = s.waiter else {
                    s.queue.append(envelope)
                    return nil
                }
                s.waiter = nil
                return waiter.continuation
            }
            waiter?.resume(returning: envelope)
        }

        func close() {
            let waiter = state.withLock { s in
                s.closed = true
                defer { s.waiter = nil }
                return s.waiter?.continuation
            }
            waiter?.resume(returning: nil)
        }

        var isClosed: Bool { state.withLock { $0.closed } }

        /// The next datagram, or nil once `deadline` passed (or the socket closed).
        func take(before deadline: ContinuousClock.Instant) async -> AddressedEnvelope<ByteBuffer>? {
            await withCheckedContinuation { continuation in
                let id = state.withLock { s -> Int? in
                    if !s.queue.isEmpty || s.closed { return nil }
                    s.nextID += 1
                    s.waiter = (s.nextID, continuation)
                    return s.nextID
                }
                guard let id else {
                    let ready = state.withLock { s in s.queue.isEmpty ? nil : s.queue.removeFirst() }
                    return continuation.resume(returning: ready)
                }
                Task {
                    try? await Task.sleep(until: deadline)
                    let expired = self.state.withLock { s -> CheckedContinuation<AddressedEnvelope<ByteBuffer>?, Never>? in
                        guard s.waiter?.id == id else { return nil }
                        defer { s.waiter = nil }
                        return s.waiter?.continuation
                    }
                    expired?.resume(returning: nil)
                }
            }
        }
    }
}
