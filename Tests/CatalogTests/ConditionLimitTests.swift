import Catalog
import Foundation
import Raster
import TestSupport
import Testing

/// A condition written for the test, with its answer computed in Swift.
indirect enum TestCondition {
    case equals(String, Int64)
    case notEquals(String, Int64)
    case less(String, Int64)
    case greaterOrEqual(String, Int64)
    case named(String)
    case inList([Int64])
    case between(Int64, Int64)
    case and([TestCondition])
    case or([TestCondition])
    case not(TestCondition)

    var text: String {
        switch self {
        case let .equals(column, value): return "\(column) = \(value)"
        case let .notEquals(column, value): return "\(column) != \(value)"
        case let .less(column, value): return "\(column) < \(value)"
        case let .greaterOrEqual(column, value): return "\(column) >= \(value)"
        case let .named(value): return "name = '\(value.replacingOccurrences(of: "'", with: "''"))'"
        case let .inList(values): return "path_row IN (\(values.map(String.init).joined(separator: ", ")))"
        case let .between(low, high): return "cloud BETWEEN \(low) AND \(high)"
        case let .and(parts): return "(" + parts.map(\.text).joined(separator: " AND ") + ")"
        case let .or(parts): return "(" + parts.map(\.text).joined(separator: " OR ") + ")"
        case let .not(inner): return "NOT \(inner.text)"
        }
    }

    func matches(_ row: ConditionLimitTests.Row) -> Bool {
        func value(_ column: String) -> Int64 { column == "path_row" ? row.pathRow : row.cloud }
        switch self {
        case let .equals(column, number): return value(column) == number
        case let .notEquals(column, number): return value(column) != number
        case let .less(column, number): return value(column) < number
        case let .greaterOrEqual(column, number): return value(column) >= number
        case let .named(name): return row.name == name
        case let .inList(values): return values.contains(row.pathRow)
        case let .between(low, high): return row.cloud >= low && row.cloud <= high
        case let .and(parts): return parts.allSatisfy { $0.matches(row) }
        case let .or(parts): return parts.contains { $0.matches(row) }
        case let .not(inner): return !inner.matches(row)
        }
    }

    /// Comparisons in the condition, as the server counts them.
    var terms: Int {
        switch self {
        case let .and(parts), let .or(parts): return parts.reduce(0) { $0 + $1.terms }
        case let .not(inner): return inner.terms
        default: return 1
        }
    }
}

/// A deterministic pseudo-random sequence, so a failing condition can be reproduced.
struct SeededRandom {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }
}

@Suite("conditions against a real catalog", .serialized)
struct ConditionLimitTests {
    struct Row { var id: String; var pathRow: Int64; var cloud: Int64; var name: String }

    static let names = ["alpha", "beta", "gamma", "delta", "a+b", "O'Hare"]
    static let configuration = AttributesConfiguration(attributes: [
        AttributeDefinition(attributeName: "path_row", type: .int32),
        AttributeDefinition(attributeName: "cloud", columnName: "cloud_cover", type: .int64),
        AttributeDefinition(attributeName: "name", type: .string),
    ])

    /// One catalog of 240 items, shared by the tests of this suite.
    static let fixture: (store: CatalogStore, name: CatalogName, rows: [Row]) = {
        let directory = TemporaryDirectory("conditions")
        let store = try! CatalogStore(location: directory.file("catalog.gpkg"))
        let name = try! CatalogName("alice.conditions")
        try! store.createCatalog(name, configuration: configuration)
        var random = SeededRandom(state: 42)
        var rows: [Row] = []
        for index in 0..<240 {
            let row = Row(id: "item\(index)", pathRow: Int64(random.next(400)), cloud: Int64(random.next(100)),
                          name: names[random.next(names.count)])
            try! store.insert(CatalogStoreTests.item(row.id, west: Double(index % 60) * 2 - 60, south: Double(index / 60) * 2,
                                                     attributes: ["path_row": .int(row.pathRow), "cloud": .int(row.cloud),
                                                                  "name": .string(row.name)]), into: name)
            rows.append(row)
        }
        return (store, name, rows)
    }()

