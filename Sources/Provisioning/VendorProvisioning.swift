import HotDeskCore

/// What a phone asked for by its config file name.
public enum ConfigRequest: Hashable, Sendable {
    /// The phone's own file (`001565aabbcc.cfg`, `cfg001565aabbcc.xml`).
    case device(MACAddress, Brand)
    /// A file every phone of the brand reads before its own (`y000000000000.cfg`).
    case common(Brand)

    public var brand: Brand {
        switch self {
        case .device(_, let brand), .common(let brand): brand
        }
    }
}

/// A vendor's provisioning facts: its file names and its config format. One type per vendor;
/// adding a vendor is adding one conforming type to `Vendors.all` plus its built-in template.
public protocol VendorProvisioning: Sendable {
    var brand: Brand { get }
    var format: ConfigFormat { get }
    /// The file name this vendor's phones ask for, for this MAC.
    func deviceFileName(_ mac: MACAddress) -> String
    /// Reads a file name this vendor's phones ask for; `nil` if it is not one of theirs.
    func parse(fileName: String) -> ConfigRequest?
    /// The built-in config template: used when the directory has no template for the brand.
    var builtInTemplate: String { get }
    /// The body of the brand-wide common file, if the vendor has one.
    var commonFile: String? { get }
}

/// How variables are escaped when a config template is rendered.
public enum ConfigFormat: String, Sendable {
    /// `key = value` lines (Yealink): a value may not break the line.
    case keyValue
    /// XML (Sangoma/Htek `hl_provision`): values are XML-escaped.
    case xml

    public var contentType: String {
        switch self {
        case .keyValue: "text/plain; charset=UTF-8"
        case .xml: "text/xml; charset=UTF-8"
        }
    }
}

public enum Vendors {
    public static let all: [any VendorProvisioning] = [YealinkProvisioning(), SangomaProvisioning()]

    public static func forBrand(_ brand: Brand) -> any VendorProvisioning {
        all.first { $0.brand == brand }!
    }

    /// The request a config file name stands for, or `nil` for anything that is not a file
    /// name a supported phone asks for. Never touches the file system.
    public static func parse(fileName: String) -> ConfigRequest? {
        guard (1...64).contains(fileName.utf8.count),
            fileName.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { return nil }
        for vendor in all {
            if let request = vendor.parse(fileName: fileName) { return request }
        }
        return nil
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}

/// Reads the 12 hex digits of a MAC in a file name; all-zero MACs are templates, not devices.
func macInFileName(_ text: Substring) -> MACAddress? {
    guard text.count == 12, let mac = MACAddress(text), mac.canonical != "000000000000" else { return nil }
    return mac
}
