import Foundation
import HotDeskCore
import Hummingbird
import NIOCore
import PhoneFamilies
import Provisioning
import Testing

@testable import HotDeskServer

@Suite("Core rules")
struct CoreTests {
    @Test(
        "MAC addresses: every common spelling, nothing else",
        arguments: [
            ("00:15:65:aa:bb:cc", "001565aabbcc"), ("00-15-65-AA-BB-CC", "001565aabbcc"), ("0015.65aa.bbcc", "001565aabbcc"),
            ("001565AABBCC", "001565aabbcc"), (" 00:15:65:AA:bb:cc\t", "001565aabbcc"), ("\u{00A0}001565aabbcc\u{3000}", "001565aabbcc"),
        ]
    )
    func macValid(text: String, canonical: String) {
        #expect(MACAddress(text)?.canonical == canonical)
    }

    @Test("metric names and label keys made Prometheus-safe: a safe one kept, anything else an underscore")
    func metricNames() {
        #expect(Telemetry.safe("hotdesk_logins_total") == "hotdesk_logins_total")
        #expect(Telemetry.safe("http.route") == "http_route" && Telemetry.safe("hb.request.duration") == "hb_request_duration")
        #expect(Telemetry.safe("é-x 1") == "__x_1" && Telemetry.safe("") == "")
    }

    @Test(
        "malformed MACs are refused",
        arguments: [
            "", "00:15:65:aa:bb", "00:15:65:aa:bb:cg", "00:15-65:aa:bb:cc", "0:015:65:aa:bb:cc", "001565aabbccdd", "../etc/passwd", "0015.65aa.bbcc.",
            "001565aabbcc:", "0015.65aabb.cc",
            "\u{FF10}\u{FF10}1565aabbcc", "00 15 65 aa bb cc", "00:15:65:aa:bb:cc:dd",
        ]
    )
    func macInvalid(text: String) {
        #expect(MACAddress(text) == nil)
    }

    /// Which family a file name is, when nothing else (no User-Agent, no known device) says.
    func family(_ name: String) -> String? {
        switch FileIdentification.decide(testFamilies.configs.matches(fileName: name), knownBrand: nil, userAgentBrands: []) {
        case .device(let m)?: "device \(m.brand.rawValue) \(m.mac!.canonical)"
        case .common(let m)?: "common \(m.brand.rawValue)"
        case .ambiguous(let brands)?: "ambiguous \(brands.map(\.rawValue).joined(separator: ","))"
        default: nil
        }
    }

    @Test(
        "config file names: each family's own, and the ones families share",
        arguments: [
            ("y000000000000.cfg", "common yealink"),
            ("y000000000028.cfg", "common yealink"),
            ("000000000000.cfg", "common polycom"),
            ("aastra.cfg", "common mitel"),
            ("snomD735.htm", "common snom"),
            ("SEP001565AABBCC.cnf.xml", "device cisco 001565aabbcc"),
            ("snomD735-001565AABBCC.htm", "device snom 001565aabbcc"),
            ("001565aabbcc-hotdesk.cfg", "device polycom 001565aabbcc"),
            ("001565aabbcc.cfg", "ambiguous fanvil,mitel,polycom,yealink"),
            ("001565AABBCC.cfg", "ambiguous fanvil,mitel,polycom,yealink"),
            ("cfg001565aabbcc.xml", "ambiguous grandstream,sangoma"),
        ]
    )
    func fileNames(name: String, expected: String) {
        #expect(family(name) == expected)
    }

