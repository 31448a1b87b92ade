import Foundation
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Limits on the server's connections, so that clients that open sockets and send nothing (or
/// send headers or a body a byte at a time) cannot take every file descriptor.
public struct ConnectionLimits: Sendable {
    /// Open connections at most, those inside a request included. Past it, the connection that
    /// has waited longest for a request is closed to make room (an idle socket is cheaper to lose
    /// than a phone's request); when every connection is inside a request, the new one is closed.
    public var maxConnections: Int
    /// A connection with no request in progress for this long is closed; this is also the
    /// time a client has to send a whole request head.
    public var idleTimeout: TimeAmount
    /// The time a client has to send a request's body once its head has arrived (every route;
    /// the largest body HotDesk takes is 64 KB, so this is also a floor on the rate).
    public var bodyTimeout: TimeAmount

    public init(maxConnections: Int = ConnectionLimits.defaultMax, idleTimeout: TimeAmount = .seconds(20), bodyTimeout: TimeAmount? = nil) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout ?? idleTimeout
    }

    /// 10,000, or less when the process may not open that many files (a margin is kept for the
    /// database, logs and pushes).
    public static var defaultMax: Int { max(64, min(10_000, FileLimit.current - 256)) }
}

/// The process's open-file limit: raised to its hard limit at start (servers do), read after.
public enum FileLimit {
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur == rlim_t.max || limit.rlim_cur > 1_000_000 ? 1_000_000 : Int(limit.rlim_cur)
    }

    /// Raises the soft limit to the hard one; returns the new soft limit.
    @discardableResult
    public static func raise() -> Int {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return current
    }
}

/// Every open connection, and those waiting for a request in the order they started waiting.
public final class ConnectionBook: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        /// Connections waiting for a request, oldest first (entries of busy or closed ones are
        /// skipped lazily).
        var waiting: [(id: ObjectIdentifier, turn: Int)] = []
        var waitingHead = 0
        var turnOf: [ObjectIdentifier: Int] = [:]
        var nextTurn = 0
    }

    let limit: Int
    private let state = Mutex(State())

    public init(limit: Int) { self.limit = limit }

    public var count: Int { state.withLock { $0.open.count } }

    /// Entries in the waiting queue, stale ones included: stays within a small multiple of the
    /// open connections however many requests they make.
    public var queueLength: Int { state.withLock { $0.waiting.count - $0.waitingHead } }

    /// A new connection; returns the one to close to make room, if any: the one that has waited
    /// longest for a request, or — when every other connection is inside a request — this one.
    public func opened(_ channel: any Channel) -> (any Channel)? {
        state.withLock { s in
            let id = ObjectIdentifier(channel)
            s.open[id] = channel
            Self.wait(id, &s)
            guard s.open.count > limit else { return nil }
            while s.waitingHead < s.waiting.count {
                let (candidate, turn) = s.waiting[s.waitingHead]
                s.waitingHead += 1
                guard candidate != id, s.turnOf[candidate] == turn, let victim = s.open[candidate] else { continue }
                s.turnOf[candidate] = nil
                Self.compact(&s)
                return victim
            }
            Self.compact(&s)
            // Nothing to evict: the newcomer is refused (a flood of requests that never end
            // would otherwise take every descriptor).
            s.open[id] = nil
            s.turnOf[id] = nil
            return channel
        }
    }

    public func requestStarted(_ channel: any Channel) { state.withLock { s in s.turnOf[ObjectIdentifier(channel)] = nil } }

    public func requestDone(_ channel: any Channel) {
        state.withLock { s in
            let id = ObjectIdentifier(channel)
            if s.open[id] != nil { Self.wait(id, &s) }
        }
    }

    public func closed(_ channel: any Channel) {
        state.withLock { s in
            let id = ObjectIdentifier(channel)
            s.open[id] = nil
            s.turnOf[id] = nil
        }
    }

    /// Every request done appends an entry (its connection's older one goes stale): the queue
    /// is compacted whenever stale entries are most of it, or a keep-alive client would grow it
    /// by one entry per request for ever.
    private static func wait(_ id: ObjectIdentifier, _ s: inout State) {
        s.nextTurn += 1
        s.turnOf[id] = s.nextTurn
        s.waiting.append((id, s.nextTurn))
        if s.waiting.count - s.waitingHead > 2 * s.turnOf.count + 1024 { compact(&s, always: true) }
    }

    /// Drops consumed and stale entries (`always`, or once consumed ones are most of the queue).
    private static func compact(_ s: inout State, always: Bool = false) {
        guard always || (s.waitingHead > 1024 && s.waitingHead * 2 > s.waiting.count) else { return }
        s.waiting = s.waiting[s.waitingHead...].filter { s.turnOf[$0.id] == $0.turn }
        s.waitingHead = 0
    }
}

/// Tells the book when its connection opens, starts and ends requests, and closes.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let book: ConnectionBook
    let bodyTimeout: TimeAmount
    private var registered = false
    /// Closes the connection if the request's body has not all arrived in time.
    private var bodyDeadline: Scheduled<Void>?
    /// A request head arrived and its end has not.
    private var awaitingEnd = false

    init(book: ConnectionBook, bodyTimeout: TimeAmount = .seconds(20)) {
        self.book = book
        self.bodyTimeout = bodyTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { register(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        register(context)
        context.fireChannelActive()
    }

    private func register(_ context: ChannelHandlerContext) {
        guard !registered else { return }
        registered = true
        book.opened(context.channel)?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        bodyDeadline?.cancel()
        book.closed(context.channel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        bodyDeadline?.cancel()
        book.closed(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            book.requestStarted(context.channel)
            awaitingEnd = true
        case .end:
            awaitingEnd = false
            bodyDeadline?.cancel()
            bodyDeadline = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    /// A request whose end did not come with its head (a body still to come) gets a deadline; a
    /// GET, whose head and end come in one read, never costs a timer.
    func channelReadComplete(context: ChannelHandlerContext) {
        if awaitingEnd, bodyDeadline == nil {
            let channel = context.channel
            bodyDeadline = context.eventLoop.scheduleTask(in: bodyTimeout) { channel.close(promise: nil) }
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { book.requestDone(context.channel) }
        context.write(data, promise: promise)
    }
}
