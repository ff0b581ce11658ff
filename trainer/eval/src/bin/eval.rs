//! `eval`: frozen-backbone evaluation of a `train` checkpoint (SPEC section 5), and the
//! comparison table and chart of several results.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use eval::chart::{self, Group};
use eval::probe::ProbeConfig;
use eval::report::{self, EvalReport};
use eval::run::{self, EvalOptions, Task};
use eval::tasks::{EvalConfig, Part, Protocol};

#[derive(Parser)]
#[command(
    name = "eval",
    about = "Evaluate a trained SIE/VICReg checkpoint on a 3DIEBench-layout dataset",
    after_help = "Examples:\n  eval --checkpoint runs/sie --data ./3diebench all --out runs/sie/eval.json\n  \
                  eval --checkpoint runs/sie/checkpoint.safetensors --data ./3diebench rotation --epochs 20\n  \
                  eval report --result VICReg=runs/vicreg/eval.json --result SIE=runs/sie/eval.json \\\n      \
                  --markdown results.md --png results.png"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    job: RenderFlags,
    #[command(subcommand)]
    command: Command,
}

/// `--render`: evaluate on the job's views instead of `--data` (before the subcommand:
/// `eval --checkpoint runs/sie --render --per-class 5 --views 8 all`).
#[derive(Args)]
struct RenderFlags {
    /// Evaluate on the views `render` writes for this job (fixed views; with a factor
    /// configuration, e.g. a preset of manifests/), rendered once into <cache>/render-<hash>
    /// and reused, instead of --data.
    #[arg(long, num_args = 0..=1, value_name = "CONFIG", conflicts_with = "data")]
    render: Option<Option<PathBuf>>,
    /// --render: ShapeNetCore v2 folder [default: the built-in library].
    #[arg(long, requires = "render")]
    shapenet: Option<PathBuf>,
    /// --render: objects (lines `synset/object_id`, or an official `*_images.npy`).
    #[arg(long, requires = "render")]
    objects: Option<PathBuf>,
    /// --render without --shapenet: where the built-in library is generated [render's default].
    #[arg(long, requires = "render")]
    library: Option<PathBuf>,
    /// --render: objects per class of the built-in library [20].
    #[arg(long, requires = "render")]
    per_class: Option<usize>,
    /// --render: the seed that picks the built-in library's objects [0].
    #[arg(long, requires = "render")]
    library_seed: Option<u64>,
    /// --render: views per object [config: dataset.views; 50].
    #[arg(long, requires = "render")]
    views: Option<usize>,
}

#[derive(Args)]
struct Common {
    /// A run folder (holding checkpoint.safetensors) or a checkpoint file.
    #[arg(long, global = true)]
    checkpoint: Option<PathBuf>,
    /// Dataset root in the official 3DIEBench layout (train and val manifests).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// Input resolution [default: the checkpoint's training resolution].
    #[arg(long, global = true)]
    resolution: Option<u32>,
    /// Images per forward pass during feature extraction.
    #[arg(long, global = true, default_value_t = 128)]
    batch_size: usize,
    /// How the probes train: `reference` (as the reference's scripts: images through the frozen
    /// backbone in train mode, one random view or pair per object per epoch) or `cached` (faster:
    /// probes on cached eval-mode features, several pairs per object per epoch).
    #[arg(long, global = true, value_enum, default_value_t = Protocol::Reference)]
    protocol: Protocol,
    /// Epochs of every probe (overrides the per-probe values below).
    #[arg(long, global = true)]
    epochs: Option<usize>,
    /// [default: 300 (reference), 100 (cached)]
    #[arg(long, global = true)]
    classify_epochs: Option<usize>,
    /// [default: 300 (reference), 30 (cached)]
    #[arg(long, global = true)]
    rotation_epochs: Option<usize>,
    /// [default: 300 (reference), 30 (cached)]
    #[arg(long, global = true)]
    color_epochs: Option<usize>,
    /// GiB of decoded views the reference protocol keeps in memory (beyond it, views are
    /// decoded again for every batch).
    #[arg(long, global = true, default_value_t = 6.0)]
    image_memory: f64,
    /// Mini-batch of the probes.
    #[arg(long, global = true, default_value_t = 256)]
    probe_batch_size: usize,
    /// Hidden sizes of the rotation/colour MLP.
    #[arg(long, global = true, default_value = "1024-1024")]
    hidden: String,
    /// Cached protocol: training pairs per object, redrawn every epoch; validation pairs per
    /// object (fixed). The reference protocol draws one pair per object per epoch.
    #[arg(long, global = true, default_value_t = 4)]
    train_pairs: usize,
    #[arg(long, global = true, default_value_t = 4)]
    val_pairs: usize,
    /// Treat the last N representation dims as the equivariant part (e.g. VICReg's halves).
    #[arg(long, global = true)]
    equi_dim: Option<usize>,
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
    /// Feature cache folder [default: <checkpoint folder>/eval-cache].
    #[arg(long, global = true)]
    cache_dir: Option<PathBuf>,
    /// Results JSON (updated in place when it holds results of the same checkpoint).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// Where extraction and the probes run: cpu, cuda or cuda:N (a --features cuda build).
    #[arg(long, global = true, default_value = "cpu")]
    device: model::config::DeviceKind,
}

