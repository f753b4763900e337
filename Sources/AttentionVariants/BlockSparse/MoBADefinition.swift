extension BlockSparseDefinition {
    /// MoBA (Lu et al. 2025): top-k blocks by mean-key score, plus the current block.
    public static let moba = BlockSparseDefinition(
        name: "moba", math: "softmax over the blocks whose mean key scores highest (plus the current block)",
        defaultConfig: BlockSparseConfig(kind: .moba))
}
