import Crypto
import Foundation

/// Lower-case hexadecimal of bytes, without `String(format:)` (which goes through Foundation's
/// formatter and costs microseconds a byte on hot paths: config hashes, Digest checks).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func string<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        if let string = bytes.withContiguousStorageIfAvailable({ string(UnsafeRawBufferPointer($0)) }) { return string }
        return Array(bytes).withUnsafeBytes { string($0) }
    }

    /// A digest's bytes read in place (iterating a `Digest` as a sequence costs more than the hex).
    public static func string(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (i, byte) in bytes.enumerated() {
                out[2 * i] = digits[Int(byte >> 4)]
                out[2 * i + 1] = digits[Int(byte & 0x0f)]
            }
            return bytes.count * 2
        }
    }

    public static func string(_ digest: some Digest) -> String {
        digest.withUnsafeBytes { string($0) }
    }

}
