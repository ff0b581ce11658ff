//! `render`: parses the arguments, runs the command (`renderer::commands`), prints what it did
//! and maps the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;
use renderer::cli::{Cli, Command, PreviewArgs};
use renderer::commands;
use renderer::job;

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
        Some(Command::Preview(a)) => preview(&a),
        Some(Command::Bench(a)) => renderer::bench::run_bench(a.views, a.runs, a.image_size).map(|report| {
            println!("{report}");
            true
        }),
        Some(Command::Fidelity(a)) => commands::fidelity(a).map(|report| {
            print!("{}", report.table());
            true
        }),
        Some(Command::Verify { dir }) => renderer::verify::verify(&dir).map(|report| {
            for p in &report.problems {
                eprintln!("damaged: {p}");
            }
            println!(
                "{}: {} objects, {} views checked: {} missing or damaged",
                dir.display(),
                report.objects,
                report.views,
                report.problems.len()
            );
            report.problems.is_empty()
        }),
        Some(Command::Merge { dir }) => job::merge::merge(&dir).map(|m| {
            println!(
                "{}: merged {} shards: {} train / {} val objects, {} images",
                dir.display(),
                m.shards,
                m.counts.train,
                m.counts.val,
                m.counts.images
            );
            // As a one-process run with --keep-going: the manifests list them, the status says so.
            print_failures(&m.failures);
            m.failures.is_empty()
        }),
        None => commands::run_dataset(cli.dataset).map(|summary| {
            println!("{}", summary.line());
            print_failures(&summary.failures);
            summary.failures.is_empty()
        }),
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

fn preview(a: &PreviewArgs) -> anyhow::Result<bool> {
    if let Some(n) = commands::ensure_library(&a.library, a.per_class, a.seed)? {
        eprintln!("generated the built-in library: {n} objects in {}", a.library.display());
    }
    commands::preview(a)?;
    println!("wrote {}", a.out.display());
    Ok(true)
}

fn print_failures(failures: &[dataset::records::Failure]) {
    for f in failures {
        eprintln!("failed: {}: {}", f.object, f.error);
    }
}