#[derive(Subcommand)]
enum Command {
    /// Linear probe top-1 (all, invariant, equivariant parts).
    Classify,
    /// MLP probe from two views' representations to their relative quaternion (R^2).
    Rotation,
    /// MLP probe to (delta floor hue, delta light hue) (R^2).
    Color,
    /// PRE, MRR and Hit@k of the trained predictor and of the identity.
    Predictor,
    /// MLP probe from two views' representations to their translation delta t2 - t1 (R^2;
    /// datasets with translations, e.g. rendered with manifests/3diebench-t.toml).
    Translation,
    /// Every task.
    All,
    /// The held-out judgement in seconds: quick probes fit on the train split's frozen features,
    /// top-1 and rotation R^2 on the val objects with 95% bootstrap intervals against their
    /// floors (what `train` ends with); appended to the run's log.jsonl.
    Quick,
    /// Comparison table (markdown) and bar chart (PNG) of several result files.
    Report {
        /// NAME=results.json, once per method, in table order.
        #[arg(long = "result", required = true)]
        results: Vec<String>,
        #[arg(long)]
        markdown: Option<PathBuf>,
        #[arg(long)]
        png: Option<PathBuf>,
        #[arg(long, default_value = "top-1 and rotation R^2")]
        title: String,
    },
    /// Write what the reference's evaluation scripts read: pred_eval/{representations,embeddings}_{train,val}.npy,
    /// data/all_latents_{train,val}.npy (+ the split manifests) and model.safetensors under the
    /// reference's state-dict names (module.backbone.*, ...).
    Export {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a small dataset of coloured solids (official layout) without the renderer.
    ToyData {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 100)]
        per_class: usize,
        #[arg(long, default_value_t = 10)]
        views: usize,
        #[arg(long, default_value_t = 64)]
        image_size: u32,
        #[arg(long, default_value_t = 0.2)]
        val_fraction: f64,
        /// Also write a contact sheet (PNG) of the classes.
        #[arg(long)]
        preview: Option<PathBuf>,
    },
}

fn config(c: &Common) -> Result<EvalConfig> {
    let reference = c.protocol == Protocol::Reference;
    let probe = |given: Option<usize>, cached_default: usize| ProbeConfig {
        epochs: c.epochs.or(given).unwrap_or(if reference { 300 } else { cached_default }),
        batch_size: c.probe_batch_size,
        lr: 1e-3,
        seed: c.seed,
    };
    Ok(EvalConfig {
        protocol: c.protocol,
        classify: probe(c.classify_epochs, 100),
        rotation: probe(c.rotation_epochs, 30),
        color: probe(c.color_epochs, 30),
        hidden: model::config::parse_sizes(&c.hidden, "--hidden")?,
        train_pairs_per_object: c.train_pairs,
        val_pairs_per_object: c.val_pairs,
    })
}