    @Test("a shared file name: the stored brand decides, else the User-Agent; a known phone asking for another family's file is refused")
    func sharedFileNames() {
        let matches = testFamilies.configs.matches(fileName: "001565aabbcc.cfg")
        func decide(known: Brand?, agent: String) -> String {
            let brands = testFamilies.catalog.brands(inUserAgent: agent)
            switch FileIdentification.decide(matches, knownBrand: known, userAgentBrands: brands) {
            case .device(let m)?: return "device \(m.brand.rawValue)"
            case .otherFamily(let known, _)?: return "other \(known.rawValue)"
            case .userAgentMismatch(let agent, _)?: return "mismatch \(agent.map(\.rawValue).joined())"
            case .ambiguous(let b)?: return "ambiguous \(b.count)"
            default: return "none"
            }
        }
        #expect(decide(known: "polycom", agent: "") == "device polycom")
        #expect(decide(known: "polycom", agent: "Yealink SIP-T46U") == "device polycom", "the stored brand wins over a User-Agent")
        #expect(decide(known: "cisco", agent: "") == "other cisco")
        #expect(decide(known: nil, agent: "FileTransport PolycomVVX-VVX_411-UA/6.4.3.5018") == "device polycom")
        #expect(decide(known: nil, agent: "Fanvil X4U 2.12.2") == "device fanvil")
        #expect(decide(known: nil, agent: "Mitel6867i/5.1.0.2036") == "device mitel")
        #expect(decide(known: nil, agent: "Yealink SIP-T46U 108.86.0.45") == "device yealink")
        #expect(decide(known: nil, agent: "Grandstream GRP2614") == "mismatch grandstream")
        #expect(decide(known: nil, agent: "curl/8.0") == "ambiguous 4")
    }

    @Test(
        "bad file names",
        arguments: [
            "", "000000000000.xml", "001565aabbcc.xml", "cfg001565aabbcc.cfg", "../001565aabbcc.cfg", "001565aabbc.cfg", "y0000000000zz!.cfg",
            "cfg000000000000.xml",
        ]
    )
    func badFileNames(name: String) {
        #expect(family(name) == nil)
    }

