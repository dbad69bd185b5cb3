// swift-tools-version:6.0
// bare-echo: the "practical ceiling" for OVA's benchmarks: a bare SwiftNIO + swift-nio-ssl
// length-prefixed echo whose handlers run as Swift tasks (no protobuf, no flow control, no auth),
// measured on the same machine in the same run as ova-server and grpc-compare.
//
//   BareEchoWire       the frame (u32 length, u32 call id, payload) and its NIO codec
//   bare-echo-server   TLS 1.3 echo server; one Swift task per connection over NIOAsyncChannel
//   bare-echo-bench    load client with ova-bench's flags (where they apply) and JSON
import PackageDescription

// A path dependency's identity is its directory's name, which depends on where the repository
// was cloned: derive it.
let rootPackage = Context.packageDirectory.split(separator: "/").dropLast(2).last.map(String.init) ?? "ova"

// As in OVA's own Package.swift: nonisolated async functions run on their caller's executor, so
// a task resumed on an event loop is not sent back to the global executor by each call.
let swiftSettings: [SwiftSetting] = [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]

let package = Package(
    name: "bare-echo",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bare-echo-server", targets: ["bare-echo-server"]),
        .executable(name: "bare-echo-bench", targets: ["bare-echo-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        // The repository's own package, for BenchKit: the options and the JSON every load tool shares.
        .package(path: "../.."),
    ],
    targets: [
        .target(
            name: "BareEchoWire",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bare-echo-server",
            dependencies: [
                "BareEchoWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bare-echo-bench",
            dependencies: [
                "BareEchoWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "BenchKit", package: rootPackage),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
