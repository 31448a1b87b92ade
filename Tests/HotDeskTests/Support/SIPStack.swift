import Foundation
import Glibc
import Synchronization

/// Kamailio and baresip from Debian's packages, run by the tests on loopback only.
enum SIPStack {
    static let kamailio = "/usr/sbin/kamailio"
    static let modules = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
    static let baresip = "/usr/bin/baresip"
    static let baresipModules = "/usr/lib/baresip/modules"

    /// Whether the packages are installed (CI installs them; see `.ci/run`).
    static let available: Bool = {
        let fm = FileManager.default
        let ok =
            fm.isExecutableFile(atPath: kamailio) && fm.isExecutableFile(atPath: baresip)
            && fm.fileExists(atPath: modules + "/http_client.so") && fm.fileExists(atPath: modules + "/json.so")
        // CI sets HOTDESK_REQUIRE_SIP: there a missing package fails the suite instead of skipping it.
        if !ok && ProcessInfo.processInfo.environment["HOTDESK_REQUIRE_SIP"] != nil { return true }
        if !ok {
            print(
                """
                ⚠️  SKIPPING the Kamailio + baresip suite: install kamailio, kamailio-utils-modules, kamailio-json-modules and \
                baresip-core (apt) to run it. CI installs them.
                """
            )
        }
        return ok
    }()

    /// The repository's `examples/pbx/kamailio.cfg`.
    static let config = screensDirectory.deletingLastPathComponent().appendingPathComponent("examples/pbx/kamailio.cfg").path

    /// Below Linux's ephemeral range (32768-60999) and testPushPort's: a port from that range
    /// could be the source port of any client connection on loopback at that moment (an HAProxy
    /// front once failed to bind so, "Address already in use").
    private static let ports = Mutex(Int.random(in: 10000..<18000))
    static func port() -> Int {
        ports.withLock {
            $0 += 2
            return $0
        }
    }
}

/// A running Kamailio on 127.0.0.2:<port> (or another loopback address), asking HotDesk at `hotdeskURL`.
final class KamailioProcess: Sendable {
    let port: Int
    /// The PBX key it asks HotDesk with.
    let key: String
    private let process: ChildProcess
    let log: URL
    /// What this instance's processes, and no other's, have on their command line.
    private let marker: String
    /// Starts another Kamailio as this one was started.
    private let again: @Sendable () throws -> KamailioProcess

