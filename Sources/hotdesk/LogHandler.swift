import Logging

/// swift-log's stream handler, but the logger's own metadata is formatted when a line is
/// written, not each time it is set: Hummingbird sets a request id on every request, and the
/// stream handler formatted all the metadata again at each set (issue 12: 3 % of a request that
/// logs nothing). The lines are the stream handler's own, byte for byte.
struct LazyMetadataLogHandler: LogHandler {
    private var stream: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(label: String) { stream = StreamLogHandler.standardError(label: label) }

    var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty { event.metadata = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit } }
        stream.log(event: event)
    }
}
