import ServiceLifecycle
import TFTP

/// `hotdesk serve --tftp-port`: the TFTP server beside the HTTP one, until the server stops.
struct TFTPService: Service {
    let server: TFTPServer
    let onBound: @Sendable (Int) async -> Void

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await server.run(onBound: onBound) }
        } catch is CancellationError {
            // The stop asked for.
        }
    }
}
