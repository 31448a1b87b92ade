import Foundation

/// What a person does at the phone, key by key, in any family's browser.
extension SimulatedPhone {
    /// Login/Logout key → (Login, when the menu offers Logout too) → `choice` → extension and
    /// password → Done. On a phone that asks one field per screen (Snom): the extension, OK, then
    /// the password, OK.
    public func login(_ choice: String, ext: String, password: String) async throws {
        try await key("hotdesk")
        if case .menu(_, let items, _)? = screen, items.contains(where: { $0.prompt == "Logout" }) {
            try await select("Login")
        }
        try await select(choice)
        guard case .input(_, _, let fields, _)? = screen else { return }
        // A personal phone may offer the extension already: kept when it is theirs, else cleared.
        if fields.first?.value != ext {
            try clear()
            try type(ext)
        }
        if fields.count >= 2 {
            try next()
            try type(password)
            try await submit()
        } else {
            try await submit()
            guard case .input? = screen else { return }
            try type(password)
            try await submit()
        }
    }

    /// Sends the form: its "Done" soft key where the document has one, else the OK key.
    public func submit() async throws {
        if softKeys.contains(where: { $0.label == "Done" }) { try await press("Done") } else { try await key("ok") }
    }

    /// Login/Logout key → Change PIN → the current PIN, the new one, the new one again → Done.
    /// On a phone that asks one field per screen (Snom): each, then OK. `again` defaults to `new`.
    public func changePIN(old: String, new: String, again: String? = nil) async throws {
        try await key("hotdesk")
        try await select("Change PIN")
        for (index, pin) in [old, new, again ?? new].enumerated() {
            guard case .input(_, _, let fields, _)? = screen else { return }
            try type(pin)
            if fields.count > 1 {
                if index < 2 { try next() } else { try await submit() }
            } else {
                try await submit()
            }
        }
    }

    /// Login/Logout key → Logout → the first choice (yes).
    public func logout() async throws {
        try await key("hotdesk")
        try await select("Logout")
        try await select("1")
    }
}
