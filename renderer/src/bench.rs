//! Throughput benchmark (owned by the renderer-core engineer; placeholder until it lands).

/// Benchmark result, printed by `render bench`.
pub struct BenchReport(pub String);

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn run_bench(views: usize, runs: usize, image_size: u32) -> anyhow::Result<BenchReport> {
    let _ = (views, runs, image_size);
    anyhow::bail!("the benchmark is not implemented yet")
}
