// Concrete backends over `ArrayBackend`: each forwards to an engine of its element type,
// so every operation below is compiled specialised (see ArrayBackend).
import NumberFormats

/// The Float64 reference tier: IEEE binary64, every fma explicit.
public final class Float64Backend: Backend {
    public let core: ArrayBackend<Double>
    public init(capacity: Int = 1 << 14) { core = ArrayBackend<Double>(capacity: capacity) }
    public var tier: BackendTier { core.tier }
    /// The elements of a contiguous tensor (valid until the next `allocate`).
    public func buffer(_ t: Tensor) -> UnsafeMutableBufferPointer<Double> { core.buffer(t) }
    public func allocate(rows: Int, cols: Int) -> Tensor { core.allocate(rows: rows, cols: cols) }
    public func load(_ t: Tensor, _ values: UnsafeBufferPointer<Double>) { core.load(t, values) }
    public func fill(_ t: Tensor, _ value: Double) { core.fill(t, value) }
    public func copy(_ dst: Tensor, _ src: Tensor) { core.copy(dst, src) }
    public func read(_ t: Tensor, into out: UnsafeMutableBufferPointer<Double>) { core.read(t, into: out) }
    public func export(_ t: Tensor, into out: MPFRArray, at start: Int) { core.export(t, into: out, at: start) }
    public func store(_ t: Tensor, quantizer: any StoreQuantizer, random: CounterRandom) { core.store(t, quantizer: quantizer, random: random) }
    public func add(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.add(dst, a, b) }
    public func subtract(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.subtract(dst, a, b) }
    public func multiply(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.multiply(dst, a, b) }
    public func divide(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.divide(dst, a, b) }
    public func fma(_ dst: Tensor, _ a: Tensor, _ b: Tensor, _ c: Tensor) { core.fma(dst, a, b, c) }
    public func apply(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor) { core.apply(f, dst, src) }
    public func maximum(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.maximum(dst, a, b) }
    public func sum(_ out: Tensor, _ x: Tensor) { core.sum(out, x) }
    public func dot(_ out: Tensor, _ x: Tensor, _ y: Tensor) { core.dot(out, x, y) }
    public func max(_ out: Tensor, _ x: Tensor) { core.max(out, x) }
    public func l2Normalize(_ x: Tensor, eps: Double) { core.l2Normalize(x, eps: eps) }
    public func scale(_ x: Tensor, by s: Tensor) { core.scale(x, by: s) }
    public func axpy(_ y: Tensor, _ a: Tensor, _ x: Tensor) { core.axpy(y, a, x) }
    public func scaleRows(_ m: Tensor, by v: Tensor) { core.scaleRows(m, by: v) }
    public func scaleRows(_ d: Tensor, _ x: Tensor, by v: Tensor) { core.scaleRows(d, x, by: v) }
    public func scaleColumns(_ m: Tensor, by v: Tensor) { core.scaleColumns(m, by: v) }
    public func matvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matvec(y, m, x) }
    public func matTvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matTvec(y, m, x) }
    public func rank1(_ m: Tensor, _ x: Tensor, _ y: Tensor) { core.rank1(m, x, y) }
    public func decayRank1MatTvec(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) { core.decayRank1MatTvecColumns(m, decay: decay, x, y, q, out) }
    public func gemm(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool) { core.gemm(c, a, transposeA: transposeA, b, transposeB: transposeB, accumulate: accumulate) }
    public func solveUnitLower(_ l: Tensor, _ b: Tensor) { core.solveUnitLower(l, b) }
    public func cumulativeSumRows(_ x: Tensor) { core.cumulativeSumRows(x) }
    public func decayMatrix(_ d: Tensor, _ g: Tensor) { core.decayMatrix(d, g) }
}

