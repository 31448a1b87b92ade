import ArgumentParser
import Curl
import Foundation
import Histogram
import PhoneSimulator

@main
struct PhoneSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phonesim",
        abstract: "A desk phone simulator for HotDesk: boots, fetches its config, browses the Login/Logout app, takes pushes.",
        subcommands: [Interactive.self, Run.self, Fleet.self],
        defaultSubcommand: Interactive.self
    )
}

/// What identifies one simulated phone.
struct PhoneOptions: ParsableArguments {
    @Option(help: "HotDesk's base URL, e.g. http://127.0.0.1:8080")
    var server: String

    @Option(help: "The phone's MAC address.")
    var mac: String

    @Option(help: "The model: \(SimModel.all.map(\.name).joined(separator: ", ")).")
    var model: String

    @Option(help: "The phone's own loopback address (any of 127.0.0.0/8): it listens and sends from there.")
    var address: String = "127.0.0.1"

    @Option(help: "The phone's web port for pushes (0: no web server).")
    var pushPort: Int = 80

    @Option(help: "Multiply the model's boot time by this (e.g. 0.05 for quick tests).")
    var bootTimeScale: Double = 1

    @Flag(
        help: "Register the phone's line with the SIP server its config names and take the PBX's NOTIFY (on the phone's address, a port of its own)."
    )
    var sip = false

    @Option(
        help: "Behind NAT: the host:port the phone writes in its SIP Via and Contact (its home network address), not where it sends from."
    )
    var sipLanAddress: String?

    func makePhone() throws -> SimulatedPhone {
        guard let simModel = SimModel.named(model) else {
            throw ValidationError("unknown model \"\(model)\"; one of \(SimModel.all.map(\.name).joined(separator: ", "))")
        }
        let hex = mac.lowercased().filter(\.isHexDigit)
        guard hex.count == 12 else { throw ValidationError("\"\(mac)\" is not a MAC address") }
        return SimulatedPhone(
            model: simModel,
            mac: hex,
            options: .init(
                server: server.hasSuffix("/") ? String(server.dropLast()) : server,
                address: address,
                pushPort: pushPort == 0 ? nil : pushPort,
                bootTimeScale: bootTimeScale,
                sip: sip,
                lanAddress: sipLanAddress
            )
        )
    }
}

func printErr(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// `phonesim --server URL --mac MAC --model M`: shows the screen and reads keypad-style lines.
struct Interactive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interactive",
        abstract:
            "Boot a phone and drive it by hand: h (Login/Logout key), a menu number, digits for a field, n (next field), a softkey label; or script steps."
    )

    @OptionGroup var phone: PhoneOptions

    func run() async throws {
        let sim = try phone.makePhone()
        do {
            let status = try await sim.boot()
            if status != 200 { print("! config fetch: \(status == 0 ? "no answer from \(phone.server)" : "HTTP \(status)")") }
        } catch { throw ExitCodeError("phone did not boot: \(error)") }
        await show(sim)
        print("h = Login/Logout key, 1-9 = menu item, digits = into the field, n = next field, Done/Back/Exit = softkey,")
        print("Enter = look again, events = what happened, q = quit; script steps (select 2, press Done, …) work too")
        // Pushes arrive while the phone waits for a key: say so, and show the screen they left.
        let seen = await sim.events.count
        let watcher = Task {
            var printed = seen
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                let events = await sim.events
                guard events.count > printed else { continue }
                let news = events[printed...]
                printed = events.count
                guard news.contains(where: Self.isPush) else { continue }
                print("")
                for e in news { print("* \(e)") }
                await show(sim)
                prompt()
            }
        }
        defer { watcher.cancel() }
        prompt()
        for await line in Self.standardInputLines() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "quit" || trimmed == "q" { break }
            if trimmed == "events" {
                for e in await sim.events { print("  \(e)") }
                continue
            }
            do {
                if let step = await sim.keypadStep(trimmed) {
                    try await ScriptRunner(expectTimeout: 2).run(PhoneScript(lines: [.init(number: 1, text: trimmed, step: step)]), on: sim)
                } else if !trimmed.isEmpty {
                    print("! nothing on this screen answers \"\(trimmed)\"")
                }
            } catch {
                print("! \(error)")
            }
            await show(sim)
            prompt()
        }
        await sim.shutdown()
    }

    /// Standard input's lines, read on a thread of their own: a `readLine` waiting for a key on
    /// one of Swift's concurrency threads kept the phone from answering pushes (its reload
    /// waited for the next Enter) wherever that pool has one thread or every other one is busy.
    static func standardInputLines() -> AsyncStream<String> {
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        let reader = Thread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
        reader.name = "phonesim stdin"
        reader.start()
        return lines
    }

    static func isPush(_ event: PhoneEvent) -> Bool {
        switch event {
        case .pushAccepted, .pushRefused, .reloaded, .rebootStarted, .reloadIgnored: true
        default: false
        }
    }

    func prompt() {
        print("> ", terminator: "")
        fflush(nil)
    }

    func show(_ sim: SimulatedPhone) async {
        let model = sim.model
        let border = "+" + String(repeating: "-", count: model.columns) + "+"
        print(border)
        for line in await sim.display { print("|" + line.padding(toLength: model.columns, withPad: " ", startingAt: 0) + "|") }
        print(border)
    }
}

