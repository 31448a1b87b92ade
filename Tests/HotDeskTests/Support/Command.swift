import Foundation
import Synchronization

/// Runs a program (openssl, curl, baresip) for a test and waits for it without holding a thread:
/// the output goes to a file, read once the program has ended. (Blocking a thread of Swift's
/// concurrency pool in `waitUntilExit`, while the server under test needs that pool, stalled the
/// suite on a 2-core machine; `readDataToEndOfFile` traps on an interrupted read: signal 4 in
/// `TLSTests` with "Interrupted system call".)
enum Command {
    struct Result: Sendable {
        let status: Int32
        /// Standard output, and standard error when `errors` was asked for.
        let output: String
    }

    /// `arguments[0]` is looked up on PATH (`/usr/bin/env`), unless it is a path. `killAfter`: a
    /// command expected to end by itself is killed (SIGKILL, status 9) if it has not by then, so
    /// that a regression (or a hung tool) fails the test instead of hanging the suite; no test
    /// command takes minutes, so two is the default.
    static func run(
        _ arguments: [String],
        environment: [String: String]? = nil,
        errors: Bool = false,
        directory: URL = FileManager.default.temporaryDirectory,
        workingDirectory: URL? = nil,
        killAfter: Duration = .seconds(120)
    ) async throws -> Result {
        let file = directory.appendingPathComponent("command-\(UUID().uuidString).out")
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        defer { try? FileManager.default.removeItem(at: file) }
        let output = try FileHandle(forWritingTo: file)
        defer { try? output.close() }
        let process = Process()
        if arguments[0].hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
        }
        if let environment { process.environment = environment }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardOutput = output
        process.standardError = errors ? output : FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let ending = Ending()
        process.terminationHandler = { ending.end($0.terminationStatus) }
        var attempt = 0
        while true {
            do {
                try process.run()
                break
            } catch let error as NSError where error.domain == NSPOSIXErrorDomain && error.code == Int(EINTR) && attempt < 5 {
                attempt += 1
            }
        }
        // A timer, not a look: past its time the command is killed, and its end reported here
        // should Foundation's handler never report it (the first report wins).
        let watchdog = Task { [process] in
            try await Task.sleep(for: killAfter)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            _ = await eventually(timeout: 10) { !process.isRunning }
            ending.end(process.isRunning ? -1 : process.terminationStatus)
        }
        let status = await ending.wait()
        watchdog.cancel()
        return Result(status: status, output: String(decoding: (try? Data(contentsOf: file)) ?? Data(), as: UTF8.self))
    }

    /// The end of a process, reported once, to one waiter, whichever comes first.
    private final class Ending: Sendable {
        private let state = Mutex<(status: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))

        func end(_ status: Int32) {
            let waiter = state.withLock { state -> CheckedContinuation<Int32, Never>? in
                guard state.status == nil else { return nil }
                state.status = status
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: status)
        }

        func wait() async -> Int32 {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Int32? in
                    if let status = state.status { return status }
                    state.waiter = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        }
    }
}
