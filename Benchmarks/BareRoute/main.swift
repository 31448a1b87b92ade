// The framework's own ceiling, for Benchmarks/run (issue 12): a bare Hummingbird 2 application
// with no middleware, answering every `GET /provision/<file>` with the bytes of one file read at
// start and `GET /health` with a constant. What HotDesk's phone routes cost beyond this is
// HotDesk's own work. Not a product: it is built only by the benchmark.
// Usage: bare-route PORT FILE
import Foundation
import Hummingbird

let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[1]), let body = FileManager.default.contents(atPath: arguments[2]) else {
    FileHandle.standardError.write(Data("usage: bare-route PORT FILE\n".utf8))
    exit(2)
}
let bytes = ByteBuffer(bytes: body)
let router = Router()
router.get("/provision/{file}") { _, _ in
    Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: bytes))
}
router.get("/health") { _, _ in "{\"status\":\"ok\"}\n" }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
