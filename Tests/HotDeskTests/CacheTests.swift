import Foundation
import HotDeskCore
import HotDeskServer
import HotDeskStore
import PhoneSimulator
import Testing

/// The phone path answers repeated fetches from memory; these prove it never answers from a
/// memory that is out of date.
@Suite("Config cache: never out of date")
struct CacheTests {
    @Test("the change counter moves on what a config depends on (a login, a push job, an import) and not on batched fetch times")
    func counter() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ca0001", pushes: false)
            let mac = try #require(MACAddress("001565ca0001"))
            let before = try server.store.changeCounter()
            try await server.store.recordFetchTimes([mac: Date()])
            #expect(try server.store.changeCounter() == before, "fetch times are not a change")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let afterLogin = try server.store.changeCounter()
            #expect(afterLogin > before)
            _ = try await importDirectory(
                flowDirectory.replacingOccurrences(of: "{PORT}", with: "\(server.port)").replacingOccurrences(of: "{PUSH_PORT}", with: "\(testPushPort)").replacingOccurrences(of: "Ada Lovelace", with: "Ada King"),
                into: server.store, base: server.directory)
            #expect(try server.store.changeCounter() > afterLogin)
        }
    }

    @Test("a change made by another process (hotdesk import) is in the very next fetch")
    func otherProcess() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ca0002", pushes: false)
            try await phone.login("Login Int", ext: "5501", password: "1234")
            try await phone.fetchConfig()
            try await phone.fetchConfig()  // now cached
            #expect(await phone.setting("account.1.display_name") == "Ada Lovelace")
            // Another connection, as `hotdesk import` in its own process would open.
            let other = try SQLiteStore(
                path: server.dbPath, secrets: SecretBox.load(keyFile: server.dbPath + ".key", environment: [:]), catalog: testFamilies.catalog)
            _ = try await importDirectory(
                flowDirectory.replacingOccurrences(of: "{PORT}", with: "\(server.port)").replacingOccurrences(of: "{PUSH_PORT}", with: "\(testPushPort)").replacingOccurrences(of: "Ada Lovelace", with: "Ada King"),
                into: other, base: server.directory)
            try await phone.fetchConfig()
            #expect(await phone.setting("account.1.display_name") == "Ada King")
        }
    }
}

@Suite("Digest headers as phones write them")
struct DigestHeaderTests {
    @Test("quoted values with commas and escaped quotes, unquoted values, names in any case, the first of a repeated name")
    func parameters() {
        let p = DigestAuth.parameters(#"username="hd001565aabbcc", Realm="HotDesk provisioning", nonce="1a2b.c3d4", uri="/provision/a,b.cfg", algorithm=MD5, qop=auth, nc=00000001, cnonce="x\"y", response="abc" , username="second""#)
        #expect(p["username"] == "hd001565aabbcc")
        #expect(p["realm"] == "HotDesk provisioning")
        #expect(p["uri"] == "/provision/a,b.cfg")
        #expect(p["algorithm"] == "MD5" && p["qop"] == "auth" && p["nc"] == "00000001")
        #expect(p["cnonce"] == #"x"y"#)
        #expect(p["response"] == "abc")
        #expect(DigestAuth.parameters("").isEmpty && DigestAuth.parameters("garbage").isEmpty)
    }
}
