import HotDeskCore

/// Sangoma s-series: `cfg<mac>.xml` in Htek's `hl_provision` XML (phone-dialects.md §7,
/// verified in FreePBX's OSS endpoint templates). The P-codes other than `P271
/// Account1.Active` (including the web login `P196`/`P2`) are INFERRED from Htek's numbering;
/// correct them here.
public struct SangomaProvisioning: VendorProvisioning {
    public init() {}

    public var brand: Brand { .sangoma }
    public var format: ConfigFormat { .xml }

    public func deviceFileName(_ mac: MACAddress) -> String { "cfg\(mac.canonical).xml" }

    public func parse(fileName: String) -> ConfigRequest? {
        guard fileName.hasPrefix("cfg"), fileName.hasSuffix(".xml") else { return nil }
        return macInFileName(fileName.dropFirst(3).dropLast(4)).map { .device($0, .sangoma) }
    }

    public var commonFile: String? { nil }

    public var builtInTemplate: String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <!-- HotDesk built-in Sangoma template ({{model}}, {{mac}}) -->
        <hl_provision version="1">
        <config version="1">
        {{#logged_in}}
        <P271 para="Account1.Active">1</P271>
        <P270 para="Account1.Label">{{line.number}}</P270>
        <P3 para="Account1.DisplayName">{{line.name}}</P3>
        <P35 para="Account1.UserId">{{line.number}}</P35>
        <P36 para="Account1.AuthId">{{line.number}}</P36>
        <P34 para="Account1.AuthPassword">{{line.sip_password}}</P34>
        <P47 para="Account1.SipServer">{{server.host}}</P47>
        {{/logged_in}}
        {{^logged_in}}
        <P271 para="Account1.Active">0</P271>
        <P270 para="Account1.Label">{{#emergency_caller_id}}Emergency {{emergency_caller_id}}{{/emergency_caller_id}}{{^emergency_caller_id}}Logged out{{/emergency_caller_id}}</P270>
        <P3 para="Account1.DisplayName"></P3>
        <P35 para="Account1.UserId"></P35>
        <P36 para="Account1.AuthId"></P36>
        <P34 para="Account1.AuthPassword"></P34>
        {{/logged_in}}
        {{#phone_login}}
        <P196 para="Security.AdminUser">{{phone_login.username}}</P196>
        <P2 para="Security.AdminPassword">{{phone_login.password}}</P2>
        {{/phone_login}}
        <P237 para="Autoprovision.ServerURL">{{provision_url}}</P237>
        <P41200 para="LineKey2.Type">XMLBrowser</P41200>
        <P41300 para="LineKey2.Label">Login/Logout</P41300>
        <P41400 para="LineKey2.Value">{{app_url}}</P41400>
        </config>
        </hl_provision>

        """
    }
}
