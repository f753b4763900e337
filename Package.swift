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
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CMPFR", pkgConfig: "mpfr", providers: [.apt(["libmpfr-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // The CPU features this build's Swift code was compiled for (the compiler's predefined macros).
        .systemLibrary(name: "CBuildFeatures"),
        // The git revision the binary was built from, generated into the attnprec target (`attnprec --version`).
        .plugin(name: "GitRevision", capability: .buildTool()),
        .target(name: "NumberFormats", dependencies: ["CBuildFeatures"]),
        .target(name: "Workloads", dependencies: ["NumberFormats"]),
        .target(name: "ExactArithmetic", dependencies: ["CMPFR", "CBLAS", "NumberFormats"]),
        .target(name: "AttentionVariants", dependencies: ["ExactArithmetic", "Workloads", "NumberFormats"]),
        .target(name: "HybridStacks", dependencies: ["AttentionVariants", "ExactArithmetic", "Workloads", "NumberFormats"]),
        .target(name: "DriftStudy", dependencies: ["HybridStacks", "AttentionVariants", "ExactArithmetic", "Workloads", "NumberFormats", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "ServingScenarios",
            dependencies: ["DriftStudy", "AttentionVariants", "ExactArithmetic", "Workloads", "NumberFormats", .product(name: "Yams", package: "Yams")]),
        .target(name: "DriftReports", dependencies: ["AttentionVariants", "DriftStudy", "HybridStacks", "ServingScenarios", "NumberFormats"]),
        .target(name: "Benchmarks", dependencies: ["CMPFR", "NumberFormats", "Workloads", "ExactArithmetic", "AttentionVariants", "DriftStudy", "HybridStacks"]),
        .executableTarget(
            name: "attnprec",
            dependencies: [
                "NumberFormats",
                "Workloads",
                "ExactArithmetic",
                "AttentionVariants",
                "DriftStudy",
                "HybridStacks",
                "ServingScenarios",
                "DriftReports",
                "Benchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["GitRevision"]),
        .testTarget(name: "NumberFormatsTests", dependencies: ["NumberFormats", "CMPFR"], exclude: ["Fixtures"]),
        .target(name: "CLITestSupport", path: "Tests/CLITestSupport"),
        .testTarget(name: "attnprecTests", dependencies: ["attnprec", "NumberFormats", "Workloads", "CLITestSupport"], exclude: ["Golden", "BadInputs"]),
        .testTarget(name: "WorkloadsTests", dependencies: ["Workloads", "CLITestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ExactArithmeticTests", dependencies: ["ExactArithmetic", "AttentionVariants", "CMPFR", "NumberFormats"], exclude: ["Fixtures"]),
        .testTarget(name: "AttentionVariantsTests", dependencies: ["AttentionVariants", "ExactArithmetic", "Workloads", "NumberFormats"]),
        .testTarget(name: "DriftStudyTests", dependencies: ["DriftStudy", "HybridStacks", "AttentionVariants", "ExactArithmetic", "Workloads", "NumberFormats", "CLITestSupport"]),
        .testTarget(
            name: "ServingScenariosTests",
            dependencies: ["ServingScenarios", "DriftStudy", "AttentionVariants", "ExactArithmetic", "Workloads", "NumberFormats", "CLITestSupport"]),
        .testTarget(name: "HybridStacksTests", dependencies: ["HybridStacks", "AttentionVariants", "ExactArithmetic", "Workloads", "NumberFormats"]),
        .testTarget(name: "DriftReportsTests", dependencies: ["DriftReports", "DriftStudy", "HybridStacks", "CLITestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
