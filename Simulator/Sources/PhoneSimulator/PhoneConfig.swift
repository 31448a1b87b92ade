import Foundation
import LibXML

/// What the phone took from its config files.
public struct PhoneConfig: Sendable, Hashable {
    public var lineActive = false
    public var lineUser: String?
    public var lineLabel: String?
    public var sipServer: String?
    public var hasSIPPassword = false
    /// The XML-browser key's URL (HotDesk's Login/Logout key).
    public var browserKeyURL: String?
    public var browserKeyLabel: String?
    /// Where the phone fetches its config from next time.
    public var provisionURL: String?
    /// The web login the config set (pushes must use it).
    public var webUsername: String?
    public var webPassword: String?
    /// Yealink `features.action_uri_limit_ip`: action URIs are taken only from these addresses;
    /// empty: from anyone (a real phone may first ask "Allow remote control?").
    public var actionURIFrom: [String] = []
    /// Yealink "Push XML Server IP Address" (`push_xml.server`, key name [I]): XML pushes are
    /// taken only from it; `nil`: from nobody.
    public var pushXMLServer: String?

    public init() {}
}

public struct ConfigRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { "config refused: \(reason)" }
}

extension PhoneConfig {
    /// Applies one config file on top of what the phone has (later files win).
    public mutating func apply(_ body: [UInt8], vendor: SimModel.Vendor) throws(ConfigRefusal) {
        switch vendor {
        case .yealink: try applyYealink(String(decoding: body, as: UTF8.self))
        case .sangoma: try applyHlProvision(body)
        }
    }

    /// Yealink `key = value` lines after `#!version:1.0.0.1` (§1) [V for file form].
    mutating func applyYealink(_ text: String) throws(ConfigRefusal) {
        let lines = text.split(whereSeparator: \.isNewline)
        guard lines.first?.hasPrefix("#!version:") == true else { throw ConfigRefusal(reason: "a Yealink config starts with #!version:") }
        var keys: [String: String] = [:]
        for line in lines.dropFirst() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let eq = trimmed.firstIndex(of: "=") else { throw ConfigRefusal(reason: "not key = value: \(trimmed.prefix(40))") }
            keys[trimmed[..<eq].trimmingCharacters(in: .whitespaces)] = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        if let v = keys["account.1.enable"] { lineActive = v == "1" }
        if let v = keys["account.1.user_name"] { lineUser = v.isEmpty ? nil : v }
        if let v = keys["account.1.label"] { lineLabel = v }
        if let v = keys["account.1.sip_server.1.address"] { sipServer = v }
        if let v = keys["account.1.password"] { hasSIPPassword = !v.isEmpty }
        if let v = keys["static.auto_provision.server.url"], !v.isEmpty { provisionURL = v }
        if let v = keys["static.security.user_name.admin"], !v.isEmpty { webUsername = v }
        if let v = keys["static.security.user_password"], let colon = v.firstIndex(of: ":") {
            webPassword = String(v[v.index(after: colon)...])
        }
        if let v = keys["features.action_uri_limit_ip"] {
            actionURIFrom = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let v = keys["push_xml.server"] { pushXMLServer = v.isEmpty ? nil : v }
        // Line key type 27 is the XML browser key [I].
        for n in 1...30 where keys["linekey.\(n).type"] == "27" {
            browserKeyURL = keys["linekey.\(n).value"]
            browserKeyLabel = keys["linekey.\(n).label"]
        }
    }

    /// Htek `hl_provision` XML, read by each element's `para` name (§7) [V for the form and
    /// `Account1.Active`; the other `para` names are I].
    mutating func applyHlProvision(_ body: [UInt8]) throws(ConfigRefusal) {
        let root: XMLElement
        do {
            root = try XMLParser.parse(body)
        } catch {
            throw ConfigRefusal(reason: "not well-formed XML (\(error))")
        }
        guard root.name == "hl_provision", let config = root.child("config") else {
            throw ConfigRefusal(reason: "expected <hl_provision><config>, got <\(root.name)>")
        }
        var paras: [String: String] = [:]
        for element in config.children {
            guard let para = element.attributes["para"] else { continue }
            paras[para] = element.text
        }
        if let v = paras["Account1.Active"] { lineActive = v == "1" }
        if let v = paras["Account1.UserId"] { lineUser = v.isEmpty ? nil : v }
        if let v = paras["Account1.Label"] { lineLabel = v }
        if let v = paras["Account1.SipServer"] { sipServer = v }
        if let v = paras["Account1.AuthPassword"] { hasSIPPassword = !v.isEmpty }
        if let v = paras["Autoprovision.ServerURL"], !v.isEmpty { provisionURL = v }
        if let v = paras["Security.AdminUser"], !v.isEmpty { webUsername = v }
        if let v = paras["Security.AdminPassword"], !v.isEmpty { webPassword = v }
        for n in 1...30 where paras["LineKey\(n).Type"] == "XMLBrowser" {
            browserKeyURL = paras["LineKey\(n).Value"]
            browserKeyLabel = paras["LineKey\(n).Label"]
        }
    }
}
