/// The sites an admin API key or console account may see and act on: every site (the default,
/// and what every key and account made before sites had), or the phones and users of the sites
/// named (`hotdesk apikey create --site paris`). A limited key sees the lists filtered to its
/// sites, acts only on their phones (403 elsewhere, audited), and opens only the routes that know
/// their site (`opens`): the directory, settings, keys and accounts are for keys of every site.
public struct SiteScope: Hashable, Sendable {
    /// Sorted site names; nil: every site.
    public let sites: [String]?

    public static let everySite = SiteScope(sites: nil)

    public init(sites: [String]?) { self.sites = sites.map { Array(Set($0)).sorted() } }

    /// As stored: the names joined by commas (a site name has none), nil for every site.
    public init(stored: String?) {
        self.init(sites: stored.map { $0.split(separator: ",").map(String.init) })
    }

    public var stored: String? { sites?.joined(separator: ",") }

    public var isLimited: Bool { sites != nil }

    /// Whether a phone (or user) of `site` is within the scope; one of no site is only within
    /// the scope of every site.
    public func contains(_ site: String?) -> Bool {
        guard let sites else { return true }
        return site.map(sites.contains) ?? false
    }

    /// `every site`, `site paris`, `sites lyon, paris`.
    public var description: String {
        guard let sites else { return "every site" }
        return (sites.count == 1 ? "site " : "sites ") + sites.joined(separator: ", ")
    }

    /// Whether a limited key may make this request at all; each of these routes then keeps to
    /// the key's sites. `path` is under `/api/v1`, without it, as for `AdminRole.needed`.
    public static func opens(method: String, path: String) -> Bool {
        let parts = path.split(separator: "/").map(String.init)
        switch (method, parts.count) {
        case ("GET", 1), ("HEAD", 1):
            return ["events", "sessions", "devices", "extensions", "locks", "audit", "push-jobs", "sites", "workspaces", "cos"].contains(parts[0])
        case ("GET", 2), ("HEAD", 2): return ["devices", "push-jobs", "cos"].contains(parts[0])
        case ("DELETE", 2): return parts[0] == "sessions"
        case ("DELETE", 3):
            return (parts[0] == "locks" && (parts[1] == "extension" || parts[1] == "device")) || (parts[0] == "extensions" && parts[2] == "pin")
        case ("POST", 2): return parts == ["devices", "push-changed"]
        case ("POST", 3): return (parts[0] == "extensions" && parts[2] == "logout") || (parts[0] == "devices" && parts[2] == "push")
        default: return false
        }
    }

    /// Why `names` cannot limit a key or account, given the directory's sites; nil when they can.
    public static func problem(_ names: [String], known: some Collection<String>) -> String? {
        let unknown = names.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            return "no site \(unknown.joined(separator: ", ")) in the directory"
                + (known.isEmpty ? " (it has no sites)" : " (its sites: \(known.sorted().joined(separator: ", ")))")
        }
        return nil
    }
}
