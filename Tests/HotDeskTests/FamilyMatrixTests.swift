import Curl
import Foundation
import HotDeskCore
import HotDeskServer
import HotDeskStore
import PhoneSimulator
import Testing

/// One family in the matrix: a model of it, and what its phones can be sent (from the reference:
/// `reload`/`reboot` where a request is known, `nil` where none is; a message where an XML push is).
struct FamilyCase: Sendable, CustomStringConvertible {
    let model: String
    let brand: String
    let mac: String
    let applies: PushAction?
    let message: Bool
    var description: String { model }

    static let all: [FamilyCase] = [
        .init(model: "yealink-t46u", brand: "yealink", mac: "001565ab0001", applies: .reload, message: true),
        .init(model: "sangoma-s500", brand: "sangoma", mac: "001565ab0002", applies: .reload, message: false),
        .init(model: "cisco-8841", brand: "cisco", mac: "001565ab0003", applies: nil, message: true),
        .init(model: "polycom-vvx411", brand: "polycom", mac: "001565ab0004", applies: .reboot, message: true),
        .init(model: "snom-d735", brand: "snom", mac: "001565ab0005", applies: .reboot, message: false),
        .init(model: "fanvil-x4u", brand: "fanvil", mac: "001565ab0006", applies: nil, message: true),
        .init(model: "mitel-6867i", brand: "mitel", mac: "001565ab0007", applies: .reboot, message: true),
        .init(model: "grandstream-grp2614", brand: "grandstream", mac: "001565ab0008", applies: nil, message: false),
    ]
}

/// The flow directory with a web login for Polycom phones (their XML push needs a push account).
let matrixDirectory = withSettings(
    flowDirectory,
    "  phone_credentials:\n    polycom: {username: Polycom, password: \"web-pw-poly\"}\n    cisco: {username: hotdesk, password: \"web-pw-cisco\"}\n"
)

@Suite("Every family end to end: simulated phones of all eight families against the real server")
struct FamilyMatrixTests {
    /// After a login or logout: the push applied the way the family does, or — for a family with
    /// no known push — the job failed as unsupported_action and the phone is restarted by hand.
    func expectApplied(_ c: FamilyCase, _ server: TestServer, _ phone: SimulatedPhone, since mark: Int, reason: PushReason) async throws {
        let job = try #require(try await server.waitForJob(c.mac) { !$0.state.isPending })
        #expect(job.reason == reason, "\(c): \(job.reason)")
        if let applies = c.applies {
            let events = await phone.events.suffix(12).map(\.description)
            #expect(job.state == .applied && job.action == applies, "\(c): \(job.state) \(job.action) \(job.lastError ?? ""); events \(events)")
            #expect(await phone.waitForApply(since: mark), "\(c): the phone applied its new config")
            let rebooted = await phone.events.dropFirst(mark).contains(.rebootStarted)
            #expect(rebooted == (applies == .reboot), "\(c): \(applies == .reboot ? "reboots" : "reloads in place")")
        } else {
            #expect(job.state == .failed && job.lastError?.hasPrefix("unsupported_action") == true, "\(c): \(job.state) \(job.lastError ?? "")")
            await phone.restart()
        }
    }

    @Test(
        "enrol → wrong password → right password → logged-in config → push → logout from the phone → admin forced logout → message",
        arguments: FamilyCase.all
    )
    func family(c: FamilyCase) async throws {
        try await TestServer.with(yaml: matrixDirectory) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let phone = try await server.phone(c.model, mac: c.mac)
            let device = try #require(try await server.store.device(mac: MACAddress(c.mac)!), "\(c): enrolled")
            #expect(device.model.name == c.model && device.model.brand.rawValue == c.brand, "\(c): enrolled as \(device.model)")
            #expect(
                device.claimedAt != nil && device.lastAddress == phone.options.address,
                "\(c): claimed by its own fetch, with its secret or from its address"
            )
            #expect(await phone.config.lineActive == false)
            let key = try #require(await phone.config.browserKeyURL, "\(c): the config carries the Login/Logout key")
            #expect(!key.lowercased().contains(c.mac), "the app URL never carries the MAC")

            try await phone.key("hotdesk")
            #expect(await phone.menuLabels == ["Login Int", "Login Extl"], "\(c)")
            try await phone.login("Login Int", ext: "5501", password: "0000")
            let wrong = await phone.displayText
            #expect(wrong.contains("Wrong password"), "\(c): \(wrong)")

            var mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let done = await phone.displayText
            #expect(done.contains("Logged in as 5501"), "\(c): \(done)")
            #expect(done.contains(c.applies == nil ? "restart the phone" : c.applies == .reload ? "reloading" : "restarting"), "\(c): \(done)")
            try await expectApplied(c, server, phone, since: mark, reason: .login)
            var config = await phone.config
            #expect(config.lineActive && config.lineUser == "5501" && config.sipServer == "127.0.0.1" && config.hasSIPPassword, "\(c): \(config)")
            #expect(config.browserKeyURL?.hasPrefix("http://127.0.0.1:\(server.port)/app/") == true, "\(c): the key survives login")

