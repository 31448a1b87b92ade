/// What the phone should show, independent of any vendor. A dialect turns it into a document.
public enum Screen: Hashable, Sendable {
    case menu(Menu)
    case input(Input)
    case text(Text)

    /// A list of choices, each opening a URL.
    public struct Menu: Hashable, Sendable {
        public var title: String
        public var items: [MenuItem]
        public var softKeys: [SoftKey]

        public init(title: String, items: [MenuItem], softKeys: [SoftKey] = [.select, .exit]) {
            self.title = title
            self.items = items
            self.softKeys = softKeys
        }
    }

    public struct MenuItem: Hashable, Sendable {
        public var label: String
        public var url: String

        public init(label: String, url: String) {
            self.label = label
            self.url = url
        }
    }

    /// A form: the phone requests `url` with each field appended as `parameter=value`.
    public struct Input: Hashable, Sendable {
        public var title: String
        public var url: String
        public var fields: [InputField]
        public var softKeys: [SoftKey]

        public init(title: String, url: String, fields: [InputField], softKeys: [SoftKey]) {
            self.title = title
            self.url = url
            self.fields = fields
            self.softKeys = softKeys
        }
    }

    public struct InputField: Hashable, Sendable {
        public enum Kind: String, Hashable, Sendable {
            case number
            case text
        }

        public var prompt: String
        public var parameter: String
        public var kind: Kind
        /// Shown as dots/asterisks as the vendor does it.
        public var masked: Bool
        public var defaultValue: String

        public init(prompt: String, parameter: String, kind: Kind = .number, masked: Bool = false, defaultValue: String = "") {
            self.prompt = prompt
            self.parameter = parameter
            self.kind = kind
            self.masked = masked
            self.defaultValue = defaultValue
        }
    }

    /// A message, with soft keys to go on (e.g. "Try again").
    public struct Text: Hashable, Sendable {
        public var title: String
        public var text: String
        public var softKeys: [SoftKey]

        public init(title: String, text: String, softKeys: [SoftKey] = [.exit]) {
            self.title = title
            self.text = text
            self.softKeys = softKeys
        }
    }

    /// A soft key under the display.
    public struct SoftKey: Hashable, Sendable {
        public enum Action: Hashable, Sendable {
            /// Open a URL.
            case url(String)
            /// Send the form.
            case submit
            /// Open the highlighted menu item.
            case select
            /// Go back one screen.
            case back
            /// Leave the XML app.
            case exit
        }

        public var label: String
        public var action: Action

        public init(label: String, action: Action) {
            self.label = label
            self.action = action
        }

        public static let select = SoftKey(label: "Select", action: .select)
        public static let exit = SoftKey(label: "Exit", action: .exit)
        public static let back = SoftKey(label: "Back", action: .back)
    }

    /// Which document kind this is: the key of the dialect's template and root element.
    public var kind: Kind {
        switch self {
        case .menu: .menu
        case .input: .input
        case .text: .text
        }
    }

    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case menu
        case input
        case text
    }
}
