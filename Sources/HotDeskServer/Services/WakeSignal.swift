import Foundation
import Synchronization

/// Wakes whoever waits early: the push worker, or the PBX polls waiting for a NOTIFY (several at
/// once: two PBXs, one per site). A signal wakes every waiter; one with nobody waiting is
/// remembered once, for the next wait.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits whose timer or cancellation came before they started waiting.
        var ended: Set<Int> = []
        var next = 0
    }

    private let state = Mutex(State())

    /// How many wait now (for tests).
    var waiting: Int { state.withLock { $0.waiters.count } }

    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when signalled, after `seconds`, or when the task is cancelled.
    func wait(upTo seconds: TimeInterval) async {
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        let timer = Task { [self] in
            guard (try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))) != nil else { return }
            end(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.ended.remove(id) != nil { return true }
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            end(id)
        }
        timer.cancel()
        // The timer may have ended this wait after it returned: nothing of it is kept.
        await timer.value
        state.withLock { _ = $0.ended.remove(id) }
    }

    /// Ends one wait (its time is up, or its task was cancelled), whether it waits yet or not.
    private func end(_ id: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.ended.insert(id)
            return nil
        }
        waiter?.resume()
    }
}
