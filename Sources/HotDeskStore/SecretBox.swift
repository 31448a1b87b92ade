import Crypto
import Foundation

/// Encrypts secrets that must be recoverable (SIP passwords: phones need them in clear) with
/// AES-GCM under a key that never sits in the database.
///
/// The key comes from `HOTDESK_SECRET_KEY` (32 bytes, base64) or from a key file (created with
/// mode 0600 on first use, beside the database by default).
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    public enum KeyError: Error, CustomStringConvertible {
        case badEnvironmentKey
        case badKeyFile(String)
        case cannotCreate(String, String)

        public var description: String {
            switch self {
            case .badEnvironmentKey: "HOTDESK_SECRET_KEY must be 32 bytes in base64"
            case .badKeyFile(let path): "key file \(path) does not hold a 32-byte base64 key"
            case .cannotCreate(let path, let reason): "cannot create key file \(path): \(reason)"
            }
        }
    }

    /// The key from the environment, else from `keyFile` (made if missing).
    public static func load(keyFile: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SecretBox {
        if let text = environment["HOTDESK_SECRET_KEY"], !text.isEmpty {
            guard let data = Data(base64Encoded: text), data.count == 32 else { throw KeyError.badEnvironmentKey }
            return SecretBox(key: SymmetricKey(data: data))
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: keyFile) {
            guard let text = try? String(contentsOfFile: keyFile, encoding: .utf8),
                let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32
            else { throw KeyError.badKeyFile(keyFile) }
            return SecretBox(key: SymmetricKey(data: data))
        }
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n"
        guard fm.createFile(atPath: keyFile, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw KeyError.cannotCreate(keyFile, "the folder is missing or not writable")
        }
        return SecretBox(key: key)
    }

    public func seal(_ plaintext: String) throws -> Data {
        guard let combined = try AES.GCM.seal(Data(plaintext.utf8), using: key).combined else {
            throw CryptoKitError.incorrectParameterSize
        }
        return combined
    }

    public func open(_ sealed: Data) throws -> String {
        let data = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key)
        return String(decoding: data, as: UTF8.self)
    }
}
