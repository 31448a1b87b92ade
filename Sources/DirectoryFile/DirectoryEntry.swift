import Foundation
import HotDeskCore
import HotDeskStore
import Yams

/// One entry of the directory edited on its own (the console's forms, `PUT
/// /api/v1/directory/{section}/{key}`): the entry, in the directory file's own field names, is
/// made a directory file of one entry, which the import then checks and applies like any other.
///
/// An edited entry replaces the stored one, except its secrets: no one is shown them back, so a
/// secret field the entry leaves out keeps the stored value (a SIP password, a PIN's hash, a
/// phone's web login, a claim); `null` removes it (`"voicemail_pin": null`: no voicemail box).
public enum DirectoryEntry {
    /// The one-entry directory file (YAML) for `body` (a JSON object, or YAML) of `section`'s
    /// entry `key`, keeping the secrets of `stored` (the entry as exported with its secrets;
    /// nil: a new entry). Problems are the entry's own: `voicemail_pin: a voicemail PIN is …`.
    public static func file(_ section: DirectorySection, key: String, body: String, stored: String?) throws(DirectoryError) -> String {
        let problem = { (text: String) in DirectoryError(file: "entry", problems: [DirectoryProblem(path: "entry", line: nil, message: text)]) }
        let parsed: Node?
        do { parsed = try Yams.compose(yaml: body) } catch {
            throw problem("an entry is a JSON object of the directory file's fields (docs/directory.md)")
        }
        guard case .mapping(let mapping)? = parsed else {
            throw problem("an entry is a JSON object of the directory file's fields (docs/directory.md)")
        }
        var entry = pairs(mapping)
        switch entry.first(where: { $0.0 == section.keyField })?.1.string {
        case let named? where !sameKey(section, named, key):
            throw problem(
                "\(section.keyField): \"\(TextSafety.printable(String(named.prefix(40))))\" is not the entry's key \"\(key)\" (to rename, add the new entry and delete the old)"
            )
        case nil:
            entry.insert((section.keyField, text(key)), at: 0)
        default: break
        }
        if let stored, case .mapping(let old)? = try? Yams.compose(yaml: stored) {
            entry = keepSecrets(section.secretFields, of: pairs(old), in: entry)
        }
        let document = Node.mapping(.init([(text(section.rawValue), .sequence(.init([mappingNode(withoutNulls(entry))])))]))
        do { return try Yams.serialize(node: document, indent: 2, width: -1, allowUnicode: true) } catch {
            throw problem("the entry cannot be written as a directory file: \(error)")
        }
    }

    /// An import's problem as the entry's own: `extensions[0].voicemail_pin` at line 3 becomes
    /// `voicemail_pin: …` (the lines are of a file no one wrote).
    public static func problem(_ p: DirectoryProblem, section: DirectorySection) -> String {
        let entryPath = "\(section.rawValue)[0]"
        var path = Substring(p.path)
        if path.hasPrefix(entryPath) { path = path.dropFirst(entryPath.count).drop { $0 == "." } }
        return path.isEmpty ? p.message : "\(path): \(p.message)"
    }

    /// The entry as JSON (the export's YAML of one entry): text stays text, numbers and yes/no
    /// become JSON's.
    public static func json(fromYAML yaml: String) throws -> Data {
        guard let node = try Yams.compose(yaml: yaml) else { return Data("{}".utf8) }
        return try JSONSerialization.data(withJSONObject: value(node), options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// Which of `section`'s secret fields the stored entry (with its secrets) has set.
    public static func secretsSet(_ section: DirectorySection, stored: String) -> [String] {
        guard case .mapping(let old)? = try? Yams.compose(yaml: stored) else { return [] }
        let entry = pairs(old)
        return section.secretFields.filter { field in
            let path = field.split(separator: ".").map(String.init)
            return find(path, in: entry, alsoHash: true) != nil
        }
    }

    // MARK: merging

    static func keepSecrets(_ fields: [String], of stored: [(String, Node)], in entry: [(String, Node)]) -> [(String, Node)] {
        var entry = entry
        for field in fields {
            let path = field.split(separator: ".").map(String.init)
            guard find(path, in: entry, alsoHash: true) == nil, let kept = find(path, in: stored, alsoHash: true) else { continue }
            if path.count == 1 {
                entry.append(kept)
                continue
            }
            // A nested secret (a device's line's SIP password) is kept only for the same line.
            guard let index = entry.firstIndex(where: { $0.0 == path[0] }), case .mapping(let inner) = entry[index].1,
                let old = stored.first(where: { $0.0 == path[0] }), case .mapping(let oldInner) = old.1,
                pairs(inner).first(where: { $0.0 == "number" })?.1.string == pairs(oldInner).first(where: { $0.0 == "number" })?.1.string
            else { continue }
            entry[index].1 = mappingNode(pairs(inner) + [kept])
        }
        return entry
    }

    /// The pair at `path` (a field, or `field_hash`: how an export writes a PIN), even when null.
    static func find(_ path: [String], in entry: [(String, Node)], alsoHash: Bool) -> (String, Node)? {
        if path.count > 1 {
            guard case .mapping(let inner)? = entry.first(where: { $0.0 == path[0] })?.1 else { return nil }
            return find(Array(path.dropFirst()), in: pairs(inner), alsoHash: alsoHash)
        }
        return entry.first { $0.0 == path[0] || (alsoHash && $0.0 == path[0] + "_hash") }
    }

    /// `null` is "not set": the reader is given no field at all.
    static func withoutNulls(_ entry: [(String, Node)]) -> [(String, Node)] {
        entry.compactMap { key, value in
            if value.null != nil { return nil }
            if case .mapping(let inner) = value { return (key, mappingNode(withoutNulls(pairs(inner)))) }
            return (key, value)
        }
    }

    static func sameKey(_ section: DirectorySection, _ a: String, _ b: String) -> Bool {
        section == .devices ? MACAddress(a) != nil && MACAddress(a) == MACAddress(b) : a == b
    }

    // MARK: nodes

    static func pairs(_ mapping: Node.Mapping) -> [(String, Node)] { mapping.map { ($0.key.string ?? "", $0.value) } }
    static func mappingNode(_ pairs: [(String, Node)]) -> Node { .mapping(.init(pairs.map { (text($0.0), $0.1) })) }
    static func text(_ s: String) -> Node { .scalar(.init(s, Tag(.str), .doubleQuoted)) }

    static func value(_ node: Node) -> Any {
        switch node {
        case .mapping(let m): return Dictionary(pairs(m).map { ($0.0, value($0.1)) }, uniquingKeysWith: { _, last in last })
        case .sequence(let s): return s.map(value)
        case .alias: return NSNull()
        case .scalar(let s):
            if s.style == .doubleQuoted || s.style == .singleQuoted || s.style == .literal || s.style == .folded { return s.string }
            if node.null != nil { return NSNull() }
            if let b = node.bool { return b }
            if let i = node.int { return i }
            return s.string
        }
    }
}