/// `phonesim run … --script FILE`: exit 0 when every step held.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Boot a phone, run a script, exit 0 when every step held (else print the transcript).")

    @OptionGroup var phone: PhoneOptions

    @Option(help: "The script file (one step per line, # comments).")
    var script: String

    @Flag(help: "Print the transcript even when every step held.")
    var verbose = false

    func run() async throws {
        guard let text = try? String(contentsOfFile: script, encoding: .utf8) else { throw ExitCodeError("cannot read \(script)") }
        let parsed: PhoneScript
        do { parsed = try PhoneScript(text) } catch { throw ExitCodeError("\(script): \(error)") }
        let sim = try phone.makePhone()
        do {
            let status = try await sim.boot()
            if status != 200 { printErr("phonesim: config fetch: \(status == 0 ? "no answer from \(phone.server)" : "HTTP \(status)")") }
        } catch { throw ExitCodeError("phone did not boot: \(error)") }
        do {
            let transcript = try await ScriptRunner().run(parsed, on: sim)
            if verbose { print(transcript.joined(separator: "\n")) }
            print("ok: \(parsed.lines.count) steps held")
            await sim.shutdown()
        } catch {
            printErr(error.description)
            await sim.shutdown()
            throw ExitCode.failure
        }
    }
}

struct ExitCodeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `phonesim fleet`: many phones, concurrent login/logout cycles, latency percentiles.
struct Fleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot N phones on N loopback addresses and run login/logout cycles at once; print throughput and latency percentiles.",
        discussion: """
            Phone i (from 0) has MAC <mac-prefix><i as 6 hex digits>, address 127.1.x.y, and logs in extension first-extension+i with \
            --password (a voicemail PIN or the user password). The directory must hold those extensions.
            """
    )

    @Option(help: "HotDesk's base URL.")
    var server: String

    @Option(help: "How many phones.")
    var phones: Int = 10

    @Option(
        help:
            "The phones' models, comma-separated and taken in turn, or \"mixed\" for one of each family: \(SimModel.all.map(\.name).joined(separator: ", "))."
    )
    var model: String = "sangoma-s500"

    @Option(help: "Login/logout cycles per phone.")
    var logins: Int = 5

    @Option(help: "The first extension number.")
    var firstExtension: Int = 7000

    @Option(help: "The password every phone types.")
    var password: String = "1234"

    @Option(help: "First 6 hex digits of the phones' MACs.")
    var macPrefix: String = "0015aa"

    @Option(help: "The phones' web port for pushes (0: no web servers, pushes to them fail).")
    var pushPort: Int = 0

    @Flag(inversion: .prefixedNo, help: "After each Done, wait until the phone was pushed and fetched its new config (needs --push-port).")
    var waitApply = true

    func run() async throws {
        let names =
            model == "mixed"
            ? SimFamily.all.compactMap { f in SimModel.all.first { $0.family == f }?.name } : model.split(separator: ",").map(String.init)
        let models = try names.map { name in
            guard let m = SimModel.named(name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown model \"\(name)\"; one of \(SimModel.all.map(\.name).joined(separator: ", ")) or mixed")
            }
            return m
        }
        guard (1...5000).contains(phones), (1...10000).contains(logins) else { throw ValidationError("phones 1-5000, logins 1-10000") }
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        let fleet = (0..<phones).map { i in
            SimulatedPhone(
                model: models[i % models.count],
                mac: macPrefix + String(format: "%06x", i),
                options: .init(server: base, address: "127.1.\(i / 250).\(i % 250 + 1)", pushPort: pushPort == 0 ? nil : pushPort, bootTimeScale: 0)
            )
        }
        let bootStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for phone in fleet { group.addTask { try await phone.boot() } }
            try await group.waitForAll()
        }
        let bootTime = ContinuousClock.now - bootStart

        // Reference, same run, same client: a plain GET /health.
        var reference = Histogram<UInt64>.latency()
        for _ in 0..<200 {
            let t = ContinuousClock.now
            _ = try? await CurlEngine.shared.perform(CurlRequest(url: base + "/health"))
            reference.record(Self.micros(ContinuousClock.now - t))
        }

        let start = ContinuousClock.now
        let wait = waitApply && pushPort != 0
        let results = await withTaskGroup(of: Cycles.self) { group in
            for (i, phone) in fleet.enumerated() {
                let ext = String(firstExtension + i)
                group.addTask { await Self.cycles(phone, extensionNumber: ext, password: password, count: logins, waitApply: wait) }
            }
            var total = Cycles()
            for await c in group { total.add(c) }
            return total
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let (login, logout, applied, failures) = (results.login, results.logout, results.applied, results.failures)
        print("phones \(phones) (\(names.joined(separator: ", "))), \(logins) cycles each, booted in \(bootTime)")
        print(
            String(
                format: "cycles %d in %.2f s: %.1f login+logout cycles/s, %d failed",
                login.totalCount,
                seconds,
                Double(login.totalCount) / seconds,
                failures
            )
        )
        if wait { print("(each Done waits for its push and config fetch; the server waits 1 s after Done so the phone shows it first)") }
        var rows = [("health (reference)", reference), ("login (key → Done screen)", login), ("logout (key → Logged out)", logout)]
        if wait { rows.append(("Done → new config applied (push + fetch)", applied)) }
        for (name, h) in rows where h.totalCount > 0 {
            print(
                "\(name): p50 \(Self.ms(h.valueAtPercentile(50))) p90 \(Self.ms(h.valueAtPercentile(90))) p99 \(Self.ms(h.valueAtPercentile(99))) max \(Self.ms(h.max))"
            )
        }
        let ref = max(1, Double(reference.valueAtPercentile(50)))
        print(
            String(
                format: "ratios to health p50: login p50 %.1fx, logout p50 %.1fx",
                Double(login.valueAtPercentile(50)) / ref,
                Double(logout.valueAtPercentile(50)) / ref
            )
        )
        await withTaskGroup(of: Void.self) { group in
            for phone in fleet { group.addTask { await phone.shutdown() } }
        }
        if failures > 0 { throw ExitCode.failure }
    }

    /// Latencies (µs) and failures of one phone's cycles, or of all of them.
    struct Cycles: Sendable {
        var login = Histogram<UInt64>.latency()
        var logout = Histogram<UInt64>.latency()
        var applied = Histogram<UInt64>.latency()
        var failures = 0

        mutating func add(_ other: Cycles) {
            login.add(other.login)
            logout.add(other.logout)
            applied.add(other.applied)
            failures += other.failures
        }
    }

    /// Waits for the push that follows a Done and the config fetch it causes. A phone HotDesk
    /// cannot push (its family has no known request: the screen says to restart it) is restarted
    /// by the person at the desk, as they would.
    static func waitForApply(_ phone: SimulatedPhone, since mark: Int, into histogram: inout Histogram<UInt64>) async throws {
        let start = ContinuousClock.now
        if await phone.displayText.contains("restart the phone") { await phone.restart() }
        let done = await phone.waitForEvents(timeout: 15) { events in
            let since = events.dropFirst(mark)
            return since.contains(.reloaded) || since.contains(.booted)
        }
        guard done else { throw ExitCodeError("no push applied within 15 s") }
        histogram.record(micros(ContinuousClock.now - start))
    }

    static func cycles(_ phone: SimulatedPhone, extensionNumber: String, password: String, count: Int, waitApply: Bool) async -> Cycles {
        var result = Cycles()
        for _ in 0..<count {
            do {
                var t = ContinuousClock.now
                var mark = await phone.events.count
                try await phone.login("Login Int", ext: extensionNumber, password: password)
                guard await phone.displayText.contains("Logged in") else { throw ExitCodeError(await phone.displayText) }
                result.login.record(micros(ContinuousClock.now - t))
                if waitApply { try await waitForApply(phone, since: mark, into: &result.applied) }
                try await phone.key("exit")
                t = ContinuousClock.now
                mark = await phone.events.count
                try await phone.logout()
                guard await phone.displayText.contains("Logged out") else { throw ExitCodeError(await phone.displayText) }
                result.logout.record(micros(ContinuousClock.now - t))
                if waitApply { try await waitForApply(phone, since: mark, into: &result.applied) }
                try await phone.key("exit")
            } catch {
                result.failures += 1
                printErr("\(phone.mac): \(error)")
                try? await phone.key("exit")
            }
        }
        return result
    }

    static func micros(_ d: Duration) -> UInt64 {
        UInt64(max(0, d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000))
    }

    static func ms(_ micros: UInt64) -> String { String(format: "%.2f ms", Double(micros) / 1000) }
}

extension Histogram<UInt64> {
    /// Microseconds up to a minute, three significant digits.
    static func latency() -> Self { Histogram(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three) }
}
