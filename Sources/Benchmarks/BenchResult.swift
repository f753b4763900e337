/// One benchmark measurement beside its baseline measured in the same run, as `bench … --json`
/// writes it (nil fields are left out), with the target when there is one.
public struct BenchResult: Codable, Sendable {
    public var name: String
    public var unit: String
    public var value: Double
    public var baseline_name: String
    public var baseline_value: Double
    /// value / baseline for rates, baseline / value for times (higher is better either way).
    public var ratio: Double
    public var threads: Int
    public var cpu: String
    public var flags: String
    /// The target this measurement is held to, if any (same unit), and whether it was met.
    public var target: Double?
    /// The target for `ratio`, when there is one.
    public var target_ratio: Double?
    public var meets_target: Bool?
    /// What else the row needs said (a multi-thread row's determinism check, the BLAS core).
    public var note: String?

    public init(
        name: String, unit: String, value: Double, baseline_name: String, baseline_value: Double, ratio: Double,
        threads: Int, cpu: String, flags: String, target: Double? = nil, target_ratio: Double? = nil,
        meets_target: Bool? = nil, note: String? = nil
    ) {
        self.name = name; self.unit = unit; self.value = value; self.baseline_name = baseline_name
        self.baseline_value = baseline_value; self.ratio = ratio; self.threads = threads; self.cpu = cpu
        self.flags = flags; self.target = target; self.target_ratio = target_ratio; self.meets_target = meets_target
        self.note = note
    }
}
