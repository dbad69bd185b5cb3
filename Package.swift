// swift-tools-version:6.0
// OVA: a binary RPC backend for a multimodal assistant.
//
// Module map (each folder one job; see docs/ARCHITECTURE.md):
//   CProtobufC, COvaProto, CProtocPlugin   C: libprotobuf-c, protoc-c output (committed)
//   OvaJSONEscaping                         the one JSON string escaper (no dependencies)
//   OvaWire                                 frame codec, pure (NIOCore only)
//   OvaProtobuf                             protobuf-c backed messages, JSON mapping
//   OvaRPC                                  runtime: server, client, streams, TLS
//   OvaProto                                generated Swift: messages, clients, handlers
//   OvaCodegen + protoc-gen-ova             the stub generator
//   CSQLite, OvaStore                       SQLite storage: migrations, repositories
//   CMariaDB                                MariaDB Connector/C (OvaStore's MariaDB connection)
//   OvaServices, OvaServer                  service handlers; server assembly and config
//   CCrypt, OvaAuth                         libxcrypt; password hashing, access tokens, throttling
//   OvaResilience                           circuit breaker, retries, timeouts, bulkhead for remote calls
//   CCurl, OvaProviders                     libcurl; HTTP client, Hugging Face, OpenAI-compatible chat
//   OvaAudio                                WAV, PCM chunking, downmix, resampling (pure Swift)
//   CEspeakNG, CPocketSphinx, OvaEngines    local TTS (espeak-ng) and STT (pocketsphinx)
//   BenchKit                                the load tools' shared options and report (ova-bench, Benchmarks/)
//   ova-server, ova, ova-bench              executables
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // Nonisolated async functions run on their caller's executor instead of hopping to the
    // global one: a handler started on an event loop stays there (see docs/PERFORMANCE.md).
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

