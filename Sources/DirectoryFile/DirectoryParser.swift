import Foundation
import HotDeskCore
import HotDeskStore
import Provisioning
import Yams

/// Reading and checking a directory file (YAML) into the `DirectoryDocument` the store imports.
extension DirectoryDocument {
    /// Reads a directory file. Every problem is collected (not just the first); any problem
    /// means no document. `file:` paths of templates are read relative to `baseDirectory`; nil
    /// (a file uploaded to the server) takes no `file:` at all: an upload never reads the
    /// server's own files.
    /// Names that must exist (extensions and templates in mappings) may also exist already in
    /// the store: pass them as `knownExtensions` and `knownTemplates`.
    /// `catalog` and `configs` say which families, models and config formats exist (the phone
    /// family descriptors); `languages`, the languages the app has screen texts for (nil: any
    /// well-formed code).
    public static func parse(
        yaml: String,
        file: String,
        baseDirectory: URL?,
        catalog: PhoneCatalog,
        configs: ConfigFamilies,
        knownExtensions: Set<String> = [],
        knownTemplates: [String: Brand] = [:],
        knownWorkspaces: Set<String> = [],
        knownSites: Set<String> = [],
        languages: Set<String>? = nil
    ) throws(DirectoryError) -> DirectoryDocument {
        var reader = Reader(catalog: catalog, configs: configs)
        reader.languages = languages
        let document = reader.read(
            yaml: yaml,
            baseDirectory: baseDirectory,
            known: Reader.Known(extensions: knownExtensions, templates: knownTemplates, workspaces: knownWorkspaces, sites: knownSites)
        )
        if let document, reader.problems.isEmpty { return document }
        throw DirectoryError(file: file, problems: reader.problems)
    }

    /// `parse`, with the names the file may refer to read from `store` (what `hotdesk import`,
    /// `POST /api/v1/directory` and the tests check a file against).
    public static func parse(
        yaml: String,
        file: String,
        baseDirectory: URL?,
        catalog: PhoneCatalog,
        configs: ConfigFamilies,
        languages: Set<String>?,
        against store: any DirectoryStore
    ) async throws -> DirectoryDocument {
        let known = try await store.directoryNames()
        let (workspaces, sites) = (try await store.workspaceNames(), try await store.siteNames())
        return try parse(
            yaml: yaml,
            file: file,
            baseDirectory: baseDirectory,
            catalog: catalog,
            configs: configs,
            knownExtensions: known.extensions,
            knownTemplates: known.templates,
            knownWorkspaces: workspaces,
            knownSites: sites,
            languages: languages
        )
    }
}

/// Walks the YAML node tree, checking each field and remembering where problems are.
struct Reader {
    let catalog: PhoneCatalog
    let configs: ConfigFamilies
    var problems: [DirectoryProblem] = []
    /// The languages with screen texts (nil: not checked).
    var languages: Set<String>?

    init(catalog: PhoneCatalog, configs: ConfigFamilies) {
        self.catalog = catalog
        self.configs = configs
    }

    var brandList: String { catalog.brands.map(\.rawValue).joined(separator: ", ") }

    mutating func problem(_ path: String, _ node: Node?, _ message: String) {
        problems.append(DirectoryProblem(path: path, line: node?.mark.map { $0.line }, message: message))
    }

    /// What the store already has, that the file's entries may name.
    struct Known {
        var extensions: Set<String>
        var templates: [String: Brand]
        var workspaces: Set<String>
        var sites: Set<String>
    }

