import Foundation
import HotDeskCore
import Metrics
import Prometheus

/// A server's metrics, in Prometheus' text format at `GET /metrics`: a Prometheus registry of its
/// own (no process-global metrics system: two servers in one process, as in the tests, count
/// apart). `RequestRecordMiddleware` counts requests by route, method and status with a latency
/// histogram; HotDesk adds logins, lockouts, pushes, sessions and devices, and store errors.
/// Names and labels are made Prometheus-safe (`.` → `_`).
public final class Telemetry: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { label, dimensions in
            (Self.safe(label), dimensions.map { (Self.safe($0.0), $0.1) })
        }
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        self.factory = factory
    }

    /// The text a Prometheus server scrapes.
    public func text() -> String { registry.emitToString() }

    /// A login attempt's outcome: `success`, `wrong_password`, `locked`, `refused`.
    func login(_ outcome: String) { Counter(label: "hotdesk_logins_total", dimensions: [("outcome", outcome)], factory: factory).increment() }

    /// A new lock: `extension`, `device`, `source`, `global`.
    func lockout(_ kind: String) { Counter(label: "hotdesk_lockouts_total", dimensions: [("kind", kind)], factory: factory).increment() }

    /// A push job's end (`applied`, `failed`) or its sending (`sent`), by action.
    func push(_ action: String, _ state: String) {
        Counter(label: "hotdesk_pushes_total", dimensions: [("action", action), ("state", state)], factory: factory).increment()
    }

    /// A file read by TFTP: `served`, `not_found`, `refused` (access violation) or `failed`.
    func tftpRead(_ outcome: String) { Counter(label: "hotdesk_tftp_reads_total", dimensions: [("outcome", outcome)], factory: factory).increment() }

    /// A failed store operation or check.
    func storeError() { Counter(label: "hotdesk_store_errors_total", factory: factory).increment() }

    /// A config served from memory while the store could not be reached.
    func servedWithoutStore() { Counter(label: "hotdesk_configs_served_without_store_total", factory: factory).increment() }

    func gauges(sessions: Int, devices: Int) {
        Gauge(label: "hotdesk_sessions", factory: factory).record(sessions)
        Gauge(label: "hotdesk_devices", factory: factory).record(devices)
    }

    /// `hotdesk_site_sessions{site}`, `hotdesk_site_devices{site}`; a site named in `gone` (it
    /// had phones at the last count, none now) goes to 0.
    func siteGauges(_ counts: [String: (sessions: Int, devices: Int)], gone: Set<String>) {
        for site in gone { recordSite(site, sessions: 0, devices: 0) }
        for (site, count) in counts { recordSite(site, sessions: count.sessions, devices: count.devices) }
    }

    private func recordSite(_ site: String, sessions: Int, devices: Int) {
        Gauge(label: "hotdesk_site_sessions", dimensions: [("site", site)], factory: factory).record(sessions)
        Gauge(label: "hotdesk_site_devices", dimensions: [("site", site)], factory: factory).record(devices)
    }

    /// Called for every metric recorded (a counter is looked up by its sanitised name): bytes, and
    /// a name already safe is returned as it is (by `Character`, 15,000 instructions a metric).
    static func safe(_ name: String) -> String {
        func isSafe(_ byte: UInt8) -> Bool { byte.isASCIIAlphanumeric || byte == UInt8(ascii: "_") }
        if name.utf8.allSatisfy(isSafe) { return name }
        return String(name.map { $0.isASCII && isSafe($0.asciiValue!) ? $0 : "_" })
    }
}
