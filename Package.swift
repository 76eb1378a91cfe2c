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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
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
        .executableTarget(name: "tile", dependencies: [
            "Tiling", "Raster", "Catalog",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "TestSupport", dependencies: ["Raster"], path: "Tests/TestSupport"),
        .testTarget(name: "RasterTests", dependencies: ["Raster", "CGDAL", "TestSupport"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "Raster", "TestSupport"]),
        .testTarget(name: "TilingTests", dependencies: ["Tiling", "Catalog", "Raster", "TestSupport"]),
        .testTarget(name: "TileCLITests", dependencies: ["tile", "TestSupport"]),
    ]
)
