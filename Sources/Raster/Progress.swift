import CGDAL
import Synchronization

/// A cancellation switch shared between whoever may cancel (a CLI signal, an HTTP request, a timeout)
/// and the GDAL work that polls it through the progress callback.
public final class CancellationFlag: Sendable {
    private let state = Atomic<Bool>(false)
    public init() {}
    public func cancel() { state.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { state.load(ordering: .relaxed) }
}

/// Where progress of one long operation goes: a fraction in 0...1 and a way to ask for cancellation.
public struct ProgressSink: Sendable {
    private let report: @Sendable (Double) -> Void
    public let cancellation: CancellationFlag
    private let lower: Double
    private let upper: Double

    public init(cancellation: CancellationFlag = CancellationFlag(),
                report: @escaping @Sendable (Double) -> Void = { _ in }) {
        self.report = report
        self.cancellation = cancellation
        self.lower = 0
        self.upper = 1
    }

    private init(report: @escaping @Sendable (Double) -> Void, cancellation: CancellationFlag,
                 lower: Double, upper: Double) {
        self.report = report
        self.cancellation = cancellation
        self.lower = lower
        self.upper = upper
    }

    /// A sink for one phase of the work, mapping that phase's 0...1 onto `range` of this sink.
    public func phase(_ range: ClosedRange<Double>) -> ProgressSink {
        let span = upper - lower
        return ProgressSink(report: report, cancellation: cancellation,
                            lower: lower + span * range.lowerBound, upper: lower + span * range.upperBound)
    }

    /// Reports `fraction` of this sink's range; returns false once cancellation was asked for.
    @discardableResult
    public func update(_ fraction: Double) -> Bool {
        let clamped = min(max(fraction, 0), 1)
        report(lower + (upper - lower) * clamped)
        return !cancellation.isCancelled
    }

    public func throwIfCancelled() throws {
        if cancellation.isCancelled { throw RasterError.cancelled }
    }
}

/// Boxes a sink so GDAL's C callback can reach it through `pProgressArg`.
final class ProgressBox {
    let sink: ProgressSink
    init(_ sink: ProgressSink) { self.sink = sink }

    /// Runs `body` with the callback and its argument; the box stays alive for the whole call.
    func withCallback<T>(_ body: (GDALProgressFunc, UnsafeMutableRawPointer) throws -> T) rethrows -> T {
        try withExtendedLifetime(self) {
            try body(gdalProgressTrampoline, Unmanaged.passUnretained(self).toOpaque())
        }
    }
}

/// GDAL's progress callback. It must not capture anything (see docs/ARCHITECTURE.md): the sink
/// arrives through the user-data pointer.
let gdalProgressTrampoline: GDALProgressFunc = { complete, _, userData in
    guard let userData else { return 1 }
    let box = Unmanaged<ProgressBox>.fromOpaque(userData).takeUnretainedValue()
    return box.sink.update(complete) ? 1 : 0
}
