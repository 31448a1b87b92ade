import CCurl
import Foundation
import Synchronization

/// Runs HTTP transfers through one `curl_multi` handle on one dedicated thread: many phones at
/// once without a thread per phone, and never a blocking call on Swift's cooperative pool
/// (swift-build-notes.md, pitfall 6). At most `maxTransfers` run at once; the rest wait in order.
public final class CurlEngine: Sendable {
    /// One engine per process is plenty.
    public static let shared = CurlEngine(maxTransfers: 64)

    private struct State {
        var waiting: [Transfer] = []
        var started = false
    }

    private let state = Mutex(State())
    private let multi: MultiHandle
    public let maxTransfers: Int

    public init(maxTransfers: Int) {
        _ = Self.globalInit
        self.maxTransfers = max(1, maxTransfers)
        multi = MultiHandle()
    }

    /// `curl_global_init` once per process; never cleaned up (FoundationNetworking shares libcurl).
    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
        // With CURLOPT_NOSIGNAL curl no longer shields us from SIGPIPE on a closed socket.
        signal(SIGPIPE, SIG_IGN)
    }()

    /// Sends `request` and returns the answer, whatever its status. Throws only when there was
    /// no HTTP answer (refused, timed out, DNS, too large, …).
    public func perform(_ request: CurlRequest) async throws(TransferError) -> CurlResponse {
        let transfer = Transfer(request)
        let result: Result<CurlResponse, TransferError> = await withCheckedContinuation { continuation in
            transfer.continuation = continuation
            let start = state.withLock { state -> Bool in
                state.waiting.append(transfer)
                defer { state.started = true }
                return !state.started
            }
            if start {
                let thread = Thread { [self] in self.run() }
                thread.name = "hotdesk-curl"
                thread.start()
            } else {
                curl_multi_wakeup(multi.handle)
            }
        }
        return try result.get()
    }

    /// The transfer loop. Owns every easy handle; nothing else touches them.
    private func run() {
        var running: [UnsafeMutableRawPointer: Transfer] = [:]
        while true {
            let free = maxTransfers - running.count
            let admitted =
                free > 0
                ? state.withLock { state -> [Transfer] in
                    let taken = Array(state.waiting.prefix(free))
                    state.waiting.removeFirst(taken.count)
                    return taken
                } : []
            for transfer in admitted {
                switch transfer.makeEasyHandle() {
                case .success(let easy):
                    running[easy] = transfer
                    curl_multi_add_handle(multi.handle, easy)
                case .failure(let error):
                    transfer.finish(.failure(error))
                }
            }
            var stillRunning: Int32 = 0
            curl_multi_perform(multi.handle, &stillRunning)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi.handle, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                    let transfer = running.removeValue(forKey: easy)
                else { continue }
                let code = ccurl_msg_result(message)
                curl_multi_remove_handle(multi.handle, easy)
                transfer.finish(transfer.outcome(code: code, easy: easy))
                transfer.release(easy)
            }
            curl_multi_poll(multi.handle, nil, 0, running.isEmpty ? 5000 : 100, nil)
        }
    }
}

/// The multi handle, created once and kept for the life of the process.
private final class MultiHandle: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    init() {
        handle = curl_multi_init()
    }
}

/// One transfer's request, buffers and continuation. Touched by the caller until it is queued,
/// then only by the engine thread.
private final class Transfer: @unchecked Sendable {
    let request: CurlRequest
    var continuation: CheckedContinuation<Result<CurlResponse, TransferError>, Never>?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var body: [UInt8] = []
    var headers: [String: String] = [:]
    var overflow = false

    init(_ request: CurlRequest) {
        self.request = request
    }

    func finish(_ result: Result<CurlResponse, TransferError>) {
        continuation?.resume(returning: result)
        continuation = nil
    }

