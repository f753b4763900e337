import ArgumentParser

/// How the numeric flags without a range check of their own read their values. Every numeric
/// flag parses `.unconditional`ly, so a negative number is the flag's value (not taken for
/// another flag, which made `--jobs -1` say "Missing value") and its check states the range;
/// these transforms are the check for the flags that had none, in one line that
/// `AttnPrec.main` prints with exit 2:
/// `The value '-1' is invalid for '--top-k <top-k>': expected an integer ≥ 1`.
enum FlagValue {
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    /// An integer in `range` (`Int.max` as the upper bound reads "≥ lower").
    static func int(_ range: ClosedRange<Int>) -> @Sendable (String) throws -> Int {
        { text in
            guard let v = Int(text), range.contains(v) else {
                let allowed = range.upperBound == Int.max ? "≥ \(range.lowerBound)" : "in \(range.lowerBound)...\(range.upperBound)"
                throw Refusal(description: "expected an integer \(allowed)")
            }
            return v
        }
    }

    /// An integer ≥ 1.
    static let positive = int(1...Int.max)

    /// A finite number > 0.
    static let positiveDouble: @Sendable (String) throws -> Double = { text in
        guard let v = Double(text), v.isFinite, v > 0 else { throw Refusal(description: "expected a finite number > 0") }
        return v
    }

    /// A 64-bit seed.
    static let seed: @Sendable (String) throws -> UInt64 = { text in
        guard let v = UInt64(text) else { throw Refusal(description: "expected an integer in 0...\(UInt64.max)") }
        return v
    }
}
