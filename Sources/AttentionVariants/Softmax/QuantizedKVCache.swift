import NumberFormats

/// A growing cache of rows (one per token, `width` channels) kept as storage codes and scales,
/// dequantized on read: the only O(T·d) memory a softmax run holds (DESIGN.md §2). The exact
/// rows are never stored; runs regenerate them from the counter-based inputs.
///
/// Granularities of a growing cache: element formats (no scale), `per-token`, `block:N` (each
/// appended row is quantized on its own, once), and `group:N` (KIVI's key cache: per-channel
/// scales over N consecutive tokens; the newest partial group stays at compute precision in a
/// N×width buffer and is quantized once when it fills). A static per-tensor scale
/// (`per-tensor/fixed:S`, as vLLM's fp8 KV cache keeps one calibrated scale per layer) rounds
/// each row on its own too: its entries are those of `per-token/fixed:S`, and its bytes count the
/// scale once (the rows keep a copy each for the read path, as per-token rows do). Data-dependent whole-tensor granularities (`per-tensor` with absmax, `per-head`,
/// `per-channel`) would re-round old entries as the cache grows and are rejected.
///
/// Codes take one byte per element for formats of at most 8 bits, two up to 16 bits, four beyond
/// (tf32, float32).
/// Rows are written from binary32 values and quantized in binary32, as cache-append kernels do
/// (scales are fp32). Dequantization is `decode(code) × scale` in binary32 (integers:
/// `q × scale`, plus the zero point when asymmetric), one rounding, as a kernel's fp8→fp32
/// convert and multiply; each append checks that it reproduces the quantizer's own output bit
/// for bit.
public struct QuantizedRows {
    public let spec: FormatSpec
    public let role: String
    public let width: Int
    public let seed: UInt64
    public let head: Int
    public private(set) var count = 0

    let rounder: ElementRounder?
    /// Float(decode(code)) for every code of an element format of at most 16 bits: a cache is
    /// read once per entry per evaluated query, so decoding through the table instead of the
    /// format's bit fields takes the per-element cost to a load (same values, bit for bit).
    let decodeTable: [Float]
    let intBits: Int
    let asymmetric: Bool
    let mxInteger: Bool
    let groupTokens: Int  // 0 unless group:N
    let scalesPerRow: Int  // per-token / block (0 for element formats and groups)
    /// per-tensor/fixed:S: the rows keep the scale as per-token ones do (the same entries); the
    /// byte counts take it once.
    let staticScale: Bool
    var codes8: [UInt8] = []
    var codes16: [UInt16] = []
    var codes32: [UInt32] = []
    /// Bytes per code: 1, 2 or 4.
    let codeBytes: Int
    var scales: [Float] = []
    var zeros: [Float] = []
    var tensorScales: [Float] = []
    var pending: [Float]
    var input: [Float]
    var output: [Float]
    var codeScratch: [UInt32]
    /// Σ‖x̂ − x‖² and Σ‖x‖² over the quantized entries (cache_rel_err).
    public private(set) var errorSquares = 0.0
    public private(set) var normSquares = 0.0
    /// (errorSquares, normSquares) after each row of a per-row granularity, so that
    /// `truncate` restores them.
    var sumsAfterRow: [(Double, Double)] = []
    /// Non-finite stored elements (a NaN scale or code, an overflow to ±∞) at the position that
    /// stored them: every appended row is checked, whether or not a query reads it. Kept across
    /// `truncate` (a value once written was written).
    public private(set) var nonFinite = NonFiniteCount()

    public typealias UnsupportedGranularity = InputError

    public init(spec: FormatSpec, role: String, width: Int, seed: UInt64, head: Int) throws {
        self.spec = spec
        self.role = role
        self.width = width
        self.seed = seed
        self.head = head
        rounder = spec.elementRounder
        switch spec.element {
        case .float(let f):
            codeBytes = f.bitWidth > 16 ? 4 : f.bitWidth > 8 ? 2 : 1
            intBits = 0
            asymmetric = false
        case .integer(let bits, let kind):
            codeBytes = bits > 16 ? 4 : bits > 8 ? 2 : 1
            intBits = bits
            asymmetric = kind == .asymmetric
        }
        if case .mx = spec.scaleRule, intBits > 0 { mxInteger = true } else { mxInteger = false }
        staticScale = spec.hasStaticTensorScale
        switch spec.granularity {
        case nil:
            groupTokens = 0
            scalesPerRow = 0
        case .perToken?:
            groupTokens = 0
            scalesPerRow = 1
        case .perTensor? where staticScale:
            groupTokens = 0
            scalesPerRow = 1
        case .block(let n)?:
            groupTokens = 0
            scalesPerRow = (width + n - 1) / n
        case .group(let n)?:
            groupTokens = n
            scalesPerRow = 0
        case let g?:
            throw UnsupportedGranularity("\(role): granularity \(g) re-rounds old entries of a growing cache; use per-token, block:N, group:N (KIVI) or a static scale (per-tensor/fixed:S)")
        }
        if let r = rounder, codeBytes <= 2 {
            decodeTable = (0..<(1 << (8 * codeBytes))).map { Float(r.decodeDouble(UInt32($0))) }
        } else {
            decodeTable = []
        }
        pending = [Float](repeating: 0, count: max(groupTokens, 1) * width)
        input = pending
        output = pending
        codeScratch = [UInt32](repeating: 0, count: pending.count)
    }

