// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "livepatchd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "livepatchd", targets: ["livepatchd"]),
        .executable(name: "lpclient", targets: ["lpclient"]),
        .executable(name: "lpbundle", targets: ["lpbundle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
    ],
    targets: [
        // C libraries, imported as-is through pkg-config; the typed layer is LivepatchSystem.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CKmod", pkgConfig: "libkmod", providers: [.apt(["libkmod-dev"])]),

        // Wire types of the io.livepatchd Varlink interface: shared by daemon and client, Foundation only.
        .target(name: "LivepatchAPI"),
        // Varlink framing, messages and a small blocking client.
        .target(name: "Varlink"),
        // The I/O-free core: manifest, signatures, states, the patch state machine, policy.
        .target(
            name: "LivepatchCore",
            dependencies: ["LivepatchAPI", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Typed Swift over libsystemd, libkmod and the Linux syscalls the daemon needs.
        .target(
            name: "LivepatchSystem",
            dependencies: ["CSystemd", "CKmod", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // Reading a bundle from disk the way the daemon does; shared by livepatchd and lpbundle.
        .target(
            name: "LivepatchBundle",
            dependencies: ["LivepatchCore", "LivepatchSystem", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "LivepatchDaemon",
            dependencies: [
                "LivepatchAPI", "LivepatchCore", "LivepatchSystem", "LivepatchBundle", "Varlink",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "livepatchd",
            dependencies: [
                "LivepatchDaemon", "LivepatchSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "lpclient",
            dependencies: ["LivepatchAPI", "Varlink", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "lpbundle",
            dependencies: [
                "LivepatchCore", "LivepatchBundle", "LivepatchSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "LivepatchCoreTests", dependencies: ["LivepatchCore"]),
        .testTarget(name: "LivepatchSystemTests", dependencies: ["LivepatchSystem"]),
        .testTarget(name: "LivepatchBundleTests", dependencies: ["LivepatchBundle", "LivepatchCore", "LivepatchSystem"]),
        .testTarget(name: "VarlinkTests", dependencies: ["Varlink"]),
        .testTarget(
            name: "LivepatchDaemonTests",
            dependencies: [
                "LivepatchDaemon", "LivepatchBundle", "LivepatchAPI", "Varlink",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "lpclientTests", dependencies: ["lpclient", "LivepatchAPI", "Varlink"]),
        // Start the real binaries in a temporary directory: the product as an operator meets it.
        .testTarget(name: "IntegrationTests", dependencies: ["LivepatchAPI", "Varlink", "LivepatchCore", "LivepatchDaemon"]),
    ]
)

// A module's members are visible only in files that import it. Without this, TOMLKit's
// `import struct Foundation.Data` made Foundation's String methods usable in every file, and
// one such call linked all of Foundation and its ICU data (38 MB) into livepatchd again.
for target in package.targets where target.type == .regular || target.type == .executable {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}
