import Curl
import Foundation
import ServiceLifecycle

/// Something the phone did or had done to it, in order.
public enum PhoneEvent: Sendable, Hashable, CustomStringConvertible {
    case booted
    case configFetched(file: String, status: Int)
    case configRefused(file: String, reason: String)
    /// A push command the web server took (after checking the login).
    case pushAccepted(PushCommand.Action, path: String)
    /// A request the web server refused, with the status it answered.
    case pushRefused(status: Int, path: String, reason: String)
    /// A reload command on a model that cannot apply a config in place: answered, not done.
    case reloadIgnored
    case reloaded
    case rebootStarted
    case documentRefused(url: String, reason: String)
    /// Line 1's REGISTER ended with `status` (200: registered; 0: no answer).
    case sipRegistered(user: String, status: Int)
    case sipUnregistered(user: String)
    /// A NOTIFY the phone took (the whole `Event:` value), and what it then does.
    case notifyAccepted(event: String)
    case notifyRefused(event: String, status: Int, reason: String)
    /// A call came in (answered busy): the caller as its `From` says and as its registrar
    /// asserts it (`P-Asserted-Identity`; what phones that trust their PBX show).
    case incomingCall(from: String, asserted: String?)

    public var description: String {
        switch self {
        case .booted: "booted"
        case .configFetched(let file, let status): "config \(file): HTTP \(status)"
        case .configRefused(let file, let reason): "config \(file) refused: \(reason)"
        case .pushAccepted(let action, let path): "push accepted: \(action.rawValue) (\(path))"
        case .pushRefused(let status, let path, let reason): "push refused \(status) \(path): \(reason)"
        case .reloadIgnored: "reload ignored (this model must reboot to apply a config)"
        case .reloaded: "reloaded config"
        case .rebootStarted: "rebooting"
        case .documentRefused(let url, let reason): "document refused (\(url)): \(reason)"
        case .sipRegistered(let user, let status): "SIP \(user): REGISTER \(status == 0 ? "unanswered" : "\(status)")"
        case .sipUnregistered(let user): "SIP \(user): unregistered"
        case .notifyAccepted(let event): "NOTIFY \(event): taken"
        case .notifyRefused(let event, let status, let reason): "NOTIFY \(event): \(status) (\(reason))"
        case .incomingCall(let from, let asserted): "call from \(from)\(asserted.map { " (asserted: \($0))" } ?? "")"
        }
    }
}

