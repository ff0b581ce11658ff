use std::process::ExitCode;

use clap::Parser;
use renderer::cli::{Cli, Command, DatasetArgs};
use renderer::gpu::RenderOptions;
use renderer::job::{self, JobConfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Synth(a)) => synth::generate_library(&a.out, a.per_class, a.seed).map(|objects| {
            println!(
                "wrote {} objects of {} classes to {}",
                objects.len(),
                synth::classes().len(),
                a.out.display()
            );
            true
        }),
        Some(Command::Preview(a)) => ensure_library(&a.library, a.per_class, a.seed)
            .and_then(|_| {
                renderer::preview::contact_sheet(
                    &a.library,
                    &a.out,
                    a.per_class,
                    a.views,
                    a.image_size,
                    a.seed,
                )
            })
            .map(|_| {
                println!("wrote {}", a.out.display());
                true
            }),
        Some(Command::Bench(a)) => renderer::bench::run_bench(a.views, a.runs, a.image_size).map(|report| {
            println!("{report}");
            true
        }),
        None => run_dataset(cli.dataset),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Generates the built-in library unless it is already there.
fn ensure_library(dir: &std::path::Path, per_class: usize, seed: u64) -> anyhow::Result<()> {
    if !dir.join("taxonomy.json").is_file() {
        let objects = synth::generate_library(dir, per_class, seed)?;
        eprintln!("generated the built-in library: {} objects in {}", objects.len(), dir.display());
    }
    Ok(())
}

/// The main job. Ok(false) when objects failed under --keep-going.
fn run_dataset(a: DatasetArgs) -> anyhow::Result<bool> {
    let shapenet = match a.shapenet {
        Some(p) => p,
        None => {
            // Regenerating is deterministic and cheap; it also repairs a partial library.
            synth::generate_library(&a.library, a.per_class, a.seed)?;
            a.library.clone()
        }
    };
    let cfg = JobConfig {
        shapenet,
        out: a.out,
        views: a.views,
        seed: a.seed,
        image_size: a.image_size,
        objects: a.objects,
        shard: a.shard,
        from_latents: a.from_latents,
        mask: a.mask,
        keep_going: a.keep_going,
        val_fraction: a.val_fraction,
        render: RenderOptions {
            image_size: a.image_size,
            mask: a.mask,
            antialias: a.antialias,
            ..Default::default()
        },
        renderers: a.renderers,
    };
    let summary = job::run(&cfg)?;
    println!("{}", summary.line());
    for f in &summary.failures {
        eprintln!("failed: {}: {}", f.object, f.error);
    }
    Ok(summary.failures.is_empty())
}