    /// Bytes of storage per token: codes plus scales (and zero points), amortised for groups.
    /// A static per-tensor scale is not counted per token (one fp32 for the whole cache).
    public var bytesPerToken: Double {
        spec.cacheBitsPerElement(width: width) * Double(width) / 8
    }

    /// Appends the exact row of position `count` (already rounded by any input role).
    public mutating func append(_ row: UnsafeBufferPointer<Double>) {
        precondition(row.count == width)
        let t = count
        count += 1
        if groupTokens > 0 {
            let slot = t % groupTokens
            for c in 0..<width { pending[slot * width + c] = Float(row[c]) }
            if slot == groupTokens - 1 {
                let n = groupTokens * width
                for i in 0..<n { input[i] = pending[i] }
                quantizeTile(rows: groupTokens, firstRow: t - slot, step: t / groupTokens)
            }
            return
        }
        for c in 0..<width { input[c] = Float(row[c]) }
        quantizeTile(rows: 1, firstRow: t, step: t)
    }

    mutating func quantizeTile(rows: Int, firstRow: Int, step: Int) {
        let n = rows * width
        let random = CounterRandom(seed: seed, role: role, head: head, step: step)
        let side = input.withUnsafeBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out in
                codeScratch.withUnsafeMutableBufferPointer { cs in
                    spec.quantize(UnsafeBufferPointer(rebasing: inp[0..<n]), shape: [rows, width],
                        into: UnsafeMutableBufferPointer(rebasing: out[0..<n]),
                        codes: UnsafeMutableBufferPointer(rebasing: cs[0..<n]), random: random)
                }
            }
        }
        scales.append(contentsOf: side.scales)
        if let z = side.zeroPoints { zeros.append(contentsOf: z) }
        if let ts = side.tensorScale { tensorScales.append(ts) }
        for i in 0..<n {
            switch codeBytes {
            case 1: codes8.append(UInt8(truncatingIfNeeded: codeScratch[i]))
            case 2: codes16.append(UInt16(truncatingIfNeeded: codeScratch[i]))
            default: codes32.append(codeScratch[i])
            }
        }
        var bad = 0
        for r in 0..<rows {
            for c in 0..<width {
                let v = value(row: firstRow + r, channel: c)
                if !v.isFinite { bad += 1 }
                let expected = output[r * width + c]
                precondition(v == expected || (v.isNaN && expected.isNaN),
                             "\(role): dequantized code differs from the quantizer output (\(v) vs \(expected))")
                let x = Double(input[r * width + c]), d = Double(v) - x
                errorSquares = errorSquares.addingProduct(d, d)
                normSquares = normSquares.addingProduct(x, x)
            }
            if groupTokens == 0 { sumsAfterRow.append((errorSquares, normSquares)) }
        }
        // A group is stored when its last row arrives: that position first reads its codes.
        nonFinite.add(bad, at: firstRow + rows - 1)
    }

    /// Whether `truncate` can drop rows: every row is quantized on its own (element formats,
    /// per-token, block:N). A group:N cache quantizes N tokens together, so dropping rows of a
    /// completed group would need the compute-precision rows it no longer holds.
    public var truncatable: Bool { groupTokens == 0 }

    /// Drops the rows from `n` on (a speculative rollback): their codes and scales go, the rows
    /// below `n` keep their codes untouched, and the error sums return to what they were after
    /// row n − 1. Appending the same rows again reproduces the same codes (the rounding's random
    /// bits depend only on the row's position).
    public mutating func truncate(to n: Int) {
        precondition(truncatable, "\(role): a group:N cache cannot drop rows")
        precondition(n >= 0 && n <= count, "\(role): truncate to \(n) rows, the cache holds \(count)")
        guard n < count else { return }
        let codes = n * width
        switch codeBytes {
        case 1: codes8.removeSubrange(codes...)
        case 2: codes16.removeSubrange(codes...)
        default: codes32.removeSubrange(codes...)
        }
        scales.removeSubrange((n * scalesPerRow)...)
        if !zeros.isEmpty { zeros.removeSubrange((n * scalesPerRow)...) }
        if !tensorScales.isEmpty { tensorScales.removeSubrange(n...) }
        sumsAfterRow.removeSubrange(n...)
        (errorSquares, normSquares) = n > 0 ? sumsAfterRow[n - 1] : (0, 0)
        count = n
    }

    /// The stored (dequantized) value of element `channel` of row `row`.
    func value(row: Int, channel c: Int) -> Float {
        if groupTokens > 0 {
            let g = row / groupTokens
            if g * groupTokens + groupTokens > count { return pending[(row - g * groupTokens) * width + c] }
            return dequantize(code: code(row * width + c), scale: g * width + c, tensorIndex: g)
        }
        if scalesPerRow == 0 { return dequantize(code: code(row * width + c), scale: -1, tensorIndex: row) }
        let s: Int
        if case .block(let n)? = spec.granularity { s = row * scalesPerRow + c / n } else { s = row }
        return dequantize(code: code(row * width + c), scale: s, tensorIndex: row)
    }

    func code(_ i: Int) -> UInt32 { codeBytes == 1 ? UInt32(codes8[i]) : codeBytes == 2 ? UInt32(codes16[i]) : codes32[i] }

    func dequantize(code: UInt32, scale s: Int, tensorIndex: Int) -> Float {
        if s < 0 { return Float(rounder!.decodeDouble(code)) }
        let scale = scales[s]
        if let r = rounder {
            if scale.isNaN { return .nan }
            var effective = scale
            if case .nvfp4 = spec.scaleRule, !tensorScales.isEmpty { effective = scale * tensorScales[tensorIndex] }
            if effective == 0 { return 0 }
            return Float(r.decodeDouble(code)) * effective
        }
        if scale.isNaN { return .nan }
        if mxInteger {
            let c = Float(Int8(bitPattern: UInt8(truncatingIfNeeded: code)))
            return c / 64 * scale
        }
        if asymmetric { return Float(code) * scale + zeros[s] }
        let shift = 64 - intBits
        let q = Int64(bitPattern: UInt64(code) << UInt64(shift)) >> Int64(shift)
        return Float(q) * scale
    }

    /// Writes the stored row `row` (dequantized) into `out`.
    public func read(row: Int, into out: UnsafeMutableBufferPointer<Double>) {
        precondition(row < count && out.count >= width)
        // Element formats and per-token scales through the decode table: the same operations
        // as `dequantize` (a NaN scale gives NaN, a zero scale 0, else decode × scale).
        if !decodeTable.isEmpty && groupTokens == 0 && (scalesPerRow == 0 || spec.granularity == .perToken || staticScale) && !hasTensorScales {
            let scale: Float? = scalesPerRow == 0 ? nil : scales[row]
            decodeTable.withUnsafeBufferPointer { table in
                if codeBytes == 1 {
                    codes8.withUnsafeBufferPointer { codes in fill(out, table: table, scale: scale) { Int(codes[row * width + $0]) } }
                } else {
                    codes16.withUnsafeBufferPointer { codes in fill(out, table: table, scale: scale) { Int(codes[row * width + $0]) } }
                }
            }
            return
        }
        for c in 0..<width { out[c] = Double(value(row: row, channel: c)) }
    }

    var hasTensorScales: Bool { if case .nvfp4 = spec.scaleRule { return true } else { return false } }

    @inline(__always)
    func fill(_ out: UnsafeMutableBufferPointer<Double>, table: UnsafeBufferPointer<Float>, scale: Float?, code: (Int) -> Int) {
        guard let scale else {
            for c in 0..<width { out[c] = Double(table[code(c)]) }
            return
        }
        if scale.isNaN {
            for c in 0..<width { out[c] = .nan }
        } else if scale == 0 {
            for c in 0..<width { out[c] = 0 }
        } else {
            for c in 0..<width { out[c] = Double(table[code(c)] * scale) }
        }
    }

    /// Relative error of the stored entries so far, ‖x̂ − x‖ / ‖x‖ (full groups only).
    public var relativeError: Double { normSquares > 0 ? (errorSquares / normSquares).squareRoot() : 0 }

    /// Bytes the cache holds now (codes, scales, zero points, pending group).
    public var storedBytes: Int {
        codes8.count + 2 * codes16.count + 4 * (codes32.count + (staticScale ? min(1, scales.count) : scales.count) + zeros.count + tensorScales.count)
            + (groupTokens > 0 ? (count % groupTokens) * width * 4 : 0)
    }
}