    @Test("models from User-Agents")
    func userAgents() {
        let catalog = testFamilies.catalog
        #expect(catalog.model(fromUserAgent: "Yealink SIP-T46U 108.86.0.45 00:15:65:aa:bb:cc", brand: "yealink")?.name == "yealink-t46u")
        #expect(catalog.model(fromUserAgent: "Sangoma S700 2.0.4.67 00:15:65:aa:bb:cc", brand: "sangoma")?.name == "sangoma-s700")
        #expect(catalog.model(fromUserAgent: "curl/8.0", brand: "yealink") == nil)
        #expect(catalog.brands(inUserAgent: "Yealink SIP-T46U 108.86.0.45") == ["yealink"])
        #expect(catalog.brands(inUserAgent: "curl/8.0").isEmpty)
        #expect(catalog.brands(inUserAgent: "SIP phone (YEALINK) T46U") == ["yealink"], "a mark in any case, anywhere in the agent")
        #expect(catalog.brands(inUserAgent: "Yealin") == [], "a mark cut short is no mark")
        #expect(catalog.model(fromUserAgent: "polycomvvx-vvx_411-ua/6.4.3", brand: "polycom")?.name == "polycom-vvx411")
        #expect(catalog.model(named: "sangoma-s500")?.applyMethod == .reload)
        #expect(catalog.model(named: "sangoma-s300")?.applyMethod == .reboot)
        #expect(
            catalog.model(fromUserAgent: "FileTransport PolycomVVX-VVX_411-UA/6.4.3.5018 Type/Application", brand: "polycom")?.name
                == "polycom-vvx411"
        )
        #expect(catalog.model(fromUserAgent: "Cisco-CP8841/14.2.1", brand: "cisco")?.name == "cisco-8841")
        #expect(catalog.model(fromUserAgent: "D735", brand: "snom")?.name == "snom-d735", "the model a Snom file name holds")
    }

    @Test("server addresses")
    func addresses() {
        #expect(ServerAddress("192.0.2.10:8080")?.baseURL == "http://192.0.2.10:8080")
        #expect(ServerAddress("hotdesk.example.com:443")?.baseURL == "https://hotdesk.example.com")
        #expect(ServerAddress("https://pbx.example.com:8443/")?.baseURL == "https://pbx.example.com:8443")
        #expect(ServerAddress("pbx")?.port == 80)
        #expect(ServerAddress("pbx:0") == nil)
        #expect(ServerAddress("ftp://pbx") == nil)
        #expect(ServerAddress("a b:80") == nil)
    }

    // MARK: password rules

    static let key = HashKey.random()
    static let pinExt = Extension(number: "5501", name: "A", voicemailPIN: SecretHash(hashing: "1234", key: key), sipPassword: "x")
    static let noBoxExt = Extension(number: "5502", name: "B", voicemailPIN: nil, sipPassword: "x")
    static let settings = Settings(userPassword: SecretHash(hashing: "7777", key: key), adminPassword: SecretHash(pbkdf2Hashing: "master"))

    @Test("password rules: PIN, user password only without a box, admin password for anyone")
    func passwordRules() {
        #expect(PasswordRules.check("1234", for: Self.pinExt, settings: Self.settings) == .voicemailPIN)
        #expect(PasswordRules.check("7777", for: Self.pinExt, settings: Self.settings) == nil)
        #expect(PasswordRules.check("7777", for: Self.noBoxExt, settings: Self.settings) == .userPassword)
        #expect(PasswordRules.check("1234", for: Self.noBoxExt, settings: Self.settings) == nil)
        #expect(PasswordRules.check("master", for: Self.pinExt, settings: Self.settings) == .adminPassword)
        #expect(PasswordRules.check("master", for: Self.noBoxExt, settings: Self.settings) == .adminPassword)
        #expect(PasswordRules.check("", for: Self.noBoxExt, settings: Settings()) == nil)
        #expect(PasswordRules.check("7777", for: Self.noBoxExt, settings: Settings()) == nil)
    }

    @Test("secret hashes: keyed (useless without the key), old PBKDF2 ones still read; constant-time comparison")
    func secrets() {
        let hash = SecretHash(hashing: "1234", key: Self.key)
        #expect(hash.matches("1234") && !hash.needsUpgrade)
        #expect(!hash.matches("1235"))
        #expect(!hash.matches(""))
        #expect(hash.encoded.hasPrefix("hmac-sha256$") && !hash.encoded.contains("1234"))
        #expect(SecretHash(encoded: hash.encoded, key: Self.key) == hash)
        #expect(SecretHash(encoded: hash.encoded, key: Self.key)?.matches("1234") == true)
        #expect(SecretHash(encoded: hash.encoded, key: .random())?.matches("1234") == false, "another key proves nothing")
        #expect(SecretHash(encoded: hash.encoded, key: nil)?.matches("1234") == false, "no key proves nothing")
        #expect(SecretHash(hashing: "1234", key: Self.key) != hash, "salted")
        let old = SecretHash(pbkdf2Hashing: "1234", rounds: 100)
        #expect(old.needsUpgrade && old.matches("1234") && !old.matches("1235"))
        #expect(SecretHash(encoded: old.encoded, key: nil)?.matches("1234") == true)
        #expect(SecretHash(encoded: "plain", key: Self.key) == nil)
        #expect(SecretHash(encoded: "hmac-sha256$AAAA$AAAA", key: Self.key) == nil, "a hash of the wrong length")
        #expect(!"\(hash)".contains(hash.encoded))
        #expect(ConstantTime.equal("abc", "abc"))
        #expect(!ConstantTime.equal("abc", "abd"))
        #expect(!ConstantTime.equal("abc", "abcd"))
        // Lengths 256 apart, the longer padded with NULs: once equal (the length's difference
        // was kept in a byte).
        let padded = "abc" + String(repeating: "\u{0}", count: 256)
        #expect(!ConstantTime.equal("abc", padded) && !ConstantTime.equal(Array("abc".utf8), Array(padded.utf8)))
        let token = RandomToken.make()
        #expect(token.count == 32)
        #expect(RandomToken.isWellFormed(token))
        #expect(!RandomToken.isWellFormed("001565aabbcc"))
        #expect(RandomToken.make() != token)
    }

    // MARK: lockouts

    @Test("lockouts: limit within the window locks for the duration")
    func lockout() {
        let rule = LockoutRule(policy: LockoutPolicy(extensionFailures: 3, deviceFailures: 5, window: 900, duration: 900))
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let three = [t0, t0 + 60, t0 + 120]
        #expect(rule.lock(extensionNumber: "5501", extensionFailures: Array(three.prefix(2)), deviceFailures: [], now: t0 + 130) == nil)
        #expect(
            rule.lock(extensionNumber: "5501", extensionFailures: three, deviceFailures: [], now: t0 + 130)
                == .extensionLocked(number: "5501", until: t0 + 1020)
        )
        #expect(rule.lock(extensionNumber: "5501", extensionFailures: three, deviceFailures: [], now: t0 + 1021) == nil)
        // Spread wider than the window: no lock.
        #expect(rule.lock(extensionNumber: "5501", extensionFailures: [t0, t0 + 600, t0 + 1200], deviceFailures: [], now: t0 + 1201) == nil)
        let five = (0..<5).map { t0 + Double($0) }
        #expect(rule.lock(extensionNumber: "5501", extensionFailures: [], deviceFailures: five, now: t0 + 10) == .deviceLocked(until: t0 + 904))
        #expect(rule.triesLeft(extensionFailures: Array(three.prefix(1)), now: t0 + 1) == 2)
    }

    // MARK: template resolution

    static let s500 = Device(mac: MACAddress("001565aabbcc")!, model: testFamilies.catalog.model(named: "sangoma-s500")!, token: "t")
    static let templates = [
        Template(name: "by-mac", brand: "sangoma", isDefault: false, body: ""),
        Template(name: "by-model", brand: "sangoma", isDefault: false, body: ""),
        Template(name: "by-brand", brand: "sangoma", isDefault: false, body: ""),
        Template(name: "yealink-only", brand: "yealink", isDefault: false, body: ""),
        Template(name: "sangoma-default", brand: "sangoma", isDefault: true, body: ""),
    ]
    static let allMappings = [
        Mapping(extensionNumber: "5501", templateName: "by-mac", model: "sangoma-s500", mac: MACAddress("001565aabbcc")),
        Mapping(extensionNumber: "5501", templateName: "by-model", model: "sangoma-s500"),
        Mapping(extensionNumber: "5501", templateName: "by-brand"),
    ]

    func resolve(
        _ mappings: [Mapping],
        ext: String? = "5501",
        templates: [Template] = CoreTests.templates,
        device: Device = CoreTests.s500
    ) -> (String?, TemplateResolver.Source) {
        let r = TemplateResolver.resolve(extensionNumber: ext, device: device, mappings: mappings, templates: templates)
        return (r.template?.name, r.source)
    }

    @Test("template resolution: extension+model+MAC")
    func resolveMAC() {
        #expect(resolve(Self.allMappings) == ("by-mac", .mappingModelAndMAC))
        // A mapping for another phone's MAC does not apply here.
        let other = Device(mac: MACAddress("001565aabbdd")!, model: Self.s500.model, token: "u")
        #expect(resolve(Self.allMappings, device: other) == ("by-model", .mappingModel))
    }

    @Test("template resolution: extension+model")
    func resolveModel() {
        #expect(resolve(Array(Self.allMappings.dropFirst())) == ("by-model", .mappingModel))
        let s700 = Device(mac: MACAddress("001565aabbcc")!, model: testFamilies.catalog.model(named: "sangoma-s700")!, token: "t")
        #expect(resolve(Array(Self.allMappings.dropFirst()), device: s700) == ("by-brand", .mappingBrand))
    }

    @Test("template resolution: extension with brand only")
    func resolveBrand() {
        #expect(resolve([Self.allMappings[2]]) == ("by-brand", .mappingBrand))
        // A brand-only mapping to another brand's template does not apply.
        #expect(resolve([Mapping(extensionNumber: "5501", templateName: "yealink-only")]) == ("sangoma-default", .brandDefault))
    }

    @Test("template resolution: brand default, then built-in")
    func resolveDefaults() {
        #expect(resolve([]) == ("sangoma-default", .brandDefault))
        #expect(resolve(Self.allMappings, ext: "5502") == ("sangoma-default", .brandDefault))
        #expect(resolve(Self.allMappings, ext: nil) == ("sangoma-default", .brandDefault))
        #expect(resolve([], templates: Array(Self.templates.dropLast())) == (nil, .builtIn))
    }

    @Test("login plan: who is logged out first")
    func loginPlan() {
        let a = MACAddress("001565aabb01")!
        let b = MACAddress("001565aabb02")!
        let s = { (mac: MACAddress, ext: String) in
            Session(mac: mac, extensionNumber: ext, network: .internal, credential: .voicemailPIN, startedAt: Date(), source: nil)
        }
        let over = LoginPlan(device: a, extensionNumber: "5501", sessionOnDevice: s(a, "5502"), sessionsOfExtension: [])
        #expect(over.replacedOnDevice?.extensionNumber == "5502")
        #expect(over.movedFromDevice == nil)
        let move = LoginPlan(device: a, extensionNumber: "5501", sessionOnDevice: nil, sessionsOfExtension: [s(b, "5501")])
        #expect(move.movedFromDevice?.mac == b)
        #expect(move.affectedDevices(a) == [a, b])
        let again = LoginPlan(device: a, extensionNumber: "5501", sessionOnDevice: s(a, "5501"), sessionsOfExtension: [s(a, "5501")])
        #expect(again.movedFromDevice == nil)

        // multi_login: deny refuses while it is logged in elsewhere; allow counts the phones.
        let c = MACAddress("001565aabb03")!
        let denied = LoginPlan(device: a, extensionNumber: "5501", sessionOnDevice: nil, sessionsOfExtension: [s(b, "5501")], policy: .deny)
        #expect(denied.refusal == .loggedInElsewhere([b]) && denied.endedElsewhere.isEmpty)
        #expect(
            LoginPlan(device: a, extensionNumber: "5501", sessionOnDevice: s(a, "5501"), sessionsOfExtension: [s(a, "5501")], policy: .deny).refusal
                == nil,
            "logging in again on the same phone is not a second phone"
        )
        let two = LoginPlan(
            device: a,
            extensionNumber: "5501",
            sessionOnDevice: nil,
            sessionsOfExtension: [s(b, "5501")],
            policy: .allow(maxPhones: 2)
        )
        #expect(two.refusal == nil && two.affectedDevices(a) == [a], "the other phone keeps its session")
        let three = LoginPlan(
            device: a,
            extensionNumber: "5501",
            sessionOnDevice: nil,
            sessionsOfExtension: [s(b, "5501"), s(c, "5501")],
            policy: .allow(maxPhones: 2)
        )
        #expect(three.refusal == .tooManyPhones(count: 2, max: 2))
        let moveAll = LoginPlan(device: a, extensionNumber: "5501", sessionOnDevice: nil, sessionsOfExtension: [s(b, "5501"), s(c, "5501")])
        #expect(moveAll.affectedDevices(a) == [a, b, c])
        #expect(MultiLoginPolicy("allow:3") == .allow(maxPhones: 3) && MultiLoginPolicy("allow:0") == nil && MultiLoginPolicy("deny") == .deny)
    }

    @Test("config values cannot break out of their line or element")
    func configEscaping() throws {
        let device = Device(mac: MACAddress("001565aabbcc")!, model: testFamilies.catalog.model(named: "yealink-t46u")!, token: "tok")
        let context = ConfigContext(
            device: device,
            line: .init(number: "5501", name: "Eve\naccount.1.password = stolen", sipPassword: "p<&>"),
            server: ServerAddress("pbx:80")!,
            network: .internal,
            emergencyCallerID: nil
        )
        let y = try #require(testFamilies.configs["yealink"])
        let yealink = try ConfigRenderer().render(y.primaryFile.template, name: "y", format: y.format, context: context)
        #expect(!yealink.body.contains("\naccount.1.password = stolen"))
        #expect(yealink.body.contains("account.1.password = p<&>"))
        let sangomaDevice = Device(mac: device.mac, model: testFamilies.catalog.model(named: "sangoma-s500")!, token: "tok")
        let sangoma = try #require(testFamilies.configs["sangoma"])
        let s = try ConfigRenderer().render(
            sangoma.primaryFile.template,
            name: "s",
            format: sangoma.format,
            context: ConfigContext(device: sangomaDevice, line: context.line, server: context.server, network: .internal, emergencyCallerID: nil)
        )
        #expect(s.body.contains("p&lt;&amp;&gt;"))
        #expect(s.hash.count == 64)
        // Printable ASCII skips the escaping, except XML's five special characters on their own.
        let quoted = try ConfigRenderer().render(
            sangoma.primaryFile.template,
            name: "s",
            format: sangoma.format,
            context: ConfigContext(
                device: sangomaDevice,
                line: .init(number: "5501", name: "O'Neil", sipPassword: "say \"hi\""),
                server: context.server,
                network: .internal,
                emergencyCallerID: nil
            )
        )
        #expect(quoted.body.contains("O&apos;Neil") && quoted.body.contains("say &quot;hi&quot;") && !quoted.body.contains("O'Neil"))
        let tabbed = try ConfigRenderer().render(
            y.primaryFile.template,
            name: "y",
            format: y.format,
            context: ConfigContext(
                device: device,
                line: .init(number: "5501", name: "Ada\u{7F}Lovelace", sipPassword: "plain"),
                server: context.server,
                network: .internal,
                emergencyCallerID: nil
            )
        )
        #expect(tabbed.body.contains("Ada Lovelace"), "DEL is a control character: blanked")
    }

    @Test("a config as answered: ETag quoted, If-None-Match as one tag, a list or *; the body's bytes are the config's")
    func servedConfig() {
        let served = ServedConfig(RenderedConfig(body: "a = 1\n", contentType: "text/plain"))
        let rendered = RenderedConfig(body: "a = 1\n", contentType: "text/plain")
        let etag = "\"\(rendered.hash)\""
        #expect(served.hash == rendered.hash)
        #expect(served.etag == etag && served.headers[.eTag] == etag && served.headers[.contentType] == "text/plain")
        #expect(served.notModifiedHeaders[.eTag] == etag && served.notModifiedHeaders[.contentType] == nil)
        #expect(served.isMatched(by: etag) && served.isMatched(by: "\"old\", \(etag)") && served.isMatched(by: "*"))
        #expect(!served.isMatched(by: "\"old\"") && !served.isMatched(by: served.hash) && !served.isMatched(by: ""))
        #expect(served.isMatched(by: "\"old\",\t\(etag) ") && served.isMatched(by: " \(etag)\t,") && served.isMatched(by: "\"old\", * "))
        #expect(!served.isMatched(by: " , \t") && !served.isMatched(by: "\"old\", \(etag)x") && !served.isMatched(by: "**"))
        #expect(String(buffer: served.body) == "a = 1\n")
    }

    @Test("Host header: a plausible host[:port] or nothing")
    func hostHeader() {
        func host(_ authority: String) -> String? {
            Request(head: .init(method: .get, scheme: nil, authority: authority, path: "/"), body: .init(buffer: ByteBuffer())).hostHeader
        }
        #expect(host("pbx.example:8080") == "pbx.example:8080" && host("[::1]:80") == "[::1]:80" && host("PBX-1.Example.") == "PBX-1.Example.")
        #expect(host("bücher.example") == "bücher.example", "letters beyond ASCII pass as before")
        for hostile in ["evil/x", "a b", "a@b", "", "a_b", "x`", "{x}", String(repeating: "a", count: 256)] {
            #expect(host(hostile) == nil, "\(hostile)")
        }
    }

    @Test("push policy: exponential backoff with jitter, capped; a reload that did not take becomes a reboot")
    func pushPolicy() {
        let policy = PushPolicy(maxAttempts: 4, backoff: 2, maxBackoff: 10)
        #expect(policy.retryDelay(afterAttempt: 1, random: 0) == 1 && policy.retryDelay(afterAttempt: 1, random: 1) == 2)
        #expect(policy.retryDelay(afterAttempt: 3, random: 0.5) == 6)
        #expect(policy.retryDelay(afterAttempt: 30, random: 1) == 10, "capped at maxBackoff")
        let now = Date(timeIntervalSince1970: 1000)
        var job = PushJob(
            mac: MACAddress("001565aabbcc")!,
            action: .reload,
            reason: .login,
            attempts: 1,
            configHash: "h",
            actor: "t",
            createdAt: now,
            dueAt: now
        )
        #expect(policy.afterFailedAttempt(job, now: now, random: 0) == .retry(action: .reload, at: now + 1))
        #expect(policy.afterApplyTimeout(job, now: now) == .retry(action: .reboot, at: now))
        job.attempts = 4
        #expect(policy.afterFailedAttempt(job, now: now, random: 0) == .fail)
        #expect(policy.afterApplyTimeout(job, now: now) == .fail)
        #expect(PushAction(ApplyMethod.reload) == .reload && PushAction(ApplyMethod.reboot) == .reboot)
    }

    @Test("API keys: shape, hash, never the key itself")
    func apiKeys() {
        let key = APIKey.make()
        #expect(APIKey.isWellFormed(key) && key.hasPrefix("hdk_"))
        #expect(!APIKey.isWellFormed("hdk_short") && !APIKey.isWellFormed(RandomToken.make(bytes: 32)))
        #expect(APIKey.hash(key).count == 64 && APIKey.hash(key) != APIKey.hash(APIKey.make()))
    }
}

