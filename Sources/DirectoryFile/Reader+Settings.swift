import Foundation
import HotDeskCore
import HotDeskStore
import Provisioning
import Yams

// The `settings:` section.
extension Reader {
    mutating func readSettings(_ node: Node) -> DirectoryDocument.SettingsPatch {
        var s = DirectoryDocument.SettingsPatch()
        let allowed: Set<String> = [
            "default_login", "internal_address", "external_address", "user_password", "admin_password", "user_password_hash", "admin_password_hash",
            "emergency_caller_id", "lockout",
            "push_port", "push_from", "phone_credentials", "auto_logout", "multi_login", "sip", "emergency_numbers", "number_classes", "enrolment",
            "time_zone", "emergency_location", "language",
        ]
        guard let map = mapping(node, path: "settings", allowed: allowed) else { return s }
        if let n = map["default_login"] { s.defaultLogin = bool(n, path: "settings.default_login") }
        s.internalAddress = address(map["internal_address"], path: "settings.internal_address")
        s.externalAddress = address(map["external_address"], path: "settings.external_address")
        if let n = map["user_password"] { s.userPassword = secret(n, path: "settings.user_password", minLength: 4) }
        if let n = map["admin_password"] { s.adminPassword = secret(n, path: "settings.admin_password", minLength: 12) }
        if let n = map["user_password_hash"] { s.userPasswordHash = hash(n, path: "settings.user_password_hash", instead: map["user_password"]) }
        if let n = map["admin_password_hash"] { s.adminPasswordHash = hash(n, path: "settings.admin_password_hash", instead: map["admin_password"]) }
        if let n = map["emergency_caller_id"] { readEmergencyCallerID(n, into: &s) }
        if let n = map["lockout"] { readLockout(n, into: &s) }
        s.pushPort = int(map["push_port"], path: "settings.push_port", range: 1...65535)
        if let n = map["auto_logout"] { readAutoLogout(n, into: &s) }
        if let n = map["enrolment"] { readEnrolment(n, into: &s) }
        if let n = map["multi_login"] { readMultiLogin(n, into: &s) }
        if let n = map["emergency_numbers"] { s.emergencyNumbers = readEmergencyNumbers(n) }
        if let n = map["number_classes"] { readNumberClasses(n, into: &s) }
        if let n = map["sip"] { readSIP(n, into: &s) }
        if let n = map["push_from"] { readPushFrom(n, into: &s) }
        if let n = map["phone_credentials"] { readPhoneCredentials(n, into: &s) }
        if let n = map["time_zone"] { s.timeZone = timeZone(n, path: "settings.time_zone") }
        if let n = map["emergency_location"] { s.emergencyLocation = emergencyLocation(n, path: "settings.emergency_location") }
        if let n = map["language"] { s.language = language(n, path: "settings.language") }
        return s
    }

    /// A language of the app's screens: a well-formed code with screen texts (when those are known).
    mutating func language(_ n: Node, path: String) -> String? {
        guard let v = string(n, path: path, maxLength: 20) else { return nil }
        if let why = ScreenLanguage.problem(v) {
            problem(path, n, why)
            return nil
        }
        if let languages, !languages.contains(v) {
            problem(path, n, "no screen texts for \(v) (there are: \(languages.sorted().joined(separator: ", ")); add Screens/locales/\(v).json)")
            return nil
        }
        return v
    }

    /// An IANA time zone (`Europe/Paris`, `UTC`).
    mutating func timeZone(_ n: Node, path: String) -> TimeZone? {
        guard let v = string(n, path: path, maxLength: 64) else { return nil }
        guard let zone = TimeZone(identifier: v) else {
            problem(path, n, "\"\(v.prefix(40))\" is not a time zone (an IANA name such as Europe/Paris or UTC)")
            return nil
        }
        return zone
    }

    /// Where callers are (street, building, floor): one line of text, up to 200 characters.
    mutating func emergencyLocation(_ n: Node, path: String) -> String? { string(n, path: path, maxLength: 200) }

    mutating func readEmergencyCallerID(_ n: Node, into s: inout DirectoryDocument.SettingsPatch) {
        if let v = callerID(n, path: "settings.emergency_caller_id") { s.emergencyCallerID = v }
    }

    /// A caller ID (`caller_id`, `emergency_caller_id`); `nil` (with the problem said) when it is not one.
    mutating func callerID(_ n: Node, path: String) -> String? {
        guard let v = string(n, path: path) else { return nil }
        guard CallerID.isValid(v) else {
            problem(path, n, "\"\(v.prefix(24))\" is not a phone number (3-20 digits, optional leading +)")
            return nil
        }
        return v
    }

