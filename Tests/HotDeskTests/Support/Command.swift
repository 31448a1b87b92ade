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
        defer { try? FileManager.default.removeItem(at: file) }
        let (executable, rest) = arguments[0].hasPrefix("/") ? (arguments[0], Array(arguments.dropFirst())) : ("/usr/bin/env", arguments)
        let child = try ChildProcess(
            executable,
            rest,
            environment: environment,
            workingDirectory: workingDirectory?.path,
            output: .file(file.path),
            errors: errors ? .file(file.path) : .discard
        )
        // A timer, not a look: past its time the command is killed.
        let watchdog = Task {
            try await Task.sleep(for: killAfter)
            child.signal(SIGKILL)
        }
        let status = await child.wait()
        watchdog.cancel()
        return Result(status: status, output: String(decoding: (try? Data(contentsOf: file)) ?? Data(), as: UTF8.self))
    }
}
