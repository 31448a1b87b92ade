import Foundation

/// An office (the directory's `sites:`): where its phones reach HotDesk and register, its clock,
/// its emergency calls, its auto-logout rules. A site says only what differs from `settings:`;
/// each phone is served the settings of its own site (`Settings.forSite`), whoever logs in on it,
/// so a visitor from another site registers with this site's PBX and an emergency call from the
/// desk carries this site's caller ID and location.
public struct Site: Hashable, Sendable {
    public var name: String
    public var internalAddress: ServerAddress?
    public var externalAddress: ServerAddress?
    public var sip: SIPSettings?
    /// The daily auto logout runs at this zone's local time.
    public var timeZone: TimeZone?
    /// Replace the settings' list (not added to it): an office abroad dials other numbers.
    public var emergencyNumbers: [String]?
    public var emergencyCallerID: String?
    /// Where a caller from this site is (street, floor): what the PBX passes on with an emergency call.
    public var emergencyLocation: String?
    /// `auto_logout` overrides: `.some(nil)` turns a rule off for the site.
    public var maxDuration: TimeInterval??
    public var dailyAt: DailyTime??
    public var idleAfter: TimeInterval??
    /// The class of service a visitor's calls from this site's phones must also pass (a user
    /// whose home is another site): their own class still decides first.
    public var visitorCoS: String?
    /// The language of the app on this site's phones while nobody (or a user without one) is logged in.
    public var language: String?
    /// The web login of this site's phones, per brand, over the settings' (a device's own is
    /// over both): each office, or each customer, with its own phones' password.
    public var phoneCredentials: [Brand: PhoneCredentials] = [:]

    public init(name: String) { self.name = name }

    /// Characters a site name may not hold (it is written in URLs, audit details and YAML).
    public static let maxNameLength = 30

    /// Why `name` cannot name a site, or `nil`: letters, digits, `-`, `_` and `.`, up to 30.
    public static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "a site name is not empty" }
        if name.count > maxNameLength { return "\(name.count) characters; at most \(maxNameLength)" }
        guard name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) })
        else { return "letters, digits, -, _ and . only" }
        return nil
    }
}

/// Which other sites' phones an extension may log in on, besides its own site's (iPECS's
/// multi-site members).
public enum Roaming: Hashable, Sendable {
    /// Its own site's phones only (the default).
    case none
    /// Any site's.
    case everywhere
    case sites(Set<String>)

    public func allows(_ site: String) -> Bool {
        switch self {
        case .none: false
        case .everywhere: true
        case .sites(let names): names.contains(site)
        }
    }
}

extension Site {
    /// The class of service that also decides the calls of `ext` on this site's phones: the
    /// site's `visitorCoS` when `ext` is of another site; `nil` for the site's own users and
    /// users of no site.
    public func restriction(for ext: Extension) -> String? {
        guard let home = ext.site, home != name else { return nil }
        return visitorCoS
    }
}

extension Extension {
    /// Whether this extension may log in on a phone of `site`. A phone with no site, or an
    /// extension with none, is not bound to any: a directory without sites behaves as before.
    public func mayLogIn(atSite site: String?) -> Bool {
        guard let site, let home = self.site, home != site else { return true }
        return roaming.allows(site)
    }
}

extension Settings {
    /// The settings a phone of `site` is served with: the site's own values over these.
    /// `nil` or a name no site has: these settings as they are.
    public func forSite(_ name: String?) -> Settings {
        guard let name, let site = sites[name] else { return self }
        var s = self
        s.site = name
        if let v = site.internalAddress { s.internalAddress = v }
        if let v = site.externalAddress { s.externalAddress = v }
        if let v = site.sip { s.sip = v }
        if let v = site.timeZone { s.timeZone = v }
        if let v = site.emergencyNumbers { s.emergencyNumbers = v }
        if let v = site.emergencyCallerID { s.emergencyCallerID = v }
        if let v = site.emergencyLocation { s.emergencyLocation = v }
        if let v = site.maxDuration { s.autoLogout.maxDuration = v }
        if let v = site.dailyAt { s.autoLogout.dailyAt = v }
        if let v = site.idleAfter { s.autoLogout.idleAfter = v }
        if let v = site.language { s.language = v }
        s.phoneCredentials.merge(site.phoneCredentials) { _, mine in mine }
        return s
    }

    /// Every number any site (or the settings) treats as an emergency number: what a PBX
    /// serving several sites lets through without asking.
    public var allEmergencyNumbers: [String] {
        var seen = Set<String>()
        return (emergencyNumbers + sites.keys.sorted().flatMap { sites[$0]?.emergencyNumbers ?? [] }).filter { seen.insert($0).inserted }
    }

    /// The calendar of the daily logout: the settings' (or site's) zone, else `fallback`'s.
    public func calendar(fallback: Calendar) -> Calendar {
        guard let timeZone else { return fallback }
        var calendar = fallback
        calendar.timeZone = timeZone
        return calendar
    }
}

/// A language of the phone app's screens (`Screens/locales/<language>.json`): `fr`, `de`, `pt-BR`.
public enum ScreenLanguage {
    /// Why `code` cannot name a language, or `nil`: 2-3 lower-case letters, optionally `-` and a
    /// region or variant of 2-8 letters or digits.
    public static func problem(_ code: String) -> String? {
        let parts = code.split(separator: "-", omittingEmptySubsequences: false)
        let lower = parts.first.map { (2...3).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isLowercase } } ?? false
        let rest = parts.dropFirst().allSatisfy { (2...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
        guard lower, rest, parts.count <= 2 else { return "\"\(code.prefix(20))\" is not a language code such as en, fr or pt-BR" }
        return nil
    }
}
