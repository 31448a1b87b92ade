import Foundation
import HotDeskCore
import PhoneXML

/// Builds the Login/Logout app's screens (vendor-neutral) from the locale's texts.
struct AppScreens: Sendable {
    let texts: Texts
    /// `http://host:port/app/<token>`: every URL on the screens starts here.
    let appURL: String
    let timeZone: TimeZone

    func url(_ path: String, _ query: [(String, String)] = []) -> String {
        var components = URLComponents()
        components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
        let q = query.isEmpty ? "" : "?" + (components.percentEncodedQuery ?? "")
        return appURL + path + q
    }

    private var done: Screen.SoftKey { .init(label: texts["softkey.done"], action: .submit) }
    private var back: Screen.SoftKey { .init(label: texts["softkey.back"], action: .back) }
    private var exit: Screen.SoftKey { .init(label: texts["softkey.exit"], action: .exit) }
    private var select: Screen.SoftKey { .init(label: texts["softkey.select"], action: .select) }

    /// Logged out: "Login Int" / "Login Extl".
    func chooseNetwork(title: String? = nil) -> Screen {
        .menu(
            .init(
                title: title ?? texts["app.title"],
                items: [
                    .init(label: texts["menu.login_int"], url: url("/login", [("net", Network.internal.rawValue)])),
                    .init(label: texts["menu.login_extl"], url: url("/login", [("net", Network.external.rawValue)])),
                ],
                softKeys: [select, exit]
            )
        )
    }

    /// Logged in: who, then "Login" / "Logout" / "Change PIN".
    func loggedInMenu(number: String, name: String) -> Screen {
        .menu(
            .init(
                title: texts["menu.logged_in_as", ["ext": number, "name": name]],
                items: [
                    .init(label: texts["menu.login"], url: url("/choose")), .init(label: texts["menu.logout"], url: url("/logout")),
                    .init(label: texts["menu.change_pin"], url: url("/pin")),
                ],
                softKeys: [select, exit]
            )
        )
    }

    /// Extension and password on one screen, the password masked; on phones that take one
    /// field per screen (`maxInputFields` 1), the extension first, its URL leading to the password.
    func loginForm(network: Network, extensionValue: String = "", maxInputFields: Int = 2) -> Screen {
        let title = texts["login.title"] + (network == .external ? " (Extl)" : " (Int)")
        let ext = Screen.InputField(prompt: texts["login.extension"], parameter: "ext", kind: .number, masked: false, defaultValue: extensionValue)
        guard maxInputFields >= 2 else {
            return .input(.init(title: title, url: url("/password", [("net", network.rawValue)]), fields: [ext], softKeys: [done, back, exit]))
        }
        return .input(
            .init(
                title: title,
                url: url("/submit", [("net", network.rawValue)]),
                fields: [ext, .init(prompt: texts["login.password"], parameter: "pw", kind: .number, masked: true)],
                softKeys: [done, back, exit]
            )
        )
    }

    /// The second of two chained screens: the password for the extension typed on the first.
    func passwordForm(network: Network, extensionValue: String) -> Screen {
        .input(
            .init(
                title: texts["login.password_title", ["ext": extensionValue]],
                url: url("/submit", [("net", network.rawValue), ("ext", extensionValue)]),
                fields: [.init(prompt: texts["login.password"], parameter: "pw", kind: .number, masked: true)],
                softKeys: [done, back, exit]
            )
        )
    }

    /// Change PIN: the current PIN and the new one twice, masked, on one screen; on phones that
    /// take one field per screen (`maxInputFields` 1), one screen each, the fields typed so far
    /// (`typed`, in order: `old`, `new`) carried to the next in its URL.
    func pinForm(maxInputFields: Int, typed: [(String, String)] = []) -> Screen {
        let fields: [Screen.InputField] = [("old", "pin.old"), ("new", "pin.new"), ("again", "pin.again")].map {
            .init(prompt: texts[$0.1], parameter: $0.0, kind: .number, masked: true)
        }
        guard maxInputFields < fields.count else {
            return .input(.init(title: texts["pin.title"], url: url("/pin/submit"), fields: fields, softKeys: [done, back, exit]))
        }
        let next = typed.count + 1 < fields.count ? url("/pin", typed) : url("/pin/submit", typed)
        return .input(.init(title: texts["pin.title"], url: next, fields: [fields[typed.count]], softKeys: [done, back, exit]))
    }

