import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import Metrics
import Prometheus
import Synchronization

/// One layer for every request, as cheap as it can be (issue 12: Hummingbird's `MetricsMiddleware`
/// and a separate log layer cost a fifth of a `/health` answer):
/// - metrics, always: `hb_requests` and `http_server_request_duration` (histogram) by route
///   pattern, method and status, `hb_request_errors` for thrown errors — the names and labels of
///   Hummingbird's middleware, so dashboards written against them keep working. The time is taken
///   when the answer is ready, not after its last byte is written (that needs a closure wrapped
///   round every body).
/// - a log line at `debug` (`LOG_LEVEL=debug`): method, path with secrets blanked, status,
///   duration; a server error (5xx) always, at `error`. At the default level a request costs no
///   log line: a boot storm is thousands a second, and the security log already has one line per
///   security event. Query strings are never logged (phones send passwords in them) and tokens in
///   paths are replaced by `…`.
public struct RequestRecordMiddleware<Context: RequestContext>: RouterMiddleware {
    private let telemetry: Telemetry
    private let metrics: RouteMetrics

    public init(telemetry: Telemetry) {
        self.telemetry = telemetry
        metrics = RouteMetrics(factory: telemetry.factory)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status, start: start, thrown: false)
            return response
        } catch let error as any HTTPResponseError {
            record(request, context, status: error.status, start: start, thrown: true)
            throw error
        } catch  where StoreFailure.isStoreError(error) {
            // The database refused (a full disk, a read-only file): said in the log and the
            // metrics, and to the client as a temporary failure, not an empty 500.
            telemetry.storeError()
            context.logger.error("store error", metadata: ["path": "\(Self.redact(request.uri.path))", "error": "\(error)"])
            let response = Response.text(
                .serviceUnavailable,
                "the database cannot be used right now (see the server log); try again\n",
                headers: [.retryAfter: "5"]
            )
            record(request, context, status: response.status, start: start, thrown: true)
            return response
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(Self.redact(request.uri.path))", "error": "\(error)"])
            record(request, context, status: .internalServerError, start: start, thrown: true)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: HTTPResponse.Status, start: ContinuousClock.Instant, thrown: Bool) {
        let elapsed = ContinuousClock.now - start
        let route = metrics.route(context.endpointPath ?? (thrown ? "NotFound" : "Unknown"), request.method, status)
        route.requests.increment()
        route.duration.recordNanoseconds(Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        if thrown { route.errors.increment() }
        let level: Logger.Level = status.code >= 500 ? .error : .debug
        guard context.logger.logLevel <= level else { return }
        context.logger.log(
            level: level,
            "request",
            metadata: [
                "method": "\(request.method)", "path": "\(Self.redact(request.uri.path))", "status": "\(status.code)",
                "ms": "\(String(format: "%.2f", Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15))",
            ]
        )
    }

    /// `/app/<token>/submit` → `/app/…/submit`, however the slashes are doubled (`//app/<token>`,
    /// `/app//<token>` reach the same route): the first segment after `app` is blanked, and so is
    /// any segment shaped like a token (a per-device key in a provisioning path).
    public static func redact(_ path: String) -> String {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let named = parts.indices.filter { !parts[$0].isEmpty }
        if let first = named.first, parts[first].lowercased() == "app", named.count > 1 { parts[named[1]] = "…" }
        for i in named where RandomToken.isWellFormed(parts[i]) || RandomToken.isWellFormed(parts[i].prefix(32)) { parts[i] = "…" }
        return TextSafety.printable(String(parts.joined(separator: "/").prefix(200)))
    }
}

/// The metrics of each (route pattern, method, status), made once: the metrics factory's own
/// lookup by label and dimensions is far dearer than this table's.
private final class RouteMetrics: Sendable {
    let factory: PrometheusMetricsFactory

    init(factory: PrometheusMetricsFactory) { self.factory = factory }

    struct Key: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: HTTPResponse.Status
    }

    struct Route: Sendable {
        let requests: Metrics.Counter
        let duration: Metrics.Timer
        let errors: Metrics.Counter
    }

    private let routes = Mutex([Key: Route]())

    func route(_ pattern: String, _ method: HTTPRequest.Method, _ status: HTTPResponse.Status) -> Route {
        let key = Key(route: pattern, method: method, status: status)
        if let known = routes.withLock({ $0[key] }) { return known }
        let labels = [("http.route", pattern), ("http.request.method", method.rawValue), ("http.response.status_code", String(status.code))]
        let made = Route(
            requests: Metrics.Counter(label: "hb.requests", dimensions: labels, factory: factory),
            duration: Metrics.Timer(label: "http.server.request.duration", dimensions: labels, preferredDisplayUnit: .seconds, factory: factory),
            errors: Metrics.Counter(
                label: "hb.request.errors",
                dimensions: [("http.route", pattern), ("http.request.method", method.rawValue), ("error.type", String(status.code))],
                factory: factory
            )
        )
        return routes.withLock { table in
            if let raced = table[key] { return raced }
            table[key] = made
            return made
        }
    }
}
