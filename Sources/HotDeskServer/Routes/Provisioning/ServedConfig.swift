import Foundation
import HTTPTypes
import HotDeskCore
import NIOCore
import Provisioning

/// A rendered config as it is answered: its bytes and headers made once, when it is rendered, and
/// shared by every answer while it is cached (issue 12: a copy of the body, the ETag's quoting and
/// the headers were made again at every fetch). It keeps the bytes, not the text: the text stays
/// only in the renderer's memo.
struct ServedConfig: Sendable {
    /// The config's hash (`RenderedConfig.hash`).
    let hash: String
    let etag: String
    let body: ByteBuffer
    let headers: HTTPFields
    let notModifiedHeaders: HTTPFields

    init(_ config: RenderedConfig) {
        hash = config.hash
        etag = "\"\(config.hash)\""
        body = ByteBuffer(string: config.body)
        var headers = HTTPFields()
        headers[.eTag] = etag
        headers[.cacheControl] = "no-cache"
        notModifiedHeaders = headers
        headers[.contentType] = config.contentType
        self.headers = headers
    }

    /// `If-None-Match`: this ETag, `*`, or a list holding either (a phone sends back the one it was
    /// given; after a change, the one before). Trimmed as bytes, not by Foundation, which copied each
    /// item through UTF-16 (35,000 instructions a fetch whose config had changed).
    func isMatched(by header: String) -> Bool {
        header == etag
            || header.split(separator: ",").contains {
                let tag = $0.trimmingSpacesAndTabs
                return tag == etag || tag == "*"
            }
    }
}
