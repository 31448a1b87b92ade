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
