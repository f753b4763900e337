import Dispatch
import Foundation
import NumberFormats
import Testing

/// Every binary32 input (all 2^32 bit patterns) into every named format under nearest-even
/// with the `ieee` overflow policy (ml_dtypes' behaviour), checked code for code.
///
/// Run with `ATTNPREC_EXHAUSTIVE=1 swift test -c release --filter Exhaustive`.
///
/// The oracle here is not MPFR (2^32 × 13 MPFR roundings would take hours) but an exact
/// merge, independent of `ElementRounder`'s bit manipulation: the magnitudes are visited in
/// increasing order (binary32 bit patterns of one sign are ordered like their values), and a
/// cursor walks the sorted table of the format's values (computed from the code fields by
/// `OracleFormat.value(ofCode:)`, plus the first value past max finite), so for each input
/// `lo ≤ x < hi` are its two neighbours. The decision compares 2x with lo + hi in binary64,
/// which is exact: both are binary32 values of the format grid, lo + hi needs at most m + 2
/// significant bits, and 2x is a scaling. Ties go to the even code (the code's last bit, which
/// is the mantissa's for m ≥ 1), e8m0's away from zero. That table and rule are the same facts
/// the MPFR sweeps in `EncodeTests` check on 2^17 inputs per format and mode.
@Suite("Exhaustive", .serialized, .enabled(if: ProcessInfo.processInfo.environment["ATTNPREC_EXHAUSTIVE"] == "1"))
struct ExhaustiveTests {
    @Test(arguments: ElementFormat.named)
    func everyFloat32Input(_ format: ElementFormat) {
        let start = DispatchTime.now()
        let f = OracleFormat(format)
        let rounder = ElementRounder(format: format, rounding: .nearestEven, overflow: .ieee)
        let table = Self.table(f)
        let chunks = 256
        let chunkSize = UInt32(1 << 31) / UInt32(chunks)
        let results = UnsafeShared<Failures>(repeating: Failures(), count: chunks)
        defer { results.deallocate() }
        table.withUnsafeBufferPointer { tablePointer in
            let values = UnsafeBufferPointerBox(tablePointer)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let first = UInt32(chunk) * chunkSize
                results.base[chunk] = Self.checkRange(
                    first..<(first + chunkSize), f: f, rounder: rounder, values: values.buffer)
            }
        }
        var failures = Failures()
        for i in 0..<chunks { failures.merge(results.base[i]) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        print("exhaustive \(format.name): 2^32 inputs, \(failures.count) mismatches, \(String(format: "%.1f", seconds)) s")
        #expect(failures.count == 0, "\(format): \(failures)")
    }

    /// The format's non-negative values in code order, then the first value past max finite
    /// (empty for float32, whose check is the identity).
    static func table(_ f: OracleFormat) -> [Double] {
        f.format == .float32 ? [] : (0...f.maxMagnitudeCode).map { f.value(ofCode: $0) } + [f.firstBeyondMax]
    }