            mark = await phone.events.count
            try await phone.logout()
            #expect(await phone.title == "Logged out", "\(c)")
            try await expectApplied(c, server, phone, since: mark, reason: .logout)
            #expect(await phone.config.lineActive == false, "\(c): logged out from the phone")

            // The mark before the login: its push may reach the phone before login() returns.
            mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            try await expectApplied(c, server, phone, since: mark, reason: .login)
            #expect(await phone.config.lineUser == "5501")
            mark = await phone.events.count
            let forced = try await api.call("DELETE", "/sessions/\(c.mac)")
            #expect(forced.status == 202, "\(c): \(forced.json)")
            try await expectApplied(c, server, phone, since: mark, reason: .admin)
            config = await phone.config
            #expect(config.lineActive == false, "\(c): logged out by the admin")
            #expect(
                try await server.store.auditLog(limit: 30).contains { $0.action == .logout && $0.actor == "api:test" && $0.mac?.canonical == c.mac }
            )

            let message = try await api.call("POST", "/devices/\(c.mac)/push", body: #"{"action": "xml", "text": "Fire drill at 3 pm"}"#)
            if c.message {
                #expect(message.status == 202, "\(c): \(message.json)")
                let job = try #require(try await server.waitForJob(c.mac) { !$0.state.isPending })
                #expect(job.action == .xml && job.state == .applied, "\(c): \(job.state) \(job.lastError ?? "")")
                let shown = await phone.displayText
                #expect(shown.contains("Fire drill at 3 pm"), "\(c): \(shown)")
            } else {
                #expect(message.status == 400 && api.errorCode(message) == "unsupported_action", "\(c): \(message.json)")
            }
            let refused = await phone.events.filter { if case .documentRefused = $0 { true } else { false } }
            #expect(refused.isEmpty, "\(c): the phone refused no document: \(refused)")
        }
    }
}

@Suite("Which phone is asking: file names several families share")
struct FileNameCollisionTests {
    @Test(
        "a Polycom, a Fanvil, an Aastra and a Yealink asking for <mac>.cfg, a Grandstream and a Sangoma asking for cfg<mac>.xml: each its own family"
    )
    func sharedNames() async throws {
        try await TestServer.with(yaml: matrixDirectory) { (server: TestServer) async throws in
            let phones: [(String, String, String)] = [
                ("polycom-vvx411", "001565ac0001", "polycom"), ("fanvil-x4u", "001565ac0002", "fanvil"), ("mitel-6867i", "001565ac0003", "mitel"),
                ("yealink-t46u", "001565ac0004", "yealink"), ("grandstream-grp2614", "001565ac0005", "grandstream"),
                ("sangoma-s500", "001565ac0006", "sangoma"),
            ]
            for (model, mac, brand) in phones {
                let phone = try await server.phone(model, mac: mac, pushes: false)
                let device = try await server.store.device(mac: MACAddress(mac)!)
                #expect(device?.model.brand.rawValue == brand && device?.model.name == model, "\(model): \(String(describing: device?.model))")
                #expect(await phone.config.browserKeyURL != nil, "\(model) got its own family's config")
            }
        }
    }

    @Test("no User-Agent on a shared name: 404 with the reason, audited, nothing enrolled; the stored brand decides later requests")
    func ambiguous() async throws {
        try await TestServer.with(yaml: matrixDirectory) { (server: TestServer) async throws in
            let r = try await HTTP.get("\(server.baseURL)/provision/001565ad0001.cfg", headers: ["User-Agent": ""])
            #expect(r.status == 404 && r.body.contains("fanvil/mitel/polycom/yealink") && r.body.contains("does not say which"), "\(r.body)")
            #expect(try await server.store.device(mac: MACAddress("001565ad0001")!) == nil)
            let entry = try #require(try await server.store.auditLog(limit: 5).first)
            #expect(entry.action == .unknownDeviceRefused && entry.detail.contains("does not say which"), "\(entry.detail)")

            // A User-Agent of a family that never asks for that name is refused too.
            let grandstream = try await HTTP.get(
                "\(server.baseURL)/provision/001565ad0001.cfg",
                headers: ["User-Agent": "Grandstream Model HW GRP2614"]
            )
            #expect(grandstream.status == 404 && grandstream.body.contains("names a grandstream phone"), "\(grandstream.body)")

            // Once known (here: enrolled by its own request), the stored brand decides without a User-Agent.
            _ = try await server.phone("polycom-vvx411", mac: "001565ad0002", pushes: false)
            let again = try await server.fetchAsPhone("001565ad0002.cfg", mac: "001565ad0002", headers: [("User-Agent", "")])
            #expect(again.status == 200 && again.text.contains("APPLICATION"), "the Polycom master file")
        }
    }

