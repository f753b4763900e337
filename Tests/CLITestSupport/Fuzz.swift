import Foundation

/// A deterministic, seeded mutation fuzzer for the parsers: byte flips, truncation, insertion,
/// deletion, header-field (dictionary token) insertion and overwrite, splicing with another
/// seed. Input k of a driver is the same on every machine and every run; what varies with the
/// time budget is only how many inputs are tried.
public struct Fuzz {
    /// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same everywhere.
    public struct Random {
        var state: UInt64
        public init(seed: UInt64) { state = seed }
        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        public mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    }

    /// What one driver did.
    public struct Report: CustomStringConvertible {
        public var driver: String
        public var iterations = 0
        public var accepted = 0
        public var refused = 0
        public var slowestSeconds = 0.0
        public var problems: [String] = []
        public var description: String {
            "fuzz \(driver): \(iterations) inputs, \(accepted) accepted, \(refused) refused, slowest \(String(format: "%.1f", slowestSeconds * 1000)) ms, \(problems.count) problems"
        }
    }

    /// Per-input verdict of a driver's check.
    public enum Verdict {
        case accepted, refused
        /// Neither a value nor a one-line InputError (or a wrong value): the test fails.
        case problem(String)
    }

    /// Seconds a driver runs: `ATTNPREC_FUZZ_SECONDS` when set (long runs), else `ciSeconds`.
    public static func budget(ciSeconds: Double) -> Double {
        ProcessInfo.processInfo.environment["ATTNPREC_FUZZ_SECONDS"].flatMap(Double.init) ?? ciSeconds
    }

    /// An input slower than this counts as a hang.
    public static let hangSeconds = 10.0

    /// Runs `check` on the seeds, then on seeded mutations of them until `seconds` have passed
    /// (at most `maxIterations` unless `ATTNPREC_FUZZ_SECONDS` is set). Problems carry the
    /// input in base64 for replay.
    public static func run(
        _ driver: String, seed: UInt64, seeds: [[UInt8]], tokens: [[UInt8]], ciSeconds: Double, maxIterations: Int = 4000,
        check: ([UInt8]) -> Verdict
    ) -> Report {
        let seconds = budget(ciSeconds: ciSeconds)
        let cap = ProcessInfo.processInfo.environment["ATTNPREC_FUZZ_SECONDS"] == nil ? maxIterations : Int.max
        var report = Report(driver: driver)
        var random = Random(seed: seed)
        let start = Date()
        var k = 0
        while k < cap && (k < seeds.count || Date().timeIntervalSince(start) < seconds) {
            let input = k < seeds.count ? seeds[k] : mutate(seeds[random.below(seeds.count)], &random, tokens: tokens, seeds: seeds)
            k += 1
            let t0 = Date()
            let verdict = check(input)
            let dt = Date().timeIntervalSince(t0)
            report.slowestSeconds = max(report.slowestSeconds, dt)
            report.iterations += 1
            if dt > hangSeconds { report.problems.append("input \(k) took \(dt) s: \(Data(input).base64EncodedString())") }
            switch verdict {
            case .accepted: report.accepted += 1
            case .refused: report.refused += 1
            case .problem(let p): report.problems.append("input \(k): \(p): \(Data(input).base64EncodedString())")
            }
            if report.problems.count >= 5 { break }
        }
        print(report)
        return report
    }

    /// The verdict for one input of `parse`: accepted, refused with a one-line message
    /// (`inputError` returns the message of the project's InputError, nil for any other error),
    /// else a problem.
    public static func verdict(_ parse: () throws -> Void, inputError: (Error) -> String?) -> Verdict {
        do {
            try parse()
            return .accepted
        } catch {
            guard let m = inputError(error) else { return .problem("not an InputError: \(error)") }
            return m.contains("\n") || m.isEmpty ? .problem("not one line: \(m)") : .refused
        }
    }

    /// The `.yaml` files of `folder` (relative to the package root), sorted by name.
    public static func yamlFiles(_ folder: String, root: URL) -> [[UInt8]] {
        let dir = root.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().compactMap { FileManager.default.contents(atPath: dir.appendingPathComponent($0).path) }.map { [UInt8]($0) }
    }

    /// YAML tokens that reach the limits: anchors and aliases, tags, flow collections, nesting.
    public static let yamlTokens = [
        "\n", ": ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!python/object:os.system ", "!!str ", "!!int ", "<<: ", "'", "\"", "#", "~",
        "null", "-1", "1e999", ".nan", "0x10", "\t", "  ", String(repeating: "[", count: 80), "tokens: ", "variant: ", "recipe: ", "budgets:\n",
        "scenario: ", "\u{0}", "\u{1b}",
    ].map { Array($0.utf8) }

    /// One to three mutations of `input`.
    public static func mutate(_ input: [UInt8], _ r: inout Random, tokens: [[UInt8]], seeds: [[UInt8]]) -> [UInt8] {
        var b = input
        for _ in 0...r.below(3) {
            switch r.below(8) {
            case 0 where !b.isEmpty:
                b[r.below(b.count)] ^= UInt8(1 << r.below(8))
            case 1 where !b.isEmpty:
                b.removeLast(r.below(b.count) + 1)
            case 2:
                b.insert(contentsOf: (0...r.below(4)).map { _ in UInt8(truncatingIfNeeded: r.next()) }, at: r.below(b.count + 1))
            case 3 where !b.isEmpty:
                let i = r.below(b.count)
                b.removeSubrange(i..<min(b.count, i + 1 + r.below(4)))
            case 4 where !tokens.isEmpty:
                b.insert(contentsOf: tokens[r.below(tokens.count)], at: r.below(b.count + 1))
            case 5 where !tokens.isEmpty:
                let t = tokens[r.below(tokens.count)], i = r.below(b.count + 1)
                b.replaceSubrange(i..<min(b.count, i + t.count), with: t)
            case 6 where !seeds.isEmpty:
                let o = seeds[r.below(seeds.count)]
                b = Array(b.prefix(r.below(b.count + 1))) + Array(o.suffix(o.count - r.below(o.count + 1)))
            default:
                if !b.isEmpty {
                    let i = r.below(b.count)
                    b.insert(b[i], at: i)  // duplicate one byte (doubles separators, quotes, digits)
                }
            }
        }
        return b
    }
}