    mutating func read(yaml: String, baseDirectory: URL?, known: Known) -> DirectoryDocument? {
        let (knownExtensions, knownTemplates, knownWorkspaces) = (known.extensions, known.templates, known.workspaces)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            let syntax = YAMLSyntaxError(error, yaml: yaml)
            problems.append(DirectoryProblem(path: "(file)", line: syntax.line, message: syntax.message))
            return nil
        } catch {
            problem("(file)", nil, "not valid YAML: \(error)")
            return nil
        }
        guard let root,
            let top = mapping(
                root,
                path: "(top)",
                allowed: [
                    "settings", "sites", "extensions", "shared_lines", "workspaces", "devices", "templates", "mappings", "classes_of_service",
                    "schedules",
                ]
            )
        else {
            if root == nil { problem("(file)", nil, "the file is empty") }
            return nil
        }
        var doc = DirectoryDocument()
        doc.sections = Set(top.keys)
        if let node = top["settings"] { doc.settings = readSettings(node) }
        doc.sites = list(top["sites"], path: "sites").compactMap { readSite($0.node, path: $0.path) }
        checkUnique(doc.sites.map(\.name), what: "site name", list: "sites", nodes: top["sites"])
        let sites = known.sites.union(doc.sites.map(\.name))
        doc.extensions = list(top["extensions"], path: "extensions").compactMap { readExtension($0.node, path: $0.path, sites: sites) }
        doc.schedules = list(top["schedules"], path: "schedules").compactMap { readSchedule($0.node, path: $0.path) }
        checkUnique(doc.schedules.map(\.name), what: "schedule name", list: "schedules", nodes: top["schedules"])
        doc.classesOfService = list(top["classes_of_service"], path: "classes_of_service").compactMap { readCoS($0.node, path: $0.path) }
        checkUnique(doc.classesOfService.map(\.name), what: "class of service name", list: "classes_of_service", nodes: top["classes_of_service"])
        let knownExtensionsNow = knownExtensions.union(doc.extensions.map(\.number))
        doc.workspaces = list(top["workspaces"], path: "workspaces").compactMap {
            readWorkspace($0.node, path: $0.path, sites: sites, extensions: knownExtensionsNow)
        }
        checkUnique(doc.workspaces.map(\.name), what: "workspace name", list: "workspaces", nodes: top["workspaces"])
        let workspaceNames = knownWorkspaces.union(doc.workspaces.map(\.name))
        doc.devices = list(top["devices"], path: "devices").compactMap {
            readDevice($0.node, path: $0.path, extensions: knownExtensionsNow, workspaces: workspaceNames, sites: sites)
        }
        doc.templates = list(top["templates"], path: "templates").compactMap { readTemplate($0.node, path: $0.path, base: baseDirectory) }
        checkUnique(doc.extensions.map(\.number), what: "extension number", list: "extensions", nodes: top["extensions"])
        checkUnique(doc.devices.map(\.mac.colonSeparated), what: "device MAC", list: "devices", nodes: top["devices"])
        checkUnique(doc.devices.compactMap(\.line?.number), what: "device line number", list: "devices", nodes: top["devices"])
        checkUnique(doc.sharedLines.compactMap(\.directDial), what: "direct-dial number", list: "shared_lines", nodes: top["shared_lines"])
        checkUnique(doc.extensions.compactMap(\.directDial), what: "direct-dial number", list: "extensions", nodes: top["extensions"])
        checkUnique(doc.workspaces.compactMap(\.line?.number), what: "workspace line number", list: "workspaces", nodes: top["workspaces"])
        checkUnique(doc.templates.map(\.name), what: "template name", list: "templates", nodes: top["templates"])
        for brand in catalog.brands {
            let defaults = doc.templates.filter { $0.brand == brand && $0.isDefault }.map(\.name)
            if defaults.count > 1 {
                problem(
                    "templates",
                    top["templates"],
                    "\(defaults.count) default templates for \(brand.rawValue) (\(defaults.joined(separator: ", "))); at most one"
                )
            }
        }
        let extensions = knownExtensions.union(doc.extensions.map(\.number))
        doc.sharedLines = list(top["shared_lines"], path: "shared_lines").compactMap {
            readSharedLine($0.node, path: $0.path, extensions: extensions)
        }
        checkUnique(doc.sharedLines.map(\.number), what: "shared line number", list: "shared_lines", nodes: top["shared_lines"])
        checkButtons(doc.sharedLines, nodes: top["shared_lines"])
        var templates = knownTemplates
        for t in doc.templates { templates[t.name] = t.brand }
        doc.mappings = list(top["mappings"], path: "mappings").compactMap {
            readMapping($0.node, path: $0.path, extensions: extensions, templates: templates)
        }
        let mappingKeys = doc.mappings.map { "\($0.extensionNumber)/\($0.model ?? "-")/\($0.mac?.canonical ?? "-")" }
        checkUnique(mappingKeys, what: "mapping (extension, model, mac)", list: "mappings", nodes: top["mappings"])
        return doc
    }

    /// A mapping of free keys (names the admin chooses).
    mutating func freeMapping(_ node: Node, path: String) -> [String: Node]? {
        guard let map = node.mapping else {
            problem(path, node, "expected a mapping of names to values")
            return nil
        }
        var result: [String: Node] = [:]
        for (k, v) in map { if let key = k.scalar?.string { result[key] = v } }
        return result
    }

    // MARK: field readers

    mutating func mapping(_ node: Node, path: String, allowed: Set<String>) -> [String: Node]? {
        guard let map = node.mapping else {
            problem(path, node, "expected a mapping of keys to values")
            return nil
        }
        var result: [String: Node] = [:]
        for (key, value) in map {
            guard let k = key.scalar?.string else {
                problem(path, key, "keys must be plain names")
                continue
            }
            guard allowed.contains(k) else {
                problem("\(path).\(k)", key, "unknown key; expected one of \(allowed.sorted().joined(separator: ", "))")
                continue
            }
            if value.scalar != nil, value.null != nil { continue }  // `key:` with nothing after it counts as absent
            result[k] = value
        }
        return result
    }

    mutating func list(_ node: Node?, path: String) -> [(node: Node, path: String)] {
        guard let node else { return [] }
        if node.null != nil { return [] }
        guard let seq = node.sequence else {
            problem(path, node, "expected a list")
            return []
        }
        return seq.enumerated().map { ($0.element, "\(path)[\($0.offset)]") }
    }

    mutating func required(_ map: [String: Node], _ key: String, path: String) -> Node? {
        if let n = map[key] { return n }
        problem("\(path).\(key)", nil, "missing")
        return nil
    }

    /// A single value. Control and invisible characters (`TextSafety`: C0 and C1, DEL, NUL, the
    /// Unicode line and paragraph separators, the bidirectional overrides, zero-width ones) are refused: they break phone XML, forge lines
    /// in logs and terminals, or truncate. `multiline` (template bodies) allows tab, LF and CR.
    mutating func string(_ node: Node, path: String, maxLength: Int = 255, multiline: Bool = false) -> String? {
        guard let s = node.scalar?.string else {
            problem(path, node, "expected a single value")
            return nil
        }
        guard s.count <= maxLength else {
            problem(path, node, "longer than \(maxLength) characters")
            return nil
        }
        if let why = TextSafety.problem(s, multiline: multiline) {
            problem(path, node, "\(why): not allowed in names, labels and texts")
            return nil
        }
        return s
    }

    mutating func secret(_ node: Node, path: String, minLength: Int) -> String? {
        guard let s = string(node, path: path, maxLength: 128) else { return nil }
        guard s.count >= minLength else {
            problem(path, node, "at least \(minLength) characters")  // never echo a secret
            return nil
        }
        return s
    }

    /// A stored secret hash as `hotdesk export --with-secrets` writes it (`hmac-sha256$…`); never
    /// beside the secret itself (`instead`). It only works with the key file it was made under.
    mutating func hash(_ node: Node, path: String, instead secret: Node?) -> String? {
        guard let v = string(node, path: path, maxLength: 256) else { return nil }
        if secret != nil {
            problem(path, node, "give the secret or its hash, not both")
            return nil
        }
        guard SecretHash(encoded: v, key: nil) != nil else {
            problem(path, node, "not a hash written by hotdesk export (hmac-sha256$salt$hash)")  // never echo it
            return nil
        }
        return v
    }

    /// `{username: admin, password: "..."}`: a phone's web login.
    mutating func credentials(_ node: Node, path: String) -> PhoneCredentials? {
        guard let map = mapping(node, path: path, allowed: ["username", "password"]) else { return nil }
        let username = required(map, "username", path: path).flatMap { n -> String? in
            guard let v = string(n, path: "\(path).username", maxLength: 64) else { return nil }
            guard !v.isEmpty, !v.contains(":"), v.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                problem("\(path).username", n, "a phone login is ASCII without spaces or ':'")
                return nil
            }
            return v
        }
        let password = required(map, "password", path: path).flatMap { secret($0, path: "\(path).password", minLength: 4) }
        guard let username, let password else { return nil }
        return PhoneCredentials(username: username, password: password)
    }

    mutating func bool(_ node: Node, path: String, hint: String = "true or false") -> Bool? {
        guard let s = node.scalar?.string else {
            problem(path, node, "expected \(hint)")
            return nil
        }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            problem(path, node, "\"\(s.prefix(30))\" is not \(hint)")
            return nil
        }
    }

    mutating func int(_ node: Node?, path: String, range: ClosedRange<Int>) -> Int? {
        guard let node else { return nil }
        guard let s = node.scalar?.string, let v = Int(s), range.contains(v) else {
            problem(path, node, "expected a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return v
    }

    mutating func address(_ node: Node?, path: String) -> ServerAddress? {
        guard let node, let s = string(node, path: path) else { return nil }
        guard let a = ServerAddress(s) else {
            problem(path, node, "\"\(s)\" is not host:port or an http(s) URL")
            return nil
        }
        return a
    }

    mutating func mac(_ node: Node, path: String) -> MACAddress? {
        guard let s = string(node, path: path) else { return nil }
        guard let m = MACAddress(s) else {
            problem(path, node, "\"\(s)\" is not a MAC address (12 hex digits, e.g. 00:15:65:aa:bb:cc)")
            return nil
        }
        return m
    }

    mutating func model(_ node: Node, path: String) -> PhoneModel? {
        guard let s = string(node, path: path) else { return nil }
        guard let m = catalog.model(named: s) else {
            problem(path, node, "unknown model \"\(s)\"; one of \(catalog.models.map(\.name).joined(separator: ", "))")
            return nil
        }
        return m
    }

    mutating func checkUnique(_ keys: [String], what: String, list: String, nodes: Node?) {
        var seen: Set<String> = []
        for key in keys where !seen.insert(key).inserted {
            problem(list, nodes, "\(what) \(key) appears more than once")
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// A YAML syntax error in one line: where, what, and the likely cause when it is a tab (YAML
/// indents with spaces only, and the parser's own words for it do not say so).
struct YAMLSyntaxError {
    let line: Int?
    let message: String

    init(_ error: YamlError, yaml: String) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            line = mark.line
            let source = yaml.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(mark.line - 1).first ?? ""
            var text = "not valid YAML at column \(mark.column): \(problem)"
            if let context { text += " (\(context.text) on line \(context.mark.line))" }
            if source.contains("\t") { text += "; this line has a tab: YAML indents with spaces only" }
            message = text
        default:
            line = nil
            message = "not valid YAML: \(String(describing: error).split(separator: "\n").joined(separator: " "))"
        }
    }
}
