import Foundation
import Hummingbird
import Logging

/// Logs one line per request: method, path with secrets blanked, status, duration. Query strings
/// are never logged (phones send passwords in them) and app tokens in paths are replaced by `…`.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let path = Self.redact(request.uri.path)
        do {
            let response = try await next(request, context)
            context.logger.info(
                "request",
                metadata: ["method": "\(request.method)", "path": "\(path)", "status": "\(response.status.code)", "ms": "\(Self.ms(since: start))"])
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            context.logger.info("request", metadata: ["method": "\(request.method)", "path": "\(path)", "status": "\(status)", "ms": "\(Self.ms(since: start))"])
            throw error
        }
    }

    /// `/app/<token>/submit` → `/app/…/submit`
    static func redact(_ path: String) -> String {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count > 2, parts[1] == "app" { parts[2] = "…" }
        return String(parts.joined(separator: "/").prefix(200))
    }

    private static func ms(since start: ContinuousClock.Instant) -> String {
        let d = ContinuousClock.now - start
        return String(format: "%.2f", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }
}
