// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for livepatchd's parsers; built and run by scripts/fuzz.sh, never by a plain
// `swift build` of the root package.
//
// A package of its own so that the sanitizer flags and the fuzz executables, which link only
// against the fuzzer runtime, cannot reach the normal build. Sources/<Module> are symlinks to
// the root package's directories, so the fuzzers run the real parsing code under the same
// module names; the declarations below mirror the root Package.swift for those modules.
// Sources/LivepatchDaemon links to the root's Sources/LivepatchDaemon/Config only: the config
// parser needs neither NIO nor the engine, so this LivepatchDaemon module holds just that.

// Coverage for libFuzzer and AddressSanitizer, for our own modules only: dependencies are built
// as usual (quicker, and their bugs are not what these fuzzers look for).
let instrumented: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]

func fuzzer(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name,
        dependencies: dependencies + ["FuzzSupport"],
        swiftSettings: instrumented,
        // lld: gold warns about every ASan helper symbol and adds nothing.
        linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-use-ld=lld"])]
    )
}

let package = Package(
    name: "livepatchd-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // The root package's modules, from its own source directories.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd"),
        .systemLibrary(name: "CKmod", pkgConfig: "libkmod"),
        .target(name: "LivepatchAPI", swiftSettings: instrumented),
        .target(name: "Varlink", swiftSettings: instrumented),
        .target(
            name: "LivepatchCore",
            dependencies: ["LivepatchAPI", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: instrumented
        ),
        .target(
            name: "LivepatchSystem",
            dependencies: ["CSystemd", "CKmod", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: instrumented
        ),
        .target(
            name: "LivepatchDaemon",
            dependencies: ["LivepatchCore", "LivepatchSystem", .product(name: "TOMLKit", package: "TOMLKit")],
            swiftSettings: instrumented
        ),

        // libFuzzer's driver entry point, which Swift cannot declare without a header.
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"]),
        fuzzer("ManifestFuzzer", ["LivepatchCore"]),
        fuzzer("VarlinkFuzzer", ["Varlink"]),
        fuzzer("ConfigFuzzer", ["LivepatchDaemon"]),
    ]
)
