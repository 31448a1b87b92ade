import Foundation
import HotDeskCore
import HotDeskStore
import Provisioning
import Yams

// Extensions, workspaces, devices, templates and mappings.
extension Reader {
    mutating func readExtension(_ node: Node, path: String, sites: Set<String>) -> DirectoryDocument.ExtensionEntry? {
        guard
            let map = mapping(
                node,
                path: path,
                allowed: [
                    "number", "name", "voicemail_pin", "voicemail_pin_hash", "sip_password", "cos", "caller_id", "site", "roaming", "language",
                    "direct_dial",
                ]
            )
        else {
            return nil
        }
        let site = siteName(map["site"], path: "\(path).site", sites: sites)
        let roaming = roaming(map["roaming"], path: "\(path).roaming", sites: sites)
        let cos = map["cos"].flatMap { string($0, path: "\(path).cos", maxLength: 64) }
        let language = map["language"].flatMap { self.language($0, path: "\(path).language") }
        let callerID = map["caller_id"].flatMap { self.callerID($0, path: "\(path).caller_id") }
        let directDial = map["direct_dial"].flatMap { self.callerID($0, path: "\(path).direct_dial") }
        let number = required(map, "number", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).number") else { return nil }
            guard Extension.isValidNumber(v) else {
                problem("\(path).number", n, "\"\(v)\" is not 2-6 digits")
                return nil
            }
            return v
        }
        let name = required(map, "name", path: path).flatMap { string($0, path: "\(path).name", maxLength: 64) }
        var pin: String?
        if let n = map["voicemail_pin"] {
            if let v = string(n, path: "\(path).voicemail_pin") {
                if (4...12).contains(v.count), v.allSatisfy(\.isASCIIDigit) {
                    pin = v
                } else {
                    problem("\(path).voicemail_pin", n, "a voicemail PIN is 4-12 digits")
                }
            }
        }
        let pinHash = map["voicemail_pin_hash"].flatMap { hash($0, path: "\(path).voicemail_pin_hash", instead: map["voicemail_pin"]) }
        let sip = required(map, "sip_password", path: path).flatMap { secret($0, path: "\(path).sip_password", minLength: 8) }
        guard let number, let name, let sip, map["voicemail_pin"] == nil || pin != nil, map["voicemail_pin_hash"] == nil || pinHash != nil,
            map["caller_id"] == nil || callerID != nil, let site, let roaming, map["language"] == nil || language != nil,
            map["direct_dial"] == nil || directDial != nil
        else {
            return nil
        }
        var entry = DirectoryDocument.ExtensionEntry(
            number: number,
            name: name,
            voicemailPIN: pin,
            sipPassword: sip,
            cos: cos,
            voicemailPINHash: pinHash
        )
        entry.callerID = callerID
        entry.directDial = directDial
        entry.site = site
        entry.roaming = roaming
        entry.language = language
        return entry
    }

    /// A workspace: a name (at most 30 characters, none of % # < > , \ "), a licence, hot desking
    /// on or off, and its own line (a number that is no extension's).
    mutating func readWorkspace(_ node: Node, path: String, sites: Set<String>, extensions: Set<String>) -> Workspace? {
        let allowed: Set<String> = ["name", "licence", "hot_desking", "emergency_caller_id", "site", "room_type", "capacity", "line"]
        guard let map = mapping(node, path: path, allowed: allowed) else { return nil }
        let before = problems.count
        let line = map["line"].flatMap { readDeviceLine($0, path: "\(path).line", extensions: extensions, what: "a workspace's line") }
        let roomType = map["room_type"].flatMap { n -> Workspace.RoomType? in
            guard let v = string(n, path: "\(path).room_type") else { return nil }
            guard let type = Workspace.RoomType(rawValue: v) else {
                problem("\(path).room_type", n, "one of \(Workspace.RoomType.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return type
        }
        let capacity = map["capacity"].flatMap { int($0, path: "\(path).capacity", range: Workspace.capacities) }
        let site = siteName(map["site"], path: "\(path).site", sites: sites)
        let emergencyCallerID = map["emergency_caller_id"].flatMap { callerID($0, path: "\(path).emergency_caller_id") }
        let name = required(map, "name", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).name") else { return nil }
            if let why = Workspace.nameProblem(v) {
                problem("\(path).name", n, why)
                return nil
            }
            return v
        }
        let licence = required(map, "licence", path: path).flatMap { n -> Workspace.Licence? in
            guard let v = string(n, path: "\(path).licence") else { return nil }
            guard let l = Workspace.Licence(rawValue: v) else {
                problem("\(path).licence", n, "\"\(v.prefix(20))\" is not professional (up to 5 devices) or common_area (1 device)")
                return nil
            }
            return l
        }
        var hotDesking: Bool? = true
        if let n = map["hot_desking"] { hotDesking = bool(n, path: "\(path).hot_desking") }
        guard let name, let licence, let hotDesking, map["emergency_caller_id"] == nil || emergencyCallerID != nil, let site else { return nil }
        guard problems.count == before else { return nil }
        var workspace = Workspace(name: name, licence: licence, hotDesking: hotDesking, emergencyCallerID: emergencyCallerID)
        workspace.site = site
        workspace.roomType = roomType
        workspace.capacity = capacity
        workspace.line = line
        return workspace
    }

    mutating func readDevice(
        _ node: Node,
        path: String,
        extensions: Set<String>,
        workspaces: Set<String>,
        sites: Set<String>
    ) -> DirectoryDocument.DeviceEntry? {
        guard
            let map = mapping(
                node,
                path: path,
                allowed: [
                    "mac", "model", "push_port", "phone_credentials", "workspace", "users", "line", "cos", "cos_if_not_logged", "provisioning_secret",
                    "claimed_from", "emergency_caller_id", "site",
                ]
            )
        else { return nil }
        let site = siteName(map["site"], path: "\(path).site", sites: sites)
        if map["site"] != nil, map["workspace"] != nil {
            problem("\(path).site", map["site"], "a device in a workspace is in the workspace's site: give site to the workspace")
        }
        let cos = map["cos"].flatMap { string($0, path: "\(path).cos", maxLength: 64) }
        let cosIfNotLogged = map["cos_if_not_logged"].flatMap { string($0, path: "\(path).cos_if_not_logged", maxLength: 64) }
        let line = map["line"].flatMap { readDeviceLine($0, path: "\(path).line", extensions: extensions) }
        let emergencyCallerID = map["emergency_caller_id"].flatMap { callerID($0, path: "\(path).emergency_caller_id") }
        var workspace: String?
        if let n = map["workspace"], let v = string(n, path: "\(path).workspace") {
            if workspaces.contains(v) {
                workspace = v
            } else {
                problem("\(path).workspace", n, "no workspace \"\(v.prefix(30))\" (in this file or already imported)")
            }
        }
        let users = readUsers(map["users"], path: "\(path).users", extensions: extensions)
        let mac = required(map, "mac", path: path).flatMap { self.mac($0, path: "\(path).mac") }
        let model = required(map, "model", path: path).flatMap { self.model($0, path: "\(path).model") }
        let port = int(map["push_port"], path: "\(path).push_port", range: 1...65535)
        let login = map["phone_credentials"].flatMap { credentials($0, path: "\(path).phone_credentials") }
        let provisioningSecret = map["provisioning_secret"].flatMap { readProvisioningSecret($0, path: "\(path).provisioning_secret") }
        var claimedFrom: String?
        if let n = map["claimed_from"], let v = string(n, path: "\(path).claimed_from", maxLength: 45) {
            if IPAddressLiteral.isValid(v) { claimedFrom = v } else { problem("\(path).claimed_from", n, "\"\(v.prefix(45))\" is not an IP address") }
        }
        if let model, provisioningSecret != nil, claimedFrom == nil, configs[model.brand]?.provisioningAuth == .address {
            problem(path, node, "\(model.brand.rawValue) phones prove themselves by their address: give claimed_from with provisioning_secret")
        }
        guard let mac, let model, map["push_port"] == nil || port != nil, map["phone_credentials"] == nil || login != nil,
            map["workspace"] == nil || workspace != nil, let users, map["line"] == nil || line != nil,
            map["provisioning_secret"] == nil || provisioningSecret != nil, map["claimed_from"] == nil || claimedFrom != nil,
            map["emergency_caller_id"] == nil || emergencyCallerID != nil, let site, map["site"] == nil || map["workspace"] == nil
        else { return nil }
        var entry = DirectoryDocument.DeviceEntry(
            mac: mac,
            model: model,
            pushPort: port,
            phoneCredentials: login,
            workspace: workspace,
            users: users,
            line: line,
            cos: cos,
            cosIfNotLogged: cosIfNotLogged,
            provisioningSecret: provisioningSecret,
            claimedFrom: claimedFrom,
            path: path,
            fileLine: node.mark.map { $0.line }
        )
        entry.emergencyCallerID = emergencyCallerID
        entry.site = site
        return entry
    }

    /// A device's (or a workspace's) own line; `nil` (with the problem said) when it is not one.
    mutating func readDeviceLine(_ n: Node, path: String, extensions: Set<String>, what: String = "a device's line") -> DeviceLine? {
        guard let l = mapping(n, path: path, allowed: ["number", "name", "sip_password"]) else { return nil }
        let number = required(l, "number", path: path).flatMap {
            lineNumber($0, path: "\(path).number", extensions: extensions, what: what)
        }
        let name = l["name"].flatMap { string($0, path: "\(path).name", maxLength: 64) }
        let sip = required(l, "sip_password", path: path).flatMap { secret($0, path: "\(path).sip_password", minLength: 8) }
        guard let number, let sip else { return nil }
        return DeviceLine(number: number, name: name ?? number, sipPassword: sip)
    }

    /// A device's users: extensions of this file or already imported; `nil` when one is not.
    mutating func readUsers(_ node: Node?, path: String, extensions: Set<String>) -> [String]? {
        var users: [String] = []
        var usersOK = true
        for item in list(node, path: path) {
            guard let v = string(item.node, path: item.path) else {
                usersOK = false
                continue
            }
            if extensions.contains(v) {
                users.append(v)
            } else {
                problem(item.path, item.node, "no extension \(v) (in this file or already imported)")
                usersOK = false
            }
        }
        return usersOK ? users : nil
    }

    /// It can stand in a URL path (`/provision/<secret>/…`) and is blanked from the request log there.
    mutating func readProvisioningSecret(_ n: Node, path: String) -> String? {
        guard let v = string(n, path: path, maxLength: 128) else { return nil }
        guard v.utf8.count >= 32, v.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == 0x2D || $0 == 0x5F }) else {
            problem(path, n, "32 to 128 of letters, digits, - and _ (a secret a phone can send in its provisioning path)")
            return nil
        }
        return v
    }

    mutating func readTemplate(_ node: Node, path: String, base: URL?) -> Template? {
        guard let map = mapping(node, path: path, allowed: ["name", "brand", "default", "body", "file"]) else { return nil }
        let name = required(map, "name", path: path).flatMap { string($0, path: "\(path).name", maxLength: 64) }
        let brand = required(map, "brand", path: path).flatMap { n -> Brand? in
            guard let v = string(n, path: "\(path).brand") else { return nil }
            let b = Brand(v.lowercased())
            guard catalog.families[b] != nil else {
                problem("\(path).brand", n, "unknown brand \"\(v)\"; one of \(brandList)")
                return nil
            }
            return b
        }
        let isDefault = map["default"].flatMap { bool($0, path: "\(path).default") } ?? false
        var body: String?
        switch (map["body"], map["file"]) {
        case (let b?, nil):
            body = string(b, path: "\(path).body", maxLength: 256 * 1024, multiline: true)
        case (nil, let f?):
            if base == nil {
                problem("\(path).file", f, "a directory sent to the server has its templates inline (body), not in a file of the server's")
            } else if let base, let relative = string(f, path: "\(path).file") {
                let url = relative.hasPrefix("/") ? URL(fileURLWithPath: relative) : base.appendingPathComponent(relative)
                if let text = try? String(contentsOf: url, encoding: .utf8) {
                    body = text
                } else {
                    problem("\(path).file", f, "cannot read \(url.path)")
                }
            }
        case (.some, .some):
            problem(path, node, "give either body or file, not both")
        case (nil, nil):
            problem(path, node, "missing body (or file)")
        }
        guard let name, let brand, let body else { return nil }
        guard body.contains("app_url") else {
            problem("\(path).body", map["body"] ?? map["file"], "does not use {{app_url}}: phones would lose their Login/Logout key")
            return nil
        }
        // The phone's own provisioning secret must reach it, or it can never fetch its logged-in config.
        switch configs[brand]?.provisioningAuth {
        case .digest? where !(body.contains("provisioning.username") && body.contains("provisioning.password")):
            problem(
                "\(path).body",
                map["body"] ?? map["file"],
                "does not use {{provisioning.username}} and {{provisioning.password}}: \(brand.rawValue) phones fetch their configs with them (docs/security.md)"
            )
            return nil
        case .urlKey? where !body.contains("provision_url"):
            problem(
                "\(path).body",
                map["body"] ?? map["file"],
                "does not use {{provision_url}}: \(brand.rawValue) phones fetch their configs at the per-device address it holds (docs/security.md)"
            )
            return nil
        default: break
        }
        do {
            try ConfigRenderer.validate(body, format: configs[brand]?.format ?? .keyValue, name: name)
        } catch {
            problem("\(path).body", map["body"] ?? map["file"], "not a valid template: \(error.reason)")
            return nil
        }
        return Template(name: name, brand: brand, isDefault: isDefault, body: body)
    }

    mutating func readMapping(_ node: Node, path: String, extensions: Set<String>, templates: [String: Brand]) -> Mapping? {
        guard let map = mapping(node, path: path, allowed: ["extension", "template", "model", "mac"]) else { return nil }
        let number = required(map, "extension", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).extension") else { return nil }
            guard extensions.contains(v) else {
                problem("\(path).extension", n, "no extension \(v) in this file or the store")
                return nil
            }
            return v
        }
        let template = required(map, "template", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).template") else { return nil }
            guard templates[v] != nil else {
                problem("\(path).template", n, "no template \"\(v)\" in this file or the store")
                return nil
            }
            return v
        }
        let model = map["model"].flatMap { self.model($0, path: "\(path).model") }
        let mac = map["mac"].flatMap { self.mac($0, path: "\(path).mac") }
        if let model, let template, let brand = templates[template], model.brand != brand {
            problem(
                "\(path).model",
                map["model"],
                "\(model.name) is a \(model.brand.rawValue) phone but template \"\(template)\" is for \(brand.rawValue)"
            )
            return nil
        }
        guard let number, let template, map["model"] == nil || model != nil, map["mac"] == nil || mac != nil else { return nil }
        return Mapping(extensionNumber: number, templateName: template, model: model?.name, mac: mac)
    }
}
