extension BlockSparseDefinition {
    /// NSA (Yuan et al. 2025): compressed, selected-block and sliding-window branches, gated.
    public static let nsa = BlockSparseDefinition(
        name: "nsa", math: "compressed + selected-block + sliding-window softmax branches, gated",
        defaultConfig: BlockSparseConfig(kind: .nsa))
}
