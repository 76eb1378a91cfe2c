import Foundation
import Synchronization

/// Counts failed logins per user name and per client address, and refuses further attempts (even with
/// the right password) once either count reaches its limit within the window.
///
/// A window starts at the first failure of a key and lasts `window`; the key is free again when it ends.
/// A successful login clears the count of that user name only; the address keeps its earlier failures,
/// so one valid account cannot be used to reset the guessing budget for other names. Memory is bounded:
/// each dimension keeps at most `capacity` keys; when full, expired windows go first, then the oldest.
public final class LoginThrottle: Sendable {
    public struct Policy: Sendable {
        public var failuresPerUser: Int
        public var failuresPerAddress: Int
        public var window: Duration
        public var capacity: Int

        public init(failuresPerUser: Int = 5, failuresPerAddress: Int = 20, window: Duration = .seconds(15 * 60),
                    capacity: Int = 10_000) {
            self.failuresPerUser = failuresPerUser
            self.failuresPerAddress = failuresPerAddress
            self.window = window
            self.capacity = capacity
        }
    }

    let policy: Policy
    private let state: Mutex<(users: FailureCounts, addresses: FailureCounts)>

    public init(policy: Policy = Policy()) {
        self.policy = policy
        state = Mutex((FailureCounts(limit: policy.failuresPerUser, window: policy.window, capacity: policy.capacity),
                       FailureCounts(limit: policy.failuresPerAddress, window: policy.window, capacity: policy.capacity)))
    }

    /// Starts a login attempt: nil when it may go ahead (it counts as a failure until `succeeded`), or how
    /// long the caller must wait. Counting before verifying keeps concurrent guesses within the limits.
    func attempt(user: String, address: String, now: ContinuousClock.Instant = .now) -> Duration? {
        state.withLock { state in
            let waits = [state.users.blockedFor(user, now: now), state.addresses.blockedFor(address, now: now)]
            if let wait = waits.compactMap({ $0 }).max() { return wait }
            state.users.add(user, now: now)
            state.addresses.add(address, now: now)
            return nil
        }
    }

    /// The attempt was a success: the user name starts afresh, the address gets back that one attempt.
    func succeeded(user: String, address: String) {
        state.withLock { state in
            state.users.remove(user)
            state.addresses.takeBackOne(address)
        }
    }

    /// Keys held, per dimension.
    var keyCounts: (users: Int, addresses: Int) {
        state.withLock { ($0.users.count, $0.addresses.count) }
    }
}

/// Failures per key in fixed windows, at most `capacity` keys.
struct FailureCounts: Sendable {
    struct Entry: Sendable {
        var failures: Int
        var windowStart: ContinuousClock.Instant
    }

    let limit: Int
    let window: Duration
    let capacity: Int
    private var entries: [String: Entry] = [:]

    init(limit: Int, window: Duration, capacity: Int) {
        self.limit = limit
        self.window = window
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    func blockedFor(_ key: String, now: ContinuousClock.Instant) -> Duration? {
        guard let entry = entries[key], entry.failures >= limit else { return nil }
        let end = entry.windowStart.advanced(by: window)
        return now < end ? now.duration(to: end) : nil
    }

    mutating func add(_ key: String, now: ContinuousClock.Instant) {
        if var entry = entries[key], now < entry.windowStart.advanced(by: window) {
            entry.failures += 1
            entries[key] = entry
            return
        }
        if entries[key] == nil, entries.count >= capacity { makeRoom(now: now) }
        entries[key] = Entry(failures: 1, windowStart: now)
    }

    mutating func remove(_ key: String) {
        entries[key] = nil
    }

    mutating func takeBackOne(_ key: String) {
        guard let entry = entries[key] else { return }
        entries[key]?.failures = entry.failures - 1
        if entry.failures <= 1 { entries[key] = nil }
    }

    private mutating func makeRoom(now: ContinuousClock.Instant) {
        entries = entries.filter { now < $0.value.windowStart.advanced(by: window) }
        if entries.count >= capacity, let oldest = entries.min(by: { $0.value.windowStart < $1.value.windowStart }) {
            entries[oldest.key] = nil
        }
    }
}
