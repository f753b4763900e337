// Concrete backends over `ArrayBackend`: each forwards to an engine of its element type,
// so every operation below is compiled specialised (see ArrayBackend).
import NumberFormats

/// A backend whose storage and operations are an `ArrayBackend` of its element type. The
/// forwarding is written once here; it is `@inlinable`, so a kernel specialised for a concrete
/// backend calls the engine's specialised operation. Each backend picks its own `matTvec` and
/// `decayRank1MatTvec` (the loop order that suits its element type).
public protocol ArrayBackedBackend: Backend {
    associatedtype Element: FastScalar
    var core: ArrayBackend<Element> { get }
}

extension ArrayBackedBackend {
    @inlinable public var tier: BackendTier { core.tier }
    /// The elements of a contiguous tensor (valid until the next `allocate`).
    @inlinable public func buffer(_ t: Tensor) -> UnsafeMutableBufferPointer<Element> { core.buffer(t) }
    @inlinable public func allocate(rows: Int, cols: Int) -> Tensor { core.allocate(rows: rows, cols: cols) }
    @inlinable public func load(_ t: Tensor, _ values: UnsafeBufferPointer<Double>) { core.load(t, values) }
    @inlinable public func fill(_ t: Tensor, _ value: Double) { core.fill(t, value) }
    @inlinable public func copy(_ dst: Tensor, _ src: Tensor) { core.copy(dst, src) }
    @inlinable public func read(_ t: Tensor, into out: UnsafeMutableBufferPointer<Double>) { core.read(t, into: out) }
    @inlinable public func export(_ t: Tensor, into out: MPFRArray, at start: Int) { core.export(t, into: out, at: start) }
    @inlinable public func store(_ t: Tensor, quantizer: any StoreQuantizer, random: CounterRandom) { core.store(t, quantizer: quantizer, random: random) }
    @inlinable public func add(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.add(dst, a, b) }
    @inlinable public func subtract(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.subtract(dst, a, b) }
    @inlinable public func multiply(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.multiply(dst, a, b) }
    @inlinable public func divide(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.divide(dst, a, b) }
    @inlinable public func fma(_ dst: Tensor, _ a: Tensor, _ b: Tensor, _ c: Tensor) { core.fma(dst, a, b, c) }
    @inlinable public func apply(_ f: ElementFunction, _ dst: Tensor, _ src: Tensor) { core.apply(f, dst, src) }
    @inlinable public func maximum(_ dst: Tensor, _ a: Tensor, _ b: Tensor) { core.maximum(dst, a, b) }
    @inlinable public func sum(_ out: Tensor, _ x: Tensor) { core.sum(out, x) }
    @inlinable public func dot(_ out: Tensor, _ x: Tensor, _ y: Tensor) { core.dot(out, x, y) }
    @inlinable public func max(_ out: Tensor, _ x: Tensor) { core.max(out, x) }
    @inlinable public func l2Normalize(_ x: Tensor, eps: Double) { core.l2Normalize(x, eps: eps) }
    @inlinable public func scale(_ x: Tensor, by s: Tensor) { core.scale(x, by: s) }
    @inlinable public func axpy(_ y: Tensor, _ a: Tensor, _ x: Tensor) { core.axpy(y, a, x) }
    @inlinable public func scaleRows(_ m: Tensor, by v: Tensor) { core.scaleRows(m, by: v) }
    @inlinable public func scaleRows(_ d: Tensor, _ x: Tensor, by v: Tensor) { core.scaleRows(d, x, by: v) }
    @inlinable public func scaleColumns(_ m: Tensor, by v: Tensor) { core.scaleColumns(m, by: v) }
    @inlinable public func matvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matvec(y, m, x) }
    @inlinable public func rank1(_ m: Tensor, _ x: Tensor, _ y: Tensor) { core.rank1(m, x, y) }
    @inlinable public func gemm(_ c: Tensor, _ a: Tensor, transposeA: Bool, _ b: Tensor, transposeB: Bool, accumulate: Bool) { core.gemm(c, a, transposeA: transposeA, b, transposeB: transposeB, accumulate: accumulate) }
    @inlinable public func solveUnitLower(_ l: Tensor, _ b: Tensor) { core.solveUnitLower(l, b) }
    @inlinable public func cumulativeSumRows(_ x: Tensor) { core.cumulativeSumRows(x) }
    @inlinable public func decayMatrix(_ d: Tensor, _ g: Tensor) { core.decayMatrix(d, g) }
    @inlinable public func transpose(_ d: Tensor, _ s: Tensor) { core.transpose(d, s) }
}

/// The Float64 reference tier: IEEE binary64, every fma explicit.
public final class Float64Backend: ArrayBackedBackend {
    public let core: ArrayBackend<Double>
    public init(capacity: Int = 1 << 14) { core = ArrayBackend<Double>(capacity: capacity) }
    public func matTvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matTvec(y, m, x) }
    public func decayRank1MatTvec(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) { core.decayRank1MatTvecColumns(m, decay: decay, x, y, q, out) }
}

/// The double-double fast reference tier (≈ 2^−104 per operation).
public final class DoubleDoubleBackend: ArrayBackedBackend {
    public let core: ArrayBackend<DoubleDouble>
    public init(capacity: Int = 1 << 14) { core = ArrayBackend<DoubleDouble>(capacity: capacity) }
    public func matTvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matTvecSIMD(y, m, x) }
    public func decayRank1MatTvec(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) { core.decayRank1MatTvecSIMD(m, decay: decay, x, y, q, out) }
}

/// The Float32 compute tier of emulated kernels (OpenBLAS sgemm for large products).
public final class Float32Backend: ArrayBackedBackend {
    public let core: ArrayBackend<Float>
    public init(capacity: Int = 1 << 14) { core = ArrayBackend<Float>(capacity: capacity) }
    public func matTvec(_ y: Tensor, _ m: Tensor, _ x: Tensor) { core.matTvec(y, m, x) }
    public func decayRank1MatTvec(_ m: Tensor, decay: Tensor?, _ x: Tensor, _ y: Tensor, _ q: Tensor, _ out: Tensor) { core.decayRank1MatTvec(m, decay: decay, x, y, q, out) }
}
