import Foundation
import ServiceLifecycle

/// Runs `work` now and then every `interval` seconds, until the service group shuts down
/// gracefully; once more after that when `finally` (what it writes must not be lost at a stop).
func repeatUntilShutdown(every interval: TimeInterval, finally: Bool = false, _ work: @escaping @Sendable () async -> Void) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            await work()
            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }
    if finally { await work() }
}
