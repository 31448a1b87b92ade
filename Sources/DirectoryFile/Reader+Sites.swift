import Foundation
import HotDeskCore
import HotDeskStore
import Yams

// The `sites:` section, and what names a site elsewhere (`site:`, `roaming:`).
extension Reader {
    /// A site: a name and what differs from `settings:` for its phones.
    mutating func readSite(_ node: Node, path: String) -> Site? {
        let allowed: Set<String> = [
            "name", "internal_address", "external_address", "sip", "time_zone", "emergency_numbers", "emergency_caller_id", "emergency_location",
            "auto_logout", "visitor_cos", "language", "phone_credentials",
        ]
        guard let map = mapping(node, path: path, allowed: allowed) else { return nil }
        guard let nameNode = required(map, "name", path: path), let name = string(nameNode, path: "\(path).name") else { return nil }
        if let why = Site.nameProblem(name) {
            problem("\(path).name", nameNode, why)
            return nil
        }
        let before = problems.count
        var site = Site(name: name)
        site.internalAddress = address(map["internal_address"], path: "\(path).internal_address")
        site.externalAddress = address(map["external_address"], path: "\(path).external_address")
        site.sip = map["sip"].flatMap { sip($0, path: "\(path).sip") }
        site.timeZone = map["time_zone"].flatMap { timeZone($0, path: "\(path).time_zone") }
        site.emergencyNumbers = map["emergency_numbers"].map { readEmergencyNumbers($0, path: "\(path).emergency_numbers") }
        site.emergencyCallerID = map["emergency_caller_id"].flatMap { callerID($0, path: "\(path).emergency_caller_id") }
        site.emergencyLocation = map["emergency_location"].flatMap { emergencyLocation($0, path: "\(path).emergency_location") }
        site.visitorCoS = map["visitor_cos"].flatMap { string($0, path: "\(path).visitor_cos", maxLength: 64) }
        site.language = map["language"].flatMap { language($0, path: "\(path).language") }
        site.phoneCredentials = map["phone_credentials"].map { phoneCredentials($0, path: "\(path).phone_credentials") } ?? [:]
        if let n = map["auto_logout"] {
            var patch = DirectoryDocument.SettingsPatch()
            readAutoLogout(n, into: &patch, path: "\(path).auto_logout", siteOnly: true)
            site.maxDuration = patch.autoLogoutAfterHours.map { $0 == 0 ? nil : TimeInterval($0) * 3600 }
            site.dailyAt = patch.autoLogoutDailyAt
            site.idleAfter = patch.autoLogoutIdleMinutes.map { $0 == 0 ? nil : TimeInterval($0) * 60 }
        }
        return problems.count == before ? site : nil
    }

    /// `site:` of an extension, a device or a workspace: a site of this file or already imported.
    mutating func siteName(_ node: Node?, path: String, sites: Set<String>) -> String?? {
        guard let node else { return .some(nil) }
        guard let v = string(node, path: path) else { return nil }
        guard sites.contains(v) else {
            problem(path, node, "no site \"\(v.prefix(30))\" (in this file or already imported)")
            return nil
        }
        return .some(v)
    }

    /// `roaming:` of an extension: `true` (any site), `false`, or a list of sites.
    mutating func roaming(_ node: Node?, path: String, sites: Set<String>) -> Roaming? {
        guard let node else { return Roaming.none }
        if node.sequence != nil {
            var names: Set<String> = []
            for item in list(node, path: path) {
                guard case .some(let name?) = siteName(item.node, path: item.path, sites: sites) else { return nil }
                names.insert(name)
            }
            return .sites(names)
        }
        guard let all = bool(node, path: path, hint: "true (any site), false, or a list of sites") else { return nil }
        return all ? .everywhere : Roaming.none
    }
}
