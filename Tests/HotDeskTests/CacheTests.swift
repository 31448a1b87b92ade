import Foundation
import HotDeskCore
import HotDeskStore
import Logging
import PhoneFamilies
import PhoneSimulator
import Synchronization
import Testing

@testable import HotDeskServer

/// The phone path answers repeated fetches from memory; these prove it never answers from a
/// memory that is out of date.
@Suite("Config cache: never out of date")
struct CacheTests {
    @Test(
        "a phone's change stamp moves on what its config depends on (its login, its push job, an import) and not on batched fetch times or another phone's login"
    )
    func counter() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let phone = try await server.phone("yealink-t46u", mac: "001565ca0001", pushes: false)
            let other = try await server.phone("yealink-t46u", mac: "001565ca0003", pushes: false)
            let mac = try #require(MACAddress("001565ca0001"))
            let otherMAC = try #require(MACAddress("001565ca0003"))
            let before = try await server.store.stamps.stamp(of: mac)
            let otherBefore = try await server.store.stamps.stamp(of: otherMAC)
            try await server.store.recordFetchTimes([mac: Date()])
            #expect(try await server.store.stamps.stamp(of: mac) == before, "fetch times are not a change")
            try await phone.login("Login Int", ext: "5501", password: "1234")
            let afterLogin = try await server.store.stamps.stamp(of: mac)
            #expect(afterLogin.device > before.device && afterLogin.shared == before.shared)
            #expect(try await server.store.stamps.stamp(of: otherMAC) == otherBefore, "another phone's login changes nothing of this one")
            _ = try await server.store.addPushJobs([
                PushJob(
                    mac: mac,
                    action: .reload,
                    reason: .admin,
                    configHash: "x",
                    actor: "test",
                    createdAt: Date(),
                    dueAt: Date().addingTimeInterval(3600)
                )
            ])
            #expect(try await server.store.stamps.stamp(of: mac).device > afterLogin.device, "a push job of the phone")
            _ = try await importDirectory(
                flowDirectory.replacingOccurrences(of: "{PORT}", with: "\(server.port)").replacingOccurrences(
                    of: "{PUSH_PORT}",
                    with: "\(testPushPort)"
                ).replacingOccurrences(of: "Ada Lovelace", with: "Ada King"),
                into: server.store,
                base: server.directory
            )
            #expect(try await server.store.stamps.stamp(of: mac).shared > afterLogin.shared)
            #expect(try await server.store.stamps.stamp(of: otherMAC).shared > otherBefore.shared, "a directory change is every phone's")
            _ = other
        }
    }

    @Test(
        "a login and a logout hand over the phone's config state as committed (a fetch right after it reads nothing): at the stamp the store reads next, the config a fresh read makes, its push pending"
    )
    func committedState() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            _ = try await server.phone("yealink-t46u", mac: "001565ca0007", pushes: false)
            let mac = try #require(MACAddress("001565ca0007"))
            let kept = Mutex<CommittedConfigState?>(nil)
            let changes = PhoneChanges(
                store: server.store,
                families: testFamilies,
                logger: Logger(label: "test"),
                keep: { c in kept.withLock { $0 = c } }
            )
            let planner = ConfigPushPlanner(families: testFamilies)
            let order = PushOrder(reason: .admin, actor: "test", at: Date())
            func check(_ what: String, loggedIn: String?) async throws {
                let committed = try #require(kept.withLock { $0 }, "\(what): nothing handed over")
                #expect(committed.stamp == (try await server.store.stamps.stamp(of: mac)), "\(what): not the stamp the next fetch reads")
                let fresh = try #require(try await server.store.deviceConfigState(mac: mac))
                #expect(committed.state.session?.extensionNumber == loggedIn && fresh.session?.extensionNumber == loggedIn, "\(what)")
                #expect(committed.state.hasPendingPush && fresh.hasPendingPush, "\(what): the job the change queued")
                #expect(
                    try planner.job(for: committed.state, order).configHash == planner.job(for: fresh, order).configHash,
                    "\(what): another config than a fresh read makes"
                )
                kept.withLock { $0 = nil }
            }
            let session = Session(
                mac: mac,
                extensionNumber: "5501",
                network: .internal,
                credential: .voicemailPIN,
                startedAt: Date(),
                source: "127.0.0.1"
            )
            _ = try await changes.login(session, actor: "test", policy: .move, delay: 3600)
            try await check("login", loggedIn: "5501")
            _ = try await changes.logout(mac: mac, actor: "test", source: nil, why: .forced, reason: .logout, delay: 3600)
            try await check("logout", loggedIn: nil)
        }
    }

    @Test("a login on one phone does not leave another phone's cached config or screens out of date, and moves that phone's own")
    func perDevice() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let a = try await server.phone("yealink-t46u", mac: "001565ca0004", pushes: false)
            let b = try await server.phone("yealink-t46u", mac: "001565ca0005", pushes: false)
            try await b.fetchConfig()
            try await b.fetchConfig()  // cached
            try await a.login("Login Int", ext: "5501", password: "1234")
            try await a.fetchConfig()
            #expect(await a.config.lineUser == "5501", "the phone's own config changed at once")
            // Under `move`, logging 5501 in on b logs it out of a: a's cached config must not survive.
            try await b.login("Login Int", ext: "5501", password: "1234")
            try await a.fetchConfig()
            try await b.fetchConfig()
            #expect(await a.config.lineActive == false, "logged out elsewhere: a's own stamp moved")
            #expect(await b.config.lineUser == "5501")
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
            let other = try TestDatabase.open(path: server.dbPath, keyFile: server.dbPath + ".key")
            _ = try await importDirectory(
                flowDirectory.replacingOccurrences(of: "{PORT}", with: "\(server.port)").replacingOccurrences(
                    of: "{PUSH_PORT}",
                    with: "\(testPushPort)"
                ).replacingOccurrences(of: "Ada Lovelace", with: "Ada King"),
                into: other,
                base: server.directory
            )
            try await phone.fetchConfig()
            #expect(await phone.setting("account.1.display_name") == "Ada King")
        }
    }
}

