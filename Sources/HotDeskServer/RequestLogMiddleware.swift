import Foundation
import HotDeskCore
import Hummingbird
import Logging

/// Logs one line per request: method, path with secrets blanked, status, duration. Query strings
/// are never logged (phones send passwords in them) and app tokens in paths are replaced by `…`.
public struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
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
