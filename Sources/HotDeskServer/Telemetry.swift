import Foundation
import Metrics
import Prometheus

/// The process's metrics, in Prometheus' text format at `GET /metrics`: swift-metrics bootstrapped
/// once per process with a Prometheus registry. `RequestRecordMiddleware` counts requests by
/// route, method and status with a latency histogram; HotDesk adds logins, lockouts, pushes,
/// sessions and devices, and store errors. Names and labels are made Prometheus-safe (`.` → `_`).
public enum Telemetry {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { label, dimensions in
            (safe(label), dimensions.map { (safe($0.0), $0.1) })
        }
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// The text a Prometheus server scrapes.
    public static func text() -> String {
        _ = registry
        return registry.emitToString()
    }

    /// A login attempt's outcome: `success`, `wrong_password`, `locked`, `refused`.
    static func login(_ outcome: String) { Counter(label: "hotdesk_logins_total", dimensions: [("outcome", outcome)]).increment() }

    /// A new lock: `extension`, `device`, `source`, `global`.
    static func lockout(_ kind: String) { Counter(label: "hotdesk_lockouts_total", dimensions: [("kind", kind)]).increment() }

    /// A push job's end (`applied`, `failed`) or its sending (`sent`), by action.
    static func push(_ action: String, _ state: String) {
        Counter(label: "hotdesk_pushes_total", dimensions: [("action", action), ("state", state)]).increment()
    }

    /// A failed store operation or check.
    static func storeError() { Counter(label: "hotdesk_store_errors_total").increment() }

    static func gauges(sessions: Int, devices: Int) {
        Gauge(label: "hotdesk_sessions").record(sessions)
        Gauge(label: "hotdesk_devices").record(devices)
    }

    private static func safe(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
    }
}