@Suite("Digest headers as phones write them")
struct DigestHeaderTests {
    @Test("quoted values with commas and escaped quotes, unquoted values, names in any case, the first of a repeated name")
    func parameters() {
        let p = DigestAuth.parameters(
            #"username="hd001565aabbcc", Realm="HotDesk provisioning", nonce="1a2b.c3d4", uri="/provision/a,b.cfg", algorithm=MD5, qop=auth, nc=00000001, cnonce="x\"y", response="abc" , username="second""#
        )
        #expect(p["username"] == "hd001565aabbcc")
        #expect(p["realm"] == "HotDesk provisioning")
        #expect(p["uri"] == "/provision/a,b.cfg")
        #expect(p["algorithm"] == "MD5" && p["qop"] == "auth" && p["nc"] == "00000001")
        #expect(p["cnonce"] == #"x"y"#)
        #expect(p["response"] == "abc")
        #expect(DigestAuth.parameters("").isEmpty && DigestAuth.parameters("garbage").isEmpty)
    }

    @Test("the scheme in any case, the response hash in either case, the algorithm name in any case; nothing else passes")
    func verify() {
        let digest = DigestAuth()
        let now = Date()
        let (user, secret, uri, address) = ("hd001565aabbcc", "s3cret-of-this-phone", "/provision/001565aabbcc.cfg", "127.0.0.9")
        var nc = 0
        func header(scheme: String = "Digest", algorithm: String = "MD5", secret: String = secret, upper: Bool = false, count: Int? = nil) -> String {
            // A fresh nonce per header unless a count is given: each valid answer uses its nc up.
            let nonce = digest.makeNonce(now: now, address: address)
            if count == nil { nc += 1 }
            let ncText = String(format: "%08x", count ?? nc)
            let ha1 = DigestAuth.md5("\(user):\(DigestAuth.realm):\(secret)")
            let ha2 = DigestAuth.md5("GET:\(uri)")
            let response = DigestAuth.md5("\(ha1):\(nonce):\(ncText):abc:auth:\(ha2)")
            return
                #"\#(scheme) username="\#(user)", realm="\#(DigestAuth.realm)", nonce="\#(nonce)", uri="\#(uri)", algorithm=\#(algorithm), qop=auth, nc=\#(ncText), cnonce="abc", response="\#(upper ? response.uppercased() : response)""#
        }
        let check = { (h: String) in digest.verify(header: h, method: "GET", uri: uri, username: user, secret: secret, address: address, now: now) }
        for h in [header(), header(scheme: "DIGEST"), header(scheme: "digest"), header(algorithm: "md5"), header(upper: true)] {
            #expect(check(h) == .valid, "\(h)")
        }
        #expect(check(header(secret: "wrong")) == .invalid("wrong secret"))
        #expect(check(header(scheme: "Digest\u{0}")) != .valid && check(header(scheme: "Basic ")) == .invalid("not Digest"))
        #expect(check("Dig") == .invalid("not Digest") && check("") == .invalid("not Digest"))
    }

