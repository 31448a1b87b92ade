import Foundation

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
    /// that a regression fails the test instead of hanging the suite.
    static func run(
        _ arguments: [String],
        environment: [String: String]? = nil,
        errors: Bool = false,
        directory: URL = FileManager.default.temporaryDirectory,
        workingDirectory: URL? = nil,
        killAfter: Duration? = nil
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
        let watchdog = killAfter.map { limit in
            Task { [process] in
                try await Task.sleep(for: limit)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
        }
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            var attempt = 0
            while true {
                do {
                    try process.run()
                    return
                } catch let error as NSError where error.domain == NSPOSIXErrorDomain && error.code == Int(EINTR) && attempt < 5 {
                    attempt += 1
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
            }
        }
        watchdog?.cancel()
        return Result(status: status, output: String(decoding: (try? Data(contentsOf: file)) ?? Data(), as: UTF8.self))
    }
}
