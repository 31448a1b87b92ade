import Foundation
import HotDeskCore
import PhoneSimulator
import Testing

@Suite("GET /metrics")
struct MetricsTests {
    /// The value of a sample line (`name{labels} value`) whose start is `prefix`, 0 when absent.
    static func value(_ text: String, _ prefix: String) -> Double {
        text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }

    @Test("Prometheus text: requests by route and status with latency buckets, logins by outcome, lockouts, pushes, sessions and devices")
    func scrape() async throws {
        let yaml = flowDirectory.replacingOccurrences(
            of: "  push_port: {PUSH_PORT}",
            with: "  push_port: {PUSH_PORT}\n  lockout: {extension_failures: 2, device_failures: 100, source_failures: 1000}"
        )
        try await TestServer.with(yaml: yaml) { (server: TestServer) async throws in
            let before = try await HTTP.get("\(server.baseURL)/metrics").body
            let phone = try await server.phone("yealink-t46u", mac: "001565ab0001")
            try await phone.login("Login Int", ext: "5502", password: "0000")
            try await phone.login("Login Int", ext: "5502", password: "0001")
            try await phone.loginApplied("Login Int", ext: "5501", password: "1234")
            #expect(try await server.waitForJob("001565ab0001") { $0.state == .applied }?.state == .applied)
            #expect(try await HTTP.get("\(server.baseURL)/no-such-page").status == 404)
            let scrape = try await HTTP.get("\(server.baseURL)/metrics")
            #expect(scrape.status == 200)
            let after = scrape.body
            let grew = { (prefix: String) in Self.value(after, prefix) - Self.value(before, prefix) }
            // The server's own metrics (a registry per server): exactly what this test did.
            #expect(grew("hotdesk_logins_total{outcome=\"success\"}") == 1, "\(after.prefix(3000))")
            #expect(grew("hotdesk_logins_total{outcome=\"wrong_password\"}") == 1)
            #expect(grew("hotdesk_logins_total{outcome=\"locked\"}") == 1, "the second wrong PIN locks 5502")
            #expect(grew("hotdesk_lockouts_total{kind=\"extension\"}") == 1)
            #expect(
                grew("hotdesk_pushes_total{action=\"reload\",state=\"applied\"}")
                    + grew("hotdesk_pushes_total{state=\"applied\",action=\"reload\"}") == 1
            )
            #expect(after.contains("http_route=\"/provision/{first}\""), "requests by route pattern, never by the MAC")
            #expect(!after.contains("001565ab0001") && !after.contains("\"5501\"") && !after.contains("/5501"), "no MACs or extensions in the labels")
            #expect(after.contains("http_server_request_duration_bucket"), "latency histograms")
            // Three Dones (two wrong PINs, one right), each answered with a screen.
            #expect(
                grew("hb_requests{http_route=\"/app/{token}/submit\",http_request_method=\"GET\",http_response_status_code=\"200\"}") == 3,
                "\(after.prefix(4000))"
            )
            #expect(
                grew("hb_request_errors{http_route=\"NotFound\",http_request_method=\"GET\",error_type=\"404\"}") == 1,
                "an unknown path is counted as an error"
            )
            #expect(await eventually(timeout: 10) { (try? await HTTP.get("\(server.baseURL)/metrics").body.contains("hotdesk_sessions ")) == true })
            #expect(after.contains("# TYPE hotdesk_logins_total counter"))
        }
    }
}
