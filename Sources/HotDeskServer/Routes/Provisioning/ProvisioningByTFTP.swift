import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TFTP

// A config file read by TFTP (Cisco phones by default, sent by DHCP options 66/150): the same
// pipeline as `GET /provision/<file>`, for the address that asked, so the same rules hold (the
// phone's address binding, no secret to a fetch that did not prove itself, enrolment limits,
// audit). TFTP carries no Host, User-Agent or credentials: a family that needs them is refused.
extension ProvisioningController {
    /// The file for `peer`, or the TFTP error that says why not.
    func serveTFTP(file: String, peer: SocketAddress, logger: Logger) async -> Result<[UInt8], TFTPError> {
        let answer = await readByTFTP(file: file, peer: peer, logger: logger)
        switch answer {
        case .success: telemetry.tftpRead("served")
        case .failure(let error): telemetry.tftpRead(error.code == 1 ? "not_found" : error.code == 2 ? "refused" : "failed")
        }
        return answer
    }

    private func readByTFTP(file: String, peer: SocketAddress, logger: Logger) async -> Result<[UInt8], TFTPError> {
        // A file name of a phone's, never a path: no folder, nothing a URL would read otherwise.
        guard (1...255).contains(file.utf8.count), file.unicodeScalars.allSatisfy({ $0.isASCII && !"/\\?#%".unicodeScalars.contains($0) })
        else { return .failure(.fileNotFound("no such file")) }
        let request = Request(
            head: HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/provision/" + file),
            body: RequestBody(buffer: ByteBuffer())
        )
        let context = HotDeskRequestContext(phoneAt: peer, parameters: ["first": Substring(file)], logger: logger)
        do {
            let response = try await serve(request, context: context)
            let body = try await Self.bytes(of: response)
            switch response.status.code {
            case 200: return .success(body)
            case 404: return .failure(.fileNotFound(Self.reason(body, or: "no such file")))
            case 401, 403: return .failure(.accessViolation(Self.reason(body, or: "this file is not served by TFTP to this address")))
            default: return .failure(.notDefined("the server answered \(response.status.code): try again"))
            }
        } catch {
            logger.error("TFTP read failed", metadata: ["file": "\(file.prefix(64))", "error": "\(error)"])
            return .failure(.notDefined("the server could not read the file: try again"))
        }
    }

    /// A refusal's own words (the first line, printable ASCII only), for the TFTP error.
    static func reason(_ body: [UInt8], or fallback: String) -> String {
        let line = String(decoding: body.prefix { $0 != 0x0a }, as: UTF8.self).unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 }
        return line.isEmpty ? fallback : String(String.UnicodeScalarView(line.prefix(200)))
    }

    static func bytes(of response: Response) async throws -> [UInt8] {
        let collected = Collected()
        try await response.body.write(BodyCollector(into: collected))
        return collected.bytes
    }

    final class Collected: @unchecked Sendable {
        var bytes: [UInt8] = []
    }

    struct BodyCollector: ResponseBodyWriter {
        let into: Collected
        mutating func write(_ buffer: ByteBuffer) async throws { into.bytes += buffer.readableBytesView }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}