    @Test("a known phone asking for another family's file is refused and audited, never re-enrolled")
    func otherFamily() async throws {
        try await TestServer.with(yaml: matrixDirectory) { (server: TestServer) async throws in
            _ = try await server.phone("yealink-t46u", mac: "001565ad0003", pushes: false)
            let r = try await HTTP.get("\(server.baseURL)/provision/cfg001565ad0003.xml", headers: ["User-Agent": "Sangoma S500 2.0.4.80"])
            #expect(r.status == 404 && r.body.contains("is a yealink phone"), "\(r.body)")
            #expect(try await server.store.device(mac: MACAddress("001565ad0003")!)?.model.name == "yealink-t46u", "still the Yealink it was")
            let entry = try #require(try await server.store.auditLog(limit: 5).first)
            #expect(
                entry.action == .unknownDeviceRefused && entry.mac?.canonical == "001565ad0003" && entry.detail.contains("sangoma"),
                "\(entry.detail)"
            )
        }
    }

    @Test(
        "Cisco's authenticationURL: AUTHORIZED once for the login of a push being sent, never for the web password; guessing is throttled and audited"
    )
    func pushAuth() async throws {
        try await TestServer.with(yaml: matrixDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("cisco-8841", mac: "001565ad0004", pushes: false)
            func ask(_ user: String, _ password: String, _ device: String = "SEP001565AD0004", from: String? = nil) async throws -> CurlResponse {
                try await CurlEngine.shared.perform(
                    CurlRequest(
                        method: "POST",
                        url: "\(server.baseURL)/push-auth",
                        headers: [("Content-Type", "application/x-www-form-urlencoded")],
                        body: Array("UserID=\(user)&Password=\(password)&devicename=\(device)".utf8),
                        localAddress: from
                    )
                )
            }
            // The phone's web login is not what a push carries: never confirmed (it was an oracle).
            #expect(try await ask("hotdesk", "web-pw-cisco").text == "UN-AUTHORIZED")
            #expect(try await ask("admin", "cisco").text == "UN-AUTHORIZED")
            // A push's own login, caught by a listener at the phone's address: good once.
            let catcher = try await FakePhoneWeb(address: phone.options.address, port: testPushPort, status: 200)
            let api = try await AdminAPITests().client(server)
            #expect(try await api.call("POST", "/devices/001565ad0004/push", body: #"{"action": "xml", "text": "hello"}"#).status == 202)
            #expect(await eventually { !catcher.authorizations.isEmpty })
            await catcher.stop()
            let basic = try #require(catcher.authorizations.first)
            let pair = String(decoding: try #require(Data(base64Encoded: String(basic.dropFirst(6)))), as: UTF8.self).split(
                separator: ":",
                maxSplits: 1
            )
            #expect(pair.count == 2 && pair[0] == "hotdesk-push" && !pair[1].contains("web-pw-cisco"), "\(pair)")
            let (user, password) = (String(pair[0]), String(pair[1]))
            #expect(try await ask(user, password, "SEP001565AD0009").text == "UN-AUTHORIZED", "another (unknown) device")
            #expect(try await ask(user, password).text == "AUTHORIZED", "the push's own login, exactly that word")
            #expect(try await ask(user, password).text == "UN-AUTHORIZED", "taken once")
            // Guessing from one address: 10 refusals audited, then 429 and silence.
            let guesser = Loopback.next()
            var statuses: [Int: Int] = [:]
            for n in 0..<40 { statuses[try await ask(user, "guess-\(n)", from: guesser).status, default: 0] += 1 }
            #expect(statuses[200] == 10 && statuses[429] == 30, "\(statuses)")
            let audit = try await server.store.auditLog(limit: 100).filter { $0.action == .pushAuthRefused && $0.source == guesser }
            #expect(audit.count == 11, "ten refusals and the one that reached the limit: \(audit.count)")
            #expect(server.log.security(.pushAuthRefused).filter { $0.contains("source=\(guesser) ") }.count == 11)
        }
    }
}

@Suite("settings.sip: the PBX the phones register with")
struct SIPSettingsTests {
    static let directory = withSettings(matrixDirectory, "  sip: {server: \"127.0.0.2:5070\", transport: tcp, realm: pbx.test}\n")

    @Test("every family's logged-in config names the PBX, not HotDesk's host", arguments: FamilyCase.all)
    func registrar(c: FamilyCase) async throws {
        try await TestServer.with(yaml: Self.directory) { (server: TestServer) async throws in
            let phone = try await server.phone(c.model, mac: c.mac)
            let mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            if c.applies == nil { await phone.restart() } else { #expect(await phone.waitForApply(since: mark), "\(c)") }
            let config = await phone.config
            #expect(config.lineUser == "5501" && config.sipServer == "127.0.0.2", "\(c): \(config.sipServer ?? "none")")
            #expect(config.browserKeyURL?.hasPrefix("http://127.0.0.1:\(server.port)/app/") == true, "\(c): the app stays on HotDesk")
            if c.brand == "yealink" {
                #expect(await phone.setting("account.1.sip_server.1.port") == "5070")
                #expect(await phone.setting("account.1.sip_server.1.transport_type") == "1", "tcp")
            }
        }
    }
}
