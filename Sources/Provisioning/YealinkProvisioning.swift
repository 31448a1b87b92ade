import HotDeskCore

/// Yealink: `<mac>.cfg` per phone and `y0000000000<xx>.cfg` for all phones of a family
/// (phone-dialects.md §0, verified). Config is `key = value` lines after `#!version:1.0.0.1`.
public struct YealinkProvisioning: VendorProvisioning {
    public init() {}

    public var brand: Brand { .yealink }
    public var format: ConfigFormat { .keyValue }

    public func deviceFileName(_ mac: MACAddress) -> String { "\(mac.canonical).cfg" }

    public func parse(fileName: String) -> ConfigRequest? {
        guard fileName.hasSuffix(".cfg") else { return nil }
        let stem = fileName.dropLast(4)
        if stem.count == 13, stem.hasPrefix("y0000000000"), stem.dropFirst(11).allSatisfy(\.isHexDigit) {
            return .common(.yealink)
        }
        return macInFileName(stem).map { .device($0, .yealink) }
    }

    public var commonFile: String? {
        "#!version:1.0.0.1\n## HotDesk: settings common to every Yealink phone live in each phone's own file.\n"
    }

    /// The web login keys (`static.security.user_name.admin`, `static.security.user_password =
    /// user:password`) follow Yealink's admin guides [third-party; correct here if a firmware differs].
    /// Linekey type 27 is the XML Browser key on T4x/T5x [inferred from Yealink admin guides;
    /// correct here if a model differs]. The key's URL is the per-device app entry.
    /// Remote commands: action URIs are taken only from `features.action_uri_limit_ip`
    /// [verified, Yealink admin guides], XML pushes only from the "Push XML Server IP Address",
    /// `push_xml.server` [the key name is inferred; correct here if a firmware differs].
    public var builtInTemplate: String {
        """
        #!version:1.0.0.1
        ## HotDesk built-in Yealink template ({{model}}, {{mac}}).
        {{#logged_in}}
        account.1.enable = 1
        account.1.label = {{line.number}}
        account.1.display_name = {{line.name}}
        account.1.auth_name = {{line.number}}
        account.1.user_name = {{line.number}}
        account.1.password = {{line.sip_password}}
        account.1.sip_server.1.address = {{server.host}}
        {{/logged_in}}
        {{^logged_in}}
        account.1.enable = 0
        account.1.label = {{#emergency_caller_id}}Emergency {{emergency_caller_id}}{{/emergency_caller_id}}{{^emergency_caller_id}}Logged out{{/emergency_caller_id}}
        account.1.display_name =
        account.1.auth_name =
        account.1.user_name =
        account.1.password =
        {{/logged_in}}
        {{#phone_login}}
        static.security.user_name.admin = {{phone_login.username}}
        static.security.user_password = {{phone_login.username}}:{{phone_login.password}}
        {{/phone_login}}
        {{#push_from}}
        features.action_uri_limit_ip = {{push_from}}
        push_xml.server = {{push_from}}
        {{/push_from}}
        static.auto_provision.server.url = {{provision_url}}
        linekey.2.type = 27
        linekey.2.label = Login/Logout
        linekey.2.value = {{app_url}}

        """
    }
}
