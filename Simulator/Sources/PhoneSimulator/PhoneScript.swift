import Foundation

/// A phone script: one step per line, `#` starts a comment (see `Simulator/README.md`).
public struct PhoneScript: Sendable {
    public enum Step: Sendable, Hashable {
        case key(String)
        case expect(String)
        case expectNot(String)
        case select(String)
        case type(String)
        case next
        case press(String)
        case expectReload(seconds: Double)
        case expectReboot(seconds: Double)
        case wait(seconds: Double)
    }

    public struct Line: Sendable, Hashable {
        public var number: Int
        public var text: String
        public var step: Step

        public init(number: Int, text: String, step: Step) {
            self.number = number
            self.text = text
            self.step = step
        }
    }

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public var lines: [Line]

    public init(lines: [Line]) {
        self.lines = lines
    }

    public init(_ text: String) throws(ParseError) {
        var lines: [Line] = []
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let trimmed = content.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let verb = trimmed.prefix { $0 != " " }.lowercased()
            let argument = trimmed.dropFirst(verb.count).trimmingCharacters(in: .whitespaces)
            let number = offset + 1
            func needArgument() throws(ParseError) -> String {
                guard !argument.isEmpty else { throw ParseError(line: number, message: "\(verb) needs an argument") }
                return argument
            }
            func seconds() throws(ParseError) -> Double {
                guard let s = Double(argument), s >= 0, s <= 3600 else { throw ParseError(line: number, message: "\(verb) needs seconds (0-3600)") }
                return s
            }
            let step: Step
            switch verb {
            case "key": step = .key(try needArgument())
            case "expect": step = .expect(try needArgument())
            case "expect-not": step = .expectNot(try needArgument())
            case "select": step = .select(try needArgument())
            case "type": step = .type(try needArgument())
            case "next": step = .next
            case "press": step = .press(try needArgument())
            case "expect-reload": step = .expectReload(seconds: try seconds())
            case "expect-reboot": step = .expectReboot(seconds: try seconds())
            case "wait": step = .wait(seconds: try seconds())
            default:
                throw ParseError(
                    line: number,
                    message: "unknown step \"\(verb)\" (key, expect, expect-not, select, type, next, press, expect-reload, expect-reboot, wait)"
                )
            }
            lines.append(Line(number: number, text: trimmed, step: step))
        }
        self.lines = lines
    }
}

/// Runs a script against a phone, keeping a transcript.
public struct ScriptRunner: Sendable {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var line: PhoneScript.Line
        public var reason: String
        public var transcript: [String]
        public var description: String {
            (transcript + ["FAILED line \(line.number): \(line.text)", "  \(reason)"]).joined(separator: "\n")
        }
    }

    /// How long `expect` waits for the screen to show its text.
    public var expectTimeout: Double = 5

    public init(expectTimeout: Double = 5) {
        self.expectTimeout = expectTimeout
    }

    /// Runs every step; returns the transcript, or throws with the failed step. The first
    /// `expect-reload`/`expect-reboot` looks at events from `sinceEvent` (default: the script's
    /// start), each later one at events after the previous one.
    @discardableResult
    public func run(_ script: PhoneScript, on phone: SimulatedPhone, sinceEvent: Int? = nil) async throws(Failure) -> [String] {
        var transcript: [String] = []
        var mark: Int
        if let sinceEvent { mark = sinceEvent } else { mark = await phone.events.count }
        for line in script.lines {
            transcript.append("> \(line.text)")
            do {
                switch line.step {
                case .key(let name): try await phone.key(name)
                case .select(let item): try await phone.select(item)
                case .type(let text): try await phone.type(text)
                case .next: try await phone.next()
                case .press(let label): try await phone.press(label)
                case .wait(let seconds): try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                case .expect(let text):
                    guard await waitForDisplay(phone, timeout: expectTimeout, { $0.localizedCaseInsensitiveContains(text) }) else {
                        throw Failure(line: line, reason: "the screen does not show \"\(text)\"", transcript: transcript + (await screenDump(phone)))
                    }
                case .expectNot(let text):
                    if await phone.displayText.localizedCaseInsensitiveContains(text) {
                        throw Failure(line: line, reason: "the screen shows \"\(text)\"", transcript: transcript + (await screenDump(phone)))
                    }
                case .expectReload(let seconds):
                    let start = mark
                    let held = await phone.waitForEvents(timeout: seconds) { events in
                        let since = events.dropFirst(start)
                        return since.contains(.reloaded) && since.contains { if case .pushAccepted(.reload, _) = $0 { true } else { false } }
                    }
                    let since = Array(await phone.events.dropFirst(start))
                    guard held, !since.contains(.rebootStarted) else {
                        throw Failure(
                            line: line,
                            reason: "no reload without reboot within \(seconds) s; events: \(since.map(\.description))",
                            transcript: transcript
                        )
                    }
                    mark = await phone.events.count
                case .expectReboot(let seconds):
                    let start = mark
                    let held = await phone.waitForEvents(timeout: seconds) { events in
                        let since = Array(events.dropFirst(start))
                        guard let down = since.firstIndex(of: .rebootStarted) else { return false }
                        return since[down...].contains(.booted)
                    }
                    guard held else {
                        let since = Array(await phone.events.dropFirst(start))
                        throw Failure(
                            line: line,
                            reason: "no reboot within \(seconds) s; events: \(since.map(\.description))",
                            transcript: transcript
                        )
                    }
                    mark = await phone.events.count
                }
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure(line: line, reason: "\(error)", transcript: transcript + (await screenDump(phone)))
            }
            transcript += await screenDump(phone)
        }
        return transcript
    }

    private func waitForDisplay(_ phone: SimulatedPhone, timeout: Double, _ test: @Sendable (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while true {
            if test(await phone.displayText) { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func screenDump(_ phone: SimulatedPhone) async -> [String] {
        await phone.display.map { "  | \($0)" }
    }
}

extension SimulatedPhone {
    /// What a line typed at the interactive prompt means on the current screen, the way a person
    /// at a keypad thinks of it: a script step as is (`select 2`, `press Done`); else `h` for the
    /// Login/Logout key, `n` for the next field, a softkey's label, a menu item's number or label,
    /// and on an input screen anything else is typed into the field. `nil`: nothing to do.
    public func keypadStep(_ line: String) -> PhoneScript.Step? {
        let text = line.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return nil }
        if let step = (try? PhoneScript(text))?.lines.first?.step { return step }
        switch text.lowercased() {
        case "h", "hotdesk": return .key("hotdesk")
        case "n": return .next
        case "up", "down", "ok", "back", "exit": return .key(text.lowercased())
        default: break
        }
        if softKeys.contains(where: { $0.label.caseInsensitiveCompare(text) == .orderedSame }) { return .press(text) }
        switch screen {
        case .menu?: return .select(text)
        case .input?: return .type(text)
        default: return nil
        }
    }
}