    /// The PIN was changed, or why not (with "Try again" back to the form).
    func pinChanged(_ outcome: LoginOutcome) -> Screen {
        guard case .pinChanged = outcome else {
            return .text(
                .init(
                    title: texts["pin.error.title"],
                    text: describe(outcome),
                    softKeys: [.init(label: texts["softkey.try_again"], action: .url(url("/pin"))), exit]
                )
            )
        }
        return .text(
            .init(
                title: texts["pin.ok.title"],
                text: describe(outcome),
                softKeys: [.init(label: texts["softkey.back"], action: .url(url(""))), exit]
            )
        )
    }

    /// "Logged in as 5501 - reloading" (or restarting; or, for a phone HotDesk cannot make apply
    /// its config, "restart the phone").
    func loggedIn(number: String, action: PushAction?) -> Screen {
        .text(.init(title: texts["login.ok.title"], text: texts[Self.key("login.ok", action), ["ext": number]], softKeys: [exit]))
    }

    static func key(_ prefix: String, _ action: PushAction?) -> String {
        switch action {
        case .reload?: "\(prefix).reload"
        case .reboot?: "\(prefix).reboot"
        default: "\(prefix).manual"
        }
    }

    /// An error that offers to try again (back to the form, the extension kept).
    func loginError(_ message: String, network: Network, extensionValue: String) -> Screen {
        .text(
            .init(
                title: texts["error.title"],
                text: message,
                softKeys: [
                    .init(label: texts["softkey.try_again"], action: .url(url("/login", [("net", network.rawValue), ("ext", extensionValue)]))), exit,
                ]
            )
        )
    }

    func message(_ message: String, title: String? = nil) -> Screen {
        .text(.init(title: title ?? texts["app.title"], text: message, softKeys: [.init(label: texts["softkey.back"], action: .url(url(""))), exit]))
    }

    func confirmLogout(number: String, name: String) -> Screen {
        .menu(
            .init(
                title: texts["logout.confirm.title", ["ext": number, "name": name]],
                items: [
                    .init(label: texts["logout.confirm.yes"], url: url("/logout/confirm")), .init(label: texts["logout.confirm.no"], url: url("")),
                ],
                softKeys: [select, exit]
            )
        )
    }

    func loggedOut(number: String, action: PushAction?) -> Screen {
        .text(.init(title: texts["logout.ok.title"], text: texts[Self.key("logout.ok", action), ["ext": number]], softKeys: [exit]))
    }

    /// The text for a failed "Done".
    func describe(_ outcome: LoginOutcome) -> String {
        switch outcome {
        case .loggedIn: ""
        case .noExtension: texts["error.no_extension"]
        case .badExtension: texts["error.bad_extension"]
        case .tooLong: texts["error.too_long"]
        case .noPassword: texts["error.no_password"]
        case .wrongPassword(let n, let left):
            left == 1 ? texts["error.wrong_password_last", ["ext": n]] : texts["error.wrong_password", ["ext": n, "left": "\(left)"]]
        case .locked(.extensionLocked(let n, let until)): texts["error.extension_locked", ["ext": n, "until": time(until)]]
        case .locked(.deviceLocked(let until)): texts["error.device_locked", ["until": time(until)]]
        case .loggedInElsewhere(let n, let places): texts["error.logged_in_elsewhere", ["ext": n, "where": places.joined(separator: ", ")]]
        case .tooManyPhones(let n, let count, let max): texts["error.too_many_phones", ["ext": n, "count": "\(count)", "max": "\(max)"]]
        case .notAssigned(let n): texts["error.not_assigned", ["ext": n]]
        case .otherSite(let n, let site): texts["error.other_site", ["ext": n, "site": site]]
        case .hotDeskingOff: texts["error.hot_desking_off"]
        case .globalPasswordsHeld(let until): texts["error.shared_password_held", ["until": time(until)]]
        case .noAddress(let net): texts["error.no_address", ["net": net == .internal ? texts["menu.login_int"] : texts["menu.login_extl"]]]
        case .pinChanged(let n): texts["pin.ok.text", ["ext": n]]
        case .badNewPIN(.notDigits): texts["error.pin_digits"]
        case .badNewPIN(.differ): texts["error.pin_differ"]
        case .badNewPIN(.same): texts["error.pin_same"]
        case .adminPasswordIsNoPIN: texts["error.pin_admin"]
        }
    }

    private func time(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.hour, .minute], from: date)
        let zone = timeZone.abbreviation(for: date) ?? timeZone.identifier
        return String(format: "%02d:%02d %@", c.hour ?? 0, c.minute ?? 0, zone)
    }
}
