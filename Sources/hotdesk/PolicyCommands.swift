import ArgumentParser
import Curl
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskServer
import HotDeskStore
import Logging
import PhoneFamilies

/// `hotdesk cos list`, `hotdesk cos show NAME`, `hotdesk cos check --extension 5501 --number 0044…`.
struct CoSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cos",
        abstract: "Classes of service: list them, or check which one and which rule decide a call.",
        subcommands: [List.self, Show.self, Check.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the classes of service with their rules and includes.")

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let sqlite = try store.openOrExit()
            let book = try await sqlite.cosBook()
            if book.classes.isEmpty { print("no classes of service") }
            for cos in book.classes.values.sorted(by: { $0.name < $1.name }) { CoSCommand.describe(cos) }
            if !book.emergencyNumbers.isEmpty {
                Swift.print("emergency numbers (always allowed): \(book.emergencyNumbers.sorted().joined(separator: ", "))")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one class of service: its rules, feature codes, includes and schedules.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The class of service's name.")
        var name: String

        func run() async throws {
            let sqlite = try store.openOrExit()
            let book = try await sqlite.cosBook()
            guard let cos = book.classes[name] else {
                let known = book.classes.keys.sorted().joined(separator: ", ")
                throw fail("there is no class of service \"\(name)\"" + (known.isEmpty ? "" : " (there are: \(known))"))
            }
            CoSCommand.describe(cos)
        }
    }

    static func describe(_ cos: ClassOfService) {
        Swift.print("\(cos.name)  default \(cos.defaultAction.rawValue)" + (cos.schedule.map { "  while \($0)" } ?? ""))
        for (i, rule) in cos.rules.enumerated() { Swift.print("  rule \(i + 1): \(rule)") }
        if !cos.featureCodes.isEmpty { Swift.print("  feature codes: \(cos.featureCodes.joined(separator: ", "))") }
        for include in cos.includes { Swift.print("  includes \(include.cos)" + (include.schedule.map { " while \($0)" } ?? "")) }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether a class of service (or an extension's) lets a number be called, and why."
        )

        @OptionGroup var store: StoreOptions

        @Option(name: .customLong("extension"), help: "The extension whose class of service decides.")
        var extensionNumber: String?

        @Option(help: "The class of service by name.")
        var cos: String?

        @Option(help: "The number dialled.")
        var number: String

        @Option(help: "When (ISO 8601, e.g. 2026-12-25T10:00:00Z). Default: now.")
        var at: String?

        func validate() throws {
            guard (extensionNumber == nil) != (cos == nil) else { throw ValidationError("give exactly one of --extension or --cos") }
            if let at, (try? Date(at, strategy: .iso8601)) == nil { throw ValidationError("\"\(at)\" is not an ISO 8601 time") }
        }

        func run() async throws {
            let sqlite = try store.openOrExit()
            var name = cos
            if let extensionNumber {
                guard let ext = try await sqlite.findExtension(extensionNumber) else { throw fail("there is no extension \(extensionNumber)") }
                guard let c = ext.cos else { throw fail("extension \(extensionNumber) has no class of service (its calls are not restricted)") }
                name = c
            }
            let when = try at.map { try Date($0, strategy: .iso8601) } ?? Date()
            let d = try await sqlite.cosBook().decide(cosName: name ?? "", number: number, at: when)
            print("\(d.action.rawValue): \(d.reason) [class \(d.cos), \(d.rule)]")
        }
    }
}

/// `hotdesk locks`: what is locked now, and until when.
struct Locks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the extensions, phones and addresses locked by wrong passwords.")

    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ListOutput

    func run() async throws {
        let answer = try await server.call("GET", "/locks", as: LockList.self)
        guard try !output.printedJSON(answer) else { return }
        output.printRows(
            "kind  key  until  failures",
            answer.locks.map { [$0.kind, $0.key, $0.until.formatted(.iso8601), "\($0.failures)"].joined(separator: "  ") },
            empty: "nothing is locked"
        )
    }
}

/// `hotdesk unlock --extension 5501` (or `--device MAC`, `--source IP`): clear a lock now.
struct Unlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Clear a lock now (a person need not wait for it to expire): its wrong passwords are forgotten. Audited."
    )

    @OptionGroup var server: ServerOptions

    @Option(help: "The extension locked on every phone.")
    var `extension`: String?

    @Option(help: "The phone locked for every extension (its MAC).")
    var device: String?

    @Option(help: "The address locked out of the Login app.")
    var source: String?

    func validate() throws {
        guard [`extension`, device, source].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give one of --extension, --device, --source")
        }
    }

    func run() async throws {
        let (kind, key) = `extension`.map { ("extension", $0) } ?? device.map { ("device", $0) } ?? ("source", source ?? "")
        let path = "/locks/\(kind)/\(key.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        let answer = try await server.call("DELETE", path, as: UnlockView.self)
        print(
            "unlocked \(answer.kind) \(answer.key)" + (answer.wasLocked ? "" : " (it was not locked)")
                + "; \(answer.failuresForgotten) wrong password(s) forgotten"
        )
    }
}

struct ClearPIN: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear-pin",
        abstract:
            "Forget the PIN a person chose on a phone (Change PIN), when they forgot it: their voicemail PIN, or the user password, logs them in again. Audited."
    )

    @OptionGroup var server: ServerOptions

    @Argument(help: "The extension.")
    var `extension`: String

    func run() async throws {
        let answer = try await server.call(
            "DELETE",
            "/extensions/\(`extension`.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")/pin",
            as: PINClearedView.self
        )
        print(
            "\(answer.extension): the PIN it chose is forgotten; it logs in with its \(answer.logsInWith.replacingOccurrences(of: "_", with: " ")) again"
        )
    }
}

extension String {
    func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}