    func expectSameAnswer(_ condition: TestCondition, _ comment: String) throws {
        let (store, name, rows) = Self.fixture
        let expected = rows.filter { condition.matches($0) }.map(\.id)
        let answer = try store.items(in: name, condition: condition.text).map(\.system.id)
        #expect(answer == expected, "\(comment): \(condition.terms) terms, \(expected.count) expected")
        let counted = try store.page(of: name, query: ItemQuery(condition: condition.text, limit: 1)).numberMatched
        #expect(counted == expected.count, "\(comment)")
    }

    func randomTree(_ random: inout SeededRandom, depth: Int, terms: inout Int) -> TestCondition {
        if depth == 0 || terms <= 1 || random.next(4) == 0 {
            terms -= 1
            switch random.next(7) {
            case 0: return .equals("path_row", Int64(random.next(400)))
            case 1: return .notEquals("cloud", Int64(random.next(100)))
            case 2: return .less("cloud", Int64(random.next(100)))
            case 3: return .greaterOrEqual("path_row", Int64(random.next(400)))
            case 4: return .named(Self.names[random.next(Self.names.count)])
            case 5: return .inList((0..<(1 + random.next(30))).map { _ in Int64(random.next(400)) })
            default: let low = Int64(random.next(100)); return .between(low, low + Int64(random.next(30)))
            }
        }
        if random.next(6) == 0 { return .not(randomTree(&random, depth: depth - 1, terms: &terms)) }
        var parts: [TestCondition] = []
        for _ in 0..<(2 + random.next(6)) where terms > 0 {
            parts.append(randomTree(&random, depth: depth - 1, terms: &terms))
        }
        return random.next(2) == 0 ? .and(parts) : .or(parts)
    }

    @Test("long AND and OR chains, IN lists and nested trees give the answer computed in Swift")
    func largeConditions() throws {
        var random = SeededRandom(state: 7)
        let values = (0..<Condition.maximumTerms).map { _ in Int64(random.next(400)) }
        try expectSameAnswer(.or(values.map { .equals("path_row", $0) }), "OR chain")
        try expectSameAnswer(.and(values.prefix(300).map { .notEquals("path_row", $0) }), "AND chain")
        try expectSameAnswer(.or(values.prefix(250).map { .equals("path_row", $0) } + [.not(.and([.named("beta"), .less("cloud", 50)]))]),
                             "OR chain with a NOT")
        try expectSameAnswer(.inList((0..<Int64(Condition.maximumListItems)).map { $0 * 3 % 401 }), "IN list")
        try expectSameAnswer(.and([.inList(Array(0..<400)), .not(.inList(Array(values.prefix(900)))), .named("a+b")]), "IN lists")
        // The deepest accepted nesting, alternating AND and OR (the worst case for SQLite's parser).
        var nested: TestCondition = .equals("path_row", 1)
        for level in 0..<(Condition.maximumDepth - 1) {
            nested = level % 2 == 0 ? .or([.less("cloud", Int64(10 + level)), nested])
                : .and([.greaterOrEqual("path_row", Int64(level)), nested])
        }
        try expectSameAnswer(nested, "nested \(Condition.maximumDepth) deep")
        var negated: TestCondition = .less("cloud", 40)
        for _ in 0..<(Condition.maximumDepth - 1) { negated = .not(negated) }
        try expectSameAnswer(negated, "NOT nested")
        for seed in 1...12 {
            var generator = SeededRandom(state: UInt64(seed))
            var budget = 400
            let tree = randomTree(&generator, depth: 7, terms: &budget)
            try expectSameAnswer(tree, "random tree \(seed)")
        }
    }