/// The double-double fast reference tier (≈ 2^−104 per operation).
public final class DoubleDoubleBackend: Backend {
    public let core: ArrayBackend<DoubleDouble>
    public init(capacity: Int = 1 << 14) { core = ArrayBackend<DoubleDouble>(capacity: capacity) }
    public var tier: BackendTier { core.tier }
    /// The elements of a contiguous tensor (valid until the next `allocate`).
    public func buffer(_ t: Tensor) -> UnsafeMutableBufferPointer<DoubleDouble> { core.buffer(t) }
    public func allocate(rows: Int, cols: Int) -> Tensor { core.allocate(rows: rows, cols: cols) }
    public func load(_ t: Tensor, _ values: UnsafeBufferPointer<Double>) { core.load(t, values) }
    public func fill(_ t: Tensor, _ value: Double) { core.fill(t, value) }
    public func copy(_ dst: Tensor, _ src: Tensor) { core.copy(dst, src) }
    public func read(_ t: Tensor, into out: UnsafeMutableBufferPointer<Double>) { core.read(t, into: out) }
    public func export(_ t: Tensor, into out: MPFRArray, at start: Int) { core.export(t, into: out, at: start) }
    public func store(_ t: Tensor, quantizer: any StoreQuantizer, random: CounterRandom) { core.store(t, quantizer: quantizer, random: random) }
    public func add(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.add(dst, a, b) }
    public func subtract(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.subtract(dst, a, b) }
    public func multiply(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.multiply(dst, a, b) }
    public func divide(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.divide(dst, a, b) }
    public func fma(_ dst: Tensor, _ a: Tensor, _ b: Tensor, _ c: Tensor) { core.fma(dst, a, b, c) }
    public func apply(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor) { core.apply(f, dst, src) }
    public func maximum(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.maximum(dst, a, b) }
    public func sum(_ out: Tensor, _ x: Tensor) { core.sum(out, x) }
    public func dot(_ out: Tensor, _ x: Tensor, _ y: Tensor) { core.dot(out, x, y) }
    public func max(_ out: Tensor, _ x: Tensor) { core.max(out, x) }
    public func l2Normalize(_ x: Tensor, eps: Double) { core.l2Normalize(x, eps: eps) }
    public func scale(_ x: Tensor, by s: Tensor) { core.scale(x, by: s) }
    public func axpy(_ y: Tensor, _ a: Tensor, _ x: Tensor) { core.axpy(y, a, x) }
    public func scaleRows(_ m: Tensor, by v: Tensor) { core.scaleRows(m, by: v) }
    public func scaleRows(_ d: Tensor, _ x: Tensor, by v: Tensor) { core.scaleRows(d, x, by: v) }
    public func scaleColumns(_ m: Tensor, by v: Tensor) { core.scaleColumns(m, by: v) }
    public func matvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matvec(y, m, x) }
    public func matTvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matTvecSIMD(y, m, x) }
    public func rank1(_ m: Tensor, _ x: Tensor, _ y: Tensor) { core.rank1(m, x, y) }
    public func decayRank1MatTvec(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) { core.decayRank1MatTvecSIMD(m, decay: decay, x, y, q, out) }
    public func gemm(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool) { core.gemm(c, a, transposeA: transposeA, b, transposeB: transposeB, accumulate: accumulate) }
    public func solveUnitLower(_ l: Tensor, _ b: Tensor) { core.solveUnitLower(l, b) }
    public func cumulativeSumRows(_ x: Tensor) { core.cumulativeSumRows(x) }
    public func decayMatrix(_ d: Tensor, _ g: Tensor) { core.decayMatrix(d, g) }
}

/// The Float32 compute tier of emulated kernels (OpenBLAS sgemm for large products).
public final class Float32Backend: Backend {
    public let core: ArrayBackend<Float>
    public init(capacity: Int = 1 << 14) { core = ArrayBackend<Float>(capacity: capacity) }
    public var tier: BackendTier { core.tier }
    /// The elements of a contiguous tensor (valid until the next `allocate`).
    public func buffer(_ t: Tensor) -> UnsafeMutableBufferPointer<Float> { core.buffer(t) }
    public func allocate(rows: Int, cols: Int) -> Tensor { core.allocate(rows: rows, cols: cols) }
    public func load(_ t: Tensor, _ values: UnsafeBufferPointer<Double>) { core.load(t, values) }
    public func fill(_ t: Tensor, _ value: Double) { core.fill(t, value) }
    public func copy(_ dst: Tensor, _ src: Tensor) { core.copy(dst, src) }
    public func read(_ t: Tensor, into out: UnsafeMutableBufferPointer<Double>) { core.read(t, into: out) }
    public func export(_ t: Tensor, into out: MPFRArray, at start: Int) { core.export(t, into: out, at: start) }
    public func store(_ t: Tensor, quantizer: any StoreQuantizer, random: CounterRandom) { core.store(t, quantizer: quantizer, random: random) }
    public func add(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.add(dst, a, b) }
    public func subtract(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.subtract(dst, a, b) }
    public func multiply(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.multiply(dst, a, b) }
    public func divide(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.divide(dst, a, b) }
    public func fma(_ dst: Tensor, _ a: Tensor, _ b: Tensor, _ c: Tensor) { core.fma(dst, a, b, c) }
    public func apply(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor) { core.apply(f, dst, src) }
    public func maximum(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.maximum(dst, a, b) }
    public func sum(_ out: Tensor, _ x: Tensor) { core.sum(out, x) }
    public func dot(_ out: Tensor, _ x: Tensor, _ y: Tensor) { core.dot(out, x, y) }
    public func max(_ out: Tensor, _ x: Tensor) { core.max(out, x) }
    public func l2Normalize(_ x: Tensor, eps: Double) { core.l2Normalize(x, eps: eps) }
    public func scale(_ x: Tensor, by s: Tensor) { core.scale(x, by: s) }
    public func axpy(_ y: Tensor, _ a: Tensor, _ x: Tensor) { core.axpy(y, a, x) }
    public func scaleRows(_ m: Tensor, by v: Tensor) { core.scaleRows(m, by: v) }
    public func scaleRows(_ d: Tensor, _ x: Tensor, by v: Tensor) { core.scaleRows(d, x, by: v) }
    public func scaleColumns(_ m: Tensor, by v: Tensor) { core.scaleColumns(m, by: v) }
    public func matvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matvec(y, m, x) }
    public func matTvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matTvec(y, m, x) }
    public func rank1(_ m: Tensor, _ x: Tensor, _ y: Tensor) { core.rank1(m, x, y) }
    public func decayRank1MatTvec(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) { core.decayRank1MatTvec(m, decay: decay, x, y, q, out) }
    public func gemm(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool) { core.gemm(c, a, transposeA: transposeA, b, transposeB: transposeB, accumulate: accumulate) }
    public func solveUnitLower(_ l: Tensor, _ b: Tensor) { core.solveUnitLower(l, b) }
    public func cumulativeSumRows(_ x: Tensor) { core.cumulativeSumRows(x) }
    public func decayMatrix(_ d: Tensor, _ g: Tensor) { core.decayMatrix(d, g) }
}