fn report_command(
    results: &[String],
    markdown: Option<PathBuf>,
    png: Option<PathBuf>,
    title: &str,
) -> Result<()> {
    let mut rows = Vec::new();
    for entry in results {
        let (name, file) =
            entry.split_once('=').with_context(|| format!("--result {entry:?}: expected NAME=FILE"))?;
        rows.push((name.to_string(), EvalReport::read(file.as_ref())?));
    }
    let table = report::markdown_table(&rows);
    print!("{table}");
    if let Some(path) = markdown {
        dataset::atomic::write_bytes(&path, table.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    if let Some(path) = png {
        let names: Vec<String> = rows.iter().map(|(n, _)| n.clone()).collect();
        let metric = |title: &str, f: &dyn Fn(&EvalReport) -> Option<f64>| Group {
            title: title.to_string(),
            values: rows.iter().map(|(_, r)| f(r)).collect(),
        };
        let groups = [
            metric("top-1 all", &|r| r.top1(Part::All)),
            metric("rot R^2 all", &|r| r.rotation_r2(Part::All)),
            metric("rot R^2 equi", &|r| r.rotation_r2(Part::Equi)),
        ];
        chart::bar_chart(title, &names, &groups, &path)?;
    }
    Ok(())
}

/// The dataset to evaluate on: --data, or the --render job's views (rendered into the cache once).
fn data_dir(c: &Common, job: &RenderFlags) -> Result<PathBuf> {
    match (&c.data, &job.render) {
        (Some(data), _) => Ok(data.clone()),
        (None, Some(config)) => rendered(c, job, config.clone()),
        (None, None) => {
            bail!("--data (a dataset folder) or --render (the views of a render job) is required")
        }
    }
}

#[cfg(feature = "render")]
fn rendered(c: &Common, job: &RenderFlags, config: Option<PathBuf>) -> Result<PathBuf> {
    let Some(checkpoint) = &c.checkpoint else { bail!("--checkpoint is required") };
    let run_dir = if checkpoint.is_dir() {
        checkpoint.clone()
    } else {
        checkpoint.parent().unwrap_or(std::path::Path::new(".")).to_path_buf()
    };
    let root = c.cache_dir.clone().unwrap_or_else(|| run_dir.join("eval-cache"));
    let render_job = renderer::live::SourceOptions {
        config,
        shapenet: job.shapenet.clone(),
        objects: job.objects.clone(),
        library: job.library.clone().unwrap_or_else(|| "./synth-shapenet".into()),
        per_class: job.per_class,
        library_seed: job.library_seed,
        views: job.views,
        ..Default::default()
    };
    eval::render_source::rendered_dataset(&render_job, &root)
}

#[cfg(not(feature = "render"))]
fn rendered(_: &Common, _: &RenderFlags, _: Option<PathBuf>) -> Result<PathBuf> {
    bail!("--render: this eval was built without the renderer (cargo feature `render`, on by default); render the job with `render` and pass --data")
}

/// `eval quick`: the judgement's lines, and the JSON with `--out`.
fn quick_command(c: &Common, job: &RenderFlags) -> Result<()> {
    let Some(checkpoint) = &c.checkpoint else { bail!("--checkpoint is required for eval quick") };
    let data = data_dir(c, job)?;
    let judgement = eval::quick::command(checkpoint, &data, c.resolution, c.seed, c.device)?;
    print!("{}", judgement.text());
    if let Some(out) = &c.out {
        dataset::atomic::write_bytes(out, serde_json::to_string_pretty(&judgement.json(None))?.as_bytes())
            .with_context(|| format!("{}: cannot write", out.display()))?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    // SAFETY: first statement of main: no other thread exists yet.
    unsafe { kernels::prefer_single_candle_thread() };
    kernels::keep_freed_memory();
    eval::exit_code(run())
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let c = &cli.common;
    let tasks: Vec<Task> = match &cli.command {
        Command::Classify => vec![Task::Classify],
        Command::Rotation => vec![Task::Rotation],
        Command::Color => vec![Task::Color],
        Command::Predictor => vec![Task::Predictor],
        Command::Translation => vec![Task::Translation],
        Command::All => Task::ALL.to_vec(),
        Command::Export { .. } => Vec::new(),
        Command::Quick => return quick_command(c, &cli.job),
        Command::Report { results, markdown, png, title } => {
            return report_command(results, markdown.clone(), png.clone(), title);
        }
        Command::ToyData { out, per_class, views, image_size, val_fraction, preview } => {
            if let Some(png) = preview {
                synth::toy::contact_sheet(png, 8, *image_size, c.seed)?;
            }
            let n = synth::toy::generate(out, *per_class, *views, *image_size, c.seed, *val_fraction)?;
            println!("wrote {n} images to {}", out.display());
            return Ok(());
        }
    };
    if let Some(r) = c.resolution {
        // As train: the backbones downsample 32x.
        anyhow::ensure!(r >= 32, "--resolution {r} must be at least 32");
    }
    anyhow::ensure!(c.batch_size >= 1, "--batch-size 0 must be at least 1");
    let Some(checkpoint) = &c.checkpoint else { bail!("--checkpoint is required for evaluation tasks") };
    let data = data_dir(c, &cli.job)?;
    let options = EvalOptions {
        checkpoint: checkpoint.clone(),
        data,
        resolution: c.resolution,
        batch_size: c.batch_size,
        cache_dir: c.cache_dir.clone(),
        equi_dim: c.equi_dim,
        config: config(c)?,
        image_budget: (c.image_memory.max(0.0) * (1u64 << 30) as f64) as usize,
        device: c.device,
    };
    if let Command::Export { out } = &cli.command {
        let exported = run::export(&options, out)?;
        for f in &exported.files {
            println!("wrote {}", f.display());
        }
        let dir = out.display().to_string();
        println!(
            "{} views per object (the reference's scripts hard-code 50: set theirs to {0}).\n\
             model.pth: {}\n\
             Run the scripts from the SIE repository's root, with {dir}/data/*.npy copied over its data/ \
             folder and `--exp-dir {dir}` (they find pred_eval/ there and skip the extraction).",
            exported.views_per_object,
            eval::export::TO_MODEL_PTH.replace("DIR", &dir)
        );
        for w in &exported.warnings {
            eprintln!("eval export: warning: {w}");
        }
        return Ok(());
    }
    let previous = c.out.as_ref().filter(|p| p.exists()).and_then(|p| EvalReport::read(p).ok());
    let report = run::evaluate(&options, &tasks, previous)?;
    print!("{}", report.table());
    if let Some(out) = &c.out {
        report.write(out)?;
        eprintln!("eval: results in {}", out.display());
    }
    Ok(())
}
