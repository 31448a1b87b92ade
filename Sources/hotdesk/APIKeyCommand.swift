import ArgumentParser
import Curl
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskServer
import HotDeskStore
import Logging
import PhoneFamilies

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey",
        abstract: "Manage admin API keys (and list or revoke PBX keys).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    /// Stores a new key of `kind` under `name` and returns it (only its hash is kept).
    static func create(
        name: String,
        kind: APIKeyKind,
        role: AdminRole = .admin,
        sites: SiteOptions? = nil,
        store: StoreOptions
    ) async throws -> String {
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) }) else {
            throw fail("a key name is 1-64 letters, digits, - _ . @")
        }
        try store.checkPartner(role, limited: sites?.sites.isEmpty == false)
        let sqlite = try store.openOrExit()
        let key = APIKey.make()
        let scope = try await sites?.scope(in: sqlite) ?? .everySite
        do {
            try await sqlite.addAPIKey(name: name, keyHash: APIKey.hash(key), kind: kind, role: role, scope: scope, at: Date())
        } catch {
            throw fail("cannot store the key (is the name \"\(name)\" taken?)")
        }
        return key
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an admin API key and print it, alone, on stdout. It is shown once; only its hash is stored."
        )

        @OptionGroup var store: StoreOptions

        @Option(help: "A name for the key (who or what uses it); audit entries name it as api:<name>.")
        var name: String = "admin-\(Int(Date().timeIntervalSince1970))"

        @Option(help: "What the key may do: auditor (read), helpdesk (also force logouts, clear locks, push), admin (everything).")
        var role: AdminRole = .admin

        @OptionGroup var sites: SiteOptions

        func run() async throws { print(try await APIKeyCommand.create(name: name, kind: .admin, role: role, sites: sites, store: store)) }
    }

    /// On the database, like `create`: works with the server down and with no key at hand.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the admin and PBX keys: name, kind, created, last used (never the key).")

        @OptionGroup var store: StoreOptions
        @OptionGroup var output: ListOutput

        func run() async throws {
            let sqlite = try store.openOrExit()
            let answer = APIKeyList(keys: try await sqlite.apiKeys().map(APIKeyView.init))
            guard try !output.printedJSON(answer) else { return }
            output.printRows("name  kind  role  sites  created  last used", answer.keys.map(\.description), empty: "no keys (hotdesk apikey create)")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by name: it opens nothing from its next request on. Audited.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The key's name (hotdesk apikey list).")
        var name: String

        func run() async throws {
            let sqlite = try store.openOrExit()
            guard try await sqlite.revokeAPIKey(name: name, actor: "cli", source: nil, at: Date()) else {
                throw fail("there is no key named \"\(name)\"")
            }
            print("revoked key \"\(name)\"")
        }
    }
}
