import Foundation

/// A customer of a partner who runs one HotDesk for many (issue 25): each organisation is a
/// directory of its own — its own database and key file, numbering, sites, PBX keys, admins and
/// API keys — served by the same server under `/o/NAME` (its phones' URLs, its API, its
/// console). What one organisation's key opens cannot reach another's data: it is not in its
/// database. A HotDesk without organisations is served at the root, as always.
public enum Organisation {
    public static let maxNameLength = 30

    /// Why `name` cannot name an organisation, or `nil`: lower-case letters, digits and `-`, up to
    /// 30, starting with a letter (it is a URL path segment and a file name).
    public static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "an organisation's name is not empty" }
        if name.count > maxNameLength { return "\(name.count) characters; at most \(maxNameLength)" }
        guard name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
            return "lower-case letters, digits and - only"
        }
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return "it starts with a letter a-z" }
        return nil
    }

    /// Where an organisation's routes are: `/o/NAME`; nil (none): the root, `""`.
    public static func pathPrefix(_ name: String?) -> String { name.map { "/o/\($0)" } ?? "" }
}
