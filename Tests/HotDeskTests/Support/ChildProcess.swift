import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, in place of Foundation's `Process`: on Linux its
/// `run()` reads past the end of a buffer while it lists /proc/self/fd (swift-corelibs-foundation
/// pull request 5472, fixed after Swift 6.3.1) and crashed a full test pass here with SIGSEGV in
/// `memmove` under `Process.run`. The child gets /dev/null as input, its outputs appended to a
/// file or discarded, no descriptor of ours beyond them, default signal handling, and is reaped
/// by a thread of its own, so its end is always known.
final class ChildProcess: Sendable {
    /// Where a child's output goes.
    enum Output: Sendable, Equatable {
        case discard
        /// Appended to this file (made when missing).
        case file(String)
    }

    let pid: pid_t
    private let ended = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

    /// Starts `executable` (a full path) with `arguments`. `environment`: the child's whole
    /// environment (`nil`: this process's). `workingDirectory`: where it starts.
    init(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        output: Output = .discard,
        errors: Output = .discard
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var opened: [Int32] = []
        defer { for fd in opened { close(fd) } }
        func target(_ output: Output) throws -> Int32? {
            guard case .file(let path) = output else { return nil }
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw TestFailure("cannot open \(path) for a child's output: errno \(errno)") }
            opened.append(fd)
            return fd
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let out = try target(output)
        let err = errors == output ? out : try target(errors)
        for (fd, stream) in [(out, Int32(1)), (err, Int32(2))] {
            if let fd {
                posix_spawn_file_actions_adddup2(&actions, fd, stream)
            } else {
                posix_spawn_file_actions_addopen(&actions, stream, "/dev/null", O_WRONLY, 0)
            }
        }
        if let workingDirectory { Self.addChdir(&actions, workingDirectory) }
        Self.addCloseFrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        // Signals this process ignores (SIGPIPE, for NIO) would stay ignored in the child.
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for pointer in envp ?? [] { free(pointer) } }
        var spawned: pid_t = 0
        let result = argv.withUnsafeBufferPointer { argvBuffer in
            if let envp {
                return envp.withUnsafeBufferPointer { envBuffer in
                    posix_spawn(&spawned, executable, &actions, &attributes, argvBuffer.baseAddress!, envBuffer.baseAddress!)
                }
            }
            return posix_spawn(&spawned, executable, &actions, &attributes, argvBuffer.baseAddress!, environ)
        }
        guard result == 0 else { throw TestFailure("cannot start \(executable): \(String(cString: strerror(result)))") }
        pid = spawned
        let pid = spawned
        let reaper = Thread { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1, errno == EINTR {}
            // Exited: its code; killed by a signal: 128 + the signal, as a shell says.
            finish(status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
        }
        reaper.start()
    }

    private func finish(_ status: Int32) {
        let waiters = ended.withLock { state -> [CheckedContinuation<Int32, Never>] in
            state.status = status
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: status) }
    }

    var isRunning: Bool { ended.withLock { $0.status == nil } }

    /// The exit code (128 + the signal for a child killed by one), once it has ended.
    var status: Int32? { ended.withLock { $0.status } }

    /// Waits for the end; returns `status`.
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status = ended.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// Sends `signal` while the child runs (never to a reaped pid another process may reuse).
    func signal(_ signal: Int32) {
        ended.withLock { state in
            if state.status == nil { _ = kill(pid, signal) }
        }
    }

    // glibc's GNU extensions (2.29 and 2.34), which Swift's Glibc module does not declare.
    private typealias Chdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private static func symbol<T>(_ name: String, as type: T.Type) -> T {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { fatalError("glibc has no \(name)") }
        return unsafeBitCast(address, to: type)
    }

    private static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String) {
        _ = symbol("posix_spawn_file_actions_addchdir_np", as: Chdir.self)(actions, path)
    }

    private static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) {
        _ = symbol("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self)(actions, lowest)
    }
}