    /// Checks the magnitudes whose bit patterns are in `range`, and their negatives.
    static func checkRange(
        _ range: Range<UInt32>, f: OracleFormat, rounder: ElementRounder, values: UnsafeBufferPointer<Double>
    ) -> Failures {
        var failures = Failures()
        let isFloat32 = values.isEmpty
        let beyond = values.count - 1  // index of the first value past max finite
        let infinityBits: UInt32 = 0x7F80_0000
        // Cursor: largest k with values[k] ≤ x (−1 when x is below every value: e8m0 only).
        var k = -1
        if !isFloat32 {
            let x0 = Double(Float(bitPattern: min(range.lowerBound, infinityBits)))
            var a = 0
            var b = values.count
            while a < b {
                let mid = (a + b) / 2
                if values[mid] <= x0 { a = mid + 1 } else { b = mid }
            }
            k = a - 1
        }
        for bits in range {
            let x = Float(bitPattern: bits)
            if bits >= infinityBits {  // Inf and NaN: the rules, not the table
                let wantPositive = bits == infinityBits
                    ? f.overflowResult(negative: false, mode: .nearestEven, policy: .ieee, infiniteInput: true)
                    : f.nanResult(negative: false)
                let wantNegative = bits == infinityBits
                    ? f.overflowResult(negative: true, mode: .nearestEven, policy: .ieee, infiniteInput: true)
                    : f.nanResult(negative: true)
                let p = rounder.encode(x)
                let n = rounder.encode(-x)
                if !f.matches(p, wantPositive) || !f.matches(n, wantNegative) {
                    failures.add("bits 0x\(String(bits, radix: 16)): got 0x\(String(p, radix: 16)) / 0x\(String(n, radix: 16))")
                }
                continue
            }
            let wantPositive: UInt32
            let wantNegative: UInt32
            if isFloat32 {
                wantPositive = bits
                wantNegative = bits | 0x8000_0000
            } else {
                let xd = Double(x)
                while k + 1 < values.count && values[k + 1] <= xd { k += 1 }
                var index: Int
                if k < 0 {
                    index = 0  // e8m0: below 2^-127 gives 2^-127
                } else if k == beyond || values[k] == xd {
                    index = k
                } else {
                    let twice = 2 * xd
                    let sum = values[k] + values[k + 1]
                    if twice < sum {
                        index = k
                    } else if twice > sum {
                        index = k + 1
                    } else {
                        index = f.isE8M0 || k & 1 == 1 ? k + 1 : k
                    }
                }
                if f.isE8M0 && bits == 0 {
                    wantPositive = f.magnitudeMask
                    wantNegative = f.magnitudeMask
                } else if index == beyond {
                    wantPositive = uniqueCode(f.overflowResult(negative: false, mode: .nearestEven, policy: .ieee, infiniteInput: false), f)
                    wantNegative = uniqueCode(f.overflowResult(negative: true, mode: .nearestEven, policy: .ieee, infiniteInput: false), f)
                } else {
                    wantPositive = UInt32(index)
                    if f.isE8M0 {
                        wantNegative = f.magnitudeMask
                    } else if values[index] == 0 {
                        wantNegative = f.zeroCode(negative: true)
                    } else {
                        wantNegative = f.signBit | UInt32(index)
                    }
                }
            }
            let p = rounder.encode(x)
            let n = rounder.encode(-x)
            if p != wantPositive || n != wantNegative {
                failures.add("\(x): want 0x\(String(wantPositive, radix: 16)) / 0x\(String(wantNegative, radix: 16)), got 0x\(String(p, radix: 16)) / 0x\(String(n, radix: 16))")
            }
        }
        return failures
    }

    /// The one code an expectation allows (finite inputs under nearest-even never need the
    /// "any NaN" latitude: their NaN results are in formats with a single NaN per sign).
    static func uniqueCode(_ e: Expected, _ f: OracleFormat) -> UInt32 {
        switch e {
        case .code(let c): return c
        case .nan(let negative):
            precondition(f.nanEncoding == .allOnes)
            return (negative ? f.signBit : 0) | f.magnitudeMask
        }
    }
}

/// A read-only buffer shared by concurrent workers.
struct UnsafeBufferPointerBox: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<Double>
    init(_ b: UnsafeBufferPointer<Double>) { buffer = b }
}

/// The exhaustive harness on slices, in every run: around 1, the binary32 subnormals, the
/// format's min normal and max finite, Inf and the NaNs; and proof that it can fail.
@Suite("Exhaustive slices") struct ExhaustiveSliceTests {
    static func slices(_ f: OracleFormat) -> [Range<UInt32>] {
        func around(_ v: Double) -> Range<UInt32> {
            let b = Float(v).bitPattern
            return (b > 1 << 17 ? b - (1 << 17) : 0)..<min(b + (1 << 17), 1 << 31)
        }
        return [0..<(1 << 16), around(1), around(f.minNormal), around(f.maxFinite), around(f.firstBeyondMax),
                0x7F7F_0000..<0x7F81_0000, 0x7FFF_0000..<0x8000_0000]
    }

    @Test(arguments: ElementFormat.named)
    func slicesAgree(_ format: ElementFormat) {
        let f = OracleFormat(format)
        let rounder = ElementRounder(format: format, rounding: .nearestEven, overflow: .ieee)
        let table = ExhaustiveTests.table(f)
        var failures = Failures()
        table.withUnsafeBufferPointer { values in
            for range in Self.slices(f) {
                failures.merge(ExhaustiveTests.checkRange(range, f: f, rounder: rounder, values: values))
            }
        }
        #expect(failures.count == 0, "\(format): \(failures)")
    }

    /// The same check, fed a rounder in another mode over [1, 2), must complain.
    @Test(arguments: [RoundingMode.nearestAway, .towardZero, .toOdd])
    func harnessRejectsAnotherMode(_ mode: RoundingMode) {
        for format in [ElementFormat.float8_e4m3fn, .bfloat16, .float4_e2m1fn] {
            let f = OracleFormat(format)
            let wrong = ElementRounder(format: format, rounding: mode, overflow: .ieee)
            let table = ExhaustiveTests.table(f)
            let failures = table.withUnsafeBufferPointer { values in
                ExhaustiveTests.checkRange(
                    Float(1).bitPattern..<Float(2).bitPattern, f: f, rounder: wrong, values: values)
            }
            #expect(failures.count > 0, "\(format) \(mode)")
        }
    }
}
