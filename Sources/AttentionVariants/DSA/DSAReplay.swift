import NumberFormats
import Workloads

extension DSADefinition {
    public var replayFlags: ReplayFlags { .topK }

    public func replayPlan(file: TensorFile, options: ReplayOptions) throws -> ReplayPlan {
        try LatentReplay.plan(file: file, options: options, variant: name, specs: replayTensors ?? [], indexed: true)
    }
}
