import Foundation
import HotDeskServer
import Testing

@Suite("The OpenAPI document")
struct OpenAPITests {
    @Test("/api/v1/openapi.json lists exactly the routes the server has under /api/v1 and /pbx/v1, each described")
    func matchesRoutes() async throws {
        try await TestServer.with(yaml: flowDirectory) { (server: TestServer) async throws in
            let answer = try await HTTP.get("\(server.baseURL)/api/v1/openapi.json")
            #expect(answer.status == 200)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
            var served: Set<String> = []
            for (path, methods) in paths {
                for (method, operation) in methods {
                    served.insert("\(method.uppercased()) \(path)")
                    #expect(operation["summary"] as? String != "undocumented", "\(method.uppercased()) \(path) is a route nobody described")
                }
            }
            // Every described operation is a real route, and every real route is described.
            #expect(
                served == OpenAPIDocument.described,
                "described, not routed: \(OpenAPIDocument.described.subtracting(served)); routed, not described: \(served.subtracting(OpenAPIDocument.described))"
            )
            #expect(served.contains("DELETE /api/v1/locks/extension/{key}") && served.contains("POST /pbx/v1/authorize"))
        }
    }
}
