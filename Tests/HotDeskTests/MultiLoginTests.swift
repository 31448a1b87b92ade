import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

@Suite("settings.multi_login: one extension, several phones")
struct MultiLoginTests {
    func directory(_ policy: String) -> String { withSettings(flowDirectory, "  multi_login: \(policy)\n") }

    @Test("move (the default): the login moves, the first phone is logged out and pushed")
    func move() async throws {
        try await TestServer.with(yaml: directory("{policy: move}")) { (server: TestServer) async throws in
            let a = try await server.phone("yealink-t46u", mac: "001565b00001")
            let b = try await server.phone("yealink-t46u", mac: "001565b00002")
            var mark = await a.events.count
            try await a.login("Login Int", ext: "5501", password: "1234")
            #expect(await a.waitForApply(since: mark))
            #expect(await a.config.lineUser == "5501", "the first phone had the line")
            mark = await a.events.count
            try await b.login("Login Int", ext: "5501", password: "1234")
            #expect(await b.title == "Logged in")
            #expect(try await server.store.sessions().map(\.mac.canonical) == ["001565b00002"])
            #expect(await a.waitForApply(since: mark), "the first phone applied its logged-out config")
            #expect(await a.config.lineActive == false)
        }
    }

    @Test("deny: the second phone says where it is logged in, audited; after a logout there it works")
    func deny() async throws {
        try await TestServer.with(yaml: directory("{policy: deny}")) { (server: TestServer) async throws in
            let a = try await server.phone("yealink-t46u", mac: "001565b00011")
            let b = try await server.phone("sangoma-s500", mac: "001565b00012")
            try await a.loginApplied("Login Int", ext: "5501", password: "1234")
            try await b.login("Login Int", ext: "5501", password: "1234")
            let text = await b.displayText
            #expect(text.contains("5501 is logged in at 00:15:65:b0:00:11") && text.contains("log out there first"), "\(text)")
            #expect(try await server.store.sessions().map(\.mac.canonical) == ["001565b00011"], "nothing changed")
            let entry = try #require(try await server.store.auditLog(limit: 10).first { $0.action == .loginFailed })
            #expect(entry.outcome == .refused && entry.mac?.canonical == "001565b00012" && entry.detail.contains("multi_login deny"))
            try await a.logout()
            try await b.login("Login Int", ext: "5501", password: "1234")
            #expect(await b.title == "Logged in")
        }
    }

    @Test("allow with max_phones 2: two phones keep the line, a third is refused; logout by extension logs out every phone")
    func allow() async throws {
        try await TestServer.with(yaml: directory("{policy: allow, max_phones: 2}")) { (server: TestServer) async throws in
            let api = try await AdminAPITests().client(server)
            let a = try await server.phone("yealink-t46u", mac: "001565b00021")
            let b = try await server.phone("yealink-t46u", mac: "001565b00022")
            let c = try await server.phone("yealink-t46u", mac: "001565b00023")
            try await a.login("Login Int", ext: "5501", password: "1234")
            try await b.login("Login Int", ext: "5501", password: "1234")
            #expect(try await server.store.sessions().count == 2)
            #expect(
                await eventually {
                    let (x, y) = (await a.config.lineUser, await b.config.lineUser)
                    return x == "5501" && y == "5501"
                },
                "both phones carry the line"
            )
            try await c.login("Login Int", ext: "5501", password: "1234")
            #expect(await c.displayText.contains("on 2 phones already, at most 2"))

            let out = try await api.call("POST", "/extensions/5501/logout")
            #expect(out.status == 202 && (out.json["others"] as? [Any])?.count == 1, "\(out.json)")
            #expect(try await server.store.sessions().isEmpty)
            #expect(
                await eventually {
                    let (x, y) = (await a.config.lineActive, await b.config.lineActive)
                    return !x && !y
                }
            )
        }
    }
}
