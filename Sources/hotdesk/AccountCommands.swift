import ArgumentParser
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskStore

#if canImport(Glibc)
import Glibc
#endif

/// `hotdesk admin …`: the web console's accounts, on the database (the server may run or not).
struct AdminAccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Manage the web console's accounts (sign in at http://<host>:<port>/admin/).",
        subcommands: [Create.self, List.self, Password.self, Role.self, Sites.self, Remove.self]
    )

    /// Where a password comes from: one line of stdin with `--password-stdin`, else typed twice
    /// at a terminal without echo.
    struct PasswordInput: ParsableArguments {
        @Flag(help: "Read the password from the first line of stdin (for scripts) instead of asking.")
        var passwordStdin = false

        func read() throws -> String {
            let password: String
            if passwordStdin {
                guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw fail("--password-stdin: no password on stdin") }
                password = line
            } else {
                guard isatty(STDIN_FILENO) == 1 else { throw fail("stdin is not a terminal: give the password with --password-stdin") }
                let first = try Self.ask("Password: ")
                let second = try Self.ask("Again: ")
                guard first == second else { throw fail("the two passwords differ") }
                password = first
            }
            if let problem = AdminAccountInfo.passwordProblem(password) { throw fail(problem) }
            return password
        }

        /// One line from the terminal with echo off.
        static func ask(_ prompt: String) throws -> String {
            FileHandle.standardError.write(Data(prompt.utf8))
            var saved = termios()
            tcgetattr(STDIN_FILENO, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
            defer {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
                FileHandle.standardError.write(Data("\n".utf8))
            }
            guard let line = readLine(strippingNewline: true) else { throw fail("no password typed") }
            return line
        }
    }

    static func validName(_ name: String) throws -> String {
        if let problem = AdminAccountInfo.nameProblem(name) { throw fail(problem) }
        return name
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a console account. Audited.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var input: PasswordInput

        @Argument(help: "The account's name (audit entries name it as console:<name>).")
        var name: String

        @Option(help: "What it may do: auditor (read), helpdesk (also force logouts, clear locks, push), admin (everything).")
        var role: AdminRole

        @OptionGroup var sites: SiteOptions

        func run() async throws {
            let name = try AdminAccountCommand.validName(name)
            try store.checkPartner(role, limited: !sites.sites.isEmpty)
            let sqlite = try store.openOrExit()
            guard try await sqlite.adminAccounts().allSatisfy({ $0.name != name }) else {
                throw fail("there is already an account \"\(name)\" (hotdesk admin password / role change it)")
            }
            let scope = try await sites.scope(in: sqlite)
            _ = try await sqlite.saveAdminAccount(name: name, password: try input.read(), role: role, scope: scope, actor: "cli", at: Date())
            print("created console account \"\(name)\" (\(role.rawValue), \(scope.description))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the console accounts: name, role, created, last sign-in.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var output: ListOutput

        func run() async throws {
            let answer = AdminAccountList(accounts: try await store.openOrExit().adminAccounts().map(AdminAccountView.init))
            guard try !output.printedJSON(answer) else { return }
            output.printRows(
                "name  role  sites  created  last sign-in",
                answer.accounts.map(\.description),
                empty: "no console accounts (hotdesk admin create)"
            )
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give an account a new password; its console sessions end. Audited.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var input: PasswordInput

        @Argument(help: "The account's name.")
        var name: String

        func run() async throws {
            let sqlite = try store.openOrExit()
            guard try await sqlite.saveAdminAccount(name: name, password: try input.read(), role: nil, actor: "cli", at: Date()) != .unknownAccount
            else {
                throw fail("there is no account \"\(name)\"")
            }
            print("new password for \"\(name)\"; its console sessions ended")
        }
    }

    struct Role: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an account's role; its console sessions end. Audited.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The account's name.")
        var name: String

        @Argument(help: "auditor, helpdesk, admin or partner (the main directory's: it manages every organisation).")
        var role: AdminRole

        func run() async throws {
            try store.checkPartner(role, limited: false)
            switch try await store.openOrExit().saveAdminAccount(name: name, password: nil, role: role, actor: "cli", at: Date()) {
            case .unknownAccount: throw fail("there is no account \"\(name)\"")
            case .unchanged: print("\"\(name)\" is already \(role.rawValue)")
            default: print("\"\(name)\" is now \(role.rawValue); its console sessions ended")
            }
        }
    }

    struct Sites: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Limit an account to some sites (--site, repeated), or give it every site (--every-site); its console sessions end. Audited."
        )

        @OptionGroup var store: StoreOptions

        @Argument(help: "The account's name.")
        var name: String

        @OptionGroup var sites: SiteOptions

        @Flag(help: "The account sees and acts on every site.")
        var everySite = false

        func run() async throws {
            guard sites.sites.isEmpty != everySite else { throw fail("give --site (one or more) or --every-site") }
            let sqlite = try store.openOrExit()
            let scope = try await sites.scope(in: sqlite)
            switch try await sqlite.saveAdminAccount(name: name, password: nil, role: nil, scope: scope, actor: "cli", at: Date()) {
            case .unknownAccount: throw fail("there is no account \"\(name)\"")
            case .unchanged: print("\"\(name)\" already has \(scope.description)")
            default: print("\"\(name)\" now has \(scope.description); its console sessions ended")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account; its console sessions end. Audited.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The account's name.")
        var name: String

        func run() async throws {
            guard try await store.openOrExit().removeAdminAccount(name: name, actor: "cli", at: Date()) else {
                throw fail("there is no account \"\(name)\"")
            }
            print("removed console account \"\(name)\"")
        }
    }
}