    /// `emergencyGateway`: where Kamailio sends emergency numbers (`sip:host:port`).
    /// `config`: a configuration that names its own `listen` address (port `port`); Kamailio
    /// then runs as docs/pbx.md starts it (`-DD -E`: in the foreground, with its children).
    /// `host`: the loopback address it listens on; `site`: the directory's site it serves (the
    /// example's `SITE`).
    init(
        port: Int,
        hotdeskURL: String,
        key: String,
        emergencyGateway: String? = nil,
        config: String? = nil,
        host: String = "127.0.0.2",
        site: String? = nil,
        directory: URL
    ) throws {
        Self.killStrays()
        self.port = port
        self.key = key
        again = {
            try KamailioProcess(
                port: port,
                hotdeskURL: hotdeskURL,
                key: key,
                emergencyGateway: emergencyGateway,
                config: config,
                host: host,
                site: site,
                directory: directory
            )
        }
        marker = config ?? "udp:\(host):\(port)"
        log = directory.appendingPathComponent("kamailio-\(port).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        var example = SIPStack.config
        if let site {
            example = directory.appendingPathComponent("kamailio-\(site).cfg").path
            let text = try String(contentsOfFile: SIPStack.config, encoding: .utf8)
            try text.replacingOccurrences(of: "#!define SITE \"\"", with: "#!define SITE \"\(site)\"").write(
                toFile: example,
                atomically: true,
                encoding: .utf8
            )
        }
        let how = config.map { ["-f", $0, "-DD", "-E"] } ?? ["-f", example, "-l", "udp:\(host):\(port)", "-D", "-E", "-n", "1"]
        process = try ChildProcess(
            SIPStack.kamailio,
            how + ["-L", SIPStack.modules, "-w", directory.path],
            environment: ["HOTDESK_URL": hotdeskURL, "HOTDESK_KEY": key, "PATH": "/usr/bin:/bin", "EMERGENCY_GATEWAY": emergencyGateway ?? ""],
            output: .file(log.path),
            errors: .file(log.path)
        )
        // Ready when it says it listens.
        for _ in 0..<50 {
            if (try? String(contentsOf: log, encoding: .utf8))?.contains("SO_RCVBUF is finally") == true { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Kamailios left by a test run that crashed before `stop()` (seen once: one was still running
    /// an hour later): Kamailio processes whose working directory is a test server's
    /// (`hotdesk-e2e-…`) and that init adopted, with their children. A Kamailio started by hand,
    /// even with the example config, is not one of them.
    private static func killStrays() {
        let fm = FileManager.default
        var parents: [Int32: Int32] = [:]
        for pid in ((try? fm.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init) {
            guard let cmdline = fm.contents(atPath: "/proc/\(pid)/cmdline"),
                let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let ppid = status.split(separator: "\n").first(where: { $0.hasPrefix("PPid:") }).flatMap({
                    Int32($0.dropFirst(5).trimmingCharacters(in: .whitespaces))
                })
            else { continue }
            let arguments = String(decoding: cmdline, as: UTF8.self).split(separator: "\0").map(String.init)
            guard arguments.first == SIPStack.kamailio, let w = arguments.firstIndex(of: "-w"), w + 1 < arguments.count,
                arguments[w + 1].contains("/hotdesk-e2e-")
            else { continue }
            parents[pid] = ppid
        }
        let strays = parents.filter { $0.value == 1 }.map(\.key)
        for (pid, parent) in parents where parent == 1 || strays.contains(parent) { kill(pid, SIGKILL) }
    }

    /// This Kamailio stopped and another started in its place (its dialogs and tables gone, as
    /// after a restart), with its log begun afresh.
    func restarted() async throws -> KamailioProcess {
        await stop()
        return try again()
    }

    /// The end of what Kamailio logged: for a failure's message.
    func tail(_ characters: Int = 2000) -> String {
        String(((try? String(contentsOf: log, encoding: .utf8)) ?? "").suffix(characters))
    }

    /// What the example's own routes logged ("hotdesk: …" lines), without Kamailio's warnings.
    func said() -> String {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains("hotdesk: ") }.suffix(30)
            .joined(separator: "\n")
    }

    /// How many times Kamailio has logged `text` so far.
    func logged(_ text: String) -> Int {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").components(separatedBy: text).count - 1
    }

    /// Kills Kamailio's processes (they do not always stop on SIGTERM): every process whose
    /// command line names this instance's listen address or configuration, which no other
    /// instance shares.
    func stop() async {
        let fm = FileManager.default
        for _ in 0..<50 {
            let pids = ((try? fm.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
                guard let cmdline = fm.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
                return String(decoding: cmdline, as: UTF8.self).contains(marker)
            }
            if pids.isEmpty && !process.isRunning { return }
            for pid in pids { kill(pid, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}

extension SIPStack {
    /// Whether something listens on UDP `host:port` (IPv4), read from /proc/net/udp: a baresip
    /// standing in for a gateway is ready to answer.
    static func listening(udp address: String) -> Bool {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { return false }
        let octets = parts[0].split(separator: ".").compactMap { UInt8($0) }
        guard octets.count == 4 else { return false }
        let hex = octets.reversed().map { String(format: "%02X", $0) }.joined() + ":" + String(format: "%04X", port)
        return ((try? String(contentsOfFile: "/proc/net/udp", encoding: .utf8)) ?? "").contains(" \(hex) ")
    }
}

/// One baresip run: an account, commands at start, a few seconds; returns what it printed.
enum Baresip {
    /// Whether the call baresip placed was answered.
    static func connected(_ output: String) -> Bool { output.contains("Call established") }

    /// The final SIP status of the call baresip placed ("… session closed: 404 Not registered").
    static func callStatus(_ output: String) -> Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("session closed: ") }),
            let range = line.range(of: "session closed: ")
        else { return nil }
        return Int(line[range.upperBound...].prefix(3))
    }

    /// `answer`: this one answers calls by itself (the callee of a test call). `listen` equal to
    /// `registrar`: a gateway that registers nowhere and answers what is sent to it.
    /// `authUser`: the digest user, when it is not `user` (an attacker with another line's password).
    /// Waits without holding a thread (`Command`): baresip waits on Kamailio, which waits on
    /// HotDesk, which needs the concurrency pool's threads to answer.
    static func run(
        user: String,
        password: String,
        authUser: String? = nil,
        registrar: String,
        commands: [String] = [],
        seconds: Int = 3,
        answer: Bool = false,
        listen: String? = nil,
        directory: URL
    ) async throws -> String {
        let dir = directory.appendingPathComponent("baresip-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let listen = listen ?? "127.0.0.\(Int.random(in: 30...200)):\(SIPStack.port())"
        try """
        sip_listen \(listen)
        module_path \(SIPStack.baresipModules)
        module g711.so
        module account.so
        module menu.so
        module aufile.so
        module ausine.so
        audio_player aufile,/dev/null
        audio_alert aufile,/dev/null
        audio_source ausine,440
        ausrc_srate 48000
        ausrc_channels 2
        auplay_srate 48000
        """.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try
            "<sip:\(user)@\(registrar);transport=udp>;auth_pass=\(password)\(authUser.map { ";auth_user=\($0)" } ?? "");regint=\(listen == registrar ? 0 : 60)\(answer ? ";answermode=auto" : "")\n"
            .write(
                to: dir.appendingPathComponent("accounts"),
                atomically: true,
                encoding: .utf8
            )
        // baresip runs for `seconds` and quits: a call placed in that time whose final answer
        // (or connection) did not come back yet is placed again, given twice as long, so a busy
        // machine makes the test slower, never wrong. Not a star code: it acts (a login, a wrong
        // PIN counted toward a lock) even when its answer comes too late, so placing it again
        // would act twice (a wrong PIN placed three times locked the extension once, under load).
        // It is placed once, with time for Kamailio's own 2 s wait on HotDesk and more.
        let actsOnce = commands.contains { $0.hasPrefix("/dial sip:*") }
        var limit = actsOnce ? max(seconds, 8) : seconds
        while true {
            let result = try await Command.run(
                [SIPStack.baresip, "-f", dir.path, "-t", "\(limit)"] + commands.flatMap { ["-e", $0] },
                errors: true,
                directory: dir,
                // baresip quits at `-t` once its transactions end (32 s at most, SIP's timer B):
                // one still running well after that is hung, and is killed.
                killAfter: .seconds(limit + 45)
            )
            let dialled = commands.contains { $0.hasPrefix("/dial") }
            if !dialled || actsOnce || callStatus(result.output) != nil || connected(result.output) || limit >= 4 * seconds {
                return result.output
            }
            limit *= 2
        }
    }
}

/// A SIP client that writes its own datagrams: what baresip cannot do, such as sending one
/// request twice (a retransmission, as any phone sends over UDP when the answer is slow).
/// Bound to a loopback address; waits by polling a non-blocking socket, holding no thread.
final class SIPDatagrams {
    let local: String
    private let socket: Int32

    init(host: String = "127.0.0.\(Int.random(in: 30...200))") throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EIO) }
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        self.socket = socket
        var port = 0
        for _ in 0..<20 {
            port = SIPStack.port()
            var address = Self.address(host, port)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { break }
            port = 0
        }
        guard port != 0 else {
            close(socket)
            throw POSIXError(.EADDRINUSE)
        }
        local = "\(host):\(port)"
    }

    deinit { close(socket) }

    private static func address(_ host: String, _ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    /// Sends `message` (lines joined with CRLF) to `to` ("host:port").
    func send(_ message: String, to: String) {
        let parts = to.split(separator: ":")
        var address = Self.address(String(parts[0]), Int(parts[1])!)
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// The next datagram received, or nil after `timeout`.
    func receive(timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count > 0 { return String(decoding: buffer[0..<count], as: UTF8.self) }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// The status code of a SIP response ("SIP/2.0 403 …").
    static func status(_ response: String) -> Int? {
        guard response.hasPrefix("SIP/2.0 ") else { return nil }
        return Int(response.dropFirst(8).prefix(3))
    }

    /// A header's value in a SIP message.
    static func header(_ name: String, in message: String) -> String? {
        message.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
    }

    /// The tag of a From or To header's value.
    static func tag(_ value: String) -> String? {
        value.split(separator: ";").first { $0.hasPrefix("tag=") }.map { String($0.dropFirst(4)) }
    }

    /// A parameter of a Digest challenge (`nonce="…"`).
    static func parameter(_ name: String, in challenge: String) -> String? {
        guard let range = challenge.range(of: "\(name)=\"") else { return nil }
        return String(challenge[range.upperBound...].prefix { $0 != "\"" })
    }
}