    mutating func readLockout(_ n: Node, into s: inout DirectoryDocument.SettingsPatch) {
        let allowed: Set<String> = [
            "extension_failures", "device_failures", "window_minutes", "duration_minutes", "source_failures", "global_failures",
        ]
        guard let lock = mapping(n, path: "settings.lockout", allowed: allowed) else { return }
        s.lockoutExtensionFailures = int(lock["extension_failures"], path: "settings.lockout.extension_failures", range: 1...1000)
        s.lockoutDeviceFailures = int(lock["device_failures"], path: "settings.lockout.device_failures", range: 1...1000)
        s.lockoutWindowMinutes = int(lock["window_minutes"], path: "settings.lockout.window_minutes", range: 1...10080)
        s.lockoutDurationMinutes = int(lock["duration_minutes"], path: "settings.lockout.duration_minutes", range: 1...10080)
        s.lockoutSourceFailures = int(lock["source_failures"], path: "settings.lockout.source_failures", range: 1...100_000)
        s.lockoutGlobalFailures = int(lock["global_failures"], path: "settings.lockout.global_failures", range: 1...100_000)
    }

    /// `siteOnly`: a site's block, which sets when sessions end but not how calls are waited for.
    mutating func readAutoLogout(
        _ n: Node,
        into s: inout DirectoryDocument.SettingsPatch,
        path: String = "settings.auto_logout",
        siteOnly: Bool = false
    ) {
        let allowed = Set<String>(["after_hours", "daily_at", "idle_minutes"]).union(siteOnly ? [] : ["wait_for_call", "longest_call_wait_minutes"])
        guard let auto = mapping(n, path: path, allowed: allowed) else { return }
        s.autoLogoutAfterHours = int(auto["after_hours"], path: "\(path).after_hours", range: 0...168)
        s.autoLogoutIdleMinutes = int(auto["idle_minutes"], path: "\(path).idle_minutes", range: 0...10_080)
        s.autoLogoutWaitForCall = auto["wait_for_call"].flatMap { bool($0, path: "\(path).wait_for_call") }
        s.autoLogoutLongestCallWaitMinutes = int(
            auto["longest_call_wait_minutes"],
            path: "\(path).longest_call_wait_minutes",
            range: 1...1440
        )
        if let d = auto["daily_at"], let v = string(d, path: "\(path).daily_at") {
            if v.isEmpty || v == "none" {
                s.autoLogoutDailyAt = .some(nil)
            } else if let time = DailyTime(v) {
                s.autoLogoutDailyAt = time
            } else {
                problem("\(path).daily_at", d, "\"\(v.prefix(20))\" is not a time of day HH:MM (24-hour), or none")
            }
        }
    }

    mutating func readEnrolment(_ n: Node, into s: inout DirectoryDocument.SettingsPatch) {
        let allowed: Set<String> = ["per_minute", "max_unclaimed", "expire_unclaimed_hours", "claims", "claims_until"]
        guard let e = mapping(n, path: "settings.enrolment", allowed: allowed) else { return }
        if let c = e["claims"], let v = string(c, path: "settings.enrolment.claims") {
            if let claims = EnrolmentPolicy.Claims(rawValue: v) {
                s.enrolmentClaims = claims
            } else {
                problem("settings.enrolment.claims", c, "\"\(v.prefix(20))\" is not first_fetch or approval")
            }
        }
        if let u = e["claims_until"], let v = string(u, path: "settings.enrolment.claims_until") {
            if v == "none" {
                s.enrolmentClaimsUntil = .some(nil)
            } else if let date = try? Date(v, strategy: .iso8601) {
                s.enrolmentClaimsUntil = .some(date)
            } else {
                problem("settings.enrolment.claims_until", u, "\"\(v.prefix(30))\" is not a time like 2026-12-10T18:00:00Z, or none")
            }
        }
        s.enrolmentPerMinute = int(e["per_minute"], path: "settings.enrolment.per_minute", range: 1...100_000)
        s.enrolmentMaxUnclaimed = int(e["max_unclaimed"], path: "settings.enrolment.max_unclaimed", range: 0...1_000_000)
        s.enrolmentExpireHours = int(e["expire_unclaimed_hours"], path: "settings.enrolment.expire_unclaimed_hours", range: 0...87_600)
    }

