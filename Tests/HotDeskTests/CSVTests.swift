import DirectoryFile
import Foundation
import HotDeskCore
import HotDeskStore
import PhoneSimulator
import Testing

/// Extensions and devices from and to spreadsheets (issue 26, item 4): a CSV is one section of
/// the directory, checked by the directory's own parser, its problems on the CSV's lines.
@Suite("CSV: extensions and devices in and out, with the directory's own checks")
struct CSVTests {
    /// `csv` imported as `hotdesk import people.csv` does.
    func importCSV(_ csv: String, _ server: TestServer, file: String = "people.csv") async throws -> ImportSummary {
        let yaml = try CSVDirectory.yaml(fromCSV: csv, file: file).yaml
        return try await importDirectory(yaml, into: server.store, base: server.directory, file: file)
    }

    /// Why `csv` is refused, as the import says it.
    func refusal(_ csv: String, _ server: TestServer) async -> String {
        do {
            _ = try await importCSV(csv, server)
            return "imported"
        } catch {
            return "\(error)"
        }
    }

    @Test(
        "a CSV of extensions and one of devices import beside the directory (quotes, semicolons, a BOM, CRLF), and the new person logs in on the new phone; exported with secrets, both import back unchanged"
    )
    func roundTrip() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let people =
                "\u{FEFF}number,name,voicemail_pin,sip_password\r\n5590,\"Hopper, Grace\",4321,sip-secret-5590-long\r\n\r\n5591,Alan Turing,,sip-secret-5591-long\r\n"
            let added = try await importCSV(people, server)
            #expect(added.created == 2, "\(added)")
            #expect(try await server.store.findExtension("5590")?.name == "Hopper, Grace")
            #expect(try await server.store.findExtension("5501") != nil, "the directory's own extensions stay")
            let phones = "mac;model;users;line.number;line.sip_password\n00:15:65:c5:00:01;yealink-t46u;5590 5591;8090;lobby-secret-8090-long\n"
            #expect(try await importCSV(phones, server, file: "phones.csv").created == 1)
            let admin = try await AdminAPITests().client(server)
            let device = try await admin.call("GET", "/devices/00:15:65:c5:00:01").json
            #expect((device["users"] as? [String])?.sorted() == ["5590", "5591"], "\(device)")
            #expect(try await server.store.device(mac: MACAddress("001565c50001")!)?.ownLine?.number == "8090")
            let phone = try await server.phone("yealink-t46u", mac: "001565c50001")
            try await phone.loginApplied("Login Int", ext: "5590", password: "4321")
            #expect(await phone.config.lineUser == "5590")
            await phone.shutdown()

