import Foundation
import HotDeskCore
import Logging

/// One line per security event, in a fixed format that fail2ban (`examples/fail2ban/`) and log
/// shippers can read:
///
///     hotdesk-security event=<event> source=<address or -> mac=<mac or -> extension=<number or -> detail="<text>"
///
/// The fields always come in this order; `detail` is quoted with `"` and `\` escaped and control
/// characters replaced. Never a password, token or key. Documented in docs/security.md.
public struct SecurityLog: Sendable {
    public enum Event: String, Sendable, CaseIterable {
        /// A wrong password or unknown extension on the Login app.
        case loginFailed = "login_failed"
        /// An extension, phone or source address was just locked.
        case lock
        /// The global passwords stopped working (the global budget was spent): an alert.
        case globalLock = "global_lock"
        /// A config or app request refused: unknown phone, wrong family, missing credential.
        case deviceRefused = "device_refused"
        /// A wrong API or PBX key.
        case keyRefused = "key_refused"
        /// Unknown phones refused: the enrolment rate or the cap on unclaimed devices was reached.
        case enrolmentCap = "enrolment_cap"
        /// A wrong name or password at the web console's sign-in.
        case signInFailed = "sign_in_failed"
        /// `/push-auth` asked about a login that is not one of a push being sent (`PushLogins`).
        case pushAuthRefused = "push_auth_refused"
    }

    let logger: Logger

    func record(_ event: Event, source: String?, mac: MACAddress? = nil, extensionNumber: String? = nil, detail: String) {
        let level: Logger.Level = event == .globalLock ? .critical : .notice
        logger.log(level: level, "\(Self.line(event, source: source, mac: mac, extensionNumber: extensionNumber, detail: detail))")
    }

    public static func line(_ event: Event, source: String?, mac: MACAddress?, extensionNumber: String?, detail: String) -> String {
        "hotdesk-security event=\(event.rawValue) source=\(field(source)) mac=\(mac.map { $0.canonical } ?? "-") "
            + "extension=\(field(extensionNumber)) detail=\"\(quoted(detail))\""
    }

    /// A value without spaces, quotes or control characters (`-` when absent).
    private static func field(_ value: String?) -> String {
        guard let value, !value.isEmpty else { return "-" }
        return String(String.UnicodeScalarView(value.unicodeScalars.prefix(64).map { $0.value > 0x20 && $0.value < 0x7f && $0 != "\"" ? $0 : "?" }))
    }

    private static func quoted(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(300) {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where TextSafety.isUnsafe(scalar): out += "?"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
