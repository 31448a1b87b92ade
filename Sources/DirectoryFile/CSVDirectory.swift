import Foundation
import Yams

/// Extensions and devices as CSV, for the spreadsheets admins keep them in (docs/directory.md).
///
/// A CSV file is one section of the directory: its header names the section's fields as the
/// directory file writes them (`number`, `name`, `voicemail_pin`, …; a nested field dotted,
/// `line.number`), a row per entry. `yaml(fromCSV:file:)` writes it as that section of a
/// directory file with one entry per line, so the directory's own parser checks every value and
/// its problems carry the CSV's line numbers. `csv(fromYAML:section:)` writes a section of an
/// export as CSV. Comma-separated (a header with semicolons and no comma: semicolons, as some
/// spreadsheets write), quoted as RFC 4180 says; a value may not run over several lines. Lines
/// end in CRLF or LF; an export writes LF.
public enum CSVDirectory {
    public enum Section: String, CaseIterable, Sendable {
        case extensions, devices

        /// Every column, in the order an export writes them.
        public var columns: [String] {
            switch self {
            case .extensions:
                [
                    "number", "name", "voicemail_pin", "voicemail_pin_hash", "sip_password", "cos", "caller_id", "site", "roaming", "language",
                    "direct_dial",
                ]
            case .devices:
                [
                    "mac", "model", "site", "workspace", "users", "push_port", "line.number", "line.name", "line.sip_password", "cos",
                    "cos_if_not_logged", "emergency_caller_id", "phone_credentials.username", "phone_credentials.password",
                    "provisioning_secret", "claimed_from",
                ]
            }
        }

        /// Columns that hold a list, its items separated by spaces or semicolons (`roaming` also
        /// takes true or false).
        var lists: Set<String> { self == .devices ? ["users"] : ["roaming"] }

        /// A header with this column is this section's (devices are told by `mac`).
        var key: String { self == .devices ? "mac" : "number" }
    }

    /// Why a CSV file is not a section of the directory, with its file name and line.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The section `text` is (told by its header) as directory YAML, line for line.
    public static func yaml(fromCSV text: String, file: String) throws(Problem) -> (section: Section, yaml: String) {
        // (In Swift "\r\n" is one Character: the line ends are made "\n" before the split.)
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let first = lines.first, first.hasPrefix("\u{FEFF}") { lines[0] = String(first.dropFirst()) }
        if lines.last == "" { lines.removeLast() }
        guard let headerLine = lines.first, !headerLine.isEmpty else { throw Problem(description: "\(file): empty (a header line first)") }
        let separator: Character = headerLine.contains(",") || !headerLine.contains(";") ? "," : ";"
        let header = try fields(headerLine, separator, file: file, line: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let section = Section.allCases.first(where: { header.contains($0.key) }) else {
            throw Problem(description: "\(file): line 1: the header names neither mac (devices) nor number (extensions)")
        }
        for (index, column) in header.enumerated() {
            guard section.columns.contains(column) else {
                throw Problem(
                    description:
                        "\(file): line 1: unknown column \"\(column.prefix(40))\" for \(section.rawValue) (\(section.columns.joined(separator: ", ")))"
                )
            }
            guard !header[..<index].contains(column) else { throw Problem(description: "\(file): line 1: column \(column) twice") }
        }
        var out = ["\(section.rawValue):"]
        for (offset, line) in lines.enumerated().dropFirst() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else {
                out.append("")
                continue
            }
            let values = try fields(line, separator, file: file, line: offset + 1)
            guard values.count == header.count else {
                throw Problem(description: "\(file): line \(offset + 1): \(values.count) values, the header has \(header.count) columns")
            }
            out.append("  - " + (try entry(zip(header, values).filter { !$0.1.isEmpty }, section, file: file, line: offset + 1)))
        }
        return (section, out.joined(separator: "\n") + "\n")
    }

    /// One row as a YAML flow mapping: dotted columns nested, list columns as lists.
    private static func entry(_ cells: [(String, String)], _ section: Section, file: String, line: Int) throws(Problem) -> String {
        var top: [(String, String)] = []
        var nested: [(String, [(String, String)])] = []
        for (column, value) in cells {
            let text: String
            if section.lists.contains(column), !["true", "false", "yes", "no"].contains(value.lowercased()) {
                let items = value.split(whereSeparator: { $0 == " " || $0 == ";" || $0 == "," }).map(String.init)
                text = "[" + (try items.map { item throws(Problem) in try quoted(item, file: file, line: line) }).joined(separator: ", ") + "]"
            } else {
                text = try quoted(value, file: file, line: line)
            }
            let parts = column.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                top.append((column, text))
                continue
            }
            if let index = nested.firstIndex(where: { $0.0 == parts[0] }) {
                nested[index].1.append((parts[1], text))
            } else {
                nested.append((parts[0], [(parts[1], text)]))
            }
        }
        let pairs = top.map { "\($0.0): \($0.1)" } + nested.map { "\($0.0): {" + $0.1.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}" }
        return "{" + pairs.joined(separator: ", ") + "}"
    }

    /// A YAML double-quoted scalar; no control characters.
    private static func quoted(_ value: String, file: String, line: Int) throws(Problem) -> String {
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Problem(description: "\(file): line \(line): a value holds a control character")
        }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// The fields of one CSV line (RFC 4180 quoting: a quoted field may hold the separator and `""`).
    private static func fields(_ line: String, _ separator: Character, file: String, line number: Int) throws(Problem) -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var wasQuoted = false
        var index = line.startIndex
        while index < line.endIndex {
            let c = line[index]
            index = line.index(after: index)
            if quoted {
                if c == "\"" {
                    if index < line.endIndex, line[index] == "\"" {
                        field.append("\"")
                        index = line.index(after: index)
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"", field.isEmpty, !wasQuoted {
                quoted = true
                wasQuoted = true
            } else if c == separator {
                fields.append(wasQuoted ? field : field.trimmingCharacters(in: .whitespaces))
                field = ""
                wasQuoted = false
            } else {
                field.append(c)
            }
        }
        guard !quoted else { throw Problem(description: "\(file): line \(number): a quoted value does not end on its line") }
        fields.append(wasQuoted ? field : field.trimmingCharacters(in: .whitespaces))
        return fields
    }

    /// `section` of a directory file (an export) as CSV: the columns any entry has, in the
    /// section's order; nested fields dotted, lists space-separated.
    public static func csv(fromYAML yaml: String, section: Section) throws -> String {
        let root = try Yams.compose(yaml: yaml)
        let entries = root?.mapping?[Node(section.rawValue)]?.sequence.map(Array.init) ?? []
        let rows: [[String: String]] = entries.map { entry in
            var row: [String: String] = [:]
            for (key, value) in entry.mapping ?? [:] {
                guard let name = key.string, value.null == nil else { continue }
                if let nested = value.mapping {
                    for (sub, item) in nested { if let s = sub.string, let v = item.string { row["\(name).\(s)"] = v } }
                } else if let list = value.sequence {
                    row[name] = list.compactMap(\.string).joined(separator: " ")
                } else if let v = value.string {
                    row[name] = v
                }
            }
            return row
        }
        let columns = section.columns.filter { column in rows.contains { $0[column] != nil } }
        let lines = [columns.map(csvField)] + rows.map { row in columns.map { csvField(row[$0] ?? "") } }
        return lines.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    private static func csvField(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == ";" || $0.isNewline }) || value != value.trimmingCharacters(in: .whitespaces)
        else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