            // Exported with secrets (what `hotdesk export --with-secrets --csv` writes), imported back: nothing changes.
            let yaml = try await server.store.exportDirectory(withSecrets: true).yaml
            for section in CSVDirectory.Section.allCases {
                let csv = try CSVDirectory.csv(fromYAML: yaml, section: section)
                let again = try await importCSV(csv, server, file: "\(section.rawValue).csv")
                #expect(again.created == 0 && again.updated == 0, "\(section): \(again)\n\(csv)")
            }
            let extensions = try CSVDirectory.csv(fromYAML: yaml, section: .extensions)
            #expect(extensions.hasPrefix("number,name,voicemail_pin_hash,sip_password") && extensions.contains("\"Hopper, Grace\""), "\(extensions)")
            // Without secrets: for reading, none in it.
            let plain = try CSVDirectory.csv(fromYAML: try await server.store.exportDirectory(withSecrets: false).yaml, section: .extensions)
            #expect(!plain.contains("sip-secret") && !plain.contains("hash"), "\(plain)")
        }
    }

    @Test(
        "a bad CSV is refused with its file, line and field, and nothing is imported: a bad PIN (the parser's own words), an unknown column, a missing value, a header of neither, a quote left open, a control character"
    )
    func problems() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let header = "number,name,voicemail_pin,sip_password\n"
            let cases: [(String, String)] = [
                (
                    header + "5590,Grace,4321,sip-secret-5590-long\n5591,Alan,12,sip-secret-5591-long\n",
                    "people.csv: line 3: extensions[1].voicemail_pin: a voicemail PIN is 4-12 digits"
                ),
                (
                    header + "\n5590,Grace,4321,sip-secret-5590-long\n5591,Alan,12,sip-secret-5591-long\n",
                    "people.csv: line 4: extensions[1].voicemail_pin",
                ),
                ("number,name,colour\n", "people.csv: line 1: unknown column \"colour\" for extensions"),
                (header + "5590,Grace,4321\n", "people.csv: line 2: 3 values, the header has 4 columns"),
                ("name,model\nx,y\n", "people.csv: line 1: the header names neither mac (devices) nor number (extensions)"),
                (header + "5590,\"Grace,4321,sip-secret-5590-long\n", "people.csv: line 2: a quoted value does not end on its line"),
                (header + "5590,Gr\u{7}ace,4321,sip-secret-5590-long\n", "people.csv: line 2: a value holds a control character"),
                ("number,name,number\n", "people.csv: line 1: column number twice"),
                ("", "people.csv: empty"),
            ]
            for (csv, expected) in cases {
                let said = await refusal(csv, server)
                #expect(said.contains(expected), "\(csv.debugDescription): \(said)")
            }
            #expect(try await server.store.findExtension("5590") == nil, "nothing imported")
        }
    }

    @Test(
        "POST /api/v1/directory: a CSV or a YAML file imported as hotdesk import does (a dry run writes nothing; the import is audited as the key); problems 422 with each line; an auditor refused"
    )
    func throughTheAPI() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let admin = try await AdminAPITests().client(server)
            let url = server.baseURL + "/api/v1/directory"
            func post(_ body: String, _ query: String = "", csv: Bool = true, key: String? = nil) async throws -> (status: Int, json: [String: Any]) {
                let headers = ["Content-Type": csv ? "text/csv" : "application/yaml", "Authorization": "Bearer \(key ?? admin.key)"]
                let r = try await HTTP.request("POST", url + query, headers: headers, body: body)
                return (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any] ?? [:])
            }
            let people = "number,name,voicemail_pin,sip_password\n5590,Grace Hopper,4321,sip-secret-5590-long\n"
            let dry = try await post(people, "?dry_run=true")
            #expect(dry.status == 200 && dry.json["dry_run"] as? Bool == true && dry.json["created"] as? Int == 1, "\(dry.json)")
            #expect(try await server.store.findExtension("5590") == nil, "a dry run writes nothing")
            let done = try await post(people, "?file=people.csv")
            #expect(done.status == 200 && done.json["created"] as? Int == 1, "\(done.json)")
            #expect(try await server.store.findExtension("5590")?.name == "Grace Hopper")
            #expect(try await server.store.auditLog(limit: 10).contains { $0.action == .directoryImport && $0.actor == "api:test" })
            #expect(try await post(people).json["unchanged"] as? Int == 1, "the same file again changes nothing")

            let bad = try await post(people + "5591,Alan,12,sip-secret-5591-long\n", "?file=people.csv")
            let error = bad.json["error"] as? [String: Any] ?? [:]
            #expect(bad.status == 422 && error["code"] as? String == "bad_directory", "\(bad.json)")
            #expect((error["problems"] as? [String])?.first?.contains("people.csv: line 3: extensions[1].voicemail_pin") == true, "\(error)")
            #expect(try await server.store.findExtension("5591") == nil)
            let unknownColumn = try await post("number,colour\n")
            #expect(unknownColumn.status == 422 && (unknownColumn.json["error"] as? [String: Any])?["message"] as? String != nil)

            let yaml = "extensions:\n  - {number: \"5592\", name: Ada, voicemail_pin: \"1234\", sip_password: \"sip-secret-5592-long\"}\n"
            #expect(try await post(yaml, csv: false).json["created"] as? Int == 1)
            // Whatever the body, an answer (no 500): empty, JSON, a list, YAML that is no mapping, bytes.
            for body in ["", "{}", "[]", "null", "- a\n- b\n", ": :\n\t", "\u{0}\u{1}", "settings: 5\n"] {
                for csv in [false, true] {
                    let r = try await post(body, csv: csv)
                    #expect([200, 422].contains(r.status), "\(body.debugDescription) as \(csv ? "CSV" : "YAML"): \(r.status) \(r.json)")
                }
            }
            let auditorKey = APIKey.make()
            try await server.store.addAPIKey(name: "eve", keyHash: APIKey.hash(auditorKey), kind: .admin, role: .auditor, at: Date())
            #expect(try await post(people, key: auditorKey).status == 403)
        }
    }
}
