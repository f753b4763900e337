// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "attnprec",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "attnprec", targets: ["attnprec"]),
        .library(name: "NumberFormats", targets: ["NumberFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CMPFR", pkgConfig: "mpfr", providers: [.apt(["libmpfr-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "NumberFormats"),
        .target(name: "Workloads", dependencies: ["NumberFormats"]),
        .executableTarget(
            name: "attnprec",
            dependencies: [
                "NumberFormats",
                "Workloads",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "NumberFormatsTests", dependencies: ["NumberFormats", "CMPFR"]),
        .testTarget(name: "attnprecTests", dependencies: ["attnprec", "NumberFormats", "Workloads"]),
        .testTarget(name: "WorkloadsTests", dependencies: ["Workloads"]),
    ],
    swiftLanguageModes: [.v6]
)
