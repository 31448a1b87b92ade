import Foundation
import LibXML

/// One SIP account the phone registers (line 1 is the user's own).
public struct SimAccount: Sendable, Hashable {
    public var active = false
    public var user: String?
    /// Marked as a shared line the vendor's way (Yealink `shared_line = 1`, Polycom `type="shared"`).
    public var shared = false
    /// The account does not ring (Yealink Silent.wav, Polycom ringer0) [I].
    public var silent = false

    public init() {}
}

/// What the phone took from its config files.
public struct PhoneConfig: Sendable, Hashable {
    /// Accounts by index (1…).
    public var accounts: [Int: SimAccount] = [:]
    /// Line keys showing a line: key position → account index.
    public var lineKeys: [Int: Int] = [:]
    public var lineActive = false
    public var lineUser: String?
    public var lineLabel: String?
    /// The registrar's host, and its port when the config names one (in its own key, or as
    /// `host:port`).
    public var sipServer: String?
    public var sipPort: Int?
    /// Line 1's SIP password: the phone registers with it (kept in memory, never printed).
    public var sipPassword: String?
    public var hasSIPPassword: Bool { sipPassword != nil }
    /// Settings that decide how the phone takes a SIP NOTIFY (Yealink `sip.notify_reboot_enable`).
    public var notifySettings: [String: String] = [:]
    /// The XML-browser key's URL (HotDesk's Login/Logout key).
    public var browserKeyURL: String?
    public var browserKeyLabel: String?
    /// Where the phone fetches its config from next time.
    public var provisionURL: String?
    /// The login the phone sends when it fetches its config (HTTP Digest): Yealink
    /// `static.auto_provision.server.username/password`, Polycom `device.prov.user/password`.
    public var provisioningUser: String?
    public var provisioningPassword: String?
    /// The web login the config set (pushes must use it).
    public var webUsername: String?
    public var webPassword: String?
    /// Yealink `features.action_uri_limit_ip`: action URIs are taken only from these addresses;
    /// empty: from anyone (a real phone may first ask "Allow remote control?").
    public var actionURIFrom: [String] = []
    /// The addresses XML pushes are taken from (Yealink `push_xml.server` [I key name], Fanvil
    /// "PUSH XML Server IP", Aastra "xml application post list"); empty: from nobody.
    public var pushServers: [String] = []
    /// Cisco `authenticationURL`: where the phone checks a command's login.
    public var pushAuthURL: String?
    /// Polycom `apps.push.username`/`password`: the Digest login of `/push`; unset: no pushes.
    public var pushUsername: String?
    public var pushPassword: String?
    /// Polycom `apps.restapi.enabled`.
    public var restAPIEnabled = false
    /// Further files a master file names (Polycom `CONFIG_FILES`), fetched after it.
    public var moreFiles: [String] = []

    public init() {}
}

extension PhoneConfig {
    /// A server written `host` or `host:port` (Grandstream P47, Htek P47, Snom `user_host`).
    mutating func setServer(_ text: String) {
        let parts = text.split(separator: ":")
        if parts.count == 2, let port = Int(parts[1]) {
            sipServer = String(parts[0])
            sipPort = port
        } else {
            sipServer = text
        }
    }
}

public struct ConfigRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { "config refused: \(reason)" }
}

/// How a family writes its config files (phone-dialects.md §0–§8).
public enum SimConfigFormat: String, Sendable, Hashable {
    /// Yealink `key = value` after `#!version:` [V].
    case yealink
    /// Htek/Sangoma `hl_provision` with `para` names [V form, I names].
    case hlProvision
    /// Cisco `SEP<MAC>.cnf.xml` `<device>` [V file, 3P elements].
    case ciscoDevice
    /// Polycom master `<APPLICATION CONFIG_FILES>` and `<polycomConfig>` attributes [V].
    case polycom
    /// Snom XML settings `<settings><phone-settings>` [3P].
    case snomSettings
    /// Fanvil `key = value` with the HTTP API's dotted names [I].
    case fanvil
    /// Aastra `key: value` [3P].
    case aastra
    /// Grandstream `gs_provision` P-values [3P].
    case gsProvision
}

extension PhoneConfig {
    /// Applies one config file on top of what the phone has (later files win).
    public mutating func apply(_ body: [UInt8], format: SimConfigFormat) throws(ConfigRefusal) {
        switch format {
        case .yealink: try applyYealink(String(decoding: body, as: UTF8.self))
        case .hlProvision: try applyHlProvision(body)
        case .ciscoDevice: try applyCisco(body)
        case .polycom: try applyPolycom(body)
        case .snomSettings: try applySnom(body)
        case .fanvil: try applyFanvil(String(decoding: body, as: UTF8.self))
        case .aastra: try applyAastra(String(decoding: body, as: UTF8.self))
        case .gsProvision: try applyGrandstream(body)
        }
    }

