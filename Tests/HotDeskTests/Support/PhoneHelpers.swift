import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

extension SimulatedPhone {
    /// A `key = value` setting from the phone's own Yealink config file.
    func setting(_ key: String) -> String? {
        guard let body = configFiles["\(mac).cfg"] else { return nil }
        for line in body.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0] == key { return parts[1] }
        }
        return nil
    }

    /// Logs in and waits until the phone has applied its new config, as a person at the desk
    /// would before pressing the key again (the app token changes at every login and logout).
    func loginApplied(_ menuItem: String, ext: String, password: String) async throws {
        let mark = events.count
        try await login(menuItem, ext: ext, password: password)
        #expect(await waitForApply(since: mark), "the phone did not apply its config after the login of \(ext)")
    }

    /// Waits until the phone has applied a pushed reload (or finished a reboot) since event `index`.
    /// Up to 20 s: it returns as soon as the phone has; a PostgreSQL pass on a busy 2-core machine
    /// once took more than 8 s between a login and the phone's reload.
    /// Logs out on the phone and waits until it applied its logged-out config.
    func logoutApplied() async throws {
        let mark = events.count
        try await logout()
        #expect(await waitForApply(since: mark), "the phone did not apply its config after its logout")
    }

    func waitForApply(since index: Int, timeout: Double = 20) async -> Bool {
        await waitForEvents(timeout: timeout) { events in
            let since = events.dropFirst(index)
            return since.contains(.reloaded) || since.contains(.booted)
        }
    }

    /// The title of the current screen, or "" on the idle screen.
    var title: String { screen?.title ?? "" }

    var menuLabels: [String] {
        if case .menu(_, let items, _)? = screen { return items.map(\.prompt) }
        return []
    }
}

/// Polls `condition` every 50 ms for up to `timeout` seconds.
func eventually(timeout: Double = 8, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

extension TestServer {
    /// A phone's newest push job.
    func job(_ mac: String) async throws -> PushJob? {
        try await store.pushJobs(state: nil, mac: MACAddress(mac), limit: 1).first
    }

    /// Waits (up to `timeout` s) until the phone's newest job satisfies `done`; returns that job.
    func waitForJob(_ mac: String, timeout: Double = 10, _ done: @escaping (PushJob) -> Bool) async throws -> PushJob? {
        _ = try await eventually(timeout: timeout) { try await job(mac).map(done) ?? false }
        return try await job(mac)
    }
}

/// `directory` with `lines` added to its settings (after `push_port`), e.g. `"  push_from: 127.0.0.2\n"`.
func withSettings(_ directory: String, _ lines: String) -> String {
    directory.replacingOccurrences(of: "  push_port: {PUSH_PORT}\n", with: "  push_port: {PUSH_PORT}\n" + lines)
}
