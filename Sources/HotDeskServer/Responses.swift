import Hummingbird
import PhoneXML

extension Response {
    static func text(_ status: HTTPResponse.Status, _ body: String, contentType: String = "text/plain; charset=UTF-8", headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func document(_ document: PhoneDocument) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = document.contentType
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: document.body)))
    }
}
