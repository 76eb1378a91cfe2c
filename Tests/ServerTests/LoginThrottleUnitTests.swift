import Foundation
import Catalog
@testable import Server
import Testing

/// The throttle's bookkeeping, on a clock the test controls.
@Suite("login throttle bookkeeping")
struct LoginThrottleUnitTests {
    let start = ContinuousClock.now

    @Test("a hostile client cycling names and addresses cannot grow the counters past their capacity")
    func boundedMemory() {
        let throttle = LoginThrottle(policy: .init(failuresPerUser: 5, failuresPerAddress: 20, window: .seconds(900), capacity: 100))
        for index in 0..<10_000 {
            _ = throttle.attempt(user: "name\(index)", address: "10.0.\(index / 256).\(index % 256)", now: start + .milliseconds(index))
        }
        let counts = throttle.keyCounts
        #expect(counts.users <= 100 && counts.addresses <= 100)
        // The newest keys are the ones kept, with their counts.
        for _ in 0..<4 { _ = throttle.attempt(user: "name9999", address: "10.9.9.9", now: start + .seconds(11)) }
        #expect(throttle.attempt(user: "name9999", address: "10.9.9.8", now: start + .seconds(11)) != nil)
    }

    @Test("windows end: a refused name may try again after the window; Retry-After is what is left of it")
    func windows() throws {
        let throttle = LoginThrottle(policy: .init(failuresPerUser: 2, failuresPerAddress: 100, window: .seconds(60)))
        #expect(throttle.attempt(user: "a", address: "x", now: start) == nil)
        #expect(throttle.attempt(user: "a", address: "y", now: start + .seconds(10)) == nil)
        let wait = try #require(throttle.attempt(user: "a", address: "z", now: start + .seconds(20)))
        #expect(wait == .seconds(40))
        #expect(throttle.attempt(user: "a", address: "z", now: start + .seconds(60)) == nil)
        #expect(APIError.tooManyLogins(retryAfter: .milliseconds(40_001)).headers[.retryAfter] == "41")
    }

    @Test("a success frees the name and gives the address back only its own attempt")
    func success() {
        let throttle = LoginThrottle(policy: .init(failuresPerUser: 3, failuresPerAddress: 3))
        _ = throttle.attempt(user: "a", address: "x", now: start)
        _ = throttle.attempt(user: "a", address: "x", now: start)
        #expect(throttle.attempt(user: "b", address: "x", now: start) == nil)
        throttle.succeeded(user: "b", address: "x")
        // Two failures remain on the address: one more attempt, then refused.
        #expect(throttle.attempt(user: "c", address: "x", now: start) == nil)
        #expect(throttle.attempt(user: "d", address: "x", now: start) != nil)
        #expect(throttle.attempt(user: "a", address: "w", now: start) == nil)
    }
}

@Suite("path redaction")
struct PathRedactorTests {
    @Test("paths in the data directory become relative; uploads relative to the user's folder")
    func redaction() {
        let redactor = PathRedactor(root: URL(fileURLWithPath: "/srv/tile-data"))
        #expect(redactor.redact("/srv/tile-data/uploads/alice/a b.tif is not a raster") == "a b.tif is not a raster")
        #expect(redactor.redact("cannot open /srv/tile-data/rasters/alice.images/1.tif: gone") == "cannot open rasters/alice.images/1.tif: gone")
        #expect(redactor.redact("database /srv/tile-data is locked") == "database the data directory is locked")
        #expect(redactor.redact("/srv/tile-data/uploads/bob/x, /srv/tile-data/uploads/carol/y") == "x, y")
        #expect(redactor.redact(.object(["a": .array([.string("/srv/tile-data/catalog.gpkg")])])) == .object(["a": .array([.string("catalog.gpkg")])]))
    }
}