    mutating func readMultiLogin(_ n: Node, into s: inout DirectoryDocument.SettingsPatch) {
        guard let m = mapping(n, path: "settings.multi_login", allowed: ["policy", "max_phones"]) else { return }
        let policy = required(m, "policy", path: "settings.multi_login").flatMap { string($0, path: "settings.multi_login.policy") }
        let max = int(m["max_phones"], path: "settings.multi_login.max_phones", range: 1...50)
        switch policy {
        case "move"?, "deny"?:
            if m["max_phones"] != nil { problem("settings.multi_login.max_phones", m["max_phones"], "goes with policy allow only") }
            s.multiLogin = policy == "move" ? .move : .deny
        case "allow"?:
            if let max {
                s.multiLogin = .allow(maxPhones: max)
            } else if m["max_phones"] == nil {
                problem("settings.multi_login.max_phones", n, "missing: allow says how many phones at most")
            }
        case let other?:
            problem("settings.multi_login.policy", m["policy"], "\"\(other.prefix(20))\" is not move, deny or allow")
        case nil:
            break
        }
    }

    mutating func readEmergencyNumbers(_ n: Node, path: String = "settings.emergency_numbers") -> [String] {
        list(n, path: path).compactMap { item -> String? in
            guard let v = string(item.node, path: item.path) else { return nil }
            guard (2...15).contains(v.count), v.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "+") }) else {
                problem(item.path, item.node, "\"\(v.prefix(20))\" is not a number to dial")
                return nil
            }
            return v
        }
    }

    mutating func readNumberClasses(_ n: Node, into s: inout DirectoryDocument.SettingsPatch) {
        guard let classes = freeMapping(n, path: "settings.number_classes") else { return }
        var result: [String: String] = [:]
        for (name, value) in classes {
            guard let v = string(value, path: "settings.number_classes.\(name)") else { continue }
            if (try? NSRegularExpression(pattern: v)) == nil {
                problem("settings.number_classes.\(name)", value, "not a regular expression")
            } else {
                result[name] = v
            }
        }
        s.numberClasses = result
    }

    mutating func readSIP(_ n: Node, into s: inout DirectoryDocument.SettingsPatch) {
        if let sip = sip(n, path: "settings.sip") { s.sip = sip }
    }

    /// A `sip:` block (the settings' or a site's); `nil` (with the problems said) when it is not one.
    mutating func sip(_ n: Node, path: String) -> SIPSettings? {
        guard let m = mapping(n, path: path, allowed: ["server", "transport", "realm", "outbound_proxy"]) else { return nil }
        var transport = SIPSettings.Transport.udp
        if let t = m["transport"], let v = string(t, path: "\(path).transport") {
            if let known = SIPSettings.Transport(rawValue: v.lowercased()) {
                transport = known
            } else {
                problem("\(path).transport", t, "\"\(v.prefix(10))\" is not udp, tcp or tls")
            }
        }
        guard let server = required(m, "server", path: path).flatMap({ string($0, path: "\(path).server") }) else { return nil }
        guard var sip = SIPSettings(server: server, transport: transport) else {
            problem("\(path).server", m["server"], "\"\(server.prefix(60))\" is not host[:port] (a name or an IP address, port 1-65535)")
            return nil
        }
        sip.realm = m["realm"].flatMap { string($0, path: "\(path).realm", maxLength: 253) }
        if let p = m["outbound_proxy"], let v = string(p, path: "\(path).outbound_proxy") {
            if SIPSettings(server: v) != nil {
                sip.outboundProxy = v
            } else {
                problem("\(path).outbound_proxy", p, "not host[:port]")
            }
        }
        return sip
    }

    mutating func readPushFrom(_ n: Node, into s: inout DirectoryDocument.SettingsPatch) {
        guard let v = string(n, path: "settings.push_from") else { return }
        if IPAddressLiteral.isValid(v) {
            s.pushFrom = v
        } else {
            problem(
                "settings.push_from",
                n,
                "\"\(v.prefix(60))\" is not an IP address (HotDesk sends pushes from it; phones take remote commands only from it)"
            )
        }
    }

    mutating func readPhoneCredentials(_ n: Node, into s: inout DirectoryDocument.SettingsPatch) {
        s.phoneCredentials = phoneCredentials(n, path: "settings.phone_credentials")
    }

    /// The phones' web logins by brand (`settings.phone_credentials`, a site's).
    mutating func phoneCredentials(_ n: Node, path: String) -> [Brand: PhoneCredentials] {
        guard let brands = mapping(n, path: path, allowed: Set(catalog.brands.map(\.rawValue))) else { return [:] }
        var logins: [Brand: PhoneCredentials] = [:]
        for (name, node) in brands {
            guard let login = credentials(node, path: "\(path).\(name)") else { continue }
            logins[Brand(name)] = login
        }
        return logins
    }
}
