/// One TFTP packet (RFC 1350), with the option extension's (RFC 2347: `OACK`, options on a
/// request). Only what a read-only server needs to read and write.
public enum TFTPPacket: Equatable, Sendable {
    /// `RRQ`: a file asked for, in `mode` (`octet` or `netascii`, lower case), with the options
    /// the client proposes (names lower case, in the order sent).
    case readRequest(file: String, mode: String, options: [Option])
    /// `WRQ`: a client that wants to write (refused: this server only serves).
    case writeRequest(file: String)
    case data(block: UInt16, payload: [UInt8])
    case ack(block: UInt16)
    case error(TFTPError)
    /// `OACK`: the options the server accepts, with their values.
    case optionAck([Option])

    public struct Option: Equatable, Sendable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// A request is at most this long (RFC 1350: requests fit one 512-byte datagram; options a
    /// little more in practice).
    public static let maxRequestBytes = 1024

    /// Reads a datagram; `nil` for one that is no TFTP packet (too short, an unknown opcode, a
    /// request without its zero bytes or with text that is not ASCII).
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 4 else { return nil }
        let opcode = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        let number = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        switch opcode {
        case 1, 2:
            guard bytes.count <= Self.maxRequestBytes, bytes.last == 0 else { return nil }
            let fields = bytes[2..<(bytes.count - 1)].split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
            guard fields.count >= 2, fields.count % 2 == 0, let texts = Self.ascii(fields) else { return nil }
            if opcode == 2 {
                self = .writeRequest(file: texts[0])
                return
            }
            var options: [Option] = []
            for index in stride(from: 2, to: texts.count, by: 2) { options.append(Option(texts[index].lowercased(), texts[index + 1])) }
            self = .readRequest(file: texts[0], mode: texts[1].lowercased(), options: options)
        case 3: self = .data(block: number, payload: Array(bytes[4...]))
        case 4: self = .ack(block: number)
        case 5:
            let text = bytes[4...].prefix { $0 != 0 }
            self = .error(TFTPError(code: number, message: Self.ascii([Array(text)])?.first ?? ""))
        case 6:
            let fields = bytes[2..<max(2, bytes.count - 1)].split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
            guard bytes.last == 0, fields.count % 2 == 0, let texts = Self.ascii(fields) else { return nil }
            self = .optionAck(stride(from: 0, to: texts.count, by: 2).map { Option(texts[$0].lowercased(), texts[$0 + 1]) })
        default: return nil
        }
    }

    /// The datagram.
    public var bytes: [UInt8] {
        func opcode(_ n: UInt16) -> [UInt8] { [UInt8(n >> 8), UInt8(n & 0xff)] }
        func strings(_ texts: [String]) -> [UInt8] { texts.flatMap { Array($0.utf8) + [0] } }
        switch self {
        case .readRequest(let file, let mode, let options):
            return opcode(1) + strings([file, mode] + options.flatMap { [$0.name, $0.value] })
        case .writeRequest(let file): return opcode(2) + strings([file, "octet"])
        case .data(let block, let payload): return opcode(3) + opcode(block) + payload
        case .ack(let block): return opcode(4) + opcode(block)
        case .error(let error): return opcode(5) + opcode(error.code) + strings([error.message])
        case .optionAck(let options): return opcode(6) + strings(options.flatMap { [$0.name, $0.value] })
        }
    }

    /// Printable ASCII (a file name, a mode, an option), or nil.
    private static func ascii(_ fields: [[UInt8]]) -> [String]? {
        var texts: [String] = []
        for field in fields {
            guard field.allSatisfy({ (0x20...0x7e).contains($0) }) else { return nil }
            texts.append(String(decoding: field, as: UTF8.self))
        }
        return texts
    }
}

/// A TFTP `ERROR` packet's code and text (RFC 1350, RFC 2347's 8).
public struct TFTPError: Error, Equatable, Sendable {
    public var code: UInt16
    public var message: String

    public init(code: UInt16, message: String) {
        self.code = code
        self.message = message
    }

    public static func notDefined(_ message: String) -> TFTPError { .init(code: 0, message: message) }
    public static func fileNotFound(_ message: String) -> TFTPError { .init(code: 1, message: message) }
    public static func accessViolation(_ message: String) -> TFTPError { .init(code: 2, message: message) }
    public static func illegalOperation(_ message: String) -> TFTPError { .init(code: 4, message: message) }
    public static let unknownTransferID = TFTPError(code: 5, message: "unknown transfer ID")
}

/// `netascii` (RFC 764 as TFTP uses it): a line ends in CR LF, a lone CR is CR NUL.
public enum NetASCII {
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 16)
        for byte in bytes {
            switch byte {
            case 0x0a: out += [0x0d, 0x0a]
            case 0x0d: out += [0x0d, 0x00]
            default: out.append(byte)
            }
        }
        return out
    }
}