@Suite("Auto logout rules")
struct AutoLogoutTests {
    let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    func session(since text: String) -> Session {
        Session(
            mac: MACAddress("001565aabbcc")!,
            extensionNumber: "5501",
            network: .internal,
            credential: .voicemailPIN,
            startedAt: at(text),
            source: nil
        )
    }

    @Test("daily times are HH:MM, 24-hour")
    func dailyTimes() {
        #expect(DailyTime("19:00")?.description == "19:00")
        #expect(DailyTime("7:05")?.description == "07:05")
        for bad in ["24:00", "19:60", "ab:cd", "19", "1900", "", "19:00:00", "-1:00", "１９:００"] {
            #expect(DailyTime(bad) == nil, "\(bad)")
        }
    }

    @Test("a session ends after the maximum duration, or once it has run through the daily time")
    func reasons() {
        let maxDuration = AutoLogoutPolicy(maxDuration: 12 * 3600)
        #expect(maxDuration.reason(toEnd: session(since: "2026-11-20T08:00:00Z"), now: at("2026-11-20T19:59:00Z"), calendar: utc) == nil)
        #expect(
            maxDuration.reason(toEnd: session(since: "2026-11-20T08:00:00Z"), now: at("2026-11-20T20:00:00Z"), calendar: utc)?.contains("12 h")
                == true
        )

        let daily = AutoLogoutPolicy(dailyAt: DailyTime("19:00"))
        #expect(daily.reason(toEnd: session(since: "2026-11-20T08:00:00Z"), now: at("2026-11-20T18:59:59Z"), calendar: utc) == nil)
        #expect(
            daily.reason(toEnd: session(since: "2026-11-20T08:00:00Z"), now: at("2026-11-20T19:00:00Z"), calendar: utc)?.contains("19:00") == true
        )
        #expect(
            daily.reason(toEnd: session(since: "2026-11-20T19:30:00Z"), now: at("2026-11-21T08:00:00Z"), calendar: utc) == nil,
            "logged in after 19:00"
        )
        #expect(
            daily.reason(toEnd: session(since: "2026-11-19T08:00:00Z"), now: at("2026-11-20T08:00:00Z"), calendar: utc) != nil,
            "missed while down"
        )
        #expect(AutoLogoutPolicy().isOff && !daily.isOff)
    }
}
