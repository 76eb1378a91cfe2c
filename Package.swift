// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "tile",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tile", targets: ["tile"]),
        .library(name: "Raster", targets: ["Raster"]),
        .library(name: "Catalog", targets: ["Catalog"]),
        .library(name: "Tiling", targets: ["Tiling"]),
        .library(name: "Tiles", targets: ["Tiles"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.0"),
    ],
    targets: [
        .systemLibrary(name: "CGDAL", pkgConfig: "gdal", providers: [.apt(["libgdal-dev"])]),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .target(name: "Raster", dependencies: [
            "CGDAL", "CTIFF",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "Catalog", dependencies: ["CGDAL", "Raster"]),
        .target(name: "Tiling", dependencies: ["Raster", "Catalog"]),
        .target(name: "Tiles", dependencies: [
            "CGDAL", "Raster", "Catalog",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "Scheduler", dependencies: [
            "Tiling", "Catalog", "Raster",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Server", dependencies: [
            "Scheduler", "Tiling", "Tiles", "Catalog", "Raster",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "tile", dependencies: [
            "Server", "Scheduler", "Tiling", "Tiles", "Raster", "Catalog",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "TestSupport", dependencies: ["Raster"], path: "Tests/TestSupport"),
        .testTarget(name: "RasterTests", dependencies: ["Raster", "CGDAL", "TestSupport"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "Raster", "TestSupport"]),
        .testTarget(name: "TilingTests", dependencies: ["Tiling", "Catalog", "Raster", "TestSupport"]),
        .testTarget(name: "TilesTests", dependencies: ["Tiles", "Catalog", "Raster", "CGDAL", "TestSupport"]),
        .testTarget(name: "TileCLITests", dependencies: ["tile", "TestSupport"]),
        .testTarget(name: "ServerTests", dependencies: ["tile", "Server", "Scheduler", "Tiles", "TestSupport"]),
    ]
)
