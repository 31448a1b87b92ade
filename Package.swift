// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "HotDesk",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hotdesk", targets: ["hotdesk"]),
        .executable(name: "phonesim", targets: ["phonesim"]),
        .library(name: "PhoneSimulator", targets: ["PhoneSimulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "Curl", dependencies: ["CCurl"]),
        .target(
            name: "HotDeskCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(name: "LibXML", dependencies: ["CLibXML2"]),
        // Templates as swift-mustache parses them, rendered over typed values (issue 27).
        .target(name: "TypedMustache", dependencies: [.product(name: "Mustache", package: "swift-mustache")]),
        .target(
            name: "PhoneXML",
            dependencies: [
                "HotDeskCore", "LibXML", "TypedMustache",
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        .target(
            name: "Provisioning",
            dependencies: [
                "HotDeskCore", "TypedMustache",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        .target(name: "PhonePush", dependencies: ["HotDeskCore", "Curl"]),
        // A read-only TFTP server (phones that fetch their configs that way, Cisco's by default).
        .target(
            name: "TFTP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Every phone family as data: loads and checks Screens/families/*.json.
        .target(name: "PhoneFamilies", dependencies: ["HotDeskCore", "LibXML", "PhoneXML", "Provisioning", "PhonePush"]),
        .target(name: "HotDeskAPI", dependencies: ["HotDeskCore"]),
        .target(
            name: "HotDeskStore",
            dependencies: [
                "HotDeskCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The directory file: YAML read and checked (templates against their families) into the
        // `DirectoryDocument` the store imports.
        .target(
            name: "DirectoryFile",
            dependencies: ["HotDeskCore", "HotDeskStore", "Provisioning", .product(name: "Yams", package: "Yams")]
        ),
        // The web console's page, script and style, compiled into the binary (nothing to install,
        // nothing fetched at run time).
        .target(
            name: "AdminConsole",
            resources: [
                .embedInCode("Assets/index.html"), .embedInCode("Assets/console.js"), .embedInCode("Assets/editor.js"),
                .embedInCode("Assets/console.css"),
            ]
        ),
        .target(
            name: "HotDeskServer",
            dependencies: [
                "HotDeskCore", "PhoneXML", "Provisioning", "PhonePush", "PhoneFamilies", "HotDeskStore", "HotDeskAPI", "AdminConsole", "TFTP",
                "DirectoryFile",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "hotdesk",
            dependencies: [
                "HotDeskCore", "HotDeskServer", "HotDeskStore", "DirectoryFile", "HotDeskAPI", "PhonePush", "PhoneFamilies", "PhoneXML", "Curl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Benchmarks/run's second reference: a bare Hummingbird route (the framework's ceiling).
        .executableTarget(
            name: "bare-route",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Benchmarks/BareRoute"
        ),
        // One config render's cost per phone family, nothing cached (Benchmarks/run prints it).
        // What one GRDB async read and write cost on their own (Benchmarks/run prints it).
        .executableTarget(
            name: "store-floor",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift"), .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Benchmarks/StoreFloor"
        ),
        .executableTarget(name: "render-config", dependencies: ["HotDeskCore", "PhoneFamilies", "Provisioning"], path: "Benchmarks/RenderConfig"),
        // The phone simulator: written from the vendor facts, never from HotDesk's renderers.
        .target(
            name: "PhoneSimulator",
            dependencies: [
                "LibXML", "Curl",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Simulator/Sources/PhoneSimulator"
        ),
        .executableTarget(
            name: "phonesim",
            dependencies: [
                "PhoneSimulator", "Curl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Simulator/Sources/phonesim"
        ),
        .testTarget(
            name: "HotDeskTests",
            dependencies: [
                "HotDeskCore", "LibXML", "PhoneXML", "Provisioning", "PhonePush", "PhoneFamilies", "HotDeskStore", "DirectoryFile", "HotDeskServer",
                "HotDeskAPI", "TFTP",
                "PhoneSimulator", "Curl", .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Every module names what it uses: a member of a module not imported in the file is an error
// (SE-0444), so the import arrows of docs/architecture.md stay the real ones.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}
