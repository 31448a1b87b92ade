import Foundation
import HotDeskCore
import Hummingbird
import Logging

/// Logs one line per request at `debug` (`LOG_LEVEL=debug`): method, path with secrets blanked,
/// status, duration; a server error (5xx) always, at `error`. At the default level a request costs
/// no log line: a boot storm is thousands a second, and the security log already has one line per
/// security event. Query strings are never logged (phones send passwords in them) and tokens in
/// paths are replaced by `…`.
public struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let status: Int
        do {
            let response = try await next(request, context)
            status = Int(response.status.code)
            log(request, context, status: status, start: start)
            return response
        } catch {
            status = (error as? any HTTPResponseError)?.status.code ?? 500
            log(request, context, status: status, start: start)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, start: ContinuousClock.Instant) {
        let level: Logger.Level = status >= 500 ? .error : .debug
        guard context.logger.logLevel <= level else { return }
        context.logger.log(
            level: level, "request",
            metadata: ["method": "\(request.method)", "path": "\(Self.redact(request.uri.path))", "status": "\(status)", "ms": "\(Self.ms(since: start))"])
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

    private static func ms(since start: ContinuousClock.Instant) -> String {
        let d = ContinuousClock.now - start
        return String(format: "%.2f", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }
}
