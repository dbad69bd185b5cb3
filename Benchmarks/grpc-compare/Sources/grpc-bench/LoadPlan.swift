/// What one grpc-bench run does.
struct LoadPlan: Sendable {
    let mode: GRPCBench.Mode
    let concurrency: Int
    let duration: Double
    let warmup: Double
    let requestLimit: Int
    let payload: Int
    let rate: Double
}