    @Test("conditions past the limits are refused with the reason, never answered empty")
    func limits() throws {
        let (store, name, _) = Self.fixture
        let tooMany = (0...Condition.maximumTerms).map { "path_row = \($0)" }.joined(separator: " OR ")
        let tooLong = "name = '" + String(repeating: "x", count: Condition.maximumLength) + "'"
        let longList = "path_row IN (" + (0...Condition.maximumListItems).map(String.init).joined(separator: ",") + ")"
        let deepParentheses = String(repeating: "(", count: Condition.maximumDepth + 1) + "cloud < 5"
            + String(repeating: ")", count: Condition.maximumDepth + 1)
        let deepNot = String(repeating: "NOT ", count: Condition.maximumDepth + 1) + "cloud < 5"
        let veryDeep = String(repeating: "(", count: 100_000) + "cloud < 5" + String(repeating: ")", count: 100_000)
        let cases = [(tooMany, "too many terms"), (tooLong, "too long"), (longList, "too many IN values"),
                     (deepParentheses, "nested too deep"), (deepNot, "nested too deep"), (veryDeep, "too long"),
                     (String(repeating: "(", count: 20_000), "nested too deep")]
        for (condition, reason) in cases {
            #expect("\(reason)") {
                _ = try store.items(in: name, condition: condition)
            } throws: { error in
                guard case let .invalidCondition(message) = error as? CatalogError else { return false }
                return message.contains(reason)
            }
        }
    }

    @Test("pages follow the cursor to the end and add up to the unpaged answer")
    func keysetPaging() throws {
        let (store, name, rows) = Self.fixture
        let condition = "cloud < 60 OR name IN ('beta', 'a+b')"
        let expected = try store.items(in: name, condition: condition).map(\.system.id)
        #expect(expected.count > 100 && expected == rows.filter { $0.cloud < 60 || ["beta", "a+b"].contains($0.name) }.map(\.id))
        for limit in [1, 7, 50, expected.count, expected.count + 5] {
            var walked: [String] = []
            var cursor: PageCursor?
            var pages = 0
            repeat {
                let page = try store.page(of: name, query: ItemQuery(condition: condition, limit: limit, cursor: cursor))
                #expect(page.numberMatched == expected.count)
                #expect(page.items.count == min(limit, expected.count - walked.count))
                walked += page.items.map(\.system.id)
                cursor = page.next
                pages += 1
            } while cursor != nil && pages <= expected.count
            #expect(walked == expected, "limit \(limit)")
            #expect(pages == (expected.count + limit - 1) / limit, "limit \(limit)")
        }
        // With a footprint filter too (GeoPackage's R-tree index picks the candidates), and one that
        // crosses the antimeridian.
        for bbox in [Envelope(minX: -30.5, minY: 0.5, maxX: 30.5, maxY: 4.5), Envelope(minX: 40, minY: 0, maxX: -50, maxY: 9)] {
            let filtered = try store.items(in: name, bbox: bbox, condition: condition).map(\.system.id)
            #expect(filtered.count > 20 && filtered.count < expected.count)
            var walked: [String] = []
            var cursor: PageCursor?
            repeat {
                let page = try store.page(of: name, query: ItemQuery(bbox: bbox, condition: condition, limit: 6, cursor: cursor))
                #expect(page.numberMatched == filtered.count)
                walked += page.items.map(\.system.id)
                cursor = page.next
            } while cursor != nil && walked.count <= filtered.count
            #expect(walked == filtered, "\(bbox)")
        }
        // offset still works, the slow way, and agrees.
        #expect(try store.page(of: name, query: ItemQuery(condition: condition, limit: 10, offset: 95)).items.map(\.system.id)
            == Array(expected[95..<105]))
    }

    @Test("cursors that were not given out are refused")
    func tamperedCursors() throws {
        let (store, name, _) = Self.fixture
        let real = try #require(try store.page(of: name, query: ItemQuery(limit: 3)).next).description
        let base64 = { (text: String) in Data(text.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "") }
        let tampered = ["", "x", "!!!!", "12", real + "x", String(real.dropLast()), real + "==", "../../etc",
                        base64("after:-1"), base64("after:"), base64("after:1e3"), base64("before:5"),
                        base64("after:99999999999999999999999"), base64("after: 5"), String(repeating: "A", count: 100)]
        for cursor in tampered {
            #expect(throws: CatalogError.self, "\(cursor)") {
                _ = try store.page(of: name, query: ItemQuery(limit: 3, cursor: try PageCursor(cursor)))
            }
        }
        #expect(try PageCursor(real).description == real)
    }
}
