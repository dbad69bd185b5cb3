// swift-tools-version:6.0
// libFuzzer targets for OVA's parsers of untrusted input (docs/SECURITY.md, "Fuzzing").
//
// A separate package so that the sanitizer flags never touch the main build. Build and run
// through scripts/fuzz.sh (`make fuzz`, `make test-fuzz`), which passes
// `-Xswiftc -sanitize=fuzzer,address`; each target is one executable whose
// `LLVMFuzzerTestOneInput` libFuzzer calls with every input (libFuzzer supplies `main`).
//
//   fuzz-frame-decoder   OvaWire.FrameDecoder, server and client roles
//   fuzz-connection      a server connection (EmbeddedChannel) fed the preface + arbitrary bytes
//   fuzz-protobuf        protobuf-c unpack + generated Swift conversion of every message type
//   fuzz-json            the proto3 JSON mapping (ProtobufJSON), both directions
//   fuzz-wav             OvaAudio.WAV.parse
//   fuzz-jwt             OvaAuth.AccessTokenSigner.verify
import PackageDescription

let package = Package(
    name: "ova-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ova", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // Starts libFuzzer's driver from each target's Swift entry point (see its header).
        .target(name: "CLibFuzzer", path: "Sources/CLibFuzzer"),
        .executableTarget(
            name: "fuzz-frame-decoder",
            dependencies: [
                "CLibFuzzer",
                .product(name: "OvaWire", package: "ova"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/FrameDecoder"
        ),
        .executableTarget(
            name: "fuzz-connection",
            dependencies: [
                "CLibFuzzer",
                .product(name: "OvaRPC", package: "ova"),
                .product(name: "OvaProto", package: "ova"),
                .product(name: "OvaWire", package: "ova"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Connection"
        ),
        .executableTarget(
            name: "fuzz-protobuf",
            dependencies: [
                "CLibFuzzer",
                .product(name: "OvaProto", package: "ova"),
                .product(name: "OvaProtobuf", package: "ova"),
            ],
            path: "Sources/Protobuf"
        ),
        .executableTarget(
            name: "fuzz-json",
            dependencies: [
                "CLibFuzzer",
                .product(name: "OvaProto", package: "ova"),
                .product(name: "OvaProtobuf", package: "ova"),
            ],
            path: "Sources/JSON"
        ),
        .executableTarget(
            name: "fuzz-wav",
            dependencies: ["CLibFuzzer", .product(name: "OvaAudio", package: "ova")],
            path: "Sources/WAV"
        ),
        .executableTarget(
            name: "fuzz-jwt",
            dependencies: [
                "CLibFuzzer",
                .product(name: "OvaAuth", package: "ova"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/JWT"
        ),
    ],
    swiftLanguageModes: [.v6]
)
