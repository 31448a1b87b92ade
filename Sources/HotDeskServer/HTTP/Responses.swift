import Foundation
import HotDeskAPI
import Hummingbird
import PhoneXML

extension Response {
    static func text(
        _ status: HTTPResponse.Status,
        _ body: String,
        contentType: String = "text/plain; charset=UTF-8",
        headers extra: HTTPFields = [:]
    ) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func document(_ document: PhoneDocument) -> Response { ServedDocument(document).response }
}

/// A phone screen as it is answered: its bytes and headers made once, so that a screen kept by
/// the app's cache is answered without copying it again.
struct ServedDocument: Sendable {
    let headers: HTTPFields
    let body: ByteBuffer

    init(_ document: PhoneDocument) {
        var headers = HTTPFields()
        headers[.contentType] = document.contentType
        headers[.cacheControl] = "no-store"
        self.headers = headers
        body = ByteBuffer(string: document.body)
    }

    var response: Response { Response(status: .ok, headers: headers, body: .init(byteBuffer: body)) }
}

extension Response {
    static let encoder = APICoding.encoder()

    /// Our API types always encode; a failure would be a programming error, answered as `{}`.
    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        var data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        data.append(0x0A)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: data)))
    }
}

extension Request {
    /// The JSON body (at most 4 KB) as `T`, or 400 `bad_body` saying what was `expected`.
    func decodeJSON<T: Decodable>(_ type: T.Type, expected: String) async throws -> T {
        do {
            let buffer = try await body.collect(upTo: 4096)
            return try APICoding.decoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError(.badRequest, "bad_body", "expected JSON \(expected)")
        }
    }
}