    @Test("a Digest answer is taken once: the same nc again is stale, a larger one passes; another address's nonce is not ours")
    func replay() {
        let digest = DigestAuth()
        let now = Date()
        let (user, secret, uri) = ("hd001565aabbcc", "s3cret-of-this-phone", "/provision/001565aabbcc.cfg")
        let nonce = digest.makeNonce(now: now, address: "127.0.0.9")
        func header(_ nc: String) -> String {
            let ha1 = DigestAuth.md5("\(user):\(DigestAuth.realm):\(secret)")
            let response = DigestAuth.md5("\(ha1):\(nonce):\(nc):abc:auth:\(DigestAuth.md5("GET:\(uri)"))")
            return
                #"Digest username="\#(user)", realm="\#(DigestAuth.realm)", nonce="\#(nonce)", uri="\#(uri)", qop=auth, nc=\#(nc), cnonce="abc", response="\#(response)""#
        }
        let check = { (h: String, from: String) in
            digest.verify(header: h, method: "GET", uri: uri, username: user, secret: secret, address: from, now: now)
        }
        #expect(check(header("00000001"), "127.0.0.66") == .invalid("not a nonce issued to this address"), "replayed from elsewhere")
        #expect(check(header("00000001"), "127.0.0.9") == .valid)
        #expect(check(header("00000001"), "127.0.0.9") == .stale, "the same answer again")
        #expect(check(header("00000002"), "127.0.0.9") == .valid, "the phone's next request on the same nonce")
        #expect(check(header("00000002"), "127.0.0.9") == .stale)
        #expect(check(header("1"), "127.0.0.9") == .invalid("nc is not 8 hex digits"))
        // A full table starts again, and every nonce issued until then is stale.
        let counts = NonceCounts(limit: 3)
        for n in 0..<3 { #expect(counts.take(nonce: "n\(n)", user: "u", count: 1, issued: now, now: now, lifetime: 300)) }
        #expect(!counts.take(nonce: "n3", user: "u", count: 1, issued: now, now: now, lifetime: 300))
        #expect(!counts.take(nonce: "n0", user: "u", count: 1, issued: now, now: now, lifetime: 300), "not taken twice after the reset")
        #expect(counts.take(nonce: "n4", user: "u", count: 1, issued: now + 1, now: now + 1, lifetime: 300))
    }
}

@Suite("Bounded caches keep what was used lately")
struct BoundedCacheTests {
    @Test("two halves: never more than the limit; an entry read lately outlives older ones; one not read goes")
    func recency() {
        var table = BoundedTable<Int, String>(limit: 8)
        for key in 1...4 { table[key] = "\(key)" }
        table[5] = "5"  // the newer half was full: 1-4 become the older one
        #expect(table[2] == "2", "read from the older half, and moved to the newer")
        for key in 6...8 { table[key] = "\(key)" }  // newer: 5, 2, 6, 7 → full at 8: 5, 2, 6, 7 become the older
        #expect(table.count <= 8)
        #expect(table.peek(2) == "2" && table.peek(8) == "8", "used lately: kept")
        #expect(table.peek(1) == nil && table.peek(3) == nil && table.peek(4) == nil, "not used since: gone")
        table[2] = nil
        #expect(table.peek(2) == nil)
        for key in 100..<1100 { table[key] = "x" }
        #expect(table.count <= 8, "bounded whatever comes")
    }

    @Test("a memo computes a key once while it is used, and again only after it was dropped")
    func memo() {
        let memo = Memo<Int, Int>(limit: 4)
        var computed = 0
        for _ in 0..<10 {
            _ = memo.value(1) {
                computed += 1
                return 1
            }
        }
        #expect(computed == 1)
        for key in 2...9 {
            _ = memo.value(key) {
                computed += 1
                return key
            }
        }
        _ = memo.value(1) {
            computed += 1
            return 1
        }
        #expect(computed == 10, "key 1 was dropped after eight newer keys, and computed again")
    }

    @Test("a memo keeps nothing of a computation that threw: the next ask computes again")
    func memoFailure() {
        struct Refused: Error {}
        let memo = Memo<Int, Int>(limit: 4)
        #expect(throws: Refused.self) { try memo.value(1) { () throws(Refused) -> Int in throw Refused() } }
        #expect(memo.value(1) { 7 } == 7, "computed again after the failure")
    }

    @Test("a stamped cache answers only at the stamp it was kept at; without a stamp it keeps nothing")
    func stamped() {
        let cache = StampedCache<String, ChangeStamp, Int>(limit: 8)
        let first = ChangeStamp(shared: 1, device: 1)
        cache.keep(10, for: "a", at: first)
        #expect(cache.value("a", at: first) == 10)
        #expect(cache.value("a", at: ChangeStamp(shared: 1, device: 2)) == nil, "the phone's own stamp moved")
        #expect(cache.value("a", at: ChangeStamp(shared: 2, device: 1)) == nil, "the shared stamp moved")
        #expect(cache.value("a", at: nil) == nil, "no stamp: no answer")
        cache.keep(11, for: "b", at: nil)
        #expect(cache.value("b", at: first) == nil, "no stamp: nothing kept")
        var built = 0
        for _ in 0..<3 {
            _ = cache.value("c", at: first) {
                built += 1
                return 12
            }
        }
        #expect(built == 1, "built once while the stamp stays the same")
        _ = cache.value("c", at: ChangeStamp(shared: 2, device: 1)) {
            built += 1
            return 13
        }
        #expect(built == 2 && cache.value("c", at: ChangeStamp(shared: 2, device: 1)) == 13, "built again at the new stamp")
        let whole = StampedValue<String>()
        #expect(whole.value(at: 4) { "settings at 4" } == "settings at 4")
        #expect(whole.value(at: 5) == nil && whole.value(at: 4) == "settings at 4")
    }
}