let package = Package(
    name: "ova",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ova-server", targets: ["ova-server"]),
        .executable(name: "ova", targets: ["ova"]),
        .executable(name: "protoc-gen-ova", targets: ["protoc-gen-ova"]),
        .executable(name: "ova-bench", targets: ["ova-bench"]),
        .library(name: "OvaRPC", targets: ["OvaRPC"]),
        .library(name: "OvaProto", targets: ["OvaProto"]),
        .library(name: "OvaWire", targets: ["OvaWire"]),
        .library(name: "OvaServer", targets: ["OvaServer"]),
        // For the fuzz targets (Fuzz/, a separate package): the parsers they feed.
        .library(name: "OvaProtobuf", targets: ["OvaProtobuf"]),
        .library(name: "OvaAudio", targets: ["OvaAudio"]),
        .library(name: "OvaAuth", targets: ["OvaAuth"]),
        // The load tools' shared options and report format (ova-bench, and the benchmark
        // packages under Benchmarks/ through a path dependency).
        .library(name: "BenchKit", targets: ["BenchKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // MARK: - C
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        .target(
            name: "COvaProto",
            dependencies: ["CProtobufC"],
            cSettings: [.headerSearchPath("include")],
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        .systemLibrary(
            name: "CCrypt",
            pkgConfig: "libxcrypt",
            providers: [.apt(["libcrypt-dev"])]
        ),
        .target(
            name: "CProtocPlugin",
            dependencies: ["CProtobufC"],
            cSettings: [.headerSearchPath("include")],
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),

        // MARK: - Wire and runtime
        // The lowest module: every target that writes a JSON string literal depends on it.
        .target(
            name: "OvaJSONEscaping",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OvaWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OvaProtobuf",
            dependencies: [
                "CProtobufC", "OvaJSONEscaping",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OvaRPC",
            dependencies: [
                "OvaWire",
                "OvaProtobuf",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Generated code and its generator
        .target(
            name: "OvaProto",
            dependencies: [
                "COvaProto", "CProtobufC", "OvaProtobuf", "OvaRPC",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OvaCodegen",
            dependencies: ["CProtocPlugin", "CProtobufC"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "protoc-gen-ova",
            dependencies: ["OvaCodegen"],
            swiftSettings: swiftSettings
        ),

        // MARK: - Storage
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CMariaDB",
            pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev"])]
        ),
        .target(
            name: "OvaStore",
            dependencies: [
                "CSQLite", "CMariaDB",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Authentication primitives
        .target(
            name: "OvaAuth",
            dependencies: [
                "CCrypt", "OvaJSONEscaping",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Calling remote providers
        .target(
            name: "OvaResilience",
            swiftSettings: swiftSettings
        ),

        // MARK: - Providers (outbound HTTP)
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "OvaProviders",
            dependencies: [
                "CCurl", "OvaResilience",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Audio and local speech engines
        .target(
            name: "OvaAudio",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CEspeakNG",
            pkgConfig: "espeak-ng",
            providers: [.apt(["libespeak-ng-dev", "espeak-ng-data"])]
        ),
        .systemLibrary(
            name: "CPocketSphinx",
            // pocketsphinx.pc requires sphinxbase, so SwiftPM adds both packages' -I flags:
            // pocketsphinx.h includes its sibling headers without a directory prefix.
            pkgConfig: "pocketsphinx",
            providers: [.apt(["libpocketsphinx-dev", "libsphinxbase-dev", "pocketsphinx-en-us"])]
        ),
        .target(
            name: "OvaEngines",
            dependencies: [
                "CEspeakNG", "CPocketSphinx", "OvaAudio",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Services and server
        .target(
            name: "OvaServices",
            dependencies: [
                "OvaProto", "OvaRPC", "OvaProtobuf", "OvaStore", "OvaAuth", "OvaProviders", "OvaResilience",
                "OvaEngines", "OvaAudio",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OvaServer",
            dependencies: [
                "OvaServices", "OvaRPC", "OvaProto", "OvaStore", "OvaAuth", "OvaProviders", "OvaEngines", "OvaResilience",
                "OvaJSONEscaping",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ova-server",
            dependencies: [
                "OvaServer", "OvaServices", "OvaRPC", "OvaStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ova",
            dependencies: [
                "OvaRPC", "OvaProto", "OvaProtobuf", "OvaAudio",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "BenchKit",
            dependencies: [
                "OvaJSONEscaping",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ova-bench",
            dependencies: [
                "OvaRPC", "OvaProto", "BenchKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests
        .testTarget(
            name: "OvaJSONEscapingTests",
            dependencies: ["OvaJSONEscaping"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaWireTests",
            dependencies: ["OvaWire", "OvaTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaProtobufTests",
            dependencies: [
                "OvaProtobuf", "OvaProto", "COvaProto", "CProtobufC", "OvaTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaStoreTests",
            dependencies: ["OvaStore", "OvaMariaDBServer", "OvaTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaCodegenTests",
            dependencies: ["OvaCodegen", "CProtocPlugin"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaServerTests",
            dependencies: [
                "OvaServer",
                "OvaRPC",
                "OvaResilience",
                "OvaProviders",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaAuthTests",
            dependencies: [
                "OvaAuth",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaResilienceTests",
            dependencies: ["OvaResilience"],
            swiftSettings: swiftSettings
        ),
        // The README's example of a team's own service (Examples/Greeter), generated by
        // `make proto` with protoc-c and protoc-gen-ova; served in OvaCustomServiceTests.
        .target(
            name: "CGreeterProto",
            dependencies: ["CProtobufC"],
            path: "Examples/Greeter/CGreeterProto",
            cSettings: [.headerSearchPath("include")],
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        .target(
            name: "GreeterProto",
            dependencies: [
                "CGreeterProto", "CProtobufC", "OvaProtobuf", "OvaRPC",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Examples/Greeter/GreeterProto",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaCustomServiceTests",
            dependencies: ["GreeterProto", "OvaTestServer", "OvaTestSupport", "OvaRPC", "OvaServer"],
            swiftSettings: swiftSettings
        ),
        // A loopback HTTP server speaking the providers' real formats, for tests only.
        .target(
            name: "OvaFakeUpstream",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/Support/OvaFakeUpstream",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaProvidersTests",
            dependencies: [
                "OvaProviders", "OvaFakeUpstream", "OvaTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaMultimodalTests",
            dependencies: [
                "OvaTestServer", "OvaTestSupport", "OvaServer", "OvaServices", "OvaProto", "OvaRPC", "OvaAudio", "OvaEngines", "OvaAuth", "OvaFakeUpstream",
                "OvaProviders", "OvaResilience",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The built `ova` executable run as a user runs it, against real and hostile loopback servers.
        .testTarget(
            name: "OvaCLITests",
            dependencies: [
                "OvaTestServer", "OvaFakeUpstream", "OvaRPC", "OvaProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // Seeded randomness and awaited cleanup, for any test target (no dependencies).
        .target(
            name: "OvaTestSupport",
            path: "Tests/Support/OvaTestSupport",
            swiftSettings: swiftSettings
        ),
        // A throwaway mariadbd (Debian's mariadb-server) started by the tests themselves: one
        // per test process, a fresh database per test, nothing left behind.
        .target(
            name: "OvaMariaDBServer",
            dependencies: ["OvaTestSupport", "OvaStore"],
            path: "Tests/Support/OvaMariaDBServer",
            swiftSettings: swiftSettings
        ),
        // Test servers (a router's RPCServer, a real ova-server with a superadmin) and the one
        // scaffold that starts, connects to and always stops them, for end-to-end tests only.
        .target(
            name: "OvaTestServer",
            dependencies: [
                "OvaServer", "OvaServices", "OvaStore", "OvaAuth", "OvaProto", "OvaRPC", "OvaTestSupport", "OvaMariaDBServer",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Support/OvaTestServer",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaAccountsTests",
            dependencies: [
                "OvaTestServer", "OvaTestSupport", "OvaServer", "OvaServices", "OvaStore", "OvaAuth", "OvaProto", "OvaRPC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // `ova-server import ova-web` against a fixture OVA Web database in a throwaway mariadbd.
        .testTarget(
            name: "OvaImportTests",
            dependencies: [
                "OvaStore", "OvaServices", "OvaAuth", "OvaMariaDBServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaEnginesTests",
            dependencies: ["OvaEngines", "OvaAudio"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OvaRPCTests",
            dependencies: [
                "OvaRPC", "OvaProto", "OvaServices", "OvaServer", "OvaTestServer", "OvaTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
