// swift-tools-version:6.0
// Micro-benchmarks of OVA's hot paths, with allocation counts. Separate from the main package
// so its build flags and the malloc interposer never touch the product.
//
//   cd Benchmarks/micro && swift run -c release ova-microbench
import PackageDescription

// A path dependency's identity is its directory's name, which depends on where the repository
// was cloned: derive it.
let rootPackage = Context.packageDirectory.split(separator: "/").dropLast(2).last.map(String.init) ?? "ova"

let package = Package(
    name: "ova-micro",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // Counts malloc/calloc/realloc calls by interposing the libc symbols.
        .target(name: "CMallocCounter"),
        .executableTarget(
            name: "ova-microbench",
            dependencies: [
                "CMallocCounter",
                .product(name: "OvaWire", package: rootPackage),
                .product(name: "OvaRPC", package: rootPackage),
                .product(name: "OvaProto", package: rootPackage),
                .product(name: "OvaServer", package: rootPackage),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
