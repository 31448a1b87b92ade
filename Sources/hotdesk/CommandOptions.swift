import ArgumentParser
import Curl
import Foundation
import HotDeskAPI
import HotDeskCore
import HotDeskServer
import HotDeskStore
import Logging
import PhoneFamilies

/// `--json` on the list commands: the API's answer as it is, for scripts.
struct ListOutput: ParsableArguments {
    @Flag(help: "Print the list as JSON (the API's answer) instead of lines of text.")
    var json = false

    /// Prints `answer` as JSON when `--json` was given; says whether it did. Every character
    /// beyond ASCII is written as a `\u` escape, so the output is valid JSON and still nothing a
    /// terminal would act on (names come from the directory and from phones).
    func printedJSON(_ answer: some Encodable) throws -> Bool {
        guard json else { return false }
        let encoder = APICoding.encoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var text = ""
        for scalar in String(decoding: try encoder.encode(answer), as: UTF8.self).unicodeScalars {
            if scalar.isASCII {
                text.unicodeScalars.append(scalar)
            } else {
                for unit in String(scalar).utf16 { text += "\\u" + String(unit, radix: 16).leftPadded(to: 4) }
            }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) { Swift.print(line) }
        return true
    }

    /// A list as text: its header row and rows, or one line saying it is empty.
    func printRows(_ header: String, _ rows: [String], empty: String) {
        guard !rows.isEmpty else {
            print(empty)
            return
        }
        print(header)
        for row in rows { print(row) }
    }
}

/// Where the running server is and the key to reach its admin API.
/// `--site` (repeatable) on keys and console accounts: the sites they are limited to.
struct SiteOptions: ParsableArguments {
    @Option(
        name: .customLong("site"),
        help: "Limit it to this site of the directory (repeat for several): it sees and acts on that site's phones and users only."
    )
    var sites: [String] = []

    /// The scope the options give (every site without `--site`), each site checked against the
    /// directory in `store`.
    func scope(in store: SQLStore) async throws -> SiteScope {
        guard !sites.isEmpty else { return .everySite }
        if let problem = SiteScope.problem(sites, known: try await store.settings().sites.keys) { throw fail("--site: \(problem)") }
        return SiteScope(sites: sites)
    }
}

struct ServerOptions: ParsableArguments {
    @Option(help: "The HotDesk server. Default: $HOTDESK_SERVER, else http://127.0.0.1:8080")
    var server: String = ProcessInfo.processInfo.environment["HOTDESK_SERVER"] ?? "http://127.0.0.1:8080"

    /// Calls the admin API; prints one clear line and exits non-zero on any failure.
    func call<Answer: Decodable>(_ method: String, _ path: String, json: (any Encodable)? = nil, as: Answer.Type) async throws -> Answer {
        guard let key = ProcessInfo.processInfo.environment["HOTDESK_API_KEY"], !key.isEmpty else {
            throw fail("set HOTDESK_API_KEY to an admin API key (hotdesk apikey create)")
        }
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        var headers: [(name: String, value: String)] = [("Authorization", "Bearer \(key)"), ("Accept", "application/json")]
        var body: [UInt8]?
        if let json {
            headers.append(("Content-Type", "application/json"))
            body = Array(try APICoding.encoder().encode(json))
        }
        let response: CurlResponse
        do {
            response = try await CurlEngine.shared.perform(
                CurlRequest(method: method, url: base + "/api/v1" + path, headers: headers, body: body, connectTimeout: 3, timeout: 15)
            )
        } catch {
            let why = error.kind == .refused ? "connection refused (is hotdesk serve running there?)" : error.description
            throw fail("cannot reach HotDesk at \(base): \(why)")
        }
        let decoder = APICoding.decoder()
        guard (200..<300).contains(response.status) else {
            let message = (try? decoder.decode(ErrorView.self, from: Data(response.body)))?.error.message ?? "HTTP \(response.status)"
            if response.status == 401 { throw fail("the server refused the API key: \(message)") }
            throw fail(message)
        }
        do {
            return try decoder.decode(Answer.self, from: Data(response.body))
        } catch {
            throw fail("unexpected answer from \(base) (is it HotDesk?)")
        }
    }
}
