// SCRATCH (renderer-core engineer): bench variants from env vars. Delete before commit.
use renderer::bench::{run_bench_with, Output};
use renderer::gpu::{RenderOptions};
fn main() -> anyhow::Result<()> {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or(d.to_string());
    let mut o = RenderOptions::default();
    o.antialias = env("AA", "msaa4").parse()?;
    o.shadow_map_size = env("SHADOW", "1024").parse()?;
    o.views_per_submit = env("PER_SUBMIT", "10").parse()?;
    let out = match env("OUT", "files").as_str() { "files" => Output::JpegFiles, "jpeg" => Output::JpegOnly, _ => Output::Discard };
    let r = run_bench_with(o, env("VIEWS", "200").parse()?, env("RUNS", "3").parse()?, out)?;
    println!("{r}");
    Ok(())
}
