// swift-tools-version:6.0
// grpc-compare: the same Echo contract as OVA's proto/ova/v1/echo.proto, served and driven with
// grpc-swift-2 over HTTP/2 + TLS, so compare.sh can run both stacks side by side.
//
//   EchoProto          hand-written equivalents of protoc-gen-swift / protoc-gen-grpc-swift-2
//                      output for ova.v1.Echo (no protoc plugin build needed)
//   grpc-echo-server   the Echo service on HTTP2ServerTransport.Posix with TLS
//   grpc-bench         load client with the same flags and JSON as ova-bench
import PackageDescription

// A path dependency's identity is its directory's name, which depends on where the repository
// was cloned: derive it.
let rootPackage = Context.packageDirectory.split(separator: "/").dropLast(2).last.map(String.init) ?? "ova"

let package = Package(
    name: "grpc-compare",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "grpc-echo-server", targets: ["grpc-echo-server"]),
        .executable(name: "grpc-bench", targets: ["grpc-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        // The repository's own package, for BenchKit: the options and the JSON every load tool shares.
        .package(path: "../.."),
    ],
    targets: [
        .target(
            name: "EchoProto",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "grpc-echo-server",
            dependencies: [
                "EchoProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "grpc-bench",
            dependencies: [
                "EchoProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "BenchKit", package: rootPackage),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