/// A simulated desk phone: boots and fetches its config like the real model, browses the
/// Login/Logout app strictly in its dialect, and takes push commands on its own loopback address.
public actor SimulatedPhone {
    public struct Options: Sendable {
        /// HotDesk's base URL (`http://127.0.0.1:8080`); config comes from `<server>/provision/`.
        public var server: String
        /// The phone's own address: it listens there and sends from there.
        public var address: String
        /// The phone's web port; `nil` runs no web server (no pushes).
        public var pushPort: Int?
        /// Multiplies the model's boot time (tests use a small factor).
        public var bootTimeScale: Double
        /// Whether the phone registers its line with the SIP server its config names and takes
        /// SIP requests (NOTIFY) on its address; off, it has no SIP side at all.
        public var sip: Bool
        /// Behind NAT: the `host:port` the phone writes in its SIP Via and Contact (its address on
        /// the home network), which is not where its packets come from (`address`, the router's)
        /// and where nothing reaches it. `nil`: it writes its own address.
        public var lanAddress: String?

        public init(
            server: String,
            address: String = "127.0.0.1",
            pushPort: Int? = 80,
            bootTimeScale: Double = 1,
            sip: Bool = false,
            lanAddress: String? = nil
        ) {
            self.server = server
            self.address = address
            self.pushPort = pushPort
            self.bootTimeScale = bootTimeScale
            self.sip = sip
            self.lanAddress = lanAddress
        }
    }

    public enum PhoneError: Error, CustomStringConvertible, Sendable {
        case notOnline
        case noBrowserKey
        case http(Int, String)
        case transfer(String)
        case refused(DocumentRefusal)
        case noSuchItem(String)
        case noSuchSoftKey(String, available: [String])
        case notAnInputScreen
        case listener(String)

        public var description: String {
            switch self {
            case .notOnline: "the phone is not online (booting?)"
            case .noBrowserKey: "the config set no XML-browser (Login/Logout) key"
            case .http(let status, let url): "HTTP \(status) from \(url)"
            case .transfer(let message): "request failed: \(message)"
            case .refused(let refusal): "\(refusal)"
            case .noSuchItem(let item): "no menu item \"\(item)\" on this screen"
            case .noSuchSoftKey(let label, let available): "no softkey \"\(label)\" (softkeys: \(available.joined(separator: ", ")))"
            case .notAnInputScreen: "the screen has no input field"
            case .listener(let message): "web server did not start: \(message)"
            }
        }
    }

    public nonisolated let model: SimModel
    /// 12 lower-case hex digits.
    public nonisolated let mac: String
    public nonisolated let options: Options
    public private(set) var config = PhoneConfig()
    public private(set) var online = false
    /// `nil`: the idle screen.
    public internal(set) var screen: BrowserScreen?
    public private(set) var events: [PhoneEvent] = []
    public private(set) var lastRefusal: DocumentRefusal?
    /// The body of each config file as last fetched (for tests that read a raw setting).
    public private(set) var configFiles: [String: String] = [:]
    var history: [BrowserScreen] = []
    var selected = 0
    var focused = 0
    private var etags: [String: String] = [:]
    /// The files each master file named, for when it comes back unchanged (304).
    private var named: [String: [String]] = [:]
    var listener: Task<Void, any Error>?
    var listenerGroup: ServiceGroup?
    /// The SIP side, while the phone is on (`Options.sip`).
    var line: SIPLine?
    private var eventWaiters: [CheckedContinuation<Void, Never>] = []
    let engine: CurlEngine

    public init(model: SimModel, mac: String, options: Options, engine: CurlEngine = .shared) {
        self.model = model
        self.mac = mac.lowercased().filter(\.isHexDigit)
        self.options = options
        self.engine = engine
    }

    // MARK: power

    /// Power on: start the web server, fetch and apply the config, show the idle screen. A
    /// phone whose config fetch fails still comes up (with what it had); the status of its own
    /// config file is returned (0: no answer) and the failure is in `events`.
    @discardableResult
    public func boot() async throws -> Int {
        try await startListener()
        try await startLine()
        var status = 0
        do {
            status = try await fetchConfig()
        } catch PhoneError.http(let code, _) {
            status = code
        } catch {
            record(.configRefused(file: "(boot)", reason: "\(error)"))
        }
        online = true
        screen = nil
        history = []
        record(.booted)
        return status
    }

    /// Power off: stop answering on the network.
    public func shutdown() async {
        online = false
        await stopListener()
        await stopLine()
    }

    /// The person at the desk power-cycles the phone: off for its boot time, then it boots and
    /// fetches its config.
    public func restart() async { await reboot() }

    func reboot() async {
        record(.rebootStarted)
        online = false
        screen = nil
        await stopListener()
        await stopLine()
        try? await Task.sleep(for: .milliseconds(Int(model.bootSeconds * options.bootTimeScale * 1000)))
        do {
            try await boot()
        } catch {
            record(.configRefused(file: "(boot)", reason: "\(error)"))
            online = true
        }
    }

    // MARK: config

    var provisionBase: String {
        if let url = config.provisionURL { return url.hasSuffix("/") ? url : url + "/" }
        return options.server + "/provision/"
    }

    /// Fetches the model's config files in order and applies them (304 keeps what it has); a
    /// master file may name more files (Polycom `CONFIG_FILES`), fetched after it. Returns the
    /// status of the phone's own file (the last one).
    ///
    /// A config that gives the phone a new provisioning login or server makes it fetch again at
    /// once with them (as a phone does when its provisioning settings change; how soon a real
    /// one does is inferred: Yealink and Polycom re-provision on such a change or at their next
    /// check).
    @discardableResult
    public func fetchConfig() async throws -> Int {
        let before = (provisionBase, config.provisioningUser, config.provisioningPassword)
        var status = try await fetchConfigOnce()
        if status == 200, (provisionBase, config.provisioningUser, config.provisioningPassword) != before {
            status = try await fetchConfigOnce()
        }
        await registerLine()
        return status
    }

    func fetchConfigOnce() async throws -> Int {
        var last = 0
        var queue = model.configFiles(mac: mac)
        var fetched = 0
        while !queue.isEmpty, fetched < 8 {
            let file = queue.removeFirst()
            fetched += 1
            var headers: [(name: String, value: String)] = [("User-Agent", model.userAgent(mac: mac))]
            if let etag = etags[file] { headers.append(("If-None-Match", etag)) }
            let response: CurlResponse
            do {
                var request = CurlRequest(url: provisionBase + file, headers: headers, localAddress: options.address)
                if let user = config.provisioningUser, let password = config.provisioningPassword {
                    request.credentials = HTTPCredentials(username: user, password: password, scheme: .digest)
                }
                response = try await engine.perform(request)
            } catch {
                throw PhoneError.transfer(error.description)
            }
            record(.configFetched(file: file, status: response.status))
            last = response.status
            switch response.status {
            case 200:
                do {
                    config.moreFiles = []
                    try config.apply(response.body, format: model.family.configFormat)
                    etags[file] = response.headers["etag"]
                    configFiles[file] = response.text
                    named[file] = config.moreFiles
                } catch {
                    record(.configRefused(file: file, reason: error.reason))
                }
                queue += config.moreFiles
            case 304:
                queue += named[file] ?? []
            case 404 where !queue.isEmpty:
                break  // a missing family file is fine; only the phone's own file (the last) must exist
            default: throw PhoneError.http(response.status, provisionBase + file)
            }
        }
        return last
    }

    // MARK: keys

    /// A hard key: `hotdesk` (the Login/Logout line key), `up`, `down`, `ok`, `back`, `exit`.
    public func key(_ name: String) async throws {
        guard online else { throw PhoneError.notOnline }
        switch name.lowercased() {
        case "hotdesk", "login", "logout":
            guard let url = config.browserKeyURL, !url.isEmpty else { throw PhoneError.noBrowserKey }
            history = []
            try await open(url)
        case "up": selected = max(0, selected - 1)
        case "down":
            if case .menu(_, let items, _) = screen { selected = min(items.count - 1, selected + 1) }
        case "ok", "select":
            // OK sends a form, or opens the highlighted menu item.
            if case .input? = screen { try await activate("SoftKey:Submit") } else { try await activate("SoftKey:Select") }
        case "back": try await activate("SoftKey:Back")
        case "exit", "cancel": try await activate("SoftKey:Exit")
        default: throw PhoneError.noSuchSoftKey(name, available: ["hotdesk", "up", "down", "ok", "back", "exit"])
        }
    }

    /// Chooses a menu item by its number (1-based) or its label, and opens it.
    public func select(_ item: String) async throws {
        guard case .menu(_, let items, _) = screen else { throw PhoneError.noSuchItem(item) }
        let index: Int? =
            Int(item).flatMap { (1...items.count).contains($0) ? $0 - 1 : nil }
            ?? items.firstIndex { $0.prompt.caseInsensitiveCompare(item) == .orderedSame }
        guard let index else { throw PhoneError.noSuchItem(item) }
        selected = index
        try await activate("SoftKey:Select")
    }

    /// Types into the focused input field.
    public func type(_ text: String) throws {
        guard case .input(let title, let url, var fields, let keys) = screen, fields.indices.contains(focused) else {
            throw PhoneError.notAnInputScreen
        }
        fields[focused].value += text
        screen = .input(title: title, url: url, fields: fields, softKeys: keys)
    }

    /// Empties the focused input field (what it offered, or what was typed).
    public func clear() throws {
        guard case .input(let title, let url, var fields, let keys) = screen, fields.indices.contains(focused) else {
            throw PhoneError.notAnInputScreen
        }
        fields[focused].value = ""
        screen = .input(title: title, url: url, fields: fields, softKeys: keys)
    }

    /// Moves to the next input field.
    public func next() throws {
        guard case .input(_, _, let fields, _) = screen else { throw PhoneError.notAnInputScreen }
        focused = min(fields.count - 1, focused + 1)
    }

    /// Presses a softkey by its label (the document's softkeys, else the phone's own).
    public func press(_ label: String) async throws {
        guard online else { throw PhoneError.notOnline }
        let keys = softKeys
        guard let key = keys.first(where: { $0.label.caseInsensitiveCompare(label) == .orderedSame }) else {
            throw PhoneError.noSuchSoftKey(label, available: keys.map(\.label))
        }
        try await activate(key.uri)
    }

    /// The softkeys on screen: the document's, or the firmware's defaults for the screen kind.
    public var softKeys: [BrowserScreen.SoftKey] {
        guard let screen else { return [] }
        if !screen.softKeys.isEmpty { return screen.softKeys }
        switch screen {
        case .menu: return [.init(label: "Select", uri: "SoftKey:Select"), .init(label: "Exit", uri: "SoftKey:Exit")]
        case .input: return [.init(label: "Submit", uri: "SoftKey:Submit"), .init(label: "Back", uri: "SoftKey:Back")]
        case .text: return [.init(label: "Exit", uri: "SoftKey:Exit")]
        }
    }

    private func activate(_ uri: String) async throws {
        switch uri {
        case "SoftKey:Select":
            guard case .menu(_, let items, _) = screen, items.indices.contains(selected) else { return }
            try await open(items[selected].uri)
        case "SoftKey:Submit":
            guard case .input(_, let url, let fields, _) = screen else { throw PhoneError.notAnInputScreen }
            // The phone GETs the URL with the fields appended as a query (§1), or — Snom — with
            // each field's token in the URL replaced by the typed value (§4).
            var target = url
            for field in fields {
                if let token = field.token { target = target.replacingOccurrences(of: token, with: Self.encode(field.value)) }
            }
            let query = fields.filter { $0.token == nil }.map { "\(Self.encode($0.parameter))=\(Self.encode($0.value))" }.joined(separator: "&")
            try await open(query.isEmpty ? target : target + (target.contains("?") ? "&" : "?") + query)
        case "SoftKey:Back":
            screen = history.popLast()
            selected = 0
            focused = 0
        case "SoftKey:Exit":
            screen = nil
            history = []
        default:
            if uri.hasPrefix("http://") || uri.hasPrefix("https://") { try await open(uri) }
        }
    }

    /// Fetches a document and shows it, or keeps the screen and remembers why it refused it.
    func open(_ url: String) async throws {
        let response: CurlResponse
        do {
            response = try await engine.perform(
                CurlRequest(url: url, headers: [("User-Agent", model.userAgent(mac: mac))], localAddress: options.address, maxResponseBytes: 1 << 20)
            )
        } catch {
            throw PhoneError.transfer(error.description)
        }
        guard response.status == 200 else { throw PhoneError.http(response.status, Self.redacted(url)) }
        do {
            let next = try model.dialect.read(response.body)
            if let screen { history.append(screen) }
            screen = next
            selected = 0
            focused = 0
            lastRefusal = nil
        } catch {
            lastRefusal = error
            record(.documentRefused(url: Self.redacted(url), reason: error.reason))
            throw PhoneError.refused(error)
        }
    }

    // MARK: display

    /// The text display, `model.lines` lines of at most `model.columns` characters.
    public var display: [String] {
        var lines: [String]
        switch screen {
        case nil:
            let label = config.lineLabel.flatMap { $0.isEmpty ? nil : $0 } ?? (config.lineActive ? config.lineUser ?? "" : "No line")
            lines = [label, config.lineActive ? "Line 1: \(config.lineUser ?? "?")" : "Line 1: not registered"]
            for key in config.lineKeys.keys.sorted() where key > 1 {
                guard let index = config.lineKeys[key], let account = config.accounts[index], account.active else { continue }
                lines.append("L\(key): \(account.user ?? "?")\(account.shared ? " (shared)" : "")\(account.silent ? " (silent)" : "")")
            }
            if config.browserKeyURL != nil { lines.append("L2: \(config.browserKeyLabel ?? "XML Browser")") }
            if !online { lines = ["Booting..."] }
        case .menu(let title, let items, _)?:
            let room = max(1, model.lines - 2)
            let first = max(0, min(selected - room + 1, items.count - room))
            lines =
                [title]
                + items.enumerated().dropFirst(first).prefix(room).map { "\($0.offset == selected ? ">" : " ")\($0.offset + 1) \($0.element.prompt)" }
        case .input(let title, _, let fields, _)?:
            lines =
                [title]
                + fields.enumerated().map { i, f in
                    "\(i == focused ? ">" : " ")\(f.prompt) \(f.masked ? String(repeating: "*", count: f.value.count) : f.value)"
                }
        case .text(let title, let text, _)?:
            lines = [title] + Self.wrap(text, width: model.columns)
        }
        let keys = softKeys.map(\.label).joined(separator: " | ")
        lines = Array(lines.prefix(model.lines - (keys.isEmpty ? 0 : 1)))
        if !keys.isEmpty { lines.append(keys) }
        return lines.map { String($0.prefix(model.columns)) }
    }

    /// The display as one string (lines joined by spaces), for `expect`.
    public var displayText: String { display.joined(separator: " ") }

    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                if line.isEmpty {
                    line = String(word)
                } else if line.count + 1 + word.count <= width {
                    line += " " + word
                } else {
                    lines.append(line)
                    line = String(word)
                }
            }
            lines.append(line)
        }
        return lines
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// App URLs hold the device token: transcripts show only the path after it.
    static func redacted(_ url: String) -> String {
        guard let range = url.range(of: "/app/") else { return url }
        let rest = url[range.upperBound...]
        let after = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        return url[..<range.upperBound] + "<token>" + rest[after...]
    }

    // MARK: events

    func record(_ event: PhoneEvent) {
        events.append(event)
        poke()
    }

    /// Waits until `condition` holds on the events (checked at once and after each new event),
    /// or `timeout` seconds pass. Returns whether it held.
    public func waitForEvents(timeout: Double, _ condition: @Sendable ([PhoneEvent]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while !condition(events) {
            guard ContinuousClock.now < deadline else { return false }
            let tick = Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(50))
                await self?.poke()
            }
            await withCheckedContinuation { eventWaiters.append($0) }
            tick.cancel()
        }
        return true
    }

    /// Wakes everyone in `waitForEvents` to look again.
    private func poke() {
        let waiters = eventWaiters
        eventWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}