    static func xml(_ body: [UInt8], root expected: String) throws(ConfigRefusal) -> XMLElement {
        let root: XMLElement
        do {
            root = try XMLParser.parse(body)
        } catch {
            throw ConfigRefusal(reason: "not well-formed XML (\(error))")
        }
        guard root.name == expected else { throw ConfigRefusal(reason: "expected <\(expected)>, got <\(root.name)>") }
        return root
    }

    /// `key <separator> value` lines; `#` starts a comment. A line without the separator is refused.
    static func lines(_ text: String, separator: Character) throws(ConfigRefusal) -> [String: String] {
        var keys: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let at = trimmed.firstIndex(of: separator) else { throw ConfigRefusal(reason: "not key \(separator) value: \(trimmed.prefix(40))") }
            keys[trimmed[..<at].trimmingCharacters(in: .whitespaces)] = trimmed[trimmed.index(after: at)...].trimmingCharacters(in: .whitespaces)
        }
        return keys
    }

    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Yealink `key = value` lines after `#!version:1.0.0.1` (§1) [V for file form].
    mutating func applyYealink(_ text: String) throws(ConfigRefusal) {
        guard text.hasPrefix("#!version:") else { throw ConfigRefusal(reason: "a Yealink config starts with #!version:") }
        let keys = try Self.lines(text, separator: "=")
        if let v = keys["account.1.enable"] { lineActive = v == "1" }
        if let v = keys["account.1.user_name"] { lineUser = v.isEmpty ? nil : v }
        if let v = keys["account.1.label"] { lineLabel = v }
        if let v = keys["account.1.sip_server.1.address"] { sipServer = v }
        if let v = keys["account.1.sip_server.1.port"] { sipPort = Int(v) }
        if let v = keys["sip.notify_reboot_enable"] { notifySettings["sip.notify_reboot_enable"] = v }
        if let v = keys["account.1.password"] { sipPassword = v.isEmpty ? nil : v }
        if let v = keys["static.auto_provision.server.url"], !v.isEmpty { provisionURL = v }
        if let v = keys["static.auto_provision.server.username"] { provisioningUser = v.isEmpty ? nil : v }
        if let v = keys["static.auto_provision.server.password"] { provisioningPassword = v.isEmpty ? nil : v }
        if let v = keys["static.security.user_name.admin"], !v.isEmpty { webUsername = v }
        if let v = keys["static.security.user_password"], let colon = v.firstIndex(of: ":") {
            webPassword = String(v[v.index(after: colon)...])
        }
        if let v = keys["features.action_uri_limit_ip"] { actionURIFrom = Self.list(v) }
        if let v = keys["push_xml.server"] { pushServers = Self.list(v) }
        for n in 1...16 {
            var a = accounts[n] ?? SimAccount()
            if let v = keys["account.\(n).enable"] { a.active = v == "1" }
            if let v = keys["account.\(n).user_name"] { a.user = v.isEmpty ? nil : v }
            if let v = keys["account.\(n).shared_line"] { a.shared = v == "1" }
            if let v = keys["account.\(n).ringtone.ring_type"] { a.silent = v == "Silent.wav" }
            accounts[n] = a
        }
        // Line key type 15 shows a line (linekey.N.line = the account) [I]; 0 is nothing.
        for n in 1...30 {
            switch keys["linekey.\(n).type"] {
            case "15"?: lineKeys[n] = keys["linekey.\(n).line"].flatMap { Int($0) }
            case "0"?, "27"?: lineKeys[n] = nil
            default: break
            }
        }
        // Line key type 27 is the XML browser key [I].
        for n in 1...30 where keys["linekey.\(n).type"] == "27" {
            browserKeyURL = keys["linekey.\(n).value"]
            browserKeyLabel = keys["linekey.\(n).label"]
        }
    }

    /// Htek `hl_provision` XML, read by each element's `para` name (§7) [V for the form and
    /// `Account1.Active`; the other `para` names are I].
    mutating func applyHlProvision(_ body: [UInt8]) throws(ConfigRefusal) {
        let root = try Self.xml(body, root: "hl_provision")
        guard let config = root.child("config") else { throw ConfigRefusal(reason: "expected <hl_provision><config>") }
        var paras: [String: String] = [:]
        for element in config.children {
            guard let para = element.attributes["para"] else { continue }
            paras[para] = element.text
        }
        if let v = paras["Account1.Active"] { lineActive = v == "1" }
        if let v = paras["Account1.UserId"] { lineUser = v.isEmpty ? nil : v }
        if let v = paras["Account1.Label"] { lineLabel = v }
        if let v = paras["Account1.SipServer"] { setServer(v) }
        if let v = paras["Account1.AuthPassword"] { sipPassword = v.isEmpty ? nil : v }
        if let v = paras["Autoprovision.ServerURL"], !v.isEmpty { provisionURL = v }
        if let v = paras["Security.AdminUser"], !v.isEmpty { webUsername = v }
        if let v = paras["Security.AdminPassword"], !v.isEmpty { webPassword = v }
        for n in 1...30 where paras["LineKey\(n).Type"] == "XMLBrowser" {
            browserKeyURL = paras["LineKey\(n).Value"]
            browserKeyLabel = paras["LineKey\(n).Label"]
        }
        // Accounts by para name; the phone shows them on its line keys in order [I].
        for n in 1...6 {
            var a = accounts[n] ?? SimAccount()
            if let v = paras["Account\(n).Active"] { a.active = v == "1" }
            if let v = paras["Account\(n).UserId"] { a.user = v.isEmpty ? nil : v }
            accounts[n] = a
        }
    }

    /// Cisco `SEP<MAC>.cnf.xml`: `<device>` with `sipProfile/sipLines/line`, `servicesURL` (the
    /// Services key) and `authenticationURL` (§2). The config names no provisioning URL: the phone
    /// keeps asking its TFTP/HTTP server.
    mutating func applyCisco(_ body: [UInt8]) throws(ConfigRefusal) {
        let root = try Self.xml(body, root: "device")
        let profile = root.child("sipProfile")
        let lines = profile?.child("sipLines")?.children("line") ?? []
        // Each <line button="B"> is an account on key B, in order [3P; sharedLine and
        // ringSettingIdle are I]. A line the file no longer names is gone.
        accounts = [:]
        lineKeys = [:]
        for (i, line) in lines.enumerated() {
            var a = SimAccount()
            a.user = line.child("name")?.text
            a.active = !(a.user ?? "").isEmpty
            a.shared = line.child("sharedLine")?.text == "true"
            a.silent = line.child("ringSettingIdle")?.text == "1"
            accounts[i + 1] = a
            if let button = line.attributes["button"].flatMap({ Int($0) }) { lineKeys[button] = i + 1 }
        }
        let first = lines.first { $0.attributes["button"] == "1" }
        let name = first?.child("name")?.text ?? ""
        lineActive = !name.isEmpty
        lineUser = name.isEmpty ? nil : name
        lineLabel = first?.child("featureLabel")?.text ?? profile?.child("phoneLabel")?.text
        sipServer = first?.child("proxy")?.text
        let password = first?.child("authPassword")?.text ?? ""
        sipPassword = password.isEmpty ? nil : password
        sipPort = (first?.child("port")?.text).flatMap { Int($0) }
        browserKeyURL = root.child("servicesURL")?.text
        browserKeyLabel = browserKeyURL == nil ? nil : "Services"
        pushAuthURL = root.child("authenticationURL")?.text
    }

    /// Polycom: a master file (`<APPLICATION CONFIG_FILES="a, b">`) names the files to read next;
    /// a config file is `<polycomConfig>` whose elements carry the settings as attributes (§3).
    mutating func applyPolycom(_ body: [UInt8]) throws(ConfigRefusal) {
        let root: XMLElement
        do { root = try XMLParser.parse(body) } catch { throw ConfigRefusal(reason: "not well-formed XML (\(error))") }
        if root.name == "APPLICATION" {
            moreFiles = Self.list(root.attributes["CONFIG_FILES"] ?? "")
            return
        }
        guard root.name == "polycomConfig" else { throw ConfigRefusal(reason: "expected <APPLICATION> or <polycomConfig>, got <\(root.name)>") }
        var values: [String: String] = [:]
        func collect(_ element: XMLElement) {
            for (k, v) in element.attributes { values[k] = v }
            element.children.forEach(collect)
        }
        collect(root)
        if let v = values["reg.1.address"] {
            lineActive = !v.isEmpty
            lineUser = v.isEmpty ? nil : v
        }
        if let v = values["reg.1.label"] { lineLabel = v }
        if let v = values["reg.1.server.1.address"] { sipServer = v }
        if let v = values["reg.1.server.1.port"] { sipPort = Int(v) }
        if let v = values["reg.1.auth.password"] { sipPassword = v.isEmpty ? nil : v }
        if let v = values["mb.main.home"], !v.isEmpty {
            browserKeyURL = v
            browserKeyLabel = "Applications"
        }
        if let v = values["device.prov.serverName"], !v.isEmpty { provisionURL = v }
        if let v = values["device.prov.user"] { provisioningUser = v.isEmpty ? nil : v }
        if let v = values["device.prov.password"] { provisioningPassword = v.isEmpty ? nil : v }
        if let v = values["apps.push.username"] { pushUsername = v }
        if let v = values["apps.push.password"] { pushPassword = v }
        if let v = values["device.auth.localAdminPassword"] { webPassword = v }
        if let v = values["apps.restapi.enabled"] { restAPIEnabled = v == "1" }
        for n in 1...16 {
            var a = accounts[n] ?? SimAccount()
            if let v = values["reg.\(n).address"] {
                a.active = !v.isEmpty
                a.user = v.isEmpty ? nil : v
            }
            if let v = values["reg.\(n).type"] { a.shared = v == "shared" }
            if let v = values["reg.\(n).ringType"] { a.silent = v == "ringer0" }
            accounts[n] = a
        }
        for n in 1...48 {
            switch values["lineKey.\(n).category"] {
            case "Line"?: lineKeys[n] = values["lineKey.\(n).index"].flatMap { Int($0) }
            case "Unassigned"?: lineKeys[n] = nil
            default: break
            }
        }
    }

    /// Snom XML settings: `<settings><phone-settings>` (`user_*` with `idx`, `http_user`,
    /// `setting_server`) and `<functionKeys><fkey>` [3P].
    mutating func applySnom(_ body: [UInt8]) throws(ConfigRefusal) {
        let root = try Self.xml(body, root: "settings")
        var values: [String: String] = [:]
        for element in root.child("phone-settings")?.children ?? [] {
            values[element.name + (element.attributes["idx"].map { "#\($0)" } ?? "")] = element.text
        }
        if let v = values["user_active#1"] { lineActive = v == "on" }
        if let v = values["user_name#1"] { lineUser = v.isEmpty ? nil : v }
        if let v = values["user_idle_text#1"] { lineLabel = v }
        if let v = values["user_host#1"] { setServer(v) }
        if let v = values["user_pass#1"] { sipPassword = v.isEmpty ? nil : v }
        if let v = values["http_user"], !v.isEmpty { webUsername = v }
        if let v = values["http_pass"], !v.isEmpty { webPassword = v }
        // setting_server is the settings file's own URL: the phone asks the same folder next time.
        if let v = values["setting_server"], let slash = v.lastIndex(of: "/") { provisionURL = String(v[...slash]) }
        for n in 1...12 {
            var a = accounts[n] ?? SimAccount()
            if let v = values["user_active#\(n)"] { a.active = v == "on" }
            if let v = values["user_name#\(n)"] { a.user = v.isEmpty ? nil : v }
            if let v = values["user_shared_line#\(n)"] { a.shared = v == "on" }
            if let v = values["user_ringer#\(n)"] { a.silent = v == "Silent" }
            accounts[n] = a
        }
        // fkey idx counts from 0; "line" shows the identity named by context [I].
        for key in root.child("functionKeys")?.children("fkey") ?? [] {
            guard let idx = key.attributes["idx"].flatMap({ Int($0) }) else { continue }
            if key.text.hasPrefix("url ") {
                browserKeyURL = String(key.text.dropFirst(4))
                browserKeyLabel = key.attributes["label"]
                lineKeys[idx + 1] = nil
            } else if key.text == "line" {
                lineKeys[idx + 1] = key.attributes["context"].flatMap { Int($0) }
            } else {
                lineKeys[idx + 1] = nil
            }
        }
    }

    /// Fanvil `key = value` lines with the HTTP API's dotted names [V sip.line.*, I the rest].
    mutating func applyFanvil(_ text: String) throws(ConfigRefusal) {
        let keys = try Self.lines(text, separator: "=")
        if let v = keys["sip.line.1.EnableReg"] { lineActive = v == "1" }
        if let v = keys["sip.line.1.RegisterUser"] { lineUser = v.isEmpty ? nil : v }
        if let v = keys["sip.line.1.Label"] { lineLabel = v }
        if let v = keys["sip.line.1.RegisterAddr"] { sipServer = v }
        if let v = keys["sip.line.1.RegisterPort"] { sipPort = Int(v) }
        if let v = keys["sip.line.1.RegisterPswd"] { sipPassword = v.isEmpty ? nil : v }
        if let v = keys["web.user"], !v.isEmpty { webUsername = v }
        if let v = keys["web.password"], !v.isEmpty { webPassword = v }
        if let v = keys["xml.push_server"] { pushServers = Self.list(v) }
        if let v = keys["autoprovision.url"], !v.isEmpty { provisionURL = v }
        for n in 1...12 {
            var a = accounts[n] ?? SimAccount()
            if let v = keys["sip.line.\(n).EnableReg"] { a.active = v == "1" }
            if let v = keys["sip.line.\(n).RegisterUser"] { a.user = v.isEmpty ? nil : v }
            if let v = keys["sip.line.\(n).SharedLine"] { a.shared = v == "1" }
            if let v = keys["sip.line.\(n).RingType"] { a.silent = v == "Silent" }
            accounts[n] = a
        }
        for n in 1...30 {
            switch keys["fkey.\(n).Type"] {
            case "xml"?:
                browserKeyURL = keys["fkey.\(n).Value"]
                browserKeyLabel = keys["fkey.\(n).Title"]
                lineKeys[n] = nil
            case "line"?: lineKeys[n] = keys["fkey.\(n).Value"].flatMap { Int($0.dropFirst(3)) }
            case nil: break
            default: lineKeys[n] = nil
            }
        }
    }

    /// Aastra `key: value` lines [3P]; `xml application post list` is the XML Push Server List [V].
    mutating func applyAastra(_ text: String) throws(ConfigRefusal) {
        let keys = try Self.lines(text, separator: ":")
        if let v = keys["sip line1 user name"] {
            lineActive = !v.isEmpty
            lineUser = v.isEmpty ? nil : v
        }
        if let v = keys["sip line1 screen name"] { lineLabel = v }
        if let v = keys["sip line1 proxy ip"] { sipServer = v }
        if let v = keys["sip line1 registrar port"] ?? keys["sip line1 proxy port"] { sipPort = Int(v) }
        if let v = keys["sip line1 password"] { sipPassword = v.isEmpty ? nil : v }
        if let v = keys["admin password"], !v.isEmpty { webPassword = v }
        if let v = keys["xml application post list"] { pushServers = Self.list(v) }
        if let v = keys["config server path"], !v.isEmpty { provisionURL = v }
        for n in 1...12 {
            var a = accounts[n] ?? SimAccount()
            if let v = keys["sip line\(n) user name"] {
                a.active = !v.isEmpty
                a.user = v.isEmpty ? nil : v
            }
            if let v = keys["sip line\(n) mode"] { a.shared = v == "1" }
            if let v = keys["sip line\(n) ring tone"] { a.silent = v == "silent" }
            accounts[n] = a
        }
        for n in 1...30 {
            switch keys["softkey\(n) type"] {
            case "xml"?:
                browserKeyURL = keys["softkey\(n) value"]
                browserKeyLabel = keys["softkey\(n) label"]
                lineKeys[n] = nil
            case "line"?: lineKeys[n] = keys["softkey\(n) line"].flatMap { Int($0) }
            case nil: break
            default: lineKeys[n] = nil
            }
        }
    }

    /// Grandstream `gs_provision` P-values [3P]; the XML application key P1363–P1365 is [I].
    mutating func applyGrandstream(_ body: [UInt8]) throws(ConfigRefusal) {
        let root = try Self.xml(body, root: "gs_provision")
        guard let config = root.child("config") else { throw ConfigRefusal(reason: "expected <gs_provision><config>") }
        var p: [String: String] = [:]
        for element in config.children { p[element.name] = element.text }
        if let v = p["P271"] { lineActive = v == "1" }
        if let v = p["P35"] { lineUser = v.isEmpty ? nil : v }
        if let v = p["P270"] { lineLabel = v }
        if let v = p["P47"] { setServer(v) }
        if let v = p["P34"] { sipPassword = v.isEmpty ? nil : v }
        if let v = p["P2"], !v.isEmpty { webPassword = v }
        if let v = p["P237"], !v.isEmpty { provisionURL = v }
        if p["P1363"] == "XMLApp" {
            browserKeyURL = p["P1365"]
            browserKeyLabel = p["P1364"]
        }
        // Accounts 2-4: P401/P404, P501/P504, P601/P604 (active, user ID) [3P numbering].
        accounts[1] = {
            var a = SimAccount()
            a.active = lineActive
            a.user = lineUser
            return a
        }()
        for (n, base) in [(2, 400), (3, 500), (4, 600)] {
            var a = accounts[n] ?? SimAccount()
            if let v = p["P\(base + 1)"] { a.active = v == "1" }
            if let v = p["P\(base + 4)"] { a.user = v.isEmpty ? nil : v }
            accounts[n] = a
        }
    }
}
