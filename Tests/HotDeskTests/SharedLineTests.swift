import Foundation
import HotDeskCore
import PhoneSimulator
import Testing

/// 5501 is a member of two shared lines (555 on key 2, ringing; 556 on key 3, silent) and of a
/// third on key 9, which models with fewer keys cannot carry.
let sharedLineDirectory = flowDirectory + """

    shared_lines:
      - number: "555"
        name: Sales
        sip_password: "sales-sip-secret"
        caller_id: "+15551230555"
        members:
          - {extension: "5501", button: 2, ring: ring}
          - {extension: "5502", button: 3, ring: no_ring}
      - number: "556"
        name: Support
        sip_password: "support-sip-secret"
        members:
          - {extension: "5501", button: 3, ring: no_ring}
      - number: "557"
        name: Night
        sip_password: "night-sip-secret"
        members:
          - {extension: "5501", button: 9, ring: {after_seconds: 10}}
    """

@Suite("Shared lines: every line a hot desk user is a member of, on its key")
struct SharedLineTests {
    /// Families whose templates write several accounts; those HotDesk cannot push are restarted by hand.
    static let families: [(model: String, mac: String, pushed: Bool)] = [
        ("yealink-t46u", "001565af0001", true), ("polycom-vvx411", "001565af0002", true), ("cisco-8841", "001565af0005", false),
        ("snom-d735", "001565af0006", true), ("fanvil-x4u", "001565af0007", false), ("mitel-6867i", "001565af0008", true),
    ]

    /// The phone applies its new config: pushed, or restarted by the person at the desk.
    func applied(_ phone: SimulatedPhone, pushed: Bool, since mark: Int) async -> Bool {
        guard pushed else {
            await phone.restart()
            return true
        }
        return await phone.waitForApply(since: mark)
    }

    @Test("a member logs in: own line on key 1, each shared line on its key, marked shared, ring option kept; logout removes them", arguments: 0..<6)
    func memberLogsIn(family: Int) async throws {
        let (model, mac, pushed) = Self.families[family]
        try await TestServer.with(yaml: sharedLineDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone(model, mac: mac)
            var mark = await phone.events.count
            try await phone.login("Login Int", ext: "5501", password: "1234")
            #expect(await applied(phone, pushed: pushed, since: mark), "\(model)")
            var config = await phone.config
            #expect(config.accounts[1]?.user == "5501" && config.accounts[1]?.shared == false)
            let byKey = { (key: Int) in config.lineKeys[key].flatMap { config.accounts[$0] } }
            #expect(config.lineKeys[1] == 1, "the own line on key 1")
            #expect(byKey(2)?.user == "555" && byKey(2)?.shared == true && byKey(2)?.silent == false, "\(model): \(config.lineKeys) \(config.accounts)")
            #expect(byKey(3)?.user == "556" && byKey(3)?.shared == true && byKey(3)?.silent == true)
            let keys = try #require(testFamilies.catalog.model(named: model)).lineKeys
            if keys > 9 {
                #expect(byKey(9)?.user == "557" && byKey(9)?.shared == true, "\(model)")
            } else {
                #expect(!config.accounts.values.contains { $0.user == "557" }, "\(model) has \(keys) keys: 557 (key 9) is left off")
                #expect(try await server.store.auditLog(limit: 20).contains { $0.action == .lineLeftOff && $0.detail.contains("557") })
            }
            if await phone.screen != nil { try await phone.key("exit") }
            let display = await phone.display
            #expect(display.contains { $0.hasPrefix("L2: 555 (shared)") }, "\(model): \(display)")
            #expect(config.browserKeyURL != nil, "the Login/Logout key is still there (the last key)")

            mark = await phone.events.count
            try await phone.logout()
            #expect(await applied(phone, pushed: pushed, since: mark))
            config = await phone.config
            #expect(config.accounts.values.allSatisfy { !$0.active }, "\(model): no account is left registered: \(config.accounts)")
            #expect(config.lineKeys.keys.allSatisfy { $0 == 1 }, "\(model): shared keys removed: \(config.lineKeys)")
        }
    }

    @Test("another member gets the same line on their own key; a line on a key the model lacks is left off and audited")
    func otherMemberAndSmallModel() async throws {
        try await TestServer.with(yaml: sharedLineDirectory) { (server: TestServer) async throws in
            let yealink = try await server.phone("yealink-t46u", mac: "001565af0003")
            try await yealink.login("Login Int", ext: "5502", password: "7777")
            #expect(await eventually {
                let c = await yealink.config
                return c.lineKeys[3].flatMap { c.accounts[$0]?.user } == "555"
            })
            #expect(await yealink.config.accounts.values.filter(\.active).count == 2, "5502 is a member of 555 only")

            // The s500 has 6 line keys (the last one Login/Logout): key 9 does not exist there.
            let sangoma = try await server.phone("sangoma-s500", mac: "001565af0004")
            try await sangoma.login("Login Int", ext: "5501", password: "1234")
            let left = try await server.store.auditLog(limit: 20).filter { $0.action == .lineLeftOff }
            #expect(left.count == 1 && left[0].detail.contains("557") && left[0].detail.contains("key 9") && left[0].extensionNumber == "5501", "\(left)")
            #expect(left.first?.mac?.canonical == "001565af0004")
        }
    }
}