    func makeEasyHandle() -> Result<UnsafeMutableRawPointer, TransferError> {
        guard let easy = curl_easy_init() else { return .failure(TransferError(kind: .other, message: "curl_easy_init failed")) }
        let me = Unmanaged.passUnretained(self).toOpaque()
        ccurl_setopt_string(easy, CURLOPT_URL, request.url)
        ccurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        ccurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
        ccurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        ccurl_setopt_write(easy, CURLOPT_WRITEFUNCTION, onBody)
        ccurl_setopt_pointer(easy, CURLOPT_WRITEDATA, me)
        ccurl_setopt_write(easy, CURLOPT_HEADERFUNCTION, onHeader)
        ccurl_setopt_pointer(easy, CURLOPT_HEADERDATA, me)
        if let local = request.localAddress { ccurl_setopt_string(easy, CURLOPT_INTERFACE, local) }
        if request.method != "GET", request.method != "POST" { ccurl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method) }
        if let body = request.body ?? (request.method == "POST" ? [] : nil) {
            ccurl_setopt_long(easy, CURLOPT_POST, 1)
            ccurl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            // COPYPOSTFIELDS copies the bytes: the array need not outlive this call. (An empty
            // body still needs a valid pointer.)
            let bytes = body.isEmpty ? [0] : body
            _ = bytes.withUnsafeBufferPointer { buffer in
                ccurl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress))
            }
        }
        if let credentials = request.credentials {
            let scheme: UInt =
                switch credentials.scheme {
                case .any: CCURLAUTH_ANY
                case .basic: CCURLAUTH_BASIC
                case .digest: CCURLAUTH_DIGEST
                }
            ccurl_setopt_long(easy, CURLOPT_HTTPAUTH, Int(bitPattern: scheme))
            ccurl_setopt_string(easy, CURLOPT_USERNAME, credentials.username)
            ccurl_setopt_string(easy, CURLOPT_PASSWORD, credentials.password)
        }
        // "Expect:" stops curl waiting up to a second for 100-continue (pitfall 8).
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            headerList = curl_slist_append(headerList, line)
        }
        ccurl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList)
        return .success(easy)
    }

    func outcome(code: CURLcode, easy: UnsafeMutableRawPointer) -> Result<CurlResponse, TransferError> {
        if code == CURLE_OK {
            var status = 0
            ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            return .success(CurlResponse(status: status, headers: headers, body: body))
        }
        var osErrno = 0
        ccurl_getinfo_long(easy, CURLINFO_OS_ERRNO, &osErrno)
        let text = String(cString: curl_easy_strerror(code))
        let kind: TransferError.Kind
        switch code {
        case CURLE_COULDNT_CONNECT:
            kind = (osErrno == Int(EHOSTUNREACH) || osErrno == Int(ENETUNREACH)) ? .unreachable : .refused
        case CURLE_OPERATION_TIMEDOUT: kind = .timedOut
        case CURLE_COULDNT_RESOLVE_HOST: kind = .dns
        case CURLE_INTERFACE_FAILED: kind = .localAddress
        case CURLE_WRITE_ERROR where overflow: kind = .tooLarge
        default: kind = .other
        }
        let detail = kind == .tooLarge ? "answer longer than \(request.maxResponseBytes) bytes" : text
        return .failure(TransferError(kind: kind, message: detail))
    }

    func release(_ easy: UnsafeMutableRawPointer) {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        headerList = nil
    }
}

/// Appends body bytes; refuses (and so aborts the transfer) past the size limit.
private let onBody: curl_write_callback = { data, size, count, user in
    let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    let n = size * count
    guard transfer.body.count + n <= transfer.request.maxResponseBytes else {
        transfer.overflow = true
        return 0
    }
    if let data { data.withMemoryRebound(to: UInt8.self, capacity: n) { transfer.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) } }
    return n
}

/// Collects `Name: value` header lines; a new status line (after a 401 or 100) starts afresh.
private let onHeader: curl_write_callback = { data, size, count, user in
    let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    let n = size * count
    guard let data else { return n }
    let line = data.withMemoryRebound(to: UInt8.self, capacity: n) { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) }
    if line.hasPrefix("HTTP/") {
        transfer.headers = [:]
        transfer.body = []
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        transfer.headers[name] = value
    }
    return n
}
