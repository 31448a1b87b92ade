import Foundation
import PhoneSimulator
import Testing

extension SimulatedPhone {
    /// Login/Logout key → (Login, if someone is logged in) → Int/Extl → extension, password → Done.
    func login(_ choice: String, ext: String, password: String) async throws {
        try await key("hotdesk")
        if case .menu(_, let items, _)? = screen, items.contains(where: { $0.prompt == "Logout" }) {
            try await select("Login")
        }
        try await select(choice)
        try type(ext)
        try next()
        try type(password)
        try await press("Done")
    }

    /// Login/Logout key → Logout → Yes.
    func logout() async throws {
        try await key("hotdesk")
        try await select("Logout")
        try await select("Yes, log out")
    }

    /// A `key = value` setting from the phone's own Yealink config file.
    func setting(_ key: String) -> String? {
        guard let body = configFiles["\(mac).cfg"] else { return nil }
        for line in body.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0] == key { return parts[1] }
        }
        return nil
    }

    /// Waits until the phone has applied a pushed reload (or finished a reboot) since event `index`.
    func waitForApply(since index: Int, timeout: Double = 8) async -> Bool {
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
