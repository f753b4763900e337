import Foundation

/// The variants this build implements: one definition per canonical name, in DESIGN.md §4's
/// order. Adding a variant is one folder with its definition and one line here.
public enum VariantRegistry {
    static let builtIn: [any VariantDefinition] = [
        SoftmaxDefinition.mha, SoftmaxDefinition.gqa, SoftmaxDefinition.mqa, SoftmaxDefinition.swa,
        MLADefinition(), DSADefinition(),
        BlockSparseDefinition.moba, BlockSparseDefinition.nsa,
        LinearDefinition(),
        GatedLinearDefinition.retnet, GatedLinearDefinition.lightning, GatedLinearDefinition.gla,
        GatedLinearDefinition.mamba2,
        DeltaDefinition.deltanet, DeltaDefinition.gatedDeltaNet, DeltaDefinition.kda,
        RWKV7Definition(),
    ]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var registered: [any VariantDefinition] = []

    /// Every definition: the built-in ones, then those registered at run time.
    public static var all: [any VariantDefinition] {
        lock.lock()
        defer { lock.unlock() }
        return builtIn + registered
    }

    /// Adds a definition (a variant outside this package, e.g. a test's toy variant); a later
    /// registration of the same name replaces the earlier one.
    public static func register(_ d: any VariantDefinition) {
        lock.lock()
        defer { lock.unlock() }
        precondition(!builtIn.contains { $0.name == d.name }, "variant '\(d.name)' is built in")
        registered.removeAll { $0.name == d.name }
        registered.append(d)
    }

    /// The definition named `name`, or nil.
    public static func definition(_ name: String) -> (any VariantDefinition)? { all.first { $0.name == name } }

    /// The definition named `name`, or an error listing the valid names.
    public static func named(_ name: String) throws -> any VariantDefinition {
        if let d = definition(name) { return d }
        throw VariantError("unknown variant '\(name)'; valid: \(all.map(\.name).joined(separator: ", "))")
    }

    /// The names of the definitions with `capability`, in registry order.
    public static func names(with capability: VariantCapabilities) -> [String] {
        all.filter { $0.capabilities.contains(capability) }.map(\.name)
    }
}
